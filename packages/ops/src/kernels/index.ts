/**
 * '@ndgraph/ops/kernels', for advanced users (benchmarks, backend authors,
 * tests): the JavaScript kernels, the WebAssembly SIMD kernels and their
 * runtime, the kernel and fusion tables, and the raw op builders (inputs
 * as an array, attributes as an object) that the friendly builders of
 * '@ndgraph/ops' wrap. None of this is needed to build or train a network.
 *
 * @module @ndgraph/ops/kernels
 */
import '../index.ts';

export * from './js/gemm.ts';
export * from '../window.ts';
export { type ConvGeometry, convGeometry } from './geometry.ts';
export * from './js/im2col.ts';
export * from './js/pool.ts';
export * from './js/bias-relu.ts';
export * from './js/broadcast.ts';
export { conv2dForward } from './js/conv2d-forward.ts';
export { wasmSimdSupported, wasmKernels, WasmKernels, kernelCall, useRelaxedSimd, type HelperThreads, type ChunkedCall } from './wasm/runtime.ts';
export { BlockAllocator } from './wasm/block-allocator.ts';
export { WASM_BACKEND } from './wasm/backend.ts';
export { WASM_KERNELS } from './wasm/registry.ts';
export { gemmWasm, createWasmGemm, gemmBiasReluWasm, type WasmGemmOptions } from './wasm/gemm-wasm.ts';
export { conv2dForwardWasm, conv2dBackpropFilterWasm, conv2dBackpropInputWasm } from './wasm/conv-wasm.ts';
export { maxPoolForwardWasm, maxPoolBackwardWasm } from './wasm/pool-wasm.ts';
export { reluWasm, reluGradWasm, biasAddWasm, biasAddGradWasm } from './wasm/elementwise-wasm.ts';
export { optimizerStepWasm, type OptimizerStepExport } from './wasm/optimizer-wasm.ts';
export { HELPER_THREAD_SOURCE, SharedMemoryHelpers, helperSetup, type StartedThread } from './wasm/threads.ts';
export { FUSION_RULES } from '../fusion-rules.ts';

// The raw op builders.
export { addOp } from '../ops/add.ts';
export { avgPoolGradOp } from '../ops/avg-pool-grad.ts';
export { avgPoolOp } from '../ops/avg-pool.ts';
export { batchNormGradBetaOp } from '../ops/batch-norm-grad-beta.ts';
export { batchNormGradGammaOp } from '../ops/batch-norm-grad-gamma.ts';
export { batchNormGradInputOp } from '../ops/batch-norm-grad-input.ts';
export { batchNormGradSumsOp } from '../ops/batch-norm-grad-sums.ts';
export { batchNormStatisticsOp } from '../ops/batch-norm-statistics.ts';
export { batchNormOp } from '../ops/batch-norm.ts';
export { batchNormReluOp } from '../ops/batch-norm-relu.ts';
export { biasAddGradOp } from '../ops/bias-add-grad.ts';
export { biasAddOp } from '../ops/bias-add.ts';
export { broadcastToOp } from '../ops/broadcast-to.ts';
export { conv2dBackpropFilterOp } from '../ops/conv2d-backprop-filter.ts';
export { conv2dBackpropInputOp } from '../ops/conv2d-backprop-input.ts';
export { conv2dBiasOp } from '../ops/conv2d-bias.ts';
export { conv2dBiasReluOp } from '../ops/conv2d-bias-relu.ts';
export { conv2dBiasReluMaxPoolOp } from '../ops/conv2d-bias-relu-max-pool.ts';
export { conv2dOp } from '../ops/conv2d.ts';
export { divByCountOp } from '../ops/div-by-count.ts';
export { divOp } from '../ops/div.ts';
export { dropoutMaskOp } from '../ops/dropout.ts';
export { eluGradOp } from '../ops/elu-grad.ts';
export { eluOp } from '../ops/elu.ts';
export { expOp } from '../ops/exp.ts';
export { expandDimsOp } from '../ops/expand-dims.ts';
export { flattenOp } from '../ops/flatten.ts';
export { leakyReluOp } from '../ops/leaky-relu.ts';
export { logOp } from '../ops/log.ts';
export { matmulBiasReluOp } from '../ops/matmul-bias-relu.ts';
export { matmulOp } from '../ops/matmul.ts';
export { maxPoolGatherOp } from '../ops/max-pool-gather.ts';
export { maxPoolGradOp } from '../ops/max-pool-grad.ts';
export { maxPoolOp } from '../ops/max-pool.ts';
export { meanOp } from '../ops/mean.ts';
export { mulOp } from '../ops/mul.ts';
export { negOp } from '../ops/neg.ts';
export { oneHotOp } from '../ops/one-hot.ts';
export { reduceToShapeOp } from '../ops/reduce-to-shape.ts';
export { reluGradOp } from '../ops/relu-grad.ts';
export { reluOp } from '../ops/relu.ts';
export { reshapeLikeOp } from '../ops/reshape-like.ts';
export { reshapeOp } from '../ops/reshape.ts';
export { scaleOp } from '../ops/scale.ts';
export { sigmoidGradOp } from '../ops/sigmoid-grad.ts';
export { sigmoidOp } from '../ops/sigmoid.ts';
export { softmaxCrossEntropyGradLabelsOp } from '../ops/softmax-cross-entropy-grad-labels.ts';
export { softmaxCrossEntropyGradOp } from '../ops/softmax-cross-entropy-grad.ts';
export { softmaxCrossEntropyOp } from '../ops/softmax-cross-entropy.ts';
export { softmaxGradBackpropYOp } from '../ops/softmax-grad-backprop-y.ts';
export { softmaxGradOp } from '../ops/softmax-grad.ts';
export { softmaxOp } from '../ops/softmax.ts';
export { softplusOp } from '../ops/softplus.ts';
export { sqrtOp } from '../ops/sqrt.ts';
export { squareOp } from '../ops/square.ts';
export { subOp } from '../ops/sub.ts';
export { sumOp } from '../ops/sum.ts';
export { tanhGradOp } from '../ops/tanh-grad.ts';
export { tanhOp } from '../ops/tanh.ts';
