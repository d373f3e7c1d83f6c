/**
 * Old against new native kernels (packages/ops/native/): the C sources of
 * an older commit, compiled here with the same flags, against the working
 * tree's build, side by side in one process on the same operands.
 *
 *   npx tsx bench/native-versus.ts --base <commit>     # old = that commit's native/ sources
 *   npx tsx bench/native-versus.ts --base-file a.node  # old = an addon file built before
 *   npx tsx bench/native-versus.ts --threads 2         # both on two threads
 *   npx tsx bench/native-versus.ts --quick             # fewer rounds
 *
 * The kernels are the addon's own functions, called directly on ordinary
 * Float32Arrays (as the kernel table calls them on views of the wasm
 * memory): the convolutions of LeNet-5's conv2 and of the batchnorm +
 * residual CNN's 3×3 layers at batch 64, a wider 3×3 layer, and the dense
 * and square GEMMs. Old and new take turns burst by burst, and each result
 * is the median over rounds of old time / new time (kernel-versus.ts).
 * Outputs are checked first: every element within 1e-5 of the largest
 * magnitude of the old output, and the table says whether the bits are the
 * same. Writes bench/results/native-versus.json.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
// @ts-expect-error -- a plain .mjs script without types
import { compileAddon, addonFile } from '../packages/ops/scripts/build-native.mjs';
import type { NativeAddon } from '../packages/ops/src/kernels/native/native-kernels.ts';
import { RESULTS_DIR } from './common.ts';
import { argValue, hasFlag } from './engine-common.ts';
import {
  alternate,
  type ConvShape,
  convShapeGeometry,
  loadLine,
  randomArray,
  type Timing,
  TIMING_HEADER,
  timeCalls,
  timingCells,
  watchLoad,
  writeResults,
} from './kernel-versus.ts';
import { formatTable } from './common.ts';

const QUICK = hasFlag('quick');
const ROUNDS = QUICK ? 6 : 16;
const BURST_MS = QUICK ? 20 : 40;
const THREADS = Number(argValue('threads') ?? 1);
const BATCH = 64;

function loadAddon(file: string): NativeAddon {
  const module = { exports: {} as NativeAddon };
  process.dlopen(module, file);
  return module.exports;
}

/** The old addon: a file given, or a commit's native/ sources compiled into bench/results/tmp/. */
function baseAddon(): { label: string; addon: NativeAddon } {
  const file = argValue('base-file');
  if (file) return { label: file, addon: loadAddon(file) };
  const commit = argValue('base');
  if (!commit) throw new Error('native-versus: give --base <commit> or --base-file <addon.node>');
  const hash = execFileSync('git', ['rev-parse', '--short', commit], { encoding: 'utf8' }).trim();
  const dir = join(RESULTS_DIR, 'tmp', `native-${hash}`);
  const output = join(dir, 'ndgraph-native.node');
  if (!existsSync(output)) {
    mkdirSync(dir, { recursive: true });
    // The commit's sources, extracted without touching the work tree.
    execFileSync('sh', ['-c', `git archive ${hash} packages/ops/native | tar -x -C ${JSON.stringify(dir)} --strip-components=3`]);
    compileAddon(dir, output);
  }
  return { label: hash, addon: loadAddon(output) };
}

interface Case {
  name: string;
  outLength: number;
  call: (addon: NativeAddon, out: Float32Array) => void;
}

function convCases(shape: ConvShape): Case[] {
  const g = convShapeGeometry(shape);
  const [kh, kw] = shape.kernel;
  const co = shape.outChannels;
  const xLength = shape.shape.reduce((a, b) => a * b, 1);
  const yLength = g.batch * g.outHeight * g.outWidth * co;
  const fLength = kh * kw * g.channels * co;
  const x = randomArray(xLength, 1);
  const filter = randomArray(fLength, 2, 0.5);
  const bias = randomArray(co, 3, 0.5);
  const dy = randomArray(yLength, 4);
  const geometry = [g.batch, g.inHeight, g.inWidth, g.channels, kh, kw, g.strideHeight, g.strideWidth, g.padTop, g.padLeft, g.outHeight, g.outWidth, co];
  return [
    { name: `${shape.name} forward+bias+relu`, outLength: yLength, call: (a, out) => a.conv2dForward(x, 0, filter, 0, bias, 0, true, out, 0, ...geometry) },
    { name: `${shape.name} input gradient`, outLength: xLength, call: (a, out) => a.conv2dBackpropInput(dy, 0, filter, 0, out, 0, ...geometry) },
    { name: `${shape.name} filter gradient`, outLength: fLength, call: (a, out) => a.conv2dBackpropFilter(x, 0, dy, 0, out, 0, ...geometry) },
  ];
}

