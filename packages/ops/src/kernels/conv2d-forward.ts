/**
 * The conv2d forward kernel shared by the conv2d and conv2dBiasRelu ops:
 *
 *   y = relu?(conv2d(x, filter) + bias)          (bias optional)
 *
 * float32 runs in one WebAssembly SIMD call (a GEMM reading the windows
 * straight from the image, bias and relu applied as each tile of y is stored); other
 * types, or engines without the kernels, run im2col into a scratch matrix
 * (chunks of images), one GEMM per chunk, then a bias-and-relu pass.
 */
import type { FloatArray, RunContext, Tensor } from '@ndgraph/graph';
import type { ConvGeometry } from './conv-geometry.ts';
import { gemmFast } from './gemm-fast.ts';
import { im2col, im2colWidth, imagesPerChunk, isPointwise } from './im2col.ts';
import { biasAddReference } from './bias-relu.ts';
import { conv2dForwardWasm } from './wasm/conv-wasm.ts';

/** Writes every element of `out` [N, Ho, Wo, Cout]; `ctx` lends the scratch matrix. */
export function conv2dForward(x: Tensor, filter: Tensor, bias: Tensor | null, relu: boolean, out: Tensor, g: ConvGeometry, ctx: Pick<RunContext, 'scratch'>): void {
  const outChannels = filter.shape[3];
  if (x.data instanceof Float32Array && filter.data instanceof Float32Array && (!bias || bias.data instanceof Float32Array)) {
    const biasData = bias ? (bias.data as Float32Array) : null;
    if (conv2dForwardWasm(x.data, x.offset, filter.data, filter.offset, biasData, bias?.offset ?? 0, relu, out.data as Float32Array, out.offset, g, outChannels)) return;
  }
  const width = im2colWidth(g);
  const rowsPerImage = g.outHeight * g.outWidth;
  const xData = x.data as FloatArray;
  const filterData = filter.data as FloatArray;
  const outData = out.data as FloatArray;
  if (isPointwise(g)) {
    // A 1×1, stride-1 convolution is x [N·H·W, Cin] · filter [Cin, Cout].
    gemmFast(false, false, g.batch * rowsPerImage, outChannels, width, 1, xData, x.offset, width, filterData, filter.offset, outChannels, 0, outData, out.offset, outChannels);
  } else {
    const chunk = imagesPerChunk(g);
    const cols = ctx.scratch([chunk * rowsPerImage, width], xData instanceof Float32Array ? 'float32' : 'float64');
    const colsData = cols.data as FloatArray;
    for (let first = 0; first < g.batch; first += chunk) {
      const count = Math.min(chunk, g.batch - first);
      im2col(xData, x.offset, g, first, count, colsData, cols.offset);
      gemmFast(false, false, count * rowsPerImage, outChannels, width, 1, colsData, cols.offset, width, filterData, filter.offset, outChannels, 0, outData, out.offset + first * rowsPerImage * outChannels, outChannels);
    }
  }
  if (bias) biasAddReference(outData, out.offset, bias.data as FloatArray, bias.offset, relu, outData, out.offset, out.size, outChannels);
}
