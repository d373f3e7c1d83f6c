/**
 * Loader for the WebAssembly SIMD GEMM compiled from packages/ops/assembly/
 * (float32 only). The module ships base64-encoded inside
 * gemm-wasm.generated.ts and is compiled synchronously on first use, so it
 * works the same in Node and in browsers without any file access. (Chrome
 * allows synchronous compilation on its main thread only for modules up to
 * 4 KB; the build script warns when the module outgrows that.)
 *
 * The kernel computes C = alpha·op(A)·op(B) + beta·C on copies of the operands
 * inside its own linear memory: each call copies the rows of A, B (and C when
 * needed) in, runs, and copies C back. Copies are single block moves, cheap
 * next to the multiply for all but tiny problems.
 *
 * - `wasmSimdSupported()` tells whether this engine runs WebAssembly SIMD.
 * - `gemmWasm(...)` is the kernel itself: Float32Array operands only.
 * - `createWasmGemm(fallback)` is what callers normally use: a function with
 *   the common GEMM signature (`GemmFn`) that sends float32 work to
 *   WebAssembly and everything else (float64, mixed types, tiny products, an
 *   engine without SIMD) to `fallback`.
 */
import type { FloatArray } from '@ndgraph/graph';
import type { GemmFn } from '../gemm.ts';
import { GEMM_WASM_BASE64 } from './gemm-wasm.generated.ts';

/** What the AssemblyScript module exports (addresses are byte offsets into `memory`). */
interface GemmModuleExports {
  readonly memory: WebAssembly.Memory;
  /** Releases all scratch memory; earlier addresses become invalid. */
  resetScratch(): void;
  /** Address of `bytes` new bytes (16-byte aligned), growing memory if needed; 0 when it cannot. */
  allocScratch(bytes: number): number;
  /** Returns 0 on success, 1 when the packing buffers do not fit in memory. */
  gemm(transA: number, transB: number, m: number, n: number, k: number, alpha: number, a: number, lda: number, b: number, ldb: number, beta: number, c: number, ldc: number): number;
}

const BYTES_PER_F32 = 4;

/**
 * The smallest module using SIMD: one function `() -> v128` whose body is
 * `i8x16.popcnt(i8x16.splat(i32.const 0))`. An engine without SIMD rejects it.
 */
const SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type section: () -> v128
  0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
  0x0a, 0x0a, 0x01, 0x08, 0x00, // code section: one body, no locals
  0x41, 0x00, 0xfd, 0x0f, 0xfd, 0x62, 0x0b, // i32.const 0; i8x16.splat; i8x16.popcnt; end
]);

let simdSupported: boolean | undefined;
let kernelExports: GemmModuleExports | undefined;

/** True when this JavaScript engine supports WebAssembly with SIMD (checked once). */
export function wasmSimdSupported(): boolean {
  if (simdSupported === undefined) {
    try {
      simdSupported = typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE);
    } catch {
      simdSupported = false;
    }
  }
  return simdSupported;
}

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** The instantiated module, compiled synchronously on first use. */
function wasmKernel(): GemmModuleExports {
  if (kernelExports === undefined) {
    if (!wasmSimdSupported()) throw new Error('gemmWasm: this JavaScript engine does not support WebAssembly SIMD; use the plain JavaScript gemm');
    const module = new WebAssembly.Module(decodeBase64(GEMM_WASM_BASE64));
    kernelExports = new WebAssembly.Instance(module, {}).exports as unknown as GemmModuleExports;
  }
  return kernelExports;
}

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
  if (rows > 1 && ld < cols) throw new RangeError(`gemmWasm: ld${name.toLowerCase()} must be at least ${cols} (the width of stored ${name}, ${rows}×${cols}), found ${ld}`);
  const span = storedSpan(rows, cols, ld);
  if (offset + span > data.length) {
    throw new RangeError(`gemmWasm: stored ${name} (${rows}×${cols}, row stride ${ld}) needs ${span} elements from offset ${offset}, but the array has ${data.length}`);
  }
  return span;
}

/** Reserves `elements` floats of scratch memory and returns their index in a Float32Array view. */
function reserveFloats(wasm: GemmModuleExports, elements: number): number {
  const address = wasm.allocScratch(elements * BYTES_PER_F32) >>> 0;
  if (address === 0) throw new RangeError(`gemmWasm: cannot grow WebAssembly memory by ${elements * BYTES_PER_F32} bytes`);
  return address / BYTES_PER_F32;
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

  const wasm = wasmKernel();
  wasm.resetScratch();
  const aAt = reserveFloats(wasm, aSpan);
  const bAt = reserveFloats(wasm, bSpan);
  const cAt = reserveFloats(wasm, cSpan);
  // Views are taken after allocating: growing memory replaces its buffer.
  let heap = new Float32Array(wasm.memory.buffer);
  heap.set(A.subarray(aOffset, aOffset + aSpan), aAt);
  heap.set(B.subarray(bOffset, bOffset + bSpan), bAt);
  // C is read when beta ≠ 0; when its rows have gaps (ldc > N) it is copied in
  // too, so that copying the whole span back leaves the gaps as they were.
  const cHasGaps = M > 1 && ldc !== N;
  if (beta !== 0 || cHasGaps) heap.set(C.subarray(cOffset, cOffset + cSpan), cAt);

  const status = wasm.gemm(
    transA ? 1 : 0, transB ? 1 : 0, M, N, K,
    alpha, aAt * BYTES_PER_F32, lda,
    bAt * BYTES_PER_F32, ldb,
    beta, cAt * BYTES_PER_F32, ldc,
  );
  if (status !== 0) throw new RangeError(`gemmWasm: not enough WebAssembly memory for the packing buffers of a ${M}×${N}×${K} product`);

  heap = new Float32Array(wasm.memory.buffer); // packing may have grown memory
  C.set(heap.subarray(cAt, cAt + cSpan), cOffset);
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
 * the engine has no SIMD.
 */
export function createWasmGemm(fallback: GemmFn, options: WasmGemmOptions = {}): GemmFn {
  if (!wasmSimdSupported()) return fallback;
  const minWork = options.minWork ?? 512;
  return (transA, transB, M, N, K, alpha, A, aOffset, lda, B, bOffset, ldb, beta, C, cOffset, ldc) => {
    const useWasm = A instanceof Float32Array && B instanceof Float32Array && C instanceof Float32Array && M * N * K >= minWork;
    const kernel = useWasm ? gemmWasm : fallback;
    kernel(transA, transB, M, N, K, alpha, A, aOffset, lda, B, bOffset, ldb, beta, C, cOffset, ldc);
  };
}
