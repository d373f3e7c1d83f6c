/**
 * ndgraph at another commit against this checkout, side by side in one
 * process: what a change did to the whole LeNet-5 training step and to
 * inference, measured so that the noise of a shared machine hits both alike.
 *
 *   npx tsx bench/versus.ts --base 761c44a
 *   npx tsx bench/versus.ts --base 761c44a --rounds 30 --threads 2 --note 'after the conv kernels'
 *   npx tsx bench/versus.ts --base 761c44a --variant batchnorm
 *
 * The base commit is checked out into bench/results/tmp/ (a git worktree,
 * with its own `pnpm install`), and its benchmark steps (bench/ndgraph-lenet.ts)
 * and this checkout's are each bundled with everything they import (engine,
 * kernels, their WebAssembly module) into a module of its own. Both load into
 * this process, build LeNet-5 on the same data, batch order and initial
 * weights, and take turns: a burst of training steps each, then a burst of
 * inference batches each, round after round, alternating which goes first.
 * The result is the median over rounds of base time / current time (above 1:
 * the current code is faster), with the middle half of the rounds' ratios.
 * Their first training losses must agree (the same model is trained), or it
 * fails. `--variant NAME` trains one of bench/model-variants.ts's variants
 * instead of relu LeNet-5 (each side builds it with its own code). Writes
 * bench/results/versus-<base>[-<variant>][-<N>t].json.
 *
 * Needs a base commit that has bench/ndgraph-lenet.ts (the fast-kernel work on).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { bundleScript } from './bundle.ts';
import { BENCH_DIR, RESULTS_DIR, TMP_DIR, buildBenchData, codeVersion, loadAverage, machineInfo, writeBenchData, writeJson } from './common.ts';
import { VARIANTS } from './model-variants.ts';
import { FAST_ENGINE_COUNTS, TRAIN_BATCH, INFERENCE_BATCH, argValue, median, numberArg } from './engine-common.ts';

/** What each bundle exports: the benchmark's own steps, as the engines use them. */
interface Side {
  ndgraphLenet(data: unknown, variant?: { config?: object; model?: unknown }): { trainStep(): number; inferStep(): number; losses: number[] };
  modelByName(name: string): unknown;
  readBenchDataFile(path: string): unknown;
  enableWasmThreads(threads: number): number;
}

