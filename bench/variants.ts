/**
 * Every model variant of the seed article's comparisons, trained side by side
 * in one process, as a ratio to plain relu LeNet-5.
 *
 *   npx tsx bench/variants.ts [--threads N] [--rounds N] [--steps N] [--only a,b] [--profile [--profile-top N]] [--native] [--quick] [--note TEXT]
 *
 * Each variant is a Trainer on the benchmark's data (8,000 embedded digits,
 * batch 64, the same batch order); a step is bench/ndgraph-lenet.ts's. After a
 * warm-up, round after round every variant runs a burst of `--steps` steps,
 * in an order that rotates each round, so load on a shared machine hits all
 * of them alike, and after it an inference burst (batches of 256, eval
 * mode). The result per variant is the median img/s over rounds and the
 * median over rounds of its img/s over relu LeNet's in the same round, for
 * training and for inference.
 * `--profile` adds a per-op profile (the session's onTime) of one burst per
 * variant: where its step goes. `--native` runs every variant on the opt-in
 * native kernels (enableNativeKernels, on as many threads). Writes bench/results/variants[-native][-Nt].json
 * (`--quick`: variants-quick.json, `--only`: no file).
 */
import { modelByName } from '@ndgraph/nn';
import { enableNativeKernels, enableWasmThreads, nativeKernelsInfo } from '@ndgraph/ops/node';
import { codeVersion, fileStamp, formatTable, loadAverage, machineInfo, RESULTS_DIR, round2, writeJson } from './common.ts';
import { INFERENCE_BATCH, TRAIN_BATCH, argValue, hasFlag, loadBenchData, median, numberArg } from './engine-common.ts';
import { VARIANTS, WEIGHT_DECAY } from './model-variants.ts';
import { ndgraphLenet, type StepTimes } from './ndgraph-lenet.ts';
import { join } from 'node:path';

const quick = hasFlag('quick');
const threads = numberArg('threads', 1);
const rounds = numberArg('rounds', quick ? 2 : 5);
const steps = numberArg('steps', quick ? 10 : 40);
const warmup = quick ? 10 : 40;
const only = argValue('only')?.split(',');
const profile = hasFlag('profile');
const native = hasFlag('native');
// With --native the heavy kernels run on the native kernels' own threads and the wasm kernels on one (as bench/ndgraph.ts --native).
const wasmThreads = native ? numberArg('wasm-threads', 1) : threads;
if (enableWasmThreads(wasmThreads) !== wasmThreads) throw new Error(`--threads ${threads}: the kernels cannot use that many threads here`);
if (native && !enableNativeKernels({ threads })) throw new Error(`--native: the native kernels are unavailable here (${nativeKernelsInfo().reason})`);

const chosen = VARIANTS.filter((v) => v.name === 'relu' || !only || only.some((o) => v.name.includes(o)));
const data = await loadBenchData();
const loadStart = loadAverage();
const runs = chosen.map((v) => ({
  variant: v,
  steps: ndgraphLenet(data, { config: v.config, model: v.modelName ? modelByName(v.modelName) : undefined }),
  rates: [] as number[],
  ratios: [] as number[],
  inferRates: [] as number[],
  inferRatios: [] as number[],
}));
const inferBurst = quick ? 1 : 4;

for (const run of runs) for (let i = 0; i < warmup; i++) run.steps.trainStep();

for (let round = 0; round < rounds; round++) {
  const order = runs.map((_, i) => runs[(i + round) % runs.length]);
  for (const run of order) {
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) run.steps.trainStep();
    run.rates.push((steps * TRAIN_BATCH) / ((performance.now() - t0) / 1000));
    const t1 = performance.now();
    for (let i = 0; i < inferBurst; i++) run.steps.inferStep();
    run.inferRates.push((inferBurst * INFERENCE_BATCH) / ((performance.now() - t1) / 1000));
  }
  const reluRate = runs[0].rates[round];
  const reluInferRate = runs[0].inferRates[round];
  for (const run of runs) {
    run.ratios.push(run.rates[round] / reluRate);
    run.inferRatios.push(run.inferRates[round] / reluInferRate);
  }
  process.stderr.write(`round ${round + 1}/${rounds}\n`);
}

