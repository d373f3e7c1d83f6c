/**
 * GEMM throughput, float32: the WebAssembly SIMD kernel (gemmWasm, including
 * the copies in and out of its memory) against the plain JavaScript kernel
 * (gemm), and TensorFlow.js's wasm backend (`tf.matMul`, SIMD, one thread), on
 * the products LeNet-5 training runs at batch 64 and on squares.
 *
 *   npx tsx bench/gemm.ts           # or: pnpm bench:gemm
 *   npx tsx bench/gemm.ts --quick   # fewer, shorter samples
 *
 * Each case is warmed up, then timed as the median of several samples; a
 * sample repeats the call enough times to last about 50 ms. tfjs is timed two
 * ways: `tf.matMul` on tensors already in its wasm memory (its usual state
 * inside a model; includes tfjs's per-op overhead and freeing the result),
 * and with copies, i.e. uploading A and B, multiplying and reading C back
 * (what gemmWasm's numbers include). Prints a table and writes
 * bench/results/gemm.json (a quick run: bench/results/gemm-quick.json).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gemm, type GemmFn } from '../packages/ops/src/kernels/js/gemm.ts';
import { gemmWasm, wasmSimdSupported } from '../packages/ops/src/kernels/wasm/gemm-wasm.ts';
import { codeVersion, loadAverage, machineInfo } from './common.ts';
import { argValue, hasFlag } from './engine-common.ts';
import { initTfjs, tf } from './tfjs-setup.ts';
import { randomArray } from './kernel-versus.ts';

interface Case {
  name: string;
  transA: boolean;
  transB: boolean;
  M: number;
  N: number;
  K: number;
}

const BATCH = 64;
/** LeNet-5 on 28×28 MNIST (NHWC): conv1 5×5×1→6 'same', pool, conv2 5×5×6→16 'valid', pool, dense 400→120→84→10. */
const cases: Case[] = [
  { name: 'conv1 forward (im2col · W)', transA: false, transB: false, M: BATCH * 28 * 28, N: 6, K: 25 },
  { name: 'conv1 dW (colsᵀ · dY)', transA: true, transB: false, M: 25, N: 6, K: BATCH * 28 * 28 },
  { name: 'conv2 forward (im2col · W)', transA: false, transB: false, M: BATCH * 10 * 10, N: 16, K: 150 },
  { name: 'conv2 dW (colsᵀ · dY)', transA: true, transB: false, M: 150, N: 16, K: BATCH * 10 * 10 },
  { name: 'conv2 dCols (dY · Wᵀ)', transA: false, transB: true, M: BATCH * 10 * 10, N: 150, K: 16 },
  { name: 'dense1 forward (X · W)', transA: false, transB: false, M: BATCH, N: 120, K: 400 },
  { name: 'dense1 dX (dY · Wᵀ)', transA: false, transB: true, M: BATCH, N: 400, K: 120 },
  { name: 'dense1 dW (Xᵀ · dY)', transA: true, transB: false, M: 400, N: 120, K: BATCH },
  { name: 'dense2 forward (X · W)', transA: false, transB: false, M: BATCH, N: 84, K: 120 },
  { name: 'dense2 dX (dY · Wᵀ)', transA: false, transB: true, M: BATCH, N: 120, K: 84 },
  { name: 'dense2 dW (Xᵀ · dY)', transA: true, transB: false, M: 120, N: 84, K: BATCH },
  { name: 'dense3 forward (X · W)', transA: false, transB: false, M: BATCH, N: 10, K: 84 },
  { name: 'dense3 dX (dY · Wᵀ)', transA: false, transB: true, M: BATCH, N: 84, K: 10 },
  { name: 'dense3 dW (Xᵀ · dY)', transA: true, transB: false, M: 84, N: 10, K: BATCH },
  { name: 'square 256', transA: false, transB: false, M: 256, N: 256, K: 256 },
  { name: 'square 512', transA: false, transB: false, M: 512, N: 512, K: 512 },
  { name: 'square 1024', transA: false, transB: false, M: 1024, N: 1024, K: 1024 },
];

const QUICK = hasFlag('quick');
const WARMUP_CALLS = 3;
const SAMPLES = QUICK ? 3 : 7;
const SAMPLE_MS = QUICK ? 20 : 50;

