/**
 * GEMM throughput of the opt-in native kernels (packages/ops/native/)
 * against the WebAssembly SIMD kernel, float32, one thread, on the products
 * of a LeNet-5 training step at batch 64 and on squares.
 *
 *   npx tsx bench/native-gemm.ts            # one thread
 *   npx tsx bench/native-gemm.ts --threads 2
 *   npx tsx bench/native-gemm.ts --quick
 *
 * Both kernels read and write the same arrays, which live in the
 * WebAssembly memory (as tensors of the wasm backend do), so neither copies
 * its operands. Each case is warmed up (300 ms), then timed as the median of
 * several samples of about 50 ms. Prints a table; needs the addon
 * (node packages/ops/scripts/build-native.mjs).
 */
import { gemmWasm, wasmKernels } from '@ndgraph/ops/kernels';
import { enableWasmThreads, nativeAddon, nativeKernelsInfo } from '@ndgraph/ops/node';
import { loadAverage } from './common.ts';
import { hasFlag, numberArg } from './engine-common.ts';

interface Case {
  name: string;
  transA: boolean;
  transB: boolean;
  M: number;
  N: number;
  K: number;
}

const BATCH = 64;
const cases: Case[] = [
  { name: 'conv1 forward (im2col · W)', transA: false, transB: false, M: BATCH * 28 * 28, N: 6, K: 25 },
  { name: 'conv1 dW (colsᵀ · dY)', transA: true, transB: false, M: 25, N: 6, K: BATCH * 28 * 28 },
  { name: 'conv2 forward (im2col · W)', transA: false, transB: false, M: BATCH * 10 * 10, N: 16, K: 150 },
  { name: 'conv2 dW (colsᵀ · dY)', transA: true, transB: false, M: 150, N: 16, K: BATCH * 10 * 10 },
  { name: 'conv2 dCols (dY · Wᵀ)', transA: false, transB: true, M: BATCH * 10 * 10, N: 150, K: 16 },
  { name: 'dense1 forward (X · W)', transA: false, transB: false, M: BATCH, N: 120, K: 400 },
  { name: 'dense1 dX (dY · Wᵀ)', transA: false, transB: true, M: BATCH, N: 400, K: 120 },
  { name: 'dense1 dW (Xᵀ · dY)', transA: true, transB: false, M: 400, N: 120, K: BATCH },
  { name: 'square 256', transA: false, transB: false, M: 256, N: 256, K: 256 },
  { name: 'square 512', transA: false, transB: false, M: 512, N: 512, K: 512 },
  { name: 'square 1024', transA: false, transB: false, M: 1024, N: 1024, K: 1024 },
];

const QUICK = hasFlag('quick');
const SAMPLES = QUICK ? 3 : 7;
const SAMPLE_MS = QUICK ? 20 : 50;

const native = nativeAddon();
if (!native) throw new Error(`the native addon is not available: ${nativeKernelsInfo().reason}`);
const kernels = wasmKernels();
if (!kernels?.offersTensorBlocks) throw new Error('the WebAssembly kernels cannot hand out arrays in their memory here');
const threads = numberArg('threads', 1);
if (enableWasmThreads(threads) !== threads || native.setThreads(threads) !== threads) throw new Error(`--threads ${threads}: not available here`);

/** Median milliseconds per call, after a warm-up long enough for V8 to have optimized the WebAssembly code. */
function time(call: () => void): number {
  const warm = performance.now();
  do call();
  while (performance.now() - warm < (QUICK ? 50 : 300));
  const samples: number[] = [];
  for (let s = 0; s < SAMPLES; s++) {
    let calls = 0;
    const start = performance.now();
    do {
      call();
      calls++;
    } while (performance.now() - start < SAMPLE_MS);
    samples.push((performance.now() - start) / calls);
  }
  samples.sort((a, b) => a - b);
  return samples[samples.length >> 1];
}

const random = (n: number): Float32Array => {
  const array = kernels.allocateFloat32(n);
  for (let i = 0; i < n; i++) array[i] = Math.random() * 2 - 1;
  return array;
};

const load = loadAverage();
console.log(`float32 GEMM, ${threads} thread(s), median of ${SAMPLES} samples; native kernels: ${native.simd}; load average ${load.join(' ')}`);
console.log(`${'case'.padEnd(30)} ${'M×N×K'.padEnd(18)} ${'wasm GFLOP/s'.padStart(13)} ${'native GFLOP/s'.padStart(15)} ${'native/wasm'.padStart(12)}`);
for (const c of cases) {
  const A = random(c.M * c.K);
  const B = random(c.K * c.N);
  const C = kernels.allocateFloat32(c.M * c.N);
  const lda = c.transA ? c.M : c.K;
  const ldb = c.transB ? c.K : c.N;
  const flops = 2 * c.M * c.N * c.K;
  const wasmMs = time(() => gemmWasm(c.transA, c.transB, c.M, c.N, c.K, 1, A, 0, lda, B, 0, ldb, 0, C, 0, c.N));
  const nativeMs = time(() => native.gemm(c.transA, c.transB, c.M, c.N, c.K, 1, A, 0, lda, B, 0, ldb, 0, C, 0, c.N, null, 0, false));
  const gflops = (ms: number) => flops / ms / 1e6;
  console.log(
    `${c.name.padEnd(30)} ${`${c.M}×${c.N}×${c.K}`.padEnd(18)} ${gflops(wasmMs).toFixed(1).padStart(13)} ${gflops(nativeMs).toFixed(1).padStart(15)} ${(wasmMs / nativeMs).toFixed(2).padStart(11)}×`,
  );
  for (const array of [A, B, C]) kernels.freeFloat32(array);
}
native.setThreads(1);
