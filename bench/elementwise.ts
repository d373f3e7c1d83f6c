/**
 * Old against new WebAssembly kernels off the relu path: batch
 * normalization (moments, normalize, the gradient sums and the input gradient, the
 * [..., C] → [C] sum), the activations and their gradients, and the
 * optimizer updates, on the shapes of LeNet-5 and of the small
 * batchnorm + residual CNN at batch 64, one thread.
 *
 *   npx tsx bench/elementwise.ts [--base COMMIT] [--quick] [--only TEXT]
 *
 * As bench/pool.ts: the module committed at `--base` (default: the commit
 * before the SIMD versions of these kernels) against the working tree's,
 * each in its own memory on the same operands, called directly; old and new
 * take turns burst by burst, and `old/new` is the median over rounds (above
 * 1: the new kernel is faster). Outputs must be the same bits (the exp-based
 * activations, which compute in float32 now: within 3 ulps). Kernels the
 * old module lacks are timed alone (`old ms` empty). Writes
 * bench/results/elementwise.json (`--quick`: elementwise-quick.json;
 * `--only`: no file).
 */
import { join } from 'node:path';
import { coefficientPeriod } from '../packages/ops/src/kernels/wasm/batchnorm-wasm.ts';
import { RESULTS_DIR } from './common.ts';
import { argValue, hasFlag, median } from './engine-common.ts';
import {
  Layout,
  TIMING_HEADER,
  type Instance,
  generatedSource,
  instantiate,
  outputs,
  printSummary,
  randomArray,
  timeCases,
  timeCalls,
  timingCells,
  watchLoad,
  writeResults,
  type KernelCase,
  type Rounds,
} from './kernel-versus.ts';

/** The commit before the SIMD batchnorm and exp-based activation kernels. */
const BASE_COMMIT = '585ab15';

const QUICK = hasFlag('quick');
const ONLY = argValue('only');
const ROUNDS = QUICK ? 11 : 41;
const BURST_MS = QUICK ? 5 : 10;
const TIMING: Rounds = { rounds: ROUNDS, burstMs: BURST_MS, warmupCalls: 20 };

type Export = (...args: number[]) => void;
interface Kernels {
  heapBase(): number;
  [name: string]: Export | (() => number);
}

const call = (k: Kernels, name: string, ...args: number[]) => (k[name] as Export)(...args);

/**
 * An elementwise kernel over n elements: today's take their share last,
 * (…, parameter, first, count); before this module they took (…, n, parameter).
 * An exported wasm function's length is its parameter count.
 */
function callElementwise(k: Kernels, name: string, pointers: number[], n: number, parameter?: number): void {
  const fn = k[name] as Export;
  const extra = parameter === undefined ? [] : [parameter];
  if (fn.length === pointers.length + extra.length + 2) fn(...pointers, ...extra, 0, n);
  else fn(...pointers, n, ...extra);
}

