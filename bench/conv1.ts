/**
 * The single-channel convolution kernels (assembly/conv-single-channel.ts):
 * this checkout's WebAssembly module against the module of an older commit,
 * side by side in one process, on LeNet-5's first layer (x [64, 28, 28, 1],
 * 5×5 'same', 6 channels) and a few other shapes.
 *
 *   npx tsx bench/conv1.ts                        # against DEFAULT_BASELINE
 *   npx tsx bench/conv1.ts --baseline <commit>    # against another commit
 *   npx tsx bench/conv1.ts --quick                # fewer rounds, LeNet shape only
 *
 * Each module gets its own memory; both see the same inputs at the same
 * addresses (the shared pieces are in kernel-versus.ts). The kernels are
 * called as the host calls them on one thread: the forward pass (bias and
 * relu fused) on the whole batch in one call, the filter gradient in
 * FILTER_GRADIENT_PARTS parts, then `sumPartials`. A round times a few calls
 * of the old kernel, then of the new one (which goes first alternates), so a
 * burst of load on the shared machine hits both alike; the result is the
 * median over rounds of old time / new time. The forward outputs are checked
 * for equal bits, the filter gradients compared (max |difference|). Prints a
 * table and writes bench/results/conv1.json (a quick run: conv1-quick.json).
 */
import { join } from 'node:path';
import { FILTER_GRADIENT_PARTS, geometryFields } from '../packages/ops/src/kernels/wasm/conv-wasm.ts';
import type { KernelExports } from '../packages/ops/src/kernels/wasm/runtime.ts';
import { RESULTS_DIR, codeVersion, formatTable, machineInfo, round2, writeJson } from './common.ts';
import { argValue, hasFlag } from './engine-common.ts';
import {
  Layout,
  alternate,
  convShapeGeometry,
  floatsAt,
  generatedSource,
  instantiate,
  loadLine,
  randomArray,
  timeCalls,
  watchLoad,
  type ConvShape,
  type Timing,
} from './kernel-versus.ts';

/** The commit before the current kernels (16 pixels × 2 channels forward, 4 taps × 2 channels for the filter gradient). */
const DEFAULT_BASELINE = '761c44a8fb5d05c134975dfc5f2945ce53c8712b';
const QUICK = hasFlag('quick');
const ROUNDS = QUICK ? 15 : 41;
/** Each side of a round lasts about this long. */
const SAMPLE_MS = QUICK ? 10 : 20;

/** x [N, H, W, 1] */
type Case = ConvShape;

const LENET: Case = { name: 'LeNet conv1', shape: [64, 28, 28, 1], kernel: [5, 5], strides: [1, 1], padding: 'same', outChannels: 6 };
// Variants of LeNet's layer; the spread keeps the fields in LENET's order, as in conv1.json.
const cases: Case[] = QUICK
  ? [LENET]
  : [
      LENET,
      ...[1, 4, 8, 12, 16].map((outChannels): Case => ({ ...LENET, name: `Cout ${outChannels}`, outChannels })),
      { ...LENET, name: '3×3, width 30', shape: [64, 30, 30, 1], kernel: [3, 3] },
      { ...LENET, name: 'stride 2 vertically', strides: [2, 1] },
    ];

/** This benchmark's inputs are in [-0.5, 0.5), as when conv1.json was taken. */
const AMPLITUDE = 0.5;

/** The host's calls of both kernels on one thread for one case, and where their outputs land. */
interface Calls {
  forward(k: KernelExports): void;
  filterGradient(k: KernelExports): void;
  y: number;
  outSize: number;
  dfilter: number;
  filterSize: number;
}

/** Lays out case `c`'s operands in both memories. */
function prepare(layout: Layout<KernelExports>, c: Case): Calls {
  const g = convShapeGeometry(c);
  const Co = c.outChannels;
  const N = g.batch;
  const outSize = N * g.outHeight * g.outWidth * Co;
  const filterSize = c.kernel[0] * c.kernel[1] * Co;
  const x = layout.floats(randomArray(N * g.inHeight * g.inWidth, 1, AMPLITUDE));
  const filter = layout.floats(randomArray(filterSize, 2, AMPLITUDE));
  const bias = layout.floats(randomArray(Co, 3, AMPLITUDE));
  const dy = layout.floats(randomArray(outSize, 4, AMPLITUDE));
  const y = layout.output(outSize);
  const geometry = layout.ints(geometryFields(g, Co));
  const forwardWorkspace = layout.workspace((k) => k.convForwardWorkspaceBytes(geometry));
  const perPart = Math.max(1, Math.ceil(N / FILTER_GRADIENT_PARTS));
  const parts = Math.ceil(N / perPart);
  const partials = layout.output(parts * filterSize);
  const dfilter = layout.output(filterSize);
  const filterWorkspace = layout.workspace((k) => k.convBackpropFilterWorkspaceBytes(geometry));
  return {
    forward: (k) => k.convForward(x, filter, bias, 1, y, geometry, 0, N, forwardWorkspace),
    filterGradient: (k) => {
      for (let first = 0; first < N; first += perPart)
        k.convBackpropFilter(x, dy, partials, perPart, geometry, first, Math.min(perPart, N - first), filterWorkspace);
      k.sumPartials(partials, parts, filterSize, dfilter);
    },
    y,
    outSize,
    dfilter,
    filterSize,
  };
}

