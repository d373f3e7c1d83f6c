/**
 * Old against new WebAssembly convolution kernels (forward with bias and
 * relu, filter gradient, input gradient) on LeNet-5's second convolution
 * (x [64,14,14,6], filter 5×5×6×16, 'valid') and a few other shapes that
 * take the same kernels ('same' padding, strides 2, odd channel counts, a
 * window deeper than one k-block with 64 output channels, a tiny image with
 * 300 output channels, a single-channel input gradient), one thread.
 *
 *   npx tsx bench/conv2.ts                  # old = the kernels of BASE_COMMIT
 *   npx tsx bench/conv2.ts --base <commit>  # old = the kernels of another commit
 *   npx tsx bench/conv2.ts --quick          # fewer rounds
 *
 * The old module is read from git (the committed kernels.generated.ts of the
 * base commit), the new one from the working tree; each gets its own memory
 * with the same operands at the same addresses, and the kernels are called
 * directly, the way one thread runs a whole batch (the filter gradient as
 * the host does it: four partial sums over quarters of the batch, then their
 * sum). The two take turns, burst by burst, and the result is the median
 * over rounds of old time / new time (see kernel-versus.ts). Outputs are
 * checked first: every element within 1e-5 of the largest magnitude of the
 * old output (the new kernels may add in another order), and the table says
 * whether the bits are the same.
 *
 * Prints a table and writes bench/results/conv2.json.
 */
import { join } from 'node:path';
import type { ConvGeometry } from '../packages/ops/src/kernels/geometry.ts';
import { RESULTS_DIR } from './common.ts';
import { argValue, hasFlag } from './engine-common.ts';
import {
  Layout,
  TIMING_HEADER,
  convShapeGeometry,
  generatedSource,
  instantiate,
  outputs,
  printSummary,
  randomArray,
  timeCases,
  timingCells,
  watchLoad,
  writeResults,
  type ConvShape,
  type Instance,
  type KernelCase,
  type Rounds,
} from './kernel-versus.ts';

/** The commit the implicit-GEMM convolution kernels started from. */
const BASE_COMMIT = 'b25cfb9';

const QUICK = hasFlag('quick');
const ROUNDS = QUICK ? 15 : 61;
/** Each burst lasts about this long. */
const BURST_MS = QUICK ? 10 : 20;
const TIMING: Rounds = { rounds: ROUNDS, burstMs: BURST_MS, warmupCalls: 5 };
/** Partial sums of the filter gradient, as the host computed them when these results were taken. */
const FILTER_GRADIENT_PARTS = 4;

interface Kernels {
  heapBase(): number;
  convForwardWorkspaceBytes(geometry: number): number;
  convForward(
    x: number,
    filter: number,
    bias: number,
    relu: number,
    y: number,
    geometry: number,
    firstImage: number,
    imageCount: number,
    workspace: number,
  ): void;
  convBackpropFilterWorkspaceBytes(geometry: number): number;
  convBackpropFilter(
    x: number,
    dy: number,
    partials: number,
    imagesPerPartial: number,
    geometry: number,
    firstImage: number,
    imageCount: number,
    workspace: number,
  ): void;
  sumPartials(partials: number, count: number, size: number, out: number): void;
  convBackpropInputWorkspaceBytes(geometry: number): number;
  convBackpropInput(dy: number, filter: number, dx: number, geometry: number, firstImage: number, imageCount: number, workspace: number): void;
}

type Case = KernelCase<Kernels>;

const SHAPES: ConvShape[] = [
  { name: 'conv2', shape: [64, 14, 14, 6], kernel: [5, 5], strides: [1, 1], padding: 'valid', outChannels: 16 },
  { name: 'conv2 same', shape: [64, 14, 14, 6], kernel: [5, 5], strides: [1, 1], padding: 'same', outChannels: 16 },
  { name: 'stride 2', shape: [32, 15, 15, 3], kernel: [3, 3], strides: [2, 2], padding: 'same', outChannels: 8 },
  { name: 'Cin 9', shape: [16, 11, 9, 9], kernel: [3, 3], strides: [1, 1], padding: 'valid', outChannels: 13 },
  { name: 'wide', shape: [16, 16, 16, 32], kernel: [3, 3], strides: [1, 1], padding: 'same', outChannels: 64 },
  { name: 'Cout 300', shape: [1, 4, 4, 3], kernel: [3, 3], strides: [1, 1], padding: 'same', outChannels: 300 },
  { name: 'conv1', shape: [64, 28, 28, 1], kernel: [5, 5], strides: [1, 1], padding: 'same', outChannels: 6 },
];