function gemmCase(name: string, transA: boolean, transB: boolean, M: number, N: number, K: number): Case {
  const A = randomArray(M * K, 5);
  const B = randomArray(K * N, 6);
  const lda = transA ? M : K;
  const ldb = transB ? K : N;
  return { name, outLength: M * N, call: (a, out) => a.gemm(transA, transB, M, N, K, 1, A, 0, lda, B, 0, ldb, 0, out, 0, N, null, 0, false) };
}

const CASES: Case[] = [
  ...convCases({ name: 'LeNet conv1', shape: [BATCH, 28, 28, 1], kernel: [5, 5], strides: [1, 1], padding: 'same', outChannels: 6 }),
  ...convCases({ name: 'LeNet conv2', shape: [BATCH, 14, 14, 6], kernel: [5, 5], strides: [1, 1], padding: 'valid', outChannels: 16 }),
  ...convCases({ name: 'CNN 3×3 16→16', shape: [BATCH, 14, 14, 16], kernel: [3, 3], strides: [1, 1], padding: 'same', outChannels: 16 }),
  ...convCases({ name: '3×3 64→64', shape: [BATCH, 16, 16, 64], kernel: [3, 3], strides: [1, 1], padding: 'same', outChannels: 64 }),
  gemmCase('conv1 as a GEMM 50176×6×25', false, false, BATCH * 28 * 28, 6, 25),
  gemmCase('dense1 forward 64×120×400', false, false, BATCH, 120, 400),
  gemmCase('dense1 dW 400×120×64', true, false, 400, 120, BATCH),
  gemmCase('square 256', false, false, 256, 256, 256),
];

function maxRelativeDifference(a: Float32Array, b: Float32Array): number {
  let scale = 0;
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(a[i]));
    const e = Math.abs(a[i] - b[i]);
    d = Number.isNaN(e) ? Number.POSITIVE_INFINITY : Math.max(d, e);
  }
  return d / Math.max(scale, Number.MIN_VALUE);
}

const base = baseAddon();
const current = loadAddon(addonFile);
base.addon.setThreads(THREADS);
current.setThreads(THREADS);
console.log(`old = native kernels of ${base.label} (${base.addon.simd}), new = working tree (${current.simd}); ${THREADS} thread(s), ${ROUNDS} rounds`);
const stop = watchLoad();
const results: Array<{ name: string; relativeDifference: number; sameBits: boolean } & Timing> = [];
for (const c of CASES) {
  const oldOut = new Float32Array(c.outLength);
  const newOut = new Float32Array(c.outLength);
  c.call(base.addon, oldOut);
  c.call(current, newOut);
  const relativeDifference = maxRelativeDifference(oldOut, newOut);
  if (!(relativeDifference <= 1e-5)) throw new Error(`${c.name}: old and new differ by ${relativeDifference} of the largest magnitude`);
  const sameBits = Buffer.compare(Buffer.from(oldOut.buffer), Buffer.from(newOut.buffer)) === 0;
  const oldCall = () => c.call(base.addon, oldOut);
  const newCall = () => c.call(current, newOut);
  const slowest = Math.max(timeCalls(oldCall, 5), timeCalls(newCall, 5));
  const timing = alternate(oldCall, newCall, ROUNDS, Math.max(1, Math.round(BURST_MS / Math.max(slowest, 1e-4))));
  console.log(`${c.name}: ${timing.oldMs.toFixed(4)} → ${timing.newMs.toFixed(4)} ms, ×${timing.ratio.toFixed(2)}`);
  results.push({ name: c.name, relativeDifference, sameBits, ...timing });
}
const load = stop();
console.log();
console.log(
  formatTable(
    ['case', ...TIMING_HEADER, 'same bits'],
    results.map((r) => [r.name, ...timingCells(r), r.sameBits ? 'yes' : 'no']),
  ),
);
console.log(loadLine(load));
writeResults(
  join(RESULTS_DIR, `native-versus${THREADS > 1 ? `-${THREADS}t` : ''}.json`),
  { base: base.label, rounds: ROUNDS, burstMs: BURST_MS, quick: QUICK },
  load,
  results,
);
