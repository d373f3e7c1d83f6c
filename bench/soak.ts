/**
 * The soak: memory over a long run. Trains LeNet-5 for many epochs, and runs
 * one session over many random batch sizes, recording RSS and kernel memory
 * as it goes; both should stay flat once warm. Run on demand (CI runs a short
 * version in test/faults/soak.test.ts):
 *
 *   npx tsx bench/soak.ts [--epochs 20] [--runs 1000]     # writes bench/results/soak.json
 */
import { join } from 'node:path';
import { Graph, Session, tensor } from '@ndgraph/graph';
import { defaultTrainConfig, subset, Trainer } from '@ndgraph/nn';
import { loadEmbeddedMnist } from '@ndgraph/nn/node';
import { matmul, relu } from '@ndgraph/ops';
import { wasmKernels } from '@ndgraph/ops/kernels';
import { RESULTS_DIR, writeJson } from './common.ts';
import { numberArg } from './engine-common.ts';

const MiB = 2 ** 20;
const gc = (globalThis as { gc?: () => void }).gc;

/** RSS and kernel tensor memory in MiB, after a collection when one can be asked for. */
export function memoryNow(): { rssMiB: number; kernelMiB: number } {
  gc?.();
  return { rssMiB: process.memoryUsage.rss() / MiB, kernelMiB: (wasmKernels()?.stats().tensorBytes ?? 0) / MiB };
}

/** Memory after each of `epochs` epochs of LeNet-5 on `trainSize` digits. */
export function soakEpochs(epochs: number, trainSize: number): { rssMiB: number; kernelMiB: number }[] {
  const data = loadEmbeddedMnist({ seed: 0 });
  const trainer = new Trainer({ ...defaultTrainConfig, epochs }, { train: subset(data.train, 0, trainSize), test: subset(data.test, 0, 500) });
  const samples = [];
  for (let e = 0; e < epochs; e++) {
    trainer.trainEpoch();
    samples.push(memoryNow());
  }
  trainer.dispose();
  return samples;
}

/** Memory every `every` runs of one session fed random batch sizes 1–512. */
export function soakBatchSizes(runs: number, every: number): { rssMiB: number; kernelMiB: number }[] {
  const g = new Graph({ seed: 1 });
  const x = g.placeholder('x', [-1, 784]);
  const w = g.variable('w', tensor(new Array(784 * 256).fill(0.001), [784, 256]));
  const y = relu(matmul(x, w));
  const session = new Session(g);
  let state = 11;
  const samples = [];
  for (let run = 1; run <= runs; run++) {
    state = (state * 1103515245 + 12345) >>> 0;
    const batch = 1 + ((state >>> 16) % 512);
    session.run(y, { x: tensor(new Float32Array(batch * 784).fill(0.5), [batch, 784]) });
    if (run % every === 0) samples.push(memoryNow());
  }
  session.dispose();
  return samples;
}

if (process.argv[1]?.endsWith('soak.ts')) {
  const epochs = numberArg('epochs', 20);
  const runs = numberArg('runs', 1000);
  const started = performance.now();
  const epochSamples = soakEpochs(epochs, 8000);
  const batchSamples = soakBatchSizes(runs, Math.max(1, Math.floor(runs / 20)));
  const result = {
    date: new Date().toISOString(),
    epochs,
    runs,
    gc: gc !== undefined,
    epochSamples,
    batchSamples,
    seconds: (performance.now() - started) / 1000,
  };
  const fmt = (s: { rssMiB: number; kernelMiB: number }[]) => s.map((m) => `${m.rssMiB.toFixed(0)}/${m.kernelMiB.toFixed(1)}`).join(' ');
  console.log(`epochs (RSS/kernel MiB after each): ${fmt(epochSamples)}`);
  console.log(`random batch sizes (every ${Math.floor(runs / 20)} runs): ${fmt(batchSamples)}`);
  writeJson(join(RESULTS_DIR, 'soak.json'), result);
  console.log(`wrote ${join(RESULTS_DIR, 'soak.json')}`);
}
