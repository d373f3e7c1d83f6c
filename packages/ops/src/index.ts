/**
 * Public API of @ndgraph/ops: the built-in ops (one file each under ops/,
 * with its shape rule, JavaScript kernel and gradient rule), the builders for
 * elementwise ops, and the shape helpers custom ops use. Importing it also
 * registers the WebAssembly backend, its kernel table and the fusion rules.
 * Kernels, their references and thread plumbing are in '@ndgraph/ops/kernels'.
 *
 * @module @ndgraph/ops
 */
import './kernels/wasm/backend.ts';
import './kernels/wasm/registry.ts';
import './fusion-rules.ts';

export * from './util.ts';
export { defineBinary, defineUnary, type BinaryDef, type UnaryDef } from './elementwise.ts';
export type { Conv2dOptions, PoolOptions, Padding, WindowAttrs, PoolAttrs } from './window.ts';
export type { BatchNormAttrs } from './ops/batch-norm-shared.ts';
export { add } from './ops/add.ts';
export { avgPoolGrad } from './ops/avg-pool-grad.ts';
export { avgPool } from './ops/avg-pool.ts';
export { batchNormGradBeta } from './ops/batch-norm-grad-beta.ts';
export { batchNormGradGamma } from './ops/batch-norm-grad-gamma.ts';
export { batchNormGradInput } from './ops/batch-norm-grad-input.ts';
export { batchNormGradSums } from './ops/batch-norm-grad-sums.ts';
export { batchNormStatistics, type BatchNormStatisticsAttrs } from './ops/batch-norm-statistics.ts';
export { batchNorm, type BatchNormOptions } from './ops/batch-norm.ts';
export { biasAddGrad } from './ops/bias-add-grad.ts';
export { biasAdd } from './ops/bias-add.ts';
export { broadcastTo } from './ops/broadcast-to.ts';
export { conv2dBackpropFilter } from './ops/conv2d-backprop-filter.ts';
export { conv2dBackpropInput } from './ops/conv2d-backprop-input.ts';
export { conv2d } from './ops/conv2d.ts';
export { divByCount, type DivByCountAttrs } from './ops/div-by-count.ts';
export { div } from './ops/div.ts';
export { dropoutMask, dropout, type DropoutAttrs } from './ops/dropout.ts';
export { eluGrad, type EluAttrs } from './ops/elu-grad.ts';
export { elu } from './ops/elu.ts';
export { exp } from './ops/exp.ts';
export { expandDims, type ExpandDimsAttrs } from './ops/expand-dims.ts';
export { flatten } from './ops/flatten.ts';
export { leakyRelu, type LeakyReluAttrs } from './ops/leaky-relu.ts';
export { log } from './ops/log.ts';
export { matmul, type MatmulAttrs } from './ops/matmul.ts';
export { maxPoolGather } from './ops/max-pool-gather.ts';
export { maxPoolGrad, type MaxPoolGradAttrs } from './ops/max-pool-grad.ts';
export { maxPool } from './ops/max-pool.ts';
export { mean } from './ops/mean.ts';
export { mul } from './ops/mul.ts';
export { neg } from './ops/neg.ts';
export { oneHot, type OneHotAttrs } from './ops/one-hot.ts';
export { reduceToShape } from './ops/reduce-to-shape.ts';
export { reluGrad } from './ops/relu-grad.ts';
export { relu } from './ops/relu.ts';
export { reshapeLike } from './ops/reshape-like.ts';
export { reshape, type ReshapeAttrs } from './ops/reshape.ts';
export { scale, type ScaleAttrs } from './ops/scale.ts';
export { sigmoidGrad } from './ops/sigmoid-grad.ts';
export { sigmoid } from './ops/sigmoid.ts';
export { softmaxCrossEntropyGradLabels } from './ops/softmax-cross-entropy-grad-labels.ts';
export { softmaxCrossEntropyGrad } from './ops/softmax-cross-entropy-grad.ts';
export { softmaxCrossEntropy } from './ops/softmax-cross-entropy.ts';
export { softmaxGradBackpropY } from './ops/softmax-grad-backprop-y.ts';
export { softmaxGrad } from './ops/softmax-grad.ts';
export { softmax } from './ops/softmax.ts';
export { softplus } from './ops/softplus.ts';
export { sqrt } from './ops/sqrt.ts';
export { square } from './ops/square.ts';
export { sub } from './ops/sub.ts';
export { sum, type ReduceOptions, type ReduceAttrs } from './ops/sum.ts';
export { tanhGrad } from './ops/tanh-grad.ts';
export { tanh } from './ops/tanh.ts';
