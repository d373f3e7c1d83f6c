/**
 * conv2d(x, filter) — 2-D cross-correlation, as in TensorFlow, NHWC:
 *   y[n, oh, ow, co] = Σ_{ki, kj, ci} x[n, oh·sh − padTop + ki, ow·sw − padLeft + kj, ci] · filter[ki, kj, ci, co]
 * (x is 0 in the padding).
 * Shape: x [N, H, W, Cin], filter [kh, kw, Cin, Cout] → [N, Ho, Wo, Cout], with
 * Ho, Wo and the padding from `conv-geometry` ('same' or 'valid').
 * Kernel (kernels/conv2d-forward.ts): im2col into a scratch matrix
 * [N·Ho·Wo, kh·kw·Cin], then one GEMM with the filter read as
 * [kh·kw·Cin, Cout]; large batches go in chunks of images. float32 runs it
 * as one WebAssembly SIMD call, a GEMM that reads the windows straight from
 * the image (no im2col matrix).
 * Gradient: dx = conv2dBackpropInput(dy, filter, x), dfilter = conv2dBackpropFilter(dy, x, filter).
 */
import { buildingNode, defineOp, type Node } from '@ndgraph/graph';
import { checkWindowAttrs, conv2dAttrs, conv2dOutputShape, type Conv2dOptions, type WindowAttrs } from '../window.ts';
import { convGeometry } from '../kernels/geometry.ts';
import { conv2dForward } from '../kernels/js/conv2d-forward.ts';
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
    conv2dForward(x, filter, null, false, out, convGeometry(x.shape, [filter.shape[0], filter.shape[1]], attrs), ctx);
    return out;
  },
  grad(ctx, dy, node) {
    const [x, filter] = node.inputs;
    return [
      ctx.needsGrad(0) ? conv2dBackpropInput(dy, filter, x, node.attrs) : null,
      ctx.needsGrad(1) ? conv2dBackpropFilter(dy, x, filter, node.attrs) : null,
    ];
  },
});

/** 2-D convolution of NHWC `x` with `filter` [kh, kw, Cin, Cout]; strides default to 1. */
export const conv2d = (x: Node, filter: Node, options: Conv2dOptions, name?: string): Node =>
  buildingNode(x?.graph, 'conv2d', name, () => conv2dOp([x, filter], conv2dAttrs(options), { name }));
