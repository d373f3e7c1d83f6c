/**
 * Max and average pooling and their gradients in WebAssembly SIMD (float32)
 * (assembly/pool.ts), with the conventions of the JavaScript kernels in
 * ../js/pool.ts: for max pooling, padding never wins, ties and NaN go to the
 * first maximum in row-major scan order; average pooling gives their bits.
 * With helper threads, large batches are cut into chunks of images that the
 * threads share.
 *
 * The max-pooling functions return false, doing nothing, when the kernels are
 * not available; callers then use the JavaScript kernels.
 */
import type { ConvGeometry } from '../geometry.ts';
import { type WasmKernels, kernelCall, wasmKernels } from './runtime.ts';
import { geometryFields } from './conv-wasm.ts';

/** Pools reading fewer input values than this run on one thread. */
export const POOL_PARALLEL_MIN_WORK = 1 << 17;
/** Aim for this many chunks of images per thread. */
const CHUNKS_PER_THREAD = 4;

/** Images per chunk: the whole batch on one thread. */
function imagesPerThreadChunk(kernels: WasmKernels, g: ConvGeometry): number {
  const reads = g.batch * g.outHeight * g.outWidth * g.kernelHeight * g.kernelWidth * g.channels;
  const threads = reads >= POOL_PARALLEL_MIN_WORK ? kernels.threads : 1;
  return threads > 1 ? Math.max(1, Math.ceil(g.batch / (threads * CHUNKS_PER_THREAD))) : Math.max(1, g.batch);
}

/** y [N, Ho, Wo, C] = max over each window. */
export function maxPoolForwardWasm(x: Float32Array, xOffset: number, g: ConvGeometry, y: Float32Array, yOffset: number): boolean {
  const kernels = wasmKernels();
  if (!kernels) return false;
  const outSize = g.batch * g.outHeight * g.outWidth * g.channels;
  if (outSize === 0) return true;
  kernelCall(kernels, () => {
    const xAt = kernels.input(x, xOffset, g.batch * g.inHeight * g.inWidth * g.channels);
    const yAt = kernels.output(y, yOffset, outSize);
    const geometry = kernels.geometry(geometryFields(g, g.channels));
    kernels.parallel('maxPoolForward', [xAt, geometry, yAt], g.batch, imagesPerThreadChunk(kernels, g));
  });
  return true;
}

/**
 * dx [N, H, W, C]: each output's dy added to the first maximum of its window
 * (every element written); with `positiveOnly`, then 0 wherever x ≤ 0 (the
 * gradient continues through the relu that produced x).
 */
export function maxPoolBackwardWasm(
  dy: Float32Array,
  dyOffset: number,
  x: Float32Array,
  xOffset: number,
  g: ConvGeometry,
  dx: Float32Array,
  dxOffset: number,
  positiveOnly = false,
): boolean {
  const kernels = wasmKernels();
  if (!kernels) return false;
  const inSize = g.batch * g.inHeight * g.inWidth * g.channels;
  if (inSize === 0) return true;
  kernelCall(kernels, () => {
    const dyAt = kernels.input(dy, dyOffset, g.batch * g.outHeight * g.outWidth * g.channels);
    const xAt = kernels.input(x, xOffset, inSize);
    const dxAt = kernels.output(dx, dxOffset, inSize);
    const geometry = kernels.geometry(geometryFields(g, g.channels));
    kernels.parallel('maxPoolBackward', [dyAt, xAt, geometry, dxAt, positiveOnly ? 1 : 0], g.batch, imagesPerThreadChunk(kernels, g));
  });
  return true;
}

/** y [N, Ho, Wo, C] = the mean of each window's real cells. */
export function avgPoolForwardWasm(kernels: WasmKernels, x: Float32Array, xOffset: number, g: ConvGeometry, y: Float32Array, yOffset: number): void {
  const outSize = g.batch * g.outHeight * g.outWidth * g.channels;
  if (outSize === 0) return;
  kernelCall(kernels, () => {
    const xAt = kernels.input(x, xOffset, g.batch * g.inHeight * g.inWidth * g.channels);
    const yAt = kernels.output(y, yOffset, outSize);
    const geometry = kernels.geometry(geometryFields(g, g.channels));
    kernels.parallel('avgPoolForward', [xAt, geometry, yAt], g.batch, imagesPerThreadChunk(kernels, g));
  });
}

/** dx [N, H, W, C]: each output's dy / count added to every real cell of its window (every element written). */
export function avgPoolBackwardWasm(kernels: WasmKernels, dy: Float32Array, dyOffset: number, g: ConvGeometry, dx: Float32Array, dxOffset: number): void {
  const inSize = g.batch * g.inHeight * g.inWidth * g.channels;
  if (inSize === 0) return;
  kernelCall(kernels, () => {
    const dyAt = kernels.input(dy, dyOffset, g.batch * g.outHeight * g.outWidth * g.channels);
    const dxAt = kernels.output(dx, dxOffset, inSize);
    const geometry = kernels.geometry(geometryFields(g, g.channels));
    kernels.parallel('avgPoolBackward', [dyAt, geometry, dxAt], g.batch, imagesPerThreadChunk(kernels, g));
  });
}