function geometryFields(g: ConvGeometry, outChannels: number): number[] {
  return [
    g.batch,
    g.inHeight,
    g.inWidth,
    g.channels,
    g.kernelHeight,
    g.kernelWidth,
    g.strideHeight,
    g.strideWidth,
    g.padTop,
    g.padLeft,
    g.outHeight,
    g.outWidth,
    outChannels,
  ];
}

function buildCases(layout: Layout<Kernels>): Case[] {
  const cases: Case[] = [];
  let seed = 1;
  for (const s of SHAPES) {
    const g = convShapeGeometry(s);
    const N = g.batch;
    const Co = s.outChannels;
    const inSize = N * g.inHeight * g.inWidth * g.channels;
    const outSize = N * g.outHeight * g.outWidth * Co;
    const filterSize = g.kernelHeight * g.kernelWidth * g.channels * Co;
    const x = layout.floats(randomArray(inSize, seed++));
    const filter = layout.floats(randomArray(filterSize, seed++));
    const bias = layout.floats(randomArray(Co, seed++));
    const dy = layout.floats(randomArray(outSize, seed++));
    const geometry = layout.ints(geometryFields(g, Co));
    const shape = `${s.name} [${s.shape}] ${s.kernel.join('×')}×${Co}`;
    // The single-channel forward and filter gradient have kernels of their own, untouched here.
    if (g.channels > 1) {
      const y = layout.output(outSize);
      const ws = layout.workspace((k) => k.convForwardWorkspaceBytes(geometry));
      cases.push({ name: `forward+bias+relu ${shape}`, call: (k) => k.convForward(x, filter, bias, 1, y, geometry, 0, N, ws), out: y, outLength: outSize });
      const perPart = Math.ceil(N / FILTER_GRADIENT_PARTS);
      const parts = Math.ceil(N / perPart);
      const partials = layout.output(parts * filterSize);
      const dfilter = layout.output(filterSize);
      const wsF = layout.workspace((k) => k.convBackpropFilterWorkspaceBytes(geometry));
      cases.push({
        name: `filter gradient ${shape}`,
        call: (k) => {
          for (let first = 0; first < N; first += perPart) k.convBackpropFilter(x, dy, partials, perPart, geometry, first, Math.min(perPart, N - first), wsF);
          k.sumPartials(partials, parts, filterSize, dfilter);
        },
        out: dfilter,
        outLength: filterSize,
      });
    }
    const dx = layout.output(inSize);
    const wsI = layout.workspace((k) => k.convBackpropInputWorkspaceBytes(geometry));
    cases.push({ name: `input gradient ${shape}`, call: (k) => k.convBackpropInput(dy, filter, dx, geometry, 0, N, wsI), out: dx, outLength: inSize });
  }
  return cases;
}

/** Checks the new output against the old one; true when the bits are the same. */
function checkOutputs(c: Case, oldI: Instance<Kernels>, newI: Instance<Kernels>): boolean {
  const [a, b] = outputs(c, oldI, newI);
  let scale = 0;
  for (let i = 0; i < c.outLength; i++) scale = Math.max(scale, Math.abs(a[i]));
  let exact = true;
  for (let i = 0; i < c.outLength; i++) {
    if (!(Math.abs(a[i] - b[i]) <= 1e-5 * scale)) throw new Error(`${c.name}: element ${i} is ${b[i]} with the new kernels, ${a[i]} with the old`);
    if (!Object.is(a[i], b[i])) exact = false;
  }
  return exact;
}

function main(): void {
  const base = argValue('base') ?? BASE_COMMIT;
  const only = argValue('only');
  // 64 MiB each: all cases together need about 25.
  const oldI = instantiate<Kernels>(generatedSource(base), 1024);
  const newI = instantiate<Kernels>(generatedSource(), 1024);
  const cases = buildCases(new Layout([oldI, newI])).filter((c) => !only || c.name.includes(only));
  const watch = watchLoad();
  // The new output has the same bits as the old, or not.
  const results = timeCases(cases, oldI, newI, TIMING, (c) => ({ sameBits: checkOutputs(c, oldI, newI) }));
  const load = watch();
  printSummary(
    base,
    ROUNDS,
    ['kernel', 'same bits', ...TIMING_HEADER],
    results.map((r) => [r.name, r.sameBits ? 'yes' : 'no', ...timingCells(r)]),
    load,
  );
  if (only) return;
  writeResults(join(RESULTS_DIR, QUICK ? 'conv2-quick.json' : 'conv2.json'), { base, rounds: ROUNDS, burstMs: BURST_MS, quick: QUICK }, load, results);
}

main();