function buildCases(layout: Layout<Kernels>): KernelCase<Kernels>[] {
  const cases: KernelCase<Kernels>[] = [];
  let seed = 1;
  // [rows, C]: LeNet's conv1 and conv2 outputs, its dense layer, and the CNN's two resolutions.
  for (const [rows, C] of [
    [64 * 28 * 28, 6],
    [64 * 10 * 10, 16],
    [64, 120],
    [64 * 28 * 28, 16],
    [64 * 14 * 14, 16],
  ]) {
    const n = rows * C;
    const shape = `[${rows},${C}]`;
    const x = layout.floats(randomArray(n, seed++));
    const dy = layout.floats(randomArray(n, seed++));
    const f64s = (values: (c: number) => number) => layout.floats(new Float32Array(new Float64Array(Array.from({ length: C }, (_, c) => values(c))).buffer));
    const mean = f64s((c) => 0.01 * c);
    const inverseStd = f64s((c) => 1 + 0.1 * c);
    const stats = layout.output(2 * 2 * C); // two float64 vectors
    const sums = layout.output(4 * C); // two float64 vectors
    const y = layout.output(n);
    // Today's kernels take their share last; the base module's took the whole call.
    const shared = (k: Kernels, name: string, args: number[], share: number) =>
      (k[name] as Export).length > args.length ? call(k, name, ...args, 0, share) : call(k, name, ...args);
    cases.push({
      name: `batchNormMoments ${shape}`,
      call: (k) => shared(k, 'batchNormMoments', [x, n, C, stats, stats + 8 * C], C),
      out: stats,
      outLength: 4 * C,
    });
    // Since the statistics node: one pass gives both gradients' sums, and the training input gradient is one pass more (new only).
    cases.push({
      name: `batchNormGradSums ${shape}`,
      call: (k) => call(k, 'batchNormGradSums', dy, x, n, C, mean, inverseStd, sums, sums + 8 * C, 0, C),
      out: sums,
      outLength: 4 * C,
    });
    // The passes that write a tensor, float32 since then (new only): the normalization (+ relu) and the training input gradient.
    const period = coefficientPeriod(C);
    const tiledCoefficients = () => layout.floats(randomArray(period, seed++));
    const [m, a, b, k, c] = [0, 1, 2, 3, 4].map(tiledCoefficients);
    const blocks = Math.ceil(n / period);
    cases.push({ name: `channelAffineF32 ${shape}`, call: (k_) => call(k_, 'channelAffineF32', x, y, n, m, a, b, period, 1, 0, blocks), out: y, outLength: n });
    cases.push({
      name: `batchNormGradInputF32 ${shape}`,
      call: (k_) => call(k_, 'batchNormGradInputF32', dy, x, y, n, m, a, k, c, period, 0, blocks),
      out: y,
      outLength: n,
    });
    cases.push({ name: `sumRowsF32 ${shape}`, call: (k) => call(k, 'sumRowsF32', dy, rows, C, sums), out: sums, outLength: C });
  }
  for (const n of [64 * 28 * 28 * 6, 64 * 10 * 10 * 16]) {
    const x = layout.floats(randomArray(n, seed++, 4));
    const dy = layout.floats(randomArray(n, seed++));
    const y = layout.output(n);
    const unary = (name: string, parameter?: number) =>
      cases.push({ name: `${name} ${n}`, call: (k) => callElementwise(k, name, [x, y], n, parameter), out: y, outLength: n });
    const binary = (name: string, parameter?: number) =>
      cases.push({ name: `${name} ${n}`, call: (k) => callElementwise(k, name, [dy, x, y], n, parameter), out: y, outLength: n });
    unary('tanhForward');
    unary('sigmoidForward');
    unary('eluForward', 1);
    unary('leakyReluForward', 0.01);
    unary('scaleForward', 0.99);
    binary('tanhBackward');
    binary('sigmoidBackward');
    binary('eluBackward', 1);
    binary('mulSame');
  }
  return ONLY ? cases.filter((c) => c.name.includes(ONLY)) : cases;
}

function main(): void {
  const base = argValue('base') ?? BASE_COMMIT;
  const oldI = instantiate<Kernels>(generatedSource(base), 1024);
  const newI = instantiate<Kernels>(generatedSource(), 1024);
  const cases = buildCases(new Layout([oldI, newI]));
  const exportName = (c: KernelCase<Kernels>) => c.name.split(' ')[0];
  const shared = cases.filter((c) => exportName(c) in oldI.kernels);
  const newOnly = cases.filter((c) => !(exportName(c) in oldI.kernels));
  const watch = watchLoad();
  const results = timeCases(shared, oldI, newI, TIMING, (c) => {
    const [a, b] = outputs(c, oldI, newI);
    // The kernels built on exp compute in float32 now: a few ulps (test/properties.test.ts bounds them); the rest, the same bits.
    const ulps = /^(tanh|sigmoid)Forward|^elu/.test(c.name) ? 3 : 0;
    for (let i = 0; i < c.outLength; i++) {
      const off = Object.is(a[i], b[i]) ? 0 : Math.abs(a[i] - b[i]) / (Math.max(Math.abs(a[i]), 2 ** -126) * 2 ** -23);
      if (!(off <= ulps)) throw new Error(`${c.name}: element ${i} is ${b[i]} with the new kernels, ${a[i]} with the old`);
    }
    return {};
  });
  const alone = newOnly.map((c) => {
    const calls = 50;
    const ms = median(Array.from({ length: QUICK ? 5 : 15 }, () => timeCalls(() => c.call(newI.kernels), calls)));
    return { name: c.name, newMs: ms };
  });
  const load = watch();
  printSummary(
    base,
    ROUNDS,
    ['kernel', ...TIMING_HEADER],
    [...results.map((r) => [r.name, ...timingCells(r)]), ...alone.map((r) => [r.name, '', r.newMs.toFixed(3), '', ''])],
    load,
  );
  if (!ONLY)
    writeResults(join(RESULTS_DIR, QUICK ? 'elementwise-quick.json' : 'elementwise.json'), { base, rounds: ROUNDS, burstMs: BURST_MS, quick: QUICK }, load, [
      ...results,
      ...alone,
    ]);
}

main();
