/**
 * Optimizer updates in WebAssembly SIMD over float32 arrays
 * (assembly/optimizer.ts). They compute in float64 in the same order as the
 * JavaScript optimizers of @ndgraph/nn, so both give the same bits; the
 * kernel only does it faster. It pays when the parameters and slots live in
 * kernel memory (where the wasm backend puts them); other arrays are copied in and
 * out, which costs about what the kernel saves.
 *
 * Each function returns false, doing nothing, when the kernels are not
 * available; callers then use their JavaScript loop.
 */
import { kernelCall, wasmKernels } from './runtime.ts';

/**
 * Momentum SGD on `size` elements, in place: g ← grad + decay·w;
 * v ← μ·v − lr·g; w ← w + v (`velocity` from index 0).
 */
export function momentumStepWasm(
  value: Float32Array,
  valueOffset: number,
  grad: Float32Array,
  gradOffset: number,
  velocity: Float32Array,
  size: number,
  momentum: number,
  learningRate: number,
  weightDecay: number,
): boolean {
  const kernels = wasmKernels();
  if (!kernels) return false;
  if (size === 0) return true;
  kernelCall(kernels, () => {
    const valueAt = kernels.output(value, valueOffset, size, true);
    const gradAt = kernels.input(grad, gradOffset, size);
    const velocityAt = kernels.output(velocity, 0, size, true);
    kernels.exports.momentumStep(valueAt, gradAt, velocityAt, size, momentum, learningRate, weightDecay);
  });
  return true;
}

/** The numbers of one Adam step besides the arrays (see assembly/optimizer.ts). */
export interface AdamStepParameters {
  beta1: number;
  beta2: number;
  learningRate: number;
  epsilon: number;
  correction1: number;
  correction2: number;
  coupledDecay: number;
  decoupledDecay: number;
}

/** Adam / AdamW on `size` elements, in place (`m` and `v` from index 0). */
export function adamStepWasm(
  value: Float32Array,
  valueOffset: number,
  grad: Float32Array,
  gradOffset: number,
  m: Float32Array,
  v: Float32Array,
  size: number,
  p: AdamStepParameters,
): boolean {
  const kernels = wasmKernels();
  if (!kernels) return false;
  if (size === 0) return true;
  kernelCall(kernels, () => {
    const valueAt = kernels.output(value, valueOffset, size, true);
    const gradAt = kernels.input(grad, gradOffset, size);
    const mAt = kernels.output(m, 0, size, true);
    const vAt = kernels.output(v, 0, size, true);
    kernels.exports.adamStep(
      valueAt,
      gradAt,
      mAt,
      vAt,
      size,
      p.beta1,
      p.beta2,
      p.learningRate,
      p.epsilon,
      p.correction1,
      p.correction2,
      p.coupledDecay,
      p.decoupledDecay,
    );
  });
  return true;
}
