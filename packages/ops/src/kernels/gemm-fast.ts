/**
 * The GEMM the ops call: float32 products run in WebAssembly SIMD (when the
 * engine supports it), everything else — float64 (gradient checks), tiny
 * products, engines without SIMD — in the plain JavaScript `gemm`.
 */
import { gemm, type GemmFn } from './gemm.ts';
import { createWasmGemm } from './wasm/gemm-wasm.ts';

export const gemmFast: GemmFn = createWasmGemm(gemm);
