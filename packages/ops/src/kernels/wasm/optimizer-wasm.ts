/**
 * Optimizer updates in WebAssembly SIMD over float32 arrays
 * (assembly/optimizer.ts). They compute in float64 in the same order as the
 * JavaScript optimizers of @ndgraph/nn, so both give the same bits; the
 * kernel only does it faster. It pays when the parameters and slots live in
 * kernel memory (where the wasm backend puts them); other arrays are copied in and
 * out, which costs about what the kernel saves.
 *
 * Every update has one calling convention (@ndgraph/nn's OptimizerStepKernel):
 * the parameter and its gradient at offsets, the optimizer's slots from index
 * 0, the element count, and the update's numbers in the order its export
 * takes them. A kernel returns false, doing nothing, when the module is not
 * available; callers then use their JavaScript loop.
 */
import { kernelCall, wasmKernels } from './runtime.ts';

export type OptimizerStepExport = 'sgdStep' | 'momentumStep' | 'nesterovStep' | 'adamStep' | 'rmspropStep' | 'adagradStep';

/** The update `name` of the module as an OptimizerStepKernel, in place. */
export function optimizerStepWasm(name: OptimizerStepExport) {
  return (
    value: Float32Array,
    valueOffset: number,
    grad: Float32Array,
    gradOffset: number,
    slots: readonly Float32Array[],
    size: number,
    parameters: readonly number[],
  ): boolean => {
    const kernels = wasmKernels();
    if (!kernels) return false;
    if (size === 0) return true;
    kernelCall(kernels, () => {
      const valueAt = kernels.output(value, valueOffset, size, true);
      const gradAt = kernels.input(grad, gradOffset, size);
      const slotsAt = slots.map((slot) => kernels.output(slot, 0, size, true));
      (kernels.exports[name] as (...args: number[]) => void)(valueAt, gradAt, ...slotsAt, size, ...parameters);
    });
    return true;
  };
}
