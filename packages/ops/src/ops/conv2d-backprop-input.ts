/**
 * conv2dBackpropInput(dy, filter, x) — the gradient of conv2d with respect to
 * its input: dx = col2im(dy · filterᵀ), i.e. every output gradient is spread
 * back over the input cells of its window, weighted by the filter.
 * `x` is read only for its run-time shape.
 * Kernels: js (here): GEMM into a scratch im2col-shaped matrix, then col2im;
 * wasm: one SIMD call that gathers each image row's gradient from the
 * windows reaching it and adds it on in place (no scratch matrix).
 * Shape: dy [N, Ho, Wo, Cout] (conv2d's output shape for x), filter
 * [kh, kw, Cin, Cout], x [N, H, W, Cin] → [N, H, W, Cin].
 * Gradient: the op is linear in dy and in filter. For an upstream g shaped
 * like x: d/d dy = conv2d(g, filter), d/d filter = conv2dBackpropFilter(dy, g, filter);
 * none for x (only its shape is used).
 */
import { buildingNode, defineOp, type FloatArray, type Node } from '@ndgraph/graph';
import { checkWindowGradientShape, checkWindowAttrs, conv2dAttrs, conv2dOutputShape, type Conv2dOptions, type WindowAttrs } from '../window.ts';
import { convGeometry } from '../kernels/geometry.ts';
import { gemm } from '../kernels/js/gemm.ts';
import { col2im, im2colWidth, imagesPerChunk, isPointwise } from '../kernels/js/im2col.ts';
import { expectSameFloat } from '../util.ts';
import { conv2d } from './conv2d.ts';
import { conv2dBackpropFilter } from './conv2d-backprop-filter.ts';

export const conv2dBackpropInputOp = defineOp<WindowAttrs>({
  name: 'conv2dBackpropInput',
  arity: 3,
  inferShape([dy, filter, x], attrs) {
    checkWindowAttrs(attrs);
    const dtype = expectSameFloat([dy, filter, x], ['dy', 'filter', 'x']);
    const expected = conv2dOutputShape(x.shape, filter.shape, attrs);
    return { shape: checkWindowGradientShape(dy.shape, expected, x.shape, 'conv2d'), dtype };
  },
  forward([dy, filter, x], attrs, ctx) {
    const g = convGeometry(x.shape, [filter.shape[0], filter.shape[1]], attrs);
    const outChannels = filter.shape[3];
    const width = im2colWidth(g);
    const rowsPerImage = g.outHeight * g.outWidth;
    const dyData = dy.data as FloatArray;
    const filterData = filter.data as FloatArray;
    if (isPointwise(g)) {
      // 1×1, stride 1: dx [N·H·W, Cin] = dy [N·H·W, Cout] · filter[Cin, Cout]ᵀ.
      const dx = ctx.output();
      gemm(
        false,
        true,
        g.batch * rowsPerImage,
        width,
        outChannels,
        1,
        dyData,
        dy.offset,
        outChannels,
        filterData,
        filter.offset,
        outChannels,
        0,
        dx.data as FloatArray,
        dx.offset,
        width,
      );
      return dx;
    }
    const dx = ctx.outputZeros(); // col2im accumulates
    const chunk = imagesPerChunk(g);
    const cols = ctx.scratch([chunk * rowsPerImage, width], ctx.outputSpec.dtype);
    const colsData = cols.data as FloatArray;
    for (let first = 0; first < g.batch; first += chunk) {
      const count = Math.min(chunk, g.batch - first);
      // Gradient of the im2col matrix: dcols = dy · filterᵀ, filter read as [kh·kw·Cin, Cout].
      gemm(
        false,
        true,
        count * rowsPerImage,
        width,
        outChannels,
        1,
        dyData,
        dy.offset + first * rowsPerImage * outChannels,
        outChannels,
        filterData,
        filter.offset,
        outChannels,
        0,
        colsData,
        cols.offset,
        width,
      );
      col2im(colsData, cols.offset, g, first, count, dx.data as FloatArray, dx.offset);
    }
    return dx;
  },
  grad(ctx, g, node) {
    const [dy, filter] = node.inputs;
    return [ctx.needsGrad(0) ? conv2d(g, filter, node.attrs) : null, ctx.needsGrad(1) ? conv2dBackpropFilter(dy, g, filter, node.attrs) : null, null];
  },
});

/** The input gradient of conv2d(x, filter, options) for output gradient `dy`. */
export const conv2dBackpropInput = (dy: Node, filter: Node, x: Node, options: Conv2dOptions, name?: string): Node =>
  buildingNode(dy?.graph, 'conv2dBackpropInput', name, () => conv2dBackpropInputOp([dy, filter, x], conv2dAttrs(options, 'conv2dBackpropInput'), { name }));
