/**
 * conv2dBiasRelu(x, filter, bias) = relu(conv2d(x, filter) + bias): the
 * forward pass of a conv layer with a bias and a relu as ONE node. Fused:
 * the convolution, the bias add and the relu happen in one pass, as each
 * tile of the output is stored (float32, WebAssembly SIMD), so the layer
 * writes its output once instead of three times. Inspect it like any node:
 * its value is the layer's activation; the pre-activation is not stored.
 *   y[n, oh, ow, co] = max(0, bias[co] + Σ_{ki, kj, ci} x[n, oh·sh − padTop + ki, ow·sw − padLeft + kj, ci] · filter[ki, kj, ci, co])
 * Shape: x [N, H, W, Cin], filter [kh, kw, Cin, Cout], bias [Cout] →
 * [N, Ho, Wo, Cout] (strides and padding as in conv2d).
 * Gradient: with dz = reluGrad(dy, y) — dy where the output is positive (y > 0
 * exactly where the pre-activation is; relu'(0) = 0) —
 *   dx = conv2dBackpropInput(dz, filter, x), dfilter = conv2dBackpropFilter(x, dz, filter), dbias = biasAddGrad(dz).
 * When the layer's only consumer is a max pool, dy arrives as maxPoolGrad(dp, y);
 * then dz is that same maxPoolGrad with `positiveOnly`, which applies the relu
 * mask in the same pass (the plain maxPoolGrad node stays in the graph,
 * unused unless fetched).
 */
import { defineOp, ShapeError, formatShape, type Node } from '@ndgraph/graph';
import { checkWindowAttrs, conv2dAttrs, conv2dOutputShape, convGeometry, type Conv2dOptions, type WindowAttrs } from '../kernels/conv-geometry.ts';
import { conv2dForward } from '../kernels/conv2d-forward.ts';
import { dimsAgree, expectSameFloat } from '../util.ts';
import { biasAddGrad } from './bias-add-grad.ts';
import { conv2dBackpropFilter } from './conv2d-backprop-filter.ts';
import { conv2dBackpropInput } from './conv2d-backprop-input.ts';
import { reluGrad } from './relu-grad.ts';
import { maxPoolGradOp, type MaxPoolGradAttrs } from './max-pool-grad.ts';

export const conv2dBiasReluOp = defineOp<WindowAttrs>({
  name: 'conv2dBiasRelu',
  arity: 3,
  inferShape([x, filter, bias], attrs) {
    checkWindowAttrs(attrs);
    const dtype = expectSameFloat([x, filter, bias], ['x', 'filter', 'bias']);
    const shape = conv2dOutputShape(x.shape, filter.shape, attrs);
    if (bias.shape.length !== 1 || !dimsAgree(bias.shape[0], filter.shape[3])) {
      throw new ShapeError(`bias must have shape [${filter.shape[3]}] (the filter's output channels), found ${formatShape(bias.shape)}`);
    }
    return { shape, dtype };
  },
  forward([x, filter, bias], attrs, ctx) {
    const out = ctx.output();
    conv2dForward(x, filter, bias, true, out, convGeometry(x.shape, [filter.shape[0], filter.shape[1]], attrs), ctx);
    return out;
  },
  grad(ctx, dy, node) {
    const [x, filter] = node.inputs;
    const fromPool = dy.op === maxPoolGradOp.def && dy.inputs[1] === node && !(dy.attrs as MaxPoolGradAttrs).positiveOnly;
    const dz = fromPool ? maxPoolGradOp([dy.inputs[0], node], { ...(dy.attrs as MaxPoolGradAttrs), positiveOnly: true }) : reluGrad(dy, node);
    return [
      ctx.needsGrad(0) ? conv2dBackpropInput(dz, filter, x, node.attrs) : null,
      ctx.needsGrad(1) ? conv2dBackpropFilter(x, dz, filter, node.attrs) : null,
      ctx.needsGrad(2) ? biasAddGrad(dz) : null,
    ];
  },
});

/** relu(conv2d(x, filter) + bias) as one fused node; strides default to 1. */
export const conv2dBiasRelu = (x: Node, filter: Node, bias: Node, options: Conv2dOptions, name?: string): Node =>
  conv2dBiasReluOp([x, filter, bias], conv2dAttrs(options), { name });
