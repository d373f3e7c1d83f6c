/**
 * The WebAssembly SIMD backend: float32 tensors in kernel memory (so kernels
 * read and write them in place, without copies) and the kernels of
 * registry.ts. Other dtypes live in ordinary arrays and run the JavaScript
 * kernels. Registered with priority 2: where the engine runs WebAssembly
 * SIMD, it is the default backend.
 */
import {
  type Backend,
  type DType,
  forgetUnreachable,
  lookupKernel,
  newTypedArray,
  registerBackend,
  releaseWhenUnreachable,
  type TypedArray,
} from '@ndgraph/graph';
import { type WasmKernels, wasmKernels } from './runtime.ts';

export const WASM_BACKEND = 'wasm';

class WasmBackend implements Backend {
  readonly name = WASM_BACKEND;
  constructor(private readonly kernels: WasmKernels) {}

  allocate(dtype: DType, length: number): TypedArray {
    // Tensor blocks need a shared memory (an ordinary one detaches arrays when it grows).
    if (dtype !== 'float32' || !this.kernels.offersTensorBlocks) return newTypedArray(dtype, length);
    const array = this.kernels.allocateFloat32(length);
    const address = array.byteOffset;
    const kernels = this.kernels;
    releaseWhenUnreachable(array, () => kernels.freeBlock(address));
    return array;
  }

  free(array: TypedArray): void {
    if (!(array instanceof Float32Array) || !this.kernels.holds(array)) return;
    forgetUnreachable(array);
    this.kernels.freeFloat32(array);
  }

  owns(array: TypedArray): boolean {
    return array instanceof Float32Array && this.kernels.holds(array);
  }

  kernel<F>(name: string, dtype: DType): F | undefined {
    return lookupKernel<F>(name, WASM_BACKEND, dtype);
  }
}

registerBackend({
  name: WASM_BACKEND,
  priority: 2,
  create: () => {
    const kernels = wasmKernels();
    return kernels ? new WasmBackend(kernels) : null;
  },
});
