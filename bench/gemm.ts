/**
 * GEMM throughput, float32: the WebAssembly SIMD kernel (gemmWasm, including
 * the copies in and out of its memory) against the plain JavaScript kernel
 * (gemm), on the products LeNet-5 training runs at batch 64 and on squares.
 *
 *   npx tsx bench/gemm.ts
 *
 * Each case is warmed up, then timed as the median of several samples; a
 * sample repeats the call enough times to last about 50 ms. Prints a table and
 * writes bench/results/gemm.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gemm, type GemmFn } from '../packages/ops/src/kernels/gemm.ts';
import { gemmWasm, wasmSimdSupported } from '../packages/ops/src/kernels/wasm/gemm-wasm.ts';

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

const WARMUP_CALLS = 3;
const SAMPLES = 7;
const SAMPLE_MS = 50;

function randomArray(length: number, seed: number): Float32Array {
  const out = new Float32Array(length);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    out[i] = s / 4294967296 - 0.5;
  }
  return out;
}

function median(values: number[]): number {
  const sorted = values.slice().sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Median seconds per call of `kernel` on case `c`, writing into `C`. */
function timeKernel(kernel: GemmFn, c: Case, A: Float32Array, B: Float32Array, C: Float32Array): number {
  const lda = c.transA ? c.M : c.K;
  const ldb = c.transB ? c.K : c.N;
  const call = (): void => kernel(c.transA, c.transB, c.M, c.N, c.K, 1, A, 0, lda, B, 0, ldb, 0, C, 0, c.N);
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
}

function run(): Result[] {
  if (!wasmSimdSupported()) throw new Error('this JavaScript engine does not support WebAssembly SIMD');
  const results: Result[] = [];
  for (const [index, c] of cases.entries()) {
    const A = randomArray(c.M * c.K, 2 * index + 1);
    const B = randomArray(c.K * c.N, 2 * index + 2);
    const wasmC = new Float32Array(c.M * c.N);
    const jsC = new Float32Array(c.M * c.N);
    const flops = 2 * c.M * c.N * c.K;
    const wasmSeconds = timeKernel(gemmWasm, c, A, B, wasmC);
    const jsSeconds = timeKernel(gemm, c, A, B, jsC);
    let maxAbsDifference = 0;
    for (let i = 0; i < wasmC.length; i++) maxAbsDifference = Math.max(maxAbsDifference, Math.abs(wasmC[i] - jsC[i]));
    const result: Result = {
      ...c,
      flops,
      wasmGflops: flops / wasmSeconds / 1e9,
      jsGflops: flops / jsSeconds / 1e9,
      speedup: jsSeconds / wasmSeconds,
      maxAbsDifference,
    };
    results.push(result);
    printRow(result);
  }
  return results;
}

const columns = ['case', 'op(A)·op(B)', 'M×N×K', 'wasm GFLOP/s', 'JS GFLOP/s', 'speedup', 'max |Δ|'];
const widths = [28, 11, 18, 12, 10, 7, 8];

function formatRow(cells: string[]): string {
  return cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
}

function printRow(r: Result): void {
  const ops = `${r.transA ? 'Aᵀ' : 'A'}·${r.transB ? 'Bᵀ' : 'B'}`;
  console.log(formatRow([r.name, ops, `${r.M}×${r.N}×${r.K}`, r.wasmGflops.toFixed(2), r.jsGflops.toFixed(2), `${r.speedup.toFixed(1)}×`, r.maxAbsDifference.toExponential(1)]));
}

console.log(`GEMM float32, median of ${SAMPLES} samples after ${WARMUP_CALLS} warm-up calls (node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'})`);
console.log(formatRow(columns));
const results = run();
const outFile = join(dirname(fileURLToPath(import.meta.url)), 'results', 'gemm.json');
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(
  outFile,
  JSON.stringify({ date: new Date().toISOString(), node: process.version, cpu: cpus()[0]?.model ?? 'unknown', samples: SAMPLES, warmupCalls: WARMUP_CALLS, results }, null, 2) + '\n',
);
console.log(`wrote ${outFile}`);