/** conv1.json has no quartiles. */
interface Comparison extends Omit<Timing, 'ratioQuartiles'> {
  multiplyAddsPerSecondNew: number;
}

/** Old against new, alternating, ROUNDS rounds. */
function compare(oldCall: () => void, newCall: () => void, multiplyAdds: number): Comparison {
  // Unlike pool.ts and conv2.ts, the bursts are sized from the new kernel (after a few calls of each), as for conv1.json.
  for (let i = 0; i < 5; i++) {
    oldCall();
    newCall();
  }
  const calls = Math.max(1, Math.round(SAMPLE_MS / Math.max(timeCalls(newCall, 5), 1e-3)));
  const { oldMs, newMs, ratio } = alternate(oldCall, newCall, ROUNDS, calls);
  return { oldMs, newMs, ratio, multiplyAddsPerSecondNew: multiplyAdds / (newMs / 1000) };
}

/** Largest |a − b| over the elements, and the largest |a|. */
function difference(a: Float32Array, b: Float32Array): { maxAbsDifference: number; maxAbs: number } {
  let maxAbsDifference = 0,
    maxAbs = 0;
  for (let i = 0; i < a.length; i++) {
    maxAbsDifference = Math.max(maxAbsDifference, Math.abs(a[i] - b[i]));
    maxAbs = Math.max(maxAbs, Math.abs(a[i]));
  }
  return { maxAbsDifference, maxAbs };
}

function main(): void {
  const baseline = argValue('baseline') ?? DEFAULT_BASELINE;
  const oldSource = generatedSource(baseline);
  const newSource = generatedSource();
  const watch = watchLoad();
  const results = cases.map((c) => {
    const g = convShapeGeometry(c);
    const multiplyAdds = g.batch * g.outHeight * g.outWidth * c.kernel[0] * c.kernel[1] * c.outChannels;
    // A fresh pair of modules for every case: each case starts from freshly compiled code, as when conv1.json was taken.
    const oldI = instantiate<KernelExports>(oldSource, 1);
    const newI = instantiate<KernelExports>(newSource, 1);
    const calls = prepare(new Layout([oldI, newI]), c);
    const forward = compare(
      () => calls.forward(oldI.kernels),
      () => calls.forward(newI.kernels),
      multiplyAdds,
    );
    const filterGradient = compare(
      () => calls.filterGradient(oldI.kernels),
      () => calls.filterGradient(newI.kernels),
      multiplyAdds,
    );
    const forwardDifference = difference(floatsAt(newI, calls.y, calls.outSize), floatsAt(oldI, calls.y, calls.outSize));
    return {
      ...c,
      multiplyAdds,
      forward: { ...forward, ...forwardDifference, sameBits: forwardDifference.maxAbsDifference === 0 },
      filterGradient: { ...filterGradient, ...difference(floatsAt(newI, calls.dfilter, calls.filterSize), floatsAt(oldI, calls.dfilter, calls.filterSize)) },
    };
  });
  const load = watch();

  const f3 = (v: number) => v.toFixed(3);
  const header = ['case', 'fwd old ms', 'fwd new ms', 'fwd ratio', 'fwd G/s', 'dW old ms', 'dW new ms', 'dW ratio', 'dW G/s', 'dW max diff'];
  const rows = results.map((r) => [
    r.name,
    f3(r.forward.oldMs),
    f3(r.forward.newMs),
    r.forward.ratio.toFixed(2),
    (r.forward.multiplyAddsPerSecondNew / 1e9).toFixed(1),
    f3(r.filterGradient.oldMs),
    f3(r.filterGradient.newMs),
    r.filterGradient.ratio.toFixed(2),
    (r.filterGradient.multiplyAddsPerSecondNew / 1e9).toFixed(1),
    r.filterGradient.maxAbsDifference.toExponential(1),
  ]);
  console.log(
    `single-channel conv kernels, one thread: this checkout against ${baseline.slice(0, 10)} (ratio: median of old / new over ${ROUNDS} rounds; G/s: multiply-adds of the new kernel)`,
  );
  console.log(formatTable(header, rows));
  for (const r of results)
    if (!r.forward.sameBits) console.log(`${r.name}: forward outputs differ from the old kernel's (max |diff| ${r.forward.maxAbsDifference})`);
  console.log(loadLine(load));

  const file = join(RESULTS_DIR, QUICK ? 'conv1-quick.json' : 'conv1.json');
  writeJson(file, {
    benchmark: 'single-channel conv kernels, old module against new, one thread',
    date: new Date().toISOString(),
    quick: QUICK,
    baseline,
    rounds: ROUNDS,
    sampleMs: SAMPLE_MS,
    machine: machineInfo(),
    code: codeVersion(argValue('note')),
    loadAverage: load.loadAverage,
    cpuShare: round2(load.cpuShare),
    results,
  });
  console.log(`wrote ${join('bench', 'results', QUICK ? 'conv1-quick.json' : 'conv1.json')}`);
}

main();
