/**
 * conv2d and its gradients in WebAssembly SIMD (float32), each one kernel
 * call: implicit GEMMs whose micro-kernel reads the windows straight from the
 * images, so no im2col matrix is built at all (assembly/conv.ts). NHWC
 * images, filters [kh, kw, Cin, Cout].
 *
 *   conv2dForwardWasm:        y = relu?(conv2d(x, filter) + bias)
 *   conv2dReluMaxPoolWasm:    y = maxPool(relu(conv2d(x, filter) + bias))   (assembly/conv-pool.ts)
 *   conv2dBackpropFilterWasm: dfilter = im2col(x)ᵀ · dy
 *   conv2dBackpropInputWasm:  dx = col2im(dy · filterᵀ)
 *
 * With helper threads, the batch is cut into chunks of images that the
 * threads share. The filter gradient is a sum over the batch: it is always
 * computed as FILTER_GRADIENT_PARTS partial sums over fixed parts of the
 * batch, added up in order, so the result is the same bit for bit whatever
 * the number of threads and whichever thread computed which part.
 *
 * Each function returns false, doing nothing, when the kernels are not
 * available; callers then use the JavaScript kernels.
 */
import type { ConvGeometry } from '../geometry.ts';
import { type WasmKernels, kernelCall, wasmKernels } from './runtime.ts';

/** Convolutions with fewer multiply-adds than this run on one thread. */
export const CONV_PARALLEL_MIN_WORK = 1 << 18;
/** Aim for this many chunks of images per thread, so a slow thread holds up the others by at most a small chunk. */
const CHUNKS_PER_THREAD = 4;
/**
 * The filter gradient is the sum of this many partial sums over fixed parts
 * of the batch (at most one per image). 8 rather than 4: with two threads,
 * four chunks of 16 images left one thread idle for a whole chunk whenever
 * the other fell behind (LeNet's conv2: 1.5× faster on two threads with 8;
 * the same speed on one).
 */
export const FILTER_GRADIENT_PARTS = 8;

/** The geometry struct of assembly/geometry.ts. */
export function geometryFields(g: ConvGeometry, outChannels: number): number[] {
  return [
    g.batch,
    g.inHeight,
    g.inWidth,
    g.channels,
    g.kernelHeight,
    g.kernelWidth,
    g.strideHeight,
    g.strideWidth,
    g.padTop,
    g.padLeft,
    g.outHeight,
    g.outWidth,
    outChannels,
  ];
}

function multiplyAdds(g: ConvGeometry, outChannels: number): number {
  return g.batch * g.outHeight * g.outWidth * g.kernelHeight * g.kernelWidth * g.channels * outChannels;
}

/** Images per chunk for a convolution of this size: the whole batch on one thread. */
function imagesPerThreadChunk(kernels: WasmKernels, g: ConvGeometry, outChannels: number): number {
  const threads = multiplyAdds(g, outChannels) >= CONV_PARALLEL_MIN_WORK ? kernels.threads : 1;
  return threads > 1 ? Math.max(1, Math.ceil(g.batch / (threads * CHUNKS_PER_THREAD))) : Math.max(1, g.batch);
}

const imageSize = (g: ConvGeometry): number => g.inHeight * g.inWidth * g.channels;
const outputSize = (g: ConvGeometry, outChannels: number): number => g.outHeight * g.outWidth * outChannels;
const filterSize = (g: ConvGeometry, outChannels: number): number => g.kernelHeight * g.kernelWidth * g.channels * outChannels;

/**
 * y [N, Ho, Wo, Cout] = relu?(conv2d(x, filter) + bias). `bias` may be null
 * (no bias). Returns false when the kernels are unavailable.
 */
export function conv2dForwardWasm(
  x: Float32Array,
  xOffset: number,
  filter: Float32Array,
  filterOffset: number,
  bias: Float32Array | null,
  biasOffset: number,
  relu: boolean,
  y: Float32Array,
  yOffset: number,
  g: ConvGeometry,
  outChannels: number,
): boolean {
  const kernels = wasmKernels();
  if (!kernels) return false;
  if (g.batch === 0 || outputSize(g, outChannels) === 0) return true;
  kernelCall(kernels, () => {
    const xAt = kernels.input(x, xOffset, g.batch * imageSize(g));
    const filterAt = kernels.input(filter, filterOffset, filterSize(g, outChannels));
    const biasAt = bias ? kernels.input(bias, biasOffset, outChannels) : 0;
    const yAt = kernels.output(y, yOffset, g.batch * outputSize(g, outChannels));
    const geometry = kernels.geometry(geometryFields(g, outChannels));
    const workspaceBytes = kernels.exports.convForwardWorkspaceBytes(geometry);
    kernels.parallel(
      'convForward',
      [xAt, filterAt, biasAt, relu ? 1 : 0, yAt, geometry],
      g.batch,
      imagesPerThreadChunk(kernels, g, outChannels),
      workspaceBytes,
    );
  });
  return true;
}

