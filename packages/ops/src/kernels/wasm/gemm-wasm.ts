/**
 * The WebAssembly SIMD GEMM (float32), with the common GEMM signature, and
 * its fused form for dense layers (product + bias + relu in one pass).
 *
 * Operands are copied into kernel memory for the call and C is copied back
 * (single block moves, cheap next to the multiply for all but tiny
 * problems), unless they already live there (see runtime.ts). With helper
 * threads, large products are cut into chunks of rows or columns of C that
 * the threads share (every element of C is computed the same way either
 * way, so the result does not depend on the number of threads).
 *
 * - `wasmSimdSupported()` tells whether this engine runs WebAssembly SIMD.
 * - `gemmWasm(...)` is the kernel itself: Float32Array operands only.
 * - `createWasmGemm(fallback)` is what callers normally use: a function with
 *   the common GEMM signature (`GemmFn`) that sends float32 work to
 *   WebAssembly and everything else (float64, mixed types, tiny products, an
 *   engine without SIMD) to `fallback`.
 * - `gemmBiasReluWasm(...)` is C = relu?(op(A)·op(B) + bias).
 */
import type { FloatArray } from '@ndgraph/graph';
import type { GemmFn } from '../js/gemm.ts';
import { type WasmKernels, kernelCall, wasmKernels, wasmSimdSupported } from './runtime.ts';

export { wasmSimdSupported };

/** Register tile of the kernel (assembly/tile.ts): chunks of C keep whole tiles. */
const MR = 4;
const NR = 8;
/** Products with at least this many multiply-adds are cut into chunks that threads share. */
export const GEMM_PARALLEL_MIN_WORK = 1 << 18;
/** Aim for this many chunks per thread, so a slow thread holds up the others by at most a small chunk. */
const CHUNKS_PER_THREAD = 4;

/** Elements from the first to the last element of a stored rows × cols matrix with row stride ld. */
function storedSpan(rows: number, cols: number, ld: number): number {
  return rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols;
}

function checkCount(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`gemmWasm: ${what} must be a non-negative integer, found ${value}`);
}

/** Checks that a stored rows × cols matrix with row stride ld fits in `data` from `offset`; returns its span. */
function checkOperand(name: string, data: FloatArray, offset: number, rows: number, cols: number, ld: number): number {
  checkCount(offset, `${name} offset`);
  checkCount(ld, `ld${name.toLowerCase()}`);
  if (rows > 1 && ld < cols)
    throw new RangeError(`gemmWasm: ld${name.toLowerCase()} must be at least ${cols} (the width of stored ${name}, ${rows}×${cols}), found ${ld}`);
  const span = storedSpan(rows, cols, ld);
  if (offset + span > data.length) {
    throw new RangeError(
      `gemmWasm: stored ${name} (${rows}×${cols}, row stride ${ld}) needs ${span} elements from offset ${offset}, but the array has ${data.length}`,
    );
  }
  return span;
}

function kernelsOrThrow(): WasmKernels {
  const kernels = wasmKernels();
  if (!kernels) throw new Error('gemmWasm: this JavaScript engine cannot run the WebAssembly SIMD kernels; use the plain JavaScript gemm');
  return kernels;
}

/**
 * Runs the staged product, cut into chunks of rows (or columns, when C is
 * wider than tall) that threads share when it is large enough. Addresses are
 * bytes. Every element of C is computed the same way whatever chunk it is
 * in, so the result does not depend on the number of threads.
 */
function runGemm(
  kernels: WasmKernels,
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  alpha: number,
  a: number,
  lda: number,
  b: number,
  ldb: number,
  beta: number,
  c: number,
  ldc: number,
  bias: number,
  relu: boolean,
): void {
  const byColumns = N > M;
  const length = byColumns ? N : M;
  const tile = byColumns ? NR : MR;
  const threads = M * N * K >= GEMM_PARALLEL_MIN_WORK ? kernels.threads : 1;
  const chunk = threads > 1 ? Math.max(tile, Math.ceil(length / (threads * CHUNKS_PER_THREAD) / tile) * tile) : length;
  const workspaceBytes = kernels.exports.gemmWorkspaceBytes(byColumns ? M : chunk, byColumns ? chunk : N, K);
  const args = [transA ? 1 : 0, transB ? 1 : 0, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc, bias, relu ? 1 : 0, byColumns ? 1 : 0];
  kernels.parallel('gemm', args, length, chunk, workspaceBytes);
}