/** Kernel time per op in one burst, ms per step, largest first; then the optimizer, and the rest of the step outside kernels. */
function profileOf(run: (typeof runs)[number]): { op: string; msPerStep: number }[] {
  const byOp = new Map<string, number>();
  const times: StepTimes = { batching: 0, sessionRun: 0, optimizer: 0, total: 0 };
  let kernels = 0;
  for (let i = 0; i < steps; i++)
    run.steps.trainStep(times, (node, ms, op) => {
      const key = `${node.name.startsWith('gradients/') ? 'grad ' : ''}${op.name}`;
      byOp.set(key, (byOp.get(key) ?? 0) + ms);
      kernels += ms;
    });
  byOp.set('(optimizer)', times.optimizer);
  byOp.set('(outside kernels and optimizer)', times.total - times.optimizer - kernels);
  return [...byOp].map(([op, ms]) => ({ op, msPerStep: round2(ms / steps) })).sort((a, b) => b.msPerStep - a.msPerStep);
}

/** Kernel time per op of an inference batch (eval mode), ms per batch, largest first; then the rest of session.run. */
function inferenceProfileOf(run: (typeof runs)[number]): { op: string; msPerBatch: number }[] {
  const byOp = new Map<string, number>();
  let kernels = 0;
  const batches = Math.max(inferBurst, 4);
  const start = performance.now();
  for (let i = 0; i < batches; i++)
    run.steps.inferStep((_node, ms, op) => {
      byOp.set(op.name, (byOp.get(op.name) ?? 0) + ms);
      kernels += ms;
    });
  byOp.set('(outside kernels)', performance.now() - start - kernels);
  return [...byOp].map(([op, ms]) => ({ op, msPerBatch: round2(ms / batches) })).sort((a, b) => b.msPerBatch - a.msPerBatch);
}

const results = runs.map((run) => ({
  variant: run.variant.name,
  trainImgPerSec: Math.round(median(run.rates)),
  ratioToRelu: round2(median(run.ratios)),
  ratioRange: [round2(Math.min(...run.ratios)), round2(Math.max(...run.ratios))],
  inferImgPerSec: Math.round(median(run.inferRates)),
  inferRatioToRelu: round2(median(run.inferRatios)),
  ...(profile ? { profile: profileOf(run), inferenceProfile: inferenceProfileOf(run) } : {}),
}));

console.log(
  formatTable(
    ['variant', 'train img/s', '× relu LeNet', '(range)', 'infer img/s', '× relu LeNet'],
    results.map((r) => [
      r.variant,
      r.trainImgPerSec.toLocaleString('en-US'),
      r.ratioToRelu.toFixed(2),
      `${r.ratioRange[0].toFixed(2)}–${r.ratioRange[1].toFixed(2)}`,
      r.inferImgPerSec.toLocaleString('en-US'),
      r.inferRatioToRelu.toFixed(2),
    ]),
  ),
);
if (profile)
  for (const r of results)
    console.log(
      `\n${r.variant}: ${r
        .profile!.slice(0, numberArg('profile-top', 8))
        .map((p) => `${p.op} ${p.msPerStep}`)
        .join(', ')} (kernel ms per step)\n  inference: ${r
        .inferenceProfile!.slice(0, numberArg('profile-top', 8))
        .map((p) => `${p.op} ${p.msPerBatch}`)
        .join(', ')} (kernel ms per batch of ${INFERENCE_BATCH})`,
    );

if (!only) {
  const file = join(
    RESULTS_DIR,
    quick ? `variants${native ? '-native' : ''}-quick.json` : `variants${native ? '-native' : ''}${threads > 1 ? `-${threads}t` : ''}.json`,
  );
  writeJson(file, {
    date: fileStamp(),
    settings: {
      threads,
      kernels: native ? `native (${nativeKernelsInfo().simd})` : 'wasm',
      rounds,
      stepsPerBurst: steps,
      inferenceBatchesPerBurst: inferBurst,
      warmup,
      batch: TRAIN_BATCH,
      inferenceBatch: INFERENCE_BATCH,
      weightDecayOfOptimizerVariants: WEIGHT_DECAY,
    },
    machine: machineInfo(),
    code: codeVersion(argValue('note')),
    loadAverage: { start: loadStart, end: loadAverage() },
    results,
  });
  console.log(`\nwrote ${file}`);
}
