import { describe, it, expect } from 'vitest';
import { Graph, Session, zeros, toArray, ShapeError } from '@ndgraph/graph';
import { Trainer, lenet5, layers, encodeSafetensors, decodeSafetensors, subset, type TrainConfig } from '@ndgraph/nn';
import { loadEmbeddedMnist } from '@ndgraph/nn/node';
import { wasmKernels } from '@ndgraph/ops/kernels';

const { dense, conv2d, maxPool, avgPool, flatten, batchNorm, dropout, residual } = layers;

describe('layers', () => {
  it('create scoped variables and give the expected shapes', () => {
    const g = new Graph({ seed: 1 });
    const x = g.placeholder('x', [-1, 28, 28, 1]);
    const c = conv2d(x, { filters: 6, kernelSize: 5, padding: 'same', activation: 'relu' });
    expect(c.shape).toEqual([-1, 28, 28, 6]);
    expect(maxPool(c).shape).toEqual([-1, 14, 14, 6]);
    expect(avgPool(c, { ksize: 3, strides: 2 }).shape).toEqual([-1, 13, 13, 6]);
    const f = flatten(maxPool(c, { ksize: 4 }));
    expect(f.shape).toEqual([-1, 7 * 7 * 6]);
    const d = dense(f, 10);
    expect(d.shape).toEqual([-1, 10]);
    expect(g.trainableVariables().map((v) => `${v.name} ${JSON.stringify(v.shape)}`)).toEqual([
      'conv/w [5,5,1,6]',
      'conv/b [6]',
      'dense/w [294,10]',
      'dense/b [10]',
    ]);
    expect(batchNorm(c).shape).toEqual([-1, 28, 28, 6]);
    expect(
      g
        .variables()
        .filter((v) => !g.isTrainable(v))
        .map((v) => v.name),
    ).toEqual(['batchNorm/runningMean', 'batchNorm/runningVar']);
    expect(dropout(d, 0.5).shape).toEqual([-1, 10]);
  });

  it('residual adds a projection only when the channel count changes', () => {
    const g = new Graph();
    const x = g.placeholder('x', [-1, 8, 8, 4]);
    const same = residual(x, (h) => conv2d(h, { filters: 4, kernelSize: 3, padding: 'same' }));
    expect(same.shape).toEqual([-1, 8, 8, 4]);
    expect(g.variables().some((v) => v.name.includes('projection'))).toBe(false);
    const wider = residual(x, (h) => conv2d(h, { filters: 8, kernelSize: 3, padding: 'same' }));
    expect(wider.shape).toEqual([-1, 8, 8, 8]);
    expect(g.variables().map((v) => v.name)).toContain('residual_1/projection/w');
    expect(() => residual(x, (h) => conv2d(h, { filters: 4, kernelSize: 3, padding: 'valid' }))).toThrow(ShapeError);
  });

  it('dense rejects an unflattened input with a clear message', () => {
    const g = new Graph();
    expect(() => dense(g.placeholder('img', [-1, 4, 4, 1]), 3)).toThrow('dense: expected a 2-D input [batch, features], found img [?,4,4,1]; flatten it first');
  });
});

describe('LeNet-5', () => {
  it('has the classic shapes and 61,706 parameters', () => {
    const g = new Graph();
    const logits = lenet5(g.placeholder('images', [-1, 28, 28, 1]));
    expect(logits.shape).toEqual([-1, 10]);
    const params = g.trainableVariables();
    expect(params.map((p) => p.name)).toEqual([
      'lenet/conv1/conv/w',
      'lenet/conv1/conv/b',
      'lenet/conv2/conv/w',
      'lenet/conv2/conv/b',
      'lenet/fc1/dense/w',
      'lenet/fc1/dense/b',
      'lenet/fc2/dense/w',
      'lenet/fc2/dense/b',
      'lenet/logits/w',
      'lenet/logits/b',
    ]);
    expect(params.reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0)).toBe(61706);
    const out = new Session(g).run(logits, { images: zeros([3, 28, 28, 1]) });
    expect(out.shape).toEqual([3, 10]);
  });

  it('builds every option combination', () => {
    for (const options of [{ batchNorm: true }, { dropout: 0.3 }, { residual: true }, { activation: 'tanh' as const, pooling: 'avg' as const }]) {
      const g = new Graph();
      const logits = lenet5(g.placeholder('images', [-1, 28, 28, 1]), options);
      expect(logits.shape).toEqual([-1, 10]);
      const out = new Session(g).run(logits, { images: zeros([2, 28, 28, 1]) }, { training: true });
      expect(toArray(out).every(Number.isFinite)).toBe(true);
    }
  });
});

