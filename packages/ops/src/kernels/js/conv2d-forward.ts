/**
 * The JavaScript conv2d forward kernel shared by the conv2d and
 * conv2dBiasRelu ops:
 *
 *   y = relu?(conv2d(x, filter) + bias)          (bias optional)
 *
 * im2col into a scratch matrix (chunks of images), one GEMM per chunk, then
 * a bias-and-relu pass. (The wasm backend's kernel is one SIMD call, see
 * wasm/registry.ts.)
 */
import type { FloatArray, RunContext, Tensor } from '@ndgraph/graph';
import type { ConvGeometry } from '../geometry.ts';
import { gemm } from './gemm.ts';
import { im2col, im2colWidth, imagesPerChunk, isPointwise } from './im2col.ts';
import { biasAddKernel } from './bias-relu.ts';

/** Writes every element of `out` [N, Ho, Wo, Cout]; `ctx` lends the scratch matrix. */
export function conv2dForward(
  x: Tensor,
  filter: Tensor,
  bias: Tensor | null,
  relu: boolean,
  out: Tensor,
  g: ConvGeometry,
  ctx: Pick<RunContext, 'scratch'>,
): void {
  const outChannels = filter.shape[3];
  const width = im2colWidth(g);
  const rowsPerImage = g.outHeight * g.outWidth;
  const xData = x.data as FloatArray;
  const filterData = filter.data as FloatArray;
  const outData = out.data as FloatArray;
  if (isPointwise(g)) {
    // A 1×1, stride-1 convolution is x [N·H·W, Cin] · filter [Cin, Cout].
    gemm(
      false,
      false,
      g.batch * rowsPerImage,
      outChannels,
      width,
      1,
      xData,
      x.offset,
      width,
      filterData,
      filter.offset,
      outChannels,
      0,
      outData,
      out.offset,
      outChannels,
    );
  } else {
    const chunk = imagesPerChunk(g);
    const cols = ctx.scratch([chunk * rowsPerImage, width], xData instanceof Float32Array ? 'float32' : 'float64');
    const colsData = cols.data as FloatArray;
    for (let first = 0; first < g.batch; first += chunk) {
      const count = Math.min(chunk, g.batch - first);
      im2col(xData, x.offset, g, first, count, colsData, cols.offset);
      gemm(
        false,
        false,
        count * rowsPerImage,
        outChannels,
        width,
        1,
        colsData,
        cols.offset,
        width,
        filterData,
        filter.offset,
        outChannels,
        0,
        outData,
        out.offset + first * rowsPerImage * outChannels,
        outChannels,
      );
    }
  }
  if (bias) biasAddKernel(outData, out.offset, bias.data as FloatArray, bias.offset, relu, outData, out.offset, out.size, outChannels);
}
