/**
 * Old against new WebAssembly kernels for max pooling (forward and
 * backward), the bias gradient and the relu gradient, on the shapes of one
 * LeNet-5 training step (batch 64), one thread.
 *
 *   npx tsx bench/pool.ts                  # old = the kernels of BASE_COMMIT
 *   npx tsx bench/pool.ts --base <commit>  # old = the kernels of another commit
 *   npx tsx bench/pool.ts --quick          # fewer rounds
 *
 * The old module is read from git (the committed kernels.generated.ts of the
 * base commit), the new one from the working tree; each gets its own memory
 * with the same operands at the same addresses, and the kernels are called
 * directly (no copies in or out, the whole batch in one call). The two take
 * turns, burst by burst, and the result is the median over rounds of old
 * time / new time (see kernel-versus.ts). Outputs are checked first: bit for
 * bit, except the bias gradient (a float64 sum in a different order), which
 * must agree to float32 rounding.
 *
 * Prints a table and writes bench/results/pool.json.
 */
import { join } from 'node:path';
import { RESULTS_DIR } from './common.ts';
import { argValue, hasFlag } from './engine-common.ts';
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
  timingCells,
  watchLoad,
  writeResults,
  type KernelCase,
  type Rounds,
} from './kernel-versus.ts';

/** The commit before the 2×2 pooling and register-sum bias gradient kernels. */
const BASE_COMMIT = '761c44a';

const QUICK = hasFlag('quick');
const ROUNDS = QUICK ? 15 : 61;
/** Each burst lasts about this long. */
const BURST_MS = QUICK ? 5 : 10;
const TIMING: Rounds = { rounds: ROUNDS, burstMs: BURST_MS, warmupCalls: 20 };

interface Kernels {
  heapBase(): number;
  maxPoolForward(x: number, geometry: number, y: number, firstImage: number, imageCount: number): void;
  /** (dy, x, geometry, dx, firstImage, imageCount); since 88acb60 a positiveOnly flag comes before firstImage. */
  maxPoolBackward(dy: number, x: number, geometry: number, dx: number, ...rest: number[]): void;
  reluBackward(dy: number, x: number, out: number, first: number, count: number): void;
  biasAddGradWorkspaceBytes(channels: number): number;
  biasAddGrad(dy: number, n: number, channels: number, out: number, workspace: number): void;
}

interface Case extends KernelCase<Kernels> {
  /** Bit for bit, or to float32 rounding (a different summation order). */
  exact: boolean;
}

/** The pooling geometry struct (see assembly/geometry.ts) of a 2×2 stride-2 'valid' pool. */
function poolGeometry(batch: number, H: number, W: number, C: number): number[] {
  return [batch, H, W, C, 2, 2, 2, 2, 0, 0, H / 2, W / 2, C];
}

function buildCases(layout: Layout<Kernels>): Case[] {
  const cases: Case[] = [];
  const batch = 64;
  let seed = 1;
  for (const [H, W, C] of [
    [28, 28, 6],
    [10, 10, 16],
    [28, 28, 1],
  ]) {
    const inSize = batch * H * W * C;
    const outSize = inSize / 4;
    const x = layout.floats(randomArray(inSize, seed++));
    const dy = layout.floats(randomArray(outSize, seed++));
    const geometry = layout.ints(poolGeometry(batch, H, W, C));
    const y = layout.output(outSize);
    const dx = layout.output(inSize);
    const shape = `[${batch},${H},${W},${C}]`;
    cases.push({ name: `maxPool ${shape}`, call: (k) => k.maxPoolForward(x, geometry, y, 0, batch), out: y, outLength: outSize, exact: true });
    // The plain gradient (positiveOnly 0) where the kernel takes the flag; an exported wasm function's length is its parameter count.
    const poolGrad = (k: Kernels) =>
      k.maxPoolBackward.length === 7 ? k.maxPoolBackward(dy, x, geometry, dx, 0, 0, batch) : k.maxPoolBackward(dy, x, geometry, dx, 0, batch);
    cases.push({ name: `maxPoolGrad ${shape}`, call: poolGrad, out: dx, outLength: inSize, exact: true });
  }
  // conv1 and conv2 outputs, then the dense layers.
  for (const [rows, C] of [
    [batch * 28 * 28, 6],
    [batch * 10 * 10, 16],
    [batch, 120],
    [batch, 84],
    [batch, 10],
  ]) {
    const n = rows * C;
    const dy = layout.floats(randomArray(n, seed++));
    const out = layout.output(C);
    const workspace = layout.output(1024); // more than either module asks for these channel counts
    cases.push({ name: `biasAddGrad [${rows},${C}]`, call: (k) => k.biasAddGrad(dy, n, C, out, workspace), out, outLength: C, exact: false });
  }
  for (const n of [batch * 28 * 28 * 6, batch * 10 * 10 * 16]) {
    const dy = layout.floats(randomArray(n, seed++));
    const x = layout.floats(randomArray(n, seed++));
    const out = layout.output(n);
    cases.push({ name: `reluGrad ${n}`, call: (k) => k.reluBackward(dy, x, out, 0, n), out, outLength: n, exact: true });
  }
  return cases;
}

function checkOutputs(c: Case, oldI: Instance<Kernels>, newI: Instance<Kernels>): void {
  const [a, b] = outputs(c, oldI, newI);
  for (let i = 0; i < c.outLength; i++) {
    const same = c.exact ? Object.is(a[i], b[i]) : Math.abs(a[i] - b[i]) <= 2 ** -23 * Math.abs(a[i]);
    if (!same) throw new Error(`${c.name}: element ${i} is ${b[i]} with the new kernels, ${a[i]} with the old`);
  }
}

function main(): void {
  const base = argValue('base') ?? BASE_COMMIT;
  // 32 MiB each: the largest case needs about 5.
  const oldI = instantiate<Kernels>(generatedSource(base), 512);
  const newI = instantiate<Kernels>(generatedSource(), 512);
  const cases = buildCases(new Layout([oldI, newI]));
  const watch = watchLoad();
  const results = timeCases(cases, oldI, newI, TIMING, (c) => {
    checkOutputs(c, oldI, newI);
    return {};
  });
  const load = watch();
  printSummary(
    base,
    ROUNDS,
    ['kernel', ...TIMING_HEADER],
    results.map((r) => [r.name, ...timingCells(r)]),
    load,
  );
  writeResults(join(RESULTS_DIR, QUICK ? 'pool-quick.json' : 'pool.json'), { base, rounds: ROUNDS, burstMs: BURST_MS, quick: QUICK }, load, results);
}

main();