const ENTRY = `
export { ndgraphLenet } from './ndgraph-lenet.ts';
export { readBenchDataFile } from './engine-common.ts';
export { enableWasmThreads } from '@ndgraph/ops/node';
export { modelByName } from '@ndgraph/nn';
`;

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** A checkout of `commit` with its dependencies installed (made once, reused). */
function baseCheckout(commit: string): string {
  const dir = join(TMP_DIR, `versus-${commit}`);
  if (!existsSync(join(dir, 'node_modules'))) {
    if (!existsSync(dir)) git(BENCH_DIR, 'worktree', 'add', '--detach', dir, commit);
    console.log(`installing the base checkout's dependencies in ${relative(process.cwd(), dir)} …`);
    execFileSync('npx', ['-y', 'pnpm@10.34.9', 'install', '--prefer-offline'], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  if (!existsSync(join(dir, 'bench', 'ndgraph-lenet.ts')))
    throw new Error(`--base ${commit}: expected bench/ndgraph-lenet.ts at that commit, found none (it needs the benchmark's step code)`);
  return dir;
}

/** Milliseconds per call of `step`, over `count` calls. */
function timeBurst(step: () => number, count: number): number {
  const started = performance.now();
  for (let i = 0; i < count; i++) step();
  return (performance.now() - started) / count;
}

/** Median and middle half of a list. */
function spread(values: number[]): { median: number; quartiles: [number, number] } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { median: median(values), quartiles: [at(0.25), at(0.75)] };
}

async function main(): Promise<void> {
  const baseArg = argValue('base');
  if (!baseArg) throw new Error('--base COMMIT: expected the commit to compare with');
  const rounds = Math.max(3, numberArg('rounds', 20));
  const trainBurst = Math.max(1, numberArg('train-burst', 10));
  const inferBurst = Math.max(1, numberArg('infer-burst', 4));
  const threads = Math.max(1, numberArg('threads', 1));
  const base = git(BENCH_DIR, 'rev-parse', '--short', `${baseArg}^{commit}`);
  const variantName = argValue('variant');
  const variant = variantName === undefined ? undefined : VARIANTS.find((v) => v.name === variantName);
  if (variantName !== undefined && !variant)
    throw new Error(`--variant ${variantName}: expected one of ${VARIANTS.map((v) => `'${v.name}'`).join(', ')} (bench/model-variants.ts)`);
  const loadAtStart = loadAverage();

  const baseDir = baseCheckout(base);
  const bundles = { base: join(TMP_DIR, `versus-${base}.mjs`), current: join(TMP_DIR, 'versus-current.mjs') };
  await bundleScript({ source: ENTRY, resolveDir: join(baseDir, 'bench') }, bundles.base);
  await bundleScript({ source: ENTRY, resolveDir: BENCH_DIR }, bundles.current);
  const dataFile = join(TMP_DIR, 'versus-data.safetensors');
  writeBenchData(dataFile, buildBenchData());

  const sides = { base: (await import(pathToFileURL(bundles.base).href)) as Side, current: (await import(pathToFileURL(bundles.current).href)) as Side };
  const build = (side: Side) =>
    side.ndgraphLenet(
      side.readBenchDataFile(dataFile),
      variant && { config: variant.config, model: variant.modelName ? side.modelByName(variant.modelName) : undefined },
    );
  const models = { base: build(sides.base), current: build(sides.current) };
  for (const name of ['base', 'current'] as const) {
    if (threads > 1 && sides[name].enableWasmThreads(threads) !== threads)
      throw new Error(`--threads ${threads}: the ${name} kernels cannot use that many threads here`);
  }
  // Warm-up (as long as the engine benchmark's: V8 optimizes hot WebAssembly
  // only after a while), and the check that both train the same model.
  for (let i = 0; i < FAST_ENGINE_COUNTS.trainWarmup; i++) {
    models.base.trainStep();
    models.current.trainStep();
  }
  const lossDifference = Math.max(...models.base.losses.slice(0, 5).map((l, i) => Math.abs(l - models.current.losses[i])));
  if (!(lossDifference <= 1e-3)) throw new Error(`the two versions' first losses differ by ${lossDifference}: they do not train the same model`);
  for (let i = 0; i < FAST_ENGINE_COUNTS.inferWarmup; i++) {
    models.base.inferStep();
    models.current.inferStep();
  }

  const times = { base: { train: [] as number[], infer: [] as number[] }, current: { train: [] as number[], infer: [] as number[] } };
  const cpuBefore = process.cpuUsage();
  const wallBefore = performance.now();
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? (['base', 'current'] as const) : (['current', 'base'] as const);
    for (const name of order) times[name].train.push(timeBurst(models[name].trainStep, trainBurst));
    for (const name of order) times[name].infer.push(timeBurst(models[name].inferStep, inferBurst));
  }
  const cpu = process.cpuUsage(cpuBefore);
  // Both sides trained the same steps on the same batches: count the losses that are the very same bits.
  const stepsCompared = Math.min(models.base.losses.length, models.current.losses.length);
  let identicalLosses = 0;
  while (identicalLosses < stepsCompared && Object.is(models.base.losses[identicalLosses], models.current.losses[identicalLosses])) identicalLosses++;
  const cpuShare = (cpu.user + cpu.system) / 1000 / (performance.now() - wallBefore);

  const ratio = (kind: 'train' | 'infer') => spread(times.base[kind].map((b, i) => b / times.current[kind][i]));
  const imagesPerSecond = (ms: number[], batch: number) => (1000 * batch) / median(ms);
  const result = {
    benchmark: 'ndgraph LeNet-5 step: another commit against this checkout, side by side in one process',
    date: new Date().toISOString(),
    base,
    variant: variant?.name ?? 'relu',
    threads,
    rounds,
    burst: { trainSteps: trainBurst, inferenceBatches: inferBurst },
    machine: machineInfo(),
    code: codeVersion(argValue('note')),
    loadAverage: { start: loadAtStart, end: loadAverage() },
    cpuShare,
    firstLossesDifference: lossDifference,
    losses: { stepsCompared, identicalFromTheStart: identicalLosses },
    train: {
      baseImagesPerSecond: imagesPerSecond(times.base.train, TRAIN_BATCH),
      currentImagesPerSecond: imagesPerSecond(times.current.train, TRAIN_BATCH),
      baseOverCurrent: ratio('train'),
    },
    inference: {
      baseImagesPerSecond: imagesPerSecond(times.base.infer, INFERENCE_BATCH),
      currentImagesPerSecond: imagesPerSecond(times.current.infer, INFERENCE_BATCH),
      baseOverCurrent: ratio('infer'),
    },
    msPerCall: times,
  };
  const fmt = (r: { median: number; quartiles: [number, number] }) =>
    `${r.median.toFixed(2)}× (middle half ${r.quartiles[0].toFixed(2)}–${r.quartiles[1].toFixed(2)})`;
  console.log(
    `ndgraph ${base} against this checkout, ${variant?.name ?? 'relu'} LeNet-5, ${threads} thread(s), ${rounds} rounds (load ${loadAtStart.join(' ')}, CPU share ${(100 * cpuShare).toFixed(0)}%)`,
  );
  console.log(
    `  train:     ${result.train.baseImagesPerSecond.toFixed(0)} → ${result.train.currentImagesPerSecond.toFixed(0)} img/s, ${fmt(result.train.baseOverCurrent)}`,
  );
  console.log(
    `  inference: ${result.inference.baseImagesPerSecond.toFixed(0)} → ${result.inference.currentImagesPerSecond.toFixed(0)} img/s, ${fmt(result.inference.baseOverCurrent)}`,
  );
  console.log(`  losses:    ${identicalLosses} of ${stepsCompared} training steps bit-identical from the first`);
  const variantPart = variant ? `-${variant.name.replaceAll(/[^a-z0-9]+/g, '-')}` : '';
  const file = join(RESULTS_DIR, `versus-${base}${variantPart}${threads > 1 ? `-${threads}t` : ''}.json`);
  writeJson(file, result);
  console.log(`wrote ${relative(process.cwd(), file)}`);
  process.exit(0); // helper threads, if any, would keep the process alive
}

await main();