function median(values: number[]): number {
  const sorted = values.slice().sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Median seconds per call of `kernel` on case `c`, writing into `C`. */
function timeKernel(kernel: GemmFn, c: Case, A: Float32Array, B: Float32Array, C: Float32Array): number {
  const lda = c.transA ? c.M : c.K;
  const ldb = c.transB ? c.K : c.N;
  return timeCall(() => kernel(c.transA, c.transB, c.M, c.N, c.K, 1, A, 0, lda, B, 0, ldb, 0, C, 0, c.N));
}

/** Shapes of A and B as stored (row-major), given the case's transposes. */
function storedShapes(c: Case): { a: [number, number]; b: [number, number] } {
  return { a: c.transA ? [c.K, c.M] : [c.M, c.K], b: c.transB ? [c.N, c.K] : [c.K, c.N] };
}

/** Median seconds per `tf.matMul` on the wasm backend: on resident tensors, and with the copies in and out; writes the product into `C`. */
function timeTfjs(c: Case, A: Float32Array, B: Float32Array, C: Float32Array): { resident: number; withCopies: number } {
  const shapes = storedShapes(c);
  const a = tf.tensor2d(A, shapes.a);
  const b = tf.tensor2d(B, shapes.b);
  const product = tf.matMul(a, b, c.transA, c.transB);
  C.set(product.dataSync() as Float32Array);
  product.dispose();
  const resident = timeCall(() => tf.matMul(a, b, c.transA, c.transB).dispose());
  const withCopies = timeCall(() => {
    const a2 = tf.tensor2d(A, shapes.a);
    const b2 = tf.tensor2d(B, shapes.b);
    const c2 = tf.matMul(a2, b2, c.transA, c.transB);
    c2.dataSync();
    tf.dispose([a2, b2, c2]);
  });
  tf.dispose([a, b]);
  return { resident, withCopies };
}

/** Median seconds per call of `call`, after warm-up calls. */
function timeCall(call: () => void): number {
  let start = performance.now();
  for (let i = 0; i < WARMUP_CALLS; i++) call();
  const warmMs = (performance.now() - start) / WARMUP_CALLS;
  const calls = Math.max(1, Math.ceil(SAMPLE_MS / Math.max(warmMs, 1e-3)));
  const perCall: number[] = [];
  for (let s = 0; s < SAMPLES; s++) {
    start = performance.now();
    for (let i = 0; i < calls; i++) call();
    perCall.push((performance.now() - start) / calls / 1000);
  }
  return median(perCall);
}

interface Result extends Case {
  flops: number;
  wasmGflops: number;
  jsGflops: number;
  speedup: number;
  maxAbsDifference: number;
  /** tfjs-wasm `tf.matMul` on tensors already in its memory (includes its per-op overhead). */
  tfjsWasmGflops: number;
  /** tfjs-wasm with uploading A and B and reading C back, like gemmWasm's copies. */
  tfjsWasmWithCopiesGflops: number;
  /** ndgraph wasm GFLOP/s over tfjs-wasm resident GFLOP/s (> 1: ndgraph is faster). */
  wasmOverTfjs: number;
  /** Largest |tfjs − JS kernel| over C. */
  tfjsMaxAbsDifference: number;
}

function run(): Result[] {
  if (!wasmSimdSupported()) throw new Error('this JavaScript engine does not support WebAssembly SIMD');
  const results: Result[] = [];
  for (const [index, c] of cases.entries()) {
    const A = randomArray(c.M * c.K, 2 * index + 1, 0.5);
    const B = randomArray(c.K * c.N, 2 * index + 2, 0.5);
    const wasmC = new Float32Array(c.M * c.N);
    const jsC = new Float32Array(c.M * c.N);
    const tfjsC = new Float32Array(c.M * c.N);
    const flops = 2 * c.M * c.N * c.K;
    const wasmSeconds = timeKernel(gemmWasm, c, A, B, wasmC);
    const jsSeconds = timeKernel(gemm, c, A, B, jsC);
    const tfjsSeconds = timeTfjs(c, A, B, tfjsC);
    let maxAbsDifference = 0;
    let tfjsMaxAbsDifference = 0;
    for (let i = 0; i < wasmC.length; i++) {
      maxAbsDifference = Math.max(maxAbsDifference, Math.abs(wasmC[i] - jsC[i]));
      tfjsMaxAbsDifference = Math.max(tfjsMaxAbsDifference, Math.abs(tfjsC[i] - jsC[i]));
    }
    const result: Result = {
      ...c,
      flops,
      wasmGflops: flops / wasmSeconds / 1e9,
      jsGflops: flops / jsSeconds / 1e9,
      speedup: jsSeconds / wasmSeconds,
      maxAbsDifference,
      tfjsWasmGflops: flops / tfjsSeconds.resident / 1e9,
      tfjsWasmWithCopiesGflops: flops / tfjsSeconds.withCopies / 1e9,
      wasmOverTfjs: tfjsSeconds.resident / wasmSeconds,
      tfjsMaxAbsDifference,
    };
    results.push(result);
    printRow(result);
  }
  return results;
}

const columns = ['case', 'op(A)·op(B)', 'M×N×K', 'wasm GFLOP/s', 'JS GFLOP/s', 'speedup', 'max |Δ|', 'tfjs-wasm', 'tfjs+copies', 'wasm/tfjs', 'tfjs |Δ|'];
const widths = [28, 11, 18, 12, 10, 7, 8, 9, 11, 9, 8];

function formatRow(cells: string[]): string {
  return cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
}

function printRow(r: Result): void {
  const ops = `${r.transA ? 'Aᵀ' : 'A'}·${r.transB ? 'Bᵀ' : 'B'}`;
  console.log(
    formatRow([
      r.name,
      ops,
      `${r.M}×${r.N}×${r.K}`,
      r.wasmGflops.toFixed(2),
      r.jsGflops.toFixed(2),
      `${r.speedup.toFixed(1)}×`,
      r.maxAbsDifference.toExponential(1),
      r.tfjsWasmGflops.toFixed(2),
      r.tfjsWasmWithCopiesGflops.toFixed(2),
      `${r.wasmOverTfjs.toFixed(2)}×`,
      r.tfjsMaxAbsDifference.toExponential(1),
    ]),
  );
}

const tfjs = await initTfjs('wasm');
const loadAtStart = loadAverage();
console.log(
  `GEMM float32${QUICK ? ' (quick)' : ''}, median of ${SAMPLES} samples after ${WARMUP_CALLS} warm-up calls (node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}, ` +
    `tfjs-wasm ${tfjs.backendVersion}, SIMD ${tfjs.wasmSimd ? 'on' : 'off'}, ${tfjs.wasmThreads ? 'threads' : '1 thread'}); GFLOP/s, higher is better`,
);
console.log(formatRow(columns));
const cpuBefore = process.cpuUsage();
const wallBefore = performance.now();
const results = run();
const cpuUsed = process.cpuUsage(cpuBefore);
// Process CPU time over wall time: about 1 when the (single-threaded) kernels had a core to themselves.
const cpuShare = (cpuUsed.user + cpuUsed.system) / 1000 / (performance.now() - wallBefore);
const loadAtEnd = loadAverage();
console.log(`load average (1, 5, 15 min): start ${loadAtStart.join(' ')}, end ${loadAtEnd.join(' ')}; CPU share ${(100 * cpuShare).toFixed(0)}%`);
const outFile = join(dirname(fileURLToPath(import.meta.url)), 'results', QUICK ? 'gemm-quick.json' : 'gemm.json');
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(
  outFile,
  `${JSON.stringify(
    {
      date: new Date().toISOString(),
      node: process.version,
      cpu: cpus()[0]?.model ?? 'unknown',
      samples: SAMPLES,
      warmupCalls: WARMUP_CALLS,
      quick: QUICK,
      machine: machineInfo(),
      code: codeVersion(argValue('note')),
      loadAverage: { start: loadAtStart, end: loadAtEnd },
      cpuShare,
      tfjs: { backend: 'wasm', version: tfjs.backendVersion, simd: tfjs.wasmSimd, threads: tfjs.wasmThreads },
      columns: {
        wasmGflops: 'ndgraph gemmWasm, including copies in and out of its memory',
        jsGflops: 'ndgraph gemm (plain JavaScript)',
        tfjsWasmGflops: 'tf.matMul on the wasm backend, tensors already in its memory (per-op overhead and freeing the result included)',
        tfjsWasmWithCopiesGflops: 'tf.matMul on the wasm backend including uploading A and B and reading C back',
        wasmOverTfjs: 'wasmGflops / tfjsWasmGflops',
      },
      results,
    },
    null,
    2,
  )}\n`,
);
console.log(`wrote ${outFile}`);