/**
 * The WebAssembly SIMD GEMM, with the common signature, for Float32Array
 * operands (alpha and beta are rounded to float32). Throws a TypeError for
 * any other array type: use `createWasmGemm(fallback)` to route those.
 */
export function gemmWasm(
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  alpha: number,
  A: FloatArray,
  aOffset: number,
  lda: number,
  B: FloatArray,
  bOffset: number,
  ldb: number,
  beta: number,
  C: FloatArray,
  cOffset: number,
  ldc: number,
): void {
  if (!(A instanceof Float32Array && B instanceof Float32Array && C instanceof Float32Array)) {
    throw new TypeError('gemmWasm computes in float32: A, B and C must be Float32Array (createWasmGemm(fallback) sends other types to the fallback)');
  }
  checkCount(M, 'M');
  checkCount(N, 'N');
  checkCount(K, 'K');
  const aSpan = checkOperand('A', A, aOffset, transA ? K : M, transA ? M : K, lda);
  const bSpan = checkOperand('B', B, bOffset, transB ? N : K, transB ? K : N, ldb);
  const cSpan = checkOperand('C', C, cOffset, M, N, ldc);
  if (M === 0 || N === 0) return;
  const kernels = kernelsOrThrow();
  kernelCall(kernels, () => {
    const readsProduct = K > 0 && alpha !== 0;
    const aAt = readsProduct ? kernels.input(A, aOffset, aSpan) : 0;
    const bAt = readsProduct ? kernels.input(B, bOffset, bSpan) : 0;
    // C is read when beta ≠ 0; when its rows have gaps (ldc > N) it is copied in
    // too, so that copying the whole span back leaves the gaps as they were.
    const cAt = kernels.output(C, cOffset, cSpan, beta !== 0 || (M > 1 && ldc !== N));
    runGemm(kernels, transA, transB, M, N, K, alpha, aAt, lda, bAt, ldb, beta, cAt, ldc, 0, false);
  });
}

/**
 * C = relu?(op(A)·op(B) + bias), float32, C [M, N] contiguous (ldc = N),
 * bias [N] added to every row: the forward pass of a dense layer in one pass
 * over C. A and B are stored row-major with row strides lda and ldb.
 * Returns false, doing nothing, when the kernels are unavailable.
 */
export function gemmBiasReluWasm(
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  A: Float32Array,
  aOffset: number,
  lda: number,
  B: Float32Array,
  bOffset: number,
  ldb: number,
  bias: Float32Array,
  biasOffset: number,
  relu: boolean,
  C: Float32Array,
  cOffset: number,
): boolean {
  const kernels = wasmKernels();
  if (!kernels) return false;
  if (M === 0 || N === 0) return true;
  kernelCall(kernels, () => {
    const aAt = kernels.input(A, aOffset, storedSpan(transA ? K : M, transA ? M : K, lda));
    const bAt = kernels.input(B, bOffset, storedSpan(transB ? N : K, transB ? K : N, ldb));
    const biasAt = kernels.input(bias, biasOffset, N);
    const cAt = kernels.output(C, cOffset, M * N);
    runGemm(kernels, transA, transB, M, N, K, 1, aAt, lda, bAt, ldb, 0, cAt, N, biasAt, relu);
  });
  return true;
}

export interface WasmGemmOptions {
  /**
   * Products with fewer multiply-adds (M·N·K) than this go to the fallback:
   * a WebAssembly call costs about 0.3 µs of copying and set-up, which the
   * plain JavaScript kernel beats below about 8×8×8. Default 512.
   */
  minWork?: number;
}

/**
 * A GEMM with the common signature that runs float32 products (A, B and C
 * all Float32Array) in WebAssembly SIMD and hands everything else (float64,
 * mixed types, tiny products) to `fallback`. Returns `fallback` itself when
 * the engine cannot run the kernels.
 */
export function createWasmGemm(fallback: GemmFn, options: WasmGemmOptions = {}): GemmFn {
  if (!wasmSimdSupported() || !wasmKernels()) return fallback;
  const minWork = options.minWork ?? 512;
  return (transA, transB, M, N, K, alpha, A, aOffset, lda, B, bOffset, ldb, beta, C, cOffset, ldc) => {
    const useWasm = A instanceof Float32Array && B instanceof Float32Array && C instanceof Float32Array && M * N * K >= minWork;
    const kernel = useWasm ? gemmWasm : fallback;
    kernel(transA, transB, M, N, K, alpha, A, aOffset, lda, B, bOffset, ldb, beta, C, cOffset, ldc);
  };
}
