// The WebAssembly SIMD kernels of @ndgraph/ops (float32).
//
// The module has no heap: the host owns linear memory (imported as
// env.memory), copies operands in, reserves each kernel's workspace (the
// `...WorkspaceBytes` functions say how much) and passes byte addresses.
// Several instances can share one memory and run kernels at the same time
// on different workspaces (threads). Every kernel a thread may run takes its
// share of the work as its last arguments — (first, count, workspace): a
// range of images, rows, columns or elements — so the host can hand out
// chunks of one call to whichever thread is free.
//
//   gemm.ts         C = relu?(alpha·op(A)·op(B) + beta·C + bias)   (packing in pack.ts, micro-kernel in kernel.ts)
//   conv.ts         conv2d forward (with bias and relu), filter and input gradients (implicit GEMM: no im2col matrix)
//   pool.ts         max and average pooling, forward and backward
//   conv-pool.ts    conv2d → bias → relu → max pooling, pooled while the activation is in cache
//   elementwise.ts  relu, its gradient, bias add (with relu), bias gradient
//   optimizer.ts    optimizer updates (SGD, momentum, Nesterov, Adam / AdamW, RMSprop, AdaGrad)
//   activations.ts  tanh and sigmoid, and their gradients; add, sub and mul of operands of one shape; scale; leaky relu
//   batchnorm.ts    batch normalization: moments, gradient sums (float64), the normalization and input gradient (float32)
//   dropout.ts      dropout's mask, drawn from the host's seeded generator

export { gemm, gemmWorkspaceBytes } from './gemm';
export {
  convForward, convForwardWorkspaceBytes, convBackpropFilter, convBackpropFilterWorkspaceBytes,
  convBackpropInput, convBackpropInputWorkspaceBytes, sumPartials,
} from './conv';
export { maxPoolForward, maxPoolBackward, avgPoolForward, avgPoolBackward } from './pool';
export { convReluMaxPool, convReluMaxPoolWorkspaceBytes } from './conv-pool';
export { reluForward, reluBackward, biasAdd, biasAddWorkspaceBytes, biasAddGrad, biasAddGradWorkspaceBytes } from './elementwise';

export { adamStep, momentumStep, sgdStep, nesterovStep, rmspropStep, adagradStep } from './optimizer';
export { tanhForward, sigmoidForward, eluForward, tanhBackward, sigmoidBackward, eluBackward, addSame, subSame, mulSame, scaleForward, leakyReluForward } from './activations';
export {
  batchNormMoments, batchNormGradSums, channelAffineF32, batchNormGradInputF32, sumRowsF32,
} from './batchnorm';
export { dropoutMaskDraw } from './dropout';

/** The first byte after the module's static data: the host's memory starts here. */
export function heapBase(): usize {
  return __heap_base;
}
