/**
 * relu, its gradient, bias add (optionally followed by relu), the bias
 * gradient and dropout's mask in WebAssembly (float32), over contiguous arrays
 * (assembly/elementwise.ts). Bias kernels treat the data as [rows, C] with
 * channels last. Results equal the JavaScript reference kernels in
 * ../bias-relu.ts bit for bit, except the bias gradient, which sums in
 * float64 like the reference but in a different order (one sum per lane).
 *
 * Each function returns false, doing nothing, when the kernels are not
 * available; callers then use the JavaScript kernels.
 */
import type { Rng, RngState } from '@ndgraph/graph';
import { type WasmKernels, kernelCall, wasmKernels } from './runtime.ts';

/** Elementwise kernels over fewer elements than this run on one thread. */
export const ELEMENTWISE_PARALLEL_MIN_SIZE = 1 << 17;
/** Aim for this many chunks per thread. */
const CHUNKS_PER_THREAD = 4;

/** Items (elements or rows, `itemSize` elements each) per chunk, a multiple of `unit` items: all of them on one thread. */
export function chunkFor(kernels: WasmKernels, items: number, itemSize: number, unit: number): number {
  const threads = items * itemSize >= ELEMENTWISE_PARALLEL_MIN_SIZE ? kernels.threads : 1;
  if (threads <= 1) return Math.max(1, items);
  return Math.max(unit, Math.ceil(items / (threads * CHUNKS_PER_THREAD) / unit) * unit);
}

/** y = x < 0 ? 0 : x for n elements. */
export function reluWasm(x: Float32Array, xOffset: number, y: Float32Array, yOffset: number, n: number): boolean {
  const kernels = wasmKernels();
  if (!kernels) return false;
  if (n === 0) return true;
  kernelCall(kernels, () => {
    const xAt = kernels.input(x, xOffset, n);
    const yAt = kernels.output(y, yOffset, n);
    kernels.parallel('reluForward', [xAt, yAt], n, chunkFor(kernels, n, 1, 4));
  });
  return true;
}

/** out = x > 0 ? dy : 0 for n elements. */
export function reluGradWasm(dy: Float32Array, dyOffset: number, x: Float32Array, xOffset: number, out: Float32Array, outOffset: number, n: number): boolean {
  const kernels = wasmKernels();
  if (!kernels) return false;
  if (n === 0) return true;
  kernelCall(kernels, () => {
    const dyAt = kernels.input(dy, dyOffset, n);
    const xAt = kernels.input(x, xOffset, n);
    const outAt = kernels.output(out, outOffset, n);
    kernels.parallel('reluBackward', [dyAt, xAt, outAt], n, chunkFor(kernels, n, 1, 4));
  });
  return true;
}

/** out = relu?(x + bias[i mod C]) for n elements of [n / C, C] data. */
export function biasAddWasm(
  x: Float32Array,
  xOffset: number,
  bias: Float32Array,
  biasOffset: number,
  relu: boolean,
  out: Float32Array,
  outOffset: number,
  n: number,
  channels: number,
): boolean {
  const kernels = wasmKernels();
  if (!kernels) return false;
  if (n === 0 || channels === 0) return true;
  kernelCall(kernels, () => {
    const xAt = kernels.input(x, xOffset, n);
    const biasAt = kernels.input(bias, biasOffset, channels);
    const outAt = kernels.output(out, outOffset, n);
    // Chunks of whole rows (each starts at channel 0).
    const rows = n / channels;
    kernels.parallel(
      'biasAdd',
      [xAt, biasAt, outAt, channels, relu ? 1 : 0],
      rows,
      chunkFor(kernels, rows, channels, 1),
      kernels.exports.biasAddWorkspaceBytes(channels),
    );
  });
  return true;
}

/** out[c] = Σ over rows of dy[row, c], for n elements of [n / C, C] data. */
export function biasAddGradWasm(dy: Float32Array, dyOffset: number, n: number, channels: number, out: Float32Array, outOffset: number): boolean {
  const kernels = wasmKernels();
  if (!kernels) return false;
  if (channels === 0) return true;
  kernelCall(kernels, () => {
    const dyAt = kernels.input(dy, dyOffset, n);
    const outAt = kernels.output(out, outOffset, channels);
    kernels.exports.biasAddGrad(dyAt, n, channels, outAt, kernels.reserve(kernels.exports.biasAddGradWorkspaceBytes(channels)));
  });
  return true;
}

/**
 * dropoutMask in training mode: the module draws the mask from `rng`'s
 * stream (xoshiro128**, the same draws as the JavaScript kernel), and `rng`
 * continues after them.
 */
export function dropoutMaskWasm(kernels: WasmKernels, rng: Rng, rate: number, mask: Float32Array, offset: number, n: number): void {
  const state = rng.getState();
  kernelCall(kernels, () => {
    const stateAt = kernels.reserve(16);
    new Uint32Array(kernels.memory.buffer, stateAt, 4).set(state.words);
    const maskAt = kernels.output(mask, offset, n);
    kernels.exports.dropoutMaskDraw(maskAt, n, rate, Math.fround(1 / (1 - rate)), stateAt);
    const words = Array.from(new Uint32Array(kernels.memory.buffer, stateAt, 4)) as RngState;
    rng.setState({ words, spareNormal: state.spareNormal });
  });
}
