/**
 * conv2d(x, filter) — 2-D cross-correlation, as in TensorFlow, NHWC:
 *   y[n, oh, ow, co] = Σ_{ki, kj, ci} x[n, oh·sh − padTop + ki, ow·sw − padLeft + kj, ci] · filter[ki, kj, ci, co]
 * (x is 0 in the padding).
 * Shape: x [N, H, W, Cin], filter [kh, kw, Cin, Cout] → [N, Ho, Wo, Cout], with
 * Ho, Wo and the padding from `conv-geometry` ('same' or 'valid').
 * Kernel: im2col into a scratch matrix [N·Ho·Wo, kh·kw·Cin], then one GEMM with
 * the filter read as [kh·kw·Cin, Cout]; large batches go in chunks of images.
 * Gradient: dx = conv2dBackpropInput(dy, filter, x), dfilter = conv2dBackpropFilter(x, dy, filter).
 */
import { defineOp, type FloatArray, type Node } from '@ndgraph/graph';
import { checkWindowAttrs, conv2dAttrs, conv2dOutputShape, convGeometry, type Conv2dOptions, type WindowAttrs } from '../kernels/conv-geometry.ts';
import { gemm } from '../kernels/gemm.ts';
import { im2col, im2colWidth, imagesPerChunk, isPointwise } from '../kernels/im2col.ts';
import { expectSameFloat } from '../util.ts';
import { conv2dBackpropInput } from './conv2d-backprop-input.ts';
import { conv2dBackpropFilter } from './conv2d-backprop-filter.ts';

export const conv2dOp = defineOp<WindowAttrs>({
  name: 'conv2d',
  arity: 2,
  inferShape([x, filter], attrs) {
    checkWindowAttrs(attrs);
    const dtype = expectSameFloat([x, filter], ['x', 'filter']);
    return { shape: conv2dOutputShape(x.shape, filter.shape, attrs), dtype };
  },
  forward([x, filter], attrs, ctx) {
    const out = ctx.output();
    const g = convGeometry(x.shape, [filter.shape[0], filter.shape[1]], attrs);
    const outChannels = filter.shape[3];
    const width = im2colWidth(g);
    const rowsPerImage = g.outHeight * g.outWidth;
    const xData = x.data as FloatArray;
    const filterData = filter.data as FloatArray;
    const outData = out.data as FloatArray;
    if (isPointwise(g)) {
      // A 1×1, stride-1 convolution is x [N·H·W, Cin] · filter [Cin, Cout].
      gemm(false, false, g.batch * rowsPerImage, outChannels, width, 1, xData, x.offset, width, filterData, filter.offset, outChannels, 0, outData, out.offset, outChannels);
      return out;
    }
    const chunk = imagesPerChunk(g);
    const cols = ctx.scratch([chunk * rowsPerImage, width], ctx.outputSpec.dtype);
    const colsData = cols.data as FloatArray;
    for (let first = 0; first < g.batch; first += chunk) {
      const count = Math.min(chunk, g.batch - first);
      im2col(xData, x.offset, g, first, count, colsData, cols.offset);
      gemm(false, false, count * rowsPerImage, outChannels, width, 1, colsData, cols.offset, width, filterData, filter.offset, outChannels, 0, outData, out.offset + first * rowsPerImage * outChannels, outChannels);
    }
    return out;
  },
  grad(ctx, dy, node) {
    const [x, filter] = node.inputs;
    return [
      ctx.needsGrad(0) ? conv2dBackpropInput(dy, filter, x, node.attrs) : null,
      ctx.needsGrad(1) ? conv2dBackpropFilter(x, dy, filter, node.attrs) : null,
    ];
  },
});

/** 2-D convolution of NHWC `x` with `filter` [kh, kw, Cin, Cout]; strides default to 1. */
export const conv2d = (x: Node, filter: Node, options: Conv2dOptions, name?: string): Node => conv2dOp([x, filter], conv2dAttrs(options), { name });