describe('Trainer', () => {
  const data = loadEmbeddedMnist({ seed: 0 });
  const small = { train: subset(data.train, 0, 512), test: subset(data.test, 0, 256) };

  it('learns: the loss falls and test accuracy rises well above chance', () => {
    const trainer = new Trainer({ epochs: 2, batchSize: 32, optimizer: 'momentum', learningRate: 0.05, seed: 3 }, small);
    const before = trainer.evaluate(small.test);
    const e1 = trainer.trainEpoch();
    const e2 = trainer.trainEpoch();
    expect(before.accuracy).toBeLessThan(0.3);
    expect(e2.trainLoss).toBeLessThan(e1.trainLoss);
    expect(e2.testAccuracy).toBeGreaterThan(0.7);
    const steps = trainer.metrics.toJSON().steps;
    expect(steps).toHaveLength(32);
    const firstLosses = steps.slice(0, 4).reduce((s, r) => s + r.loss, 0);
    const lastLosses = steps.slice(-4).reduce((s, r) => s + r.loss, 0);
    expect(lastLosses).toBeLessThan(firstLosses / 2);
  });

  it('2 epochs + resume for 2 more gives bit-identical weights to 4 epochs straight', () => {
    const tiny = { train: subset(data.train, 0, 200), test: subset(data.test, 0, 50) };
    // Dropout and batchnorm on, so the run generator and running statistics must be restored too.
    const config: TrainConfig = { epochs: 4, batchSize: 64, optimizer: 'adam', learningRate: 0.002, seed: 11, model: { dropout: 0.2, batchNorm: true } };
    const straight = new Trainer(config, tiny);
    for (let e = 0; e < 4; e++) straight.trainEpoch();

    const first = new Trainer(config, tiny);
    first.trainEpoch();
    first.trainEpoch();
    const ckpt = first.checkpoint();
    const bytes = encodeSafetensors(ckpt.tensors, ckpt.metadata);
    const resumed = new Trainer(config, tiny);
    // The metrics log is saved beside the checkpoint (its own file in a run), not in it.
    expect(ckpt.metadata.metrics).toBeUndefined();
    resumed.restore(decodeSafetensors(bytes, 'test checkpoint'), 'test checkpoint', JSON.parse(JSON.stringify(first.metrics.toJSON())));
    expect(resumed.epoch).toBe(2);
    resumed.trainEpoch();
    resumed.trainEpoch();

    for (const v of straight.graph.variables()) {
      const a = straight.graph.valueOf(v).data;
      const b = resumed.graph.valueOf(resumed.graph.node(v.name)).data;
      expect(Buffer.from(b.buffer, b.byteOffset, b.byteLength).equals(Buffer.from(a.buffer, a.byteOffset, a.byteLength)), v.name).toBe(true);
    }
    expect(resumed.metrics.toJSON().epochs.map((e) => e.testAccuracy)).toEqual(straight.metrics.toJSON().epochs.map((e) => e.testAccuracy));
  });

  it('gives its kernel memory back: models trained one after another reuse the same blocks', async () => {
    const kernels = wasmKernels();
    expect(kernels?.offersTensorBlocks, 'Node offers shared kernel memory').toBe(true);
    const gc = (globalThis as { gc?: () => void }).gc;
    expect(gc, 'the test workers run with --expose-gc').toBeTypeOf('function');
    const tiny = { train: subset(data.train, 0, 128), test: subset(data.test, 0, 64) };
    // dispose() gives the session's buffers back at once; the weights and
    // optimizer slots go back once the trainer is unreachable and collected.
    const trainOnce = (seed: number) => {
      const trainer = new Trainer({ epochs: 1, batchSize: 32, optimizer: 'momentum', learningRate: 0.05, seed }, tiny);
      expect(kernels!.holds(trainer.graph.valueOf(trainer.parameters[0]).data as Float32Array), 'weights in kernel memory').toBe(true);
      trainer.trainEpoch();
      trainer.dispose();
      expect(() => trainer.evaluate(tiny.test)).toThrow('this session has been disposed');
    };
    const collect = async () => {
      for (let turn = 0; turn < 20; turn++) {
        gc!();
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    trainOnce(1);
    await collect();
    const blockBytes = kernels!.stats().tensorBytes;
    for (let seed = 2; seed <= 4; seed++) {
      trainOnce(seed);
      await collect();
    }
    expect(kernels!.stats().tensorBytes).toBe(blockBytes);
  });

  it('refuses a checkpoint from a different configuration, saying which setting differs', () => {
    const tiny = { train: subset(data.train, 0, 64), test: subset(data.test, 0, 16) };
    const a = new Trainer({ epochs: 1, batchSize: 32, optimizer: 'sgd', learningRate: 0.1, seed: 1 }, tiny);
    const b = new Trainer({ epochs: 1, batchSize: 16, optimizer: 'sgd', learningRate: 0.1, seed: 1 }, tiny);
    expect(() => b.restore(a.checkpoint(), 'ckpt.safetensors')).toThrow('ckpt.safetensors: the checkpoint was made with batchSize = 32, this run has 16');
  });

  it('rejects bad configuration values with the setting named', () => {
    expect(() => new Trainer({ epochs: 0, batchSize: 8, optimizer: 'sgd', learningRate: 0.1, seed: 0 }, small)).toThrow(
      'training config: epochs must be a whole number ≥ 1, found 0',
    );
    expect(() => new Trainer({ epochs: 1, batchSize: 8, optimizer: 'sgd', learningRate: -1, seed: 0 }, small)).toThrow(
      /learningRate must be a positive number, found -1/,
    );
  });
});
