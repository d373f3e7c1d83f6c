/**
 * conv2dBackpropFilter(dy, x, filter) — the gradient of conv2d with respect
 * to its filter: dfilter = im2col(x)ᵀ · dy, summed over the batch (read as
 * [kh·kw·Cin, Cout]). `filter` is read only for its shape.
 * Kernels: js (here): im2col then GEMM, a chunk of images at a time; wasm: one
 * SIMD call, a GEMM that reads the windows straight from the images, as the
 * sum of partial sums over fixed parts of the batch (the same bits with one
 * thread or two).
 * Shape: dy [N, Ho, Wo, Cout] (conv2d's output shape for x), x [N, H, W, Cin],
 * filter [kh, kw, Cin, Cout] → [kh, kw, Cin, Cout].
 * Gradient: the op is linear in dy and in x. For an upstream G shaped like the
 * filter: d/d dy = conv2d(x, G), d/dx = conv2dBackpropInput(dy, G, x); none for
 * filter (only its shape is used).
 */
import { buildingNode, defineOp, type FloatArray, type Node } from '@ndgraph/graph';
import { checkWindowGradientShape, checkWindowAttrs, conv2dAttrs, conv2dOutputShape, type Conv2dOptions, type WindowAttrs } from '../window.ts';
import { convGeometry } from '../kernels/geometry.ts';
import { gemm } from '../kernels/js/gemm.ts';
import { im2col, im2colWidth, imagesPerChunk, isPointwise } from '../kernels/js/im2col.ts';
import { expectSameFloat } from '../util.ts';
import { conv2d } from './conv2d.ts';
import { conv2dBackpropInput } from './conv2d-backprop-input.ts';

export const conv2dBackpropFilterOp = defineOp<WindowAttrs>({
  name: 'conv2dBackpropFilter',
  arity: 3,
  inferShape([dy, x, filter], attrs) {
    checkWindowAttrs(attrs);
    const dtype = expectSameFloat([dy, x, filter], ['dy', 'x', 'filter']);
    const expected = conv2dOutputShape(x.shape, filter.shape, attrs);
    checkWindowGradientShape(dy.shape, expected, x.shape, 'conv2d');
    return { shape: filter.shape.slice(), dtype };
  },
  forward([dy, x, filter], attrs, ctx) {
    const g = convGeometry(x.shape, [filter.shape[0], filter.shape[1]], attrs);
    const outChannels = filter.shape[3];
    const width = im2colWidth(g);
    const rowsPerImage = g.outHeight * g.outWidth;
    const xData = x.data as FloatArray;
    const dyData = dy.data as FloatArray;
    const out = ctx.output();
    const outData = out.data as FloatArray;
    if (g.batch === 0) {
      outData.fill(0, out.offset, out.offset + out.size);
      return out;
    }
    if (isPointwise(g)) {
      // 1×1, stride 1: dfilter [Cin, Cout] = x [N·H·W, Cin]ᵀ · dy [N·H·W, Cout].
      gemm(
        true,
        false,
        width,
        outChannels,
        g.batch * rowsPerImage,
        1,
        xData,
        x.offset,
        width,
        dyData,
        dy.offset,
        outChannels,
        0,
        outData,
        out.offset,
        outChannels,
      );
      return out;
    }
    const chunk = imagesPerChunk(g);
    const cols = ctx.scratch([chunk * rowsPerImage, width], ctx.outputSpec.dtype);
    const colsData = cols.data as FloatArray;
    for (let first = 0; first < g.batch; first += chunk) {
      const count = Math.min(chunk, g.batch - first);
      im2col(xData, x.offset, g, first, count, colsData, cols.offset);
      // The first chunk overwrites the output (beta 0); later chunks add to it.
      const beta = first === 0 ? 0 : 1;
      gemm(
        true,
        false,
        width,
        outChannels,
        count * rowsPerImage,
        1,
        colsData,
        cols.offset,
        width,
        dyData,
        dy.offset + first * rowsPerImage * outChannels,
        outChannels,
        beta,
        outData,
        out.offset,
        outChannels,
      );
    }
    return out;
  },
  grad(ctx, g, node) {
    const [dy, x] = node.inputs;
    return [ctx.needsGrad(0) ? conv2d(x, g, node.attrs) : null, ctx.needsGrad(1) ? conv2dBackpropInput(dy, g, x, node.attrs) : null, null];
  },
});

/** The filter gradient of conv2d(x, filter, options) for output gradient `dy`. */
export const conv2dBackpropFilter = (dy: Node, x: Node, filter: Node, options: Conv2dOptions, name?: string): Node =>
  buildingNode(dy?.graph, 'conv2dBackpropFilter', name, () => conv2dBackpropFilterOp([dy, x, filter], conv2dAttrs(options, 'conv2dBackpropFilter'), { name }));
