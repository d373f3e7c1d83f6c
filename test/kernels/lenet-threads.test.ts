/**
 * Training LeNet-5 (float32, the WebAssembly kernels) gives the same bits on
 * two threads as on one: the same losses step by step, and the same weights
 * after a few steps (the filter gradient is summed over fixed parts of the
 * batch whatever the thread count; every other kernel writes disjoint parts
 * of its output). Its inference too: the same logits, with each conv layer
 * and its pool run as one kernel (conv2dBiasReluMaxPool) whose thread chunks
 * are whole images.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Trainer, defaultTrainConfig } from '@ndgraph/nn';
import { loadEmbeddedMnist } from '@ndgraph/nn/node';
import { disableWasmThreads, enableWasmThreads } from '../../packages/ops/src/kernels/wasm/node-threads.ts';
import { wasmKernels } from '../../packages/ops/src/kernels/wasm/runtime.ts';
import { lenetInference } from '../lenet-inference.ts';

/** Trains one epoch of 200 images (3 full batches of 64 and one of 8); returns the step losses and the final weights. */
function trainFewSteps(): { losses: number[]; weights: Float32Array[] } {
  const data = loadEmbeddedMnist({ seed: 0 });
  const train = { images: data.train.images.hi(200), labels: data.train.labels.hi(200) };
  const test = { images: data.test.images.hi(50), labels: data.test.labels.hi(50) };
  const trainer = new Trainer({ ...defaultTrainConfig, epochs: 1 }, { train, test });
  const losses: number[] = [];
  trainer.trainEpoch((s) => losses.push(s.loss));
  const weights = trainer.parameters.map((p) => {
    const value = trainer.graph.valueOf(p);
    expect(value.dtype).toBe('float32');
    return Float32Array.from(value.data.subarray(value.offset, value.offset + value.size) as Float32Array);
  });
  return { losses, weights };
}

describe('LeNet-5 training on one and on two threads', () => {
  afterAll(() => disableWasmThreads());

  it('gives the same losses and weights bit for bit', () => {
    expect(wasmKernels()).not.toBeNull();
    disableWasmThreads();
    const one = trainFewSteps();
    expect(enableWasmThreads(2)).toBe(2);
    const two = trainFewSteps();
    disableWasmThreads();
    expect(one.losses.length).toBe(4);
    // The steps did train: the loss moved.
    expect(one.losses[3]).not.toBe(one.losses[0]);
    for (let i = 0; i < one.losses.length; i++)
      expect(Object.is(two.losses[i], one.losses[i]), `loss of step ${i + 1}: ${two.losses[i]} vs ${one.losses[i]}`).toBe(true);
    expect(two.weights.length).toBe(one.weights.length);
    one.weights.forEach((w, k) => {
      expect(two.weights[k].length).toBe(w.length);
      for (let i = 0; i < w.length; i++)
        if (!Object.is(two.weights[k][i], w[i])) expect.fail(`parameter ${k}, element ${i}: ${two.weights[k][i]} on two threads, ${w[i]} on one`);
    });
  });

  it('infers with the same logits bit for bit, each conv layer and its pool as one kernel', () => {
    const infer = lenetInference(67, 61);
    disableWasmThreads();
    const one = infer();
    expect(enableWasmThreads(2)).toBe(2);
    const two = infer();
    disableWasmThreads();
    expect(one.ops.filter((op) => op === 'conv2dBiasReluMaxPool')).toHaveLength(2);
    expect(two.values).toEqual(one.values);
  });
});
