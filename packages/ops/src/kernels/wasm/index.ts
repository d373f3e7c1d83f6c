/**
 * The public face of the WebAssembly SIMD kernels (float32). The ops use
 * them automatically; these exports are for benchmarks, tests, platform
 * entry points that add threads, and executors that keep tensors in kernel
 * memory. (Node's thread helpers live in node-threads.ts, outside the
 * browser-safe package entry.)
 */
export { wasmSimdSupported, wasmKernels, WasmKernels, wasmTensorAllocator, freeWasmTensor, type HelperThreads, type ChunkedCall } from './runtime.ts';
export { gemmWasm, createWasmGemm, gemmBiasReluWasm, type WasmGemmOptions } from './gemm-wasm.ts';
export { conv2dForwardWasm, conv2dBackpropFilterWasm, conv2dBackpropInputWasm } from './conv-wasm.ts';
export { maxPoolForwardWasm, maxPoolBackwardWasm } from './pool-wasm.ts';
export { reluWasm, reluGradWasm, biasAddWasm, biasAddGradWasm } from './elementwise-wasm.ts';
export { momentumStepWasm } from './optimizer-wasm.ts';
export { HELPER_THREAD_SOURCE, SharedMemoryHelpers, helperSetup, type StartedThread } from './threads.ts';