/**
 * y = maxPool(relu(conv2d(x, filter) + bias)) [N, Hp, Wp, Cout], the
 * activation pooled block by block while it is in cache; `pool` is the
 * pool's geometry over the activation [N, Ho, Wo, Cout]. Same bits as
 * conv2dForwardWasm with relu, then maxPoolForwardWasm.
 */
export function conv2dReluMaxPoolWasm(
  x: Float32Array,
  xOffset: number,
  filter: Float32Array,
  filterOffset: number,
  bias: Float32Array,
  biasOffset: number,
  y: Float32Array,
  yOffset: number,
  g: ConvGeometry,
  outChannels: number,
  pool: ConvGeometry,
): boolean {
  const kernels = wasmKernels();
  if (!kernels) return false;
  const pooledSize = pool.outHeight * pool.outWidth * outChannels;
  if (g.batch === 0 || pooledSize === 0) return true;
  kernelCall(kernels, () => {
    const xAt = kernels.input(x, xOffset, g.batch * imageSize(g));
    const filterAt = kernels.input(filter, filterOffset, filterSize(g, outChannels));
    const biasAt = kernels.input(bias, biasOffset, outChannels);
    const yAt = kernels.output(y, yOffset, g.batch * pooledSize);
    const convAt = kernels.geometry(geometryFields(g, outChannels));
    const poolAt = kernels.geometry(geometryFields(pool, outChannels));
    kernels.parallel(
      'convReluMaxPool',
      [xAt, filterAt, biasAt, yAt, convAt, poolAt],
      g.batch,
      imagesPerThreadChunk(kernels, g, outChannels),
      kernels.exports.convReluMaxPoolWorkspaceBytes(convAt),
    );
  });
  return true;
}

/**
 * dfilter [kh, kw, Cin, Cout] = Σ over the batch of im2col(x)ᵀ · dy.
 * Returns false when the kernels are unavailable.
 */
export function conv2dBackpropFilterWasm(
  x: Float32Array,
  xOffset: number,
  dy: Float32Array,
  dyOffset: number,
  dfilter: Float32Array,
  dfilterOffset: number,
  g: ConvGeometry,
  outChannels: number,
): boolean {
  const kernels = wasmKernels();
  if (!kernels) return false;
  const size = filterSize(g, outChannels);
  if (size === 0) return true;
  kernelCall(kernels, () => {
    const xAt = kernels.input(x, xOffset, g.batch * imageSize(g));
    const dyAt = kernels.input(dy, dyOffset, g.batch * outputSize(g, outChannels));
    const outAt = kernels.output(dfilter, dfilterOffset, size);
    const geometry = kernels.geometry(geometryFields(g, outChannels));
    const workspaceBytes = kernels.exports.convBackpropFilterWorkspaceBytes(geometry);
    // Fixed parts of the batch, whatever the thread count; one part is written straight to the output.
    const perPart = Math.max(1, Math.ceil(g.batch / FILTER_GRADIENT_PARTS));
    const parts = Math.max(1, Math.ceil(g.batch / perPart));
    const partials = parts > 1 ? kernels.reserve(parts * size * 4) : outAt;
    const threads = multiplyAdds(g, outChannels) >= CONV_PARALLEL_MIN_WORK ? kernels.threads : 1;
    kernels.parallel('convBackpropFilter', [xAt, dyAt, partials, perPart, geometry], g.batch, perPart, workspaceBytes, threads);
    if (parts > 1) kernels.exports.sumPartials(partials, parts, size, outAt);
  });
  return true;
}

/**
 * dx [N, H, W, Cin] = col2im(dy · filterᵀ) (every element written).
 * Returns false when the kernels are unavailable.
 */
export function conv2dBackpropInputWasm(
  dy: Float32Array,
  dyOffset: number,
  filter: Float32Array,
  filterOffset: number,
  dx: Float32Array,
  dxOffset: number,
  g: ConvGeometry,
  outChannels: number,
): boolean {
  const kernels = wasmKernels();
  if (!kernels) return false;
  if (g.batch === 0 || imageSize(g) === 0) return true;
  kernelCall(kernels, () => {
    const dyAt = kernels.input(dy, dyOffset, g.batch * outputSize(g, outChannels));
    const filterAt = kernels.input(filter, filterOffset, filterSize(g, outChannels));
    const dxAt = kernels.output(dx, dxOffset, g.batch * imageSize(g));
    const geometry = kernels.geometry(geometryFields(g, outChannels));
    const workspaceBytes = kernels.exports.convBackpropInputWorkspaceBytes(geometry);
    kernels.parallel('convBackpropInput', [dyAt, filterAt, dxAt, geometry], g.batch, imagesPerThreadChunk(kernels, g, outChannels), workspaceBytes);
  });
  return true;
}
