/**
 * conv2dBiasRelu(x, filter, bias) = relu(conv2d(x, filter) + bias): the fused
 * kernel the planner runs for the chain conv2d → biasAdd → relu (see
 * fusion-rules.ts). It exists only in plans, never in a user's graph, so it
 * has no builder and no gradient rule: gradients are built on the plain chain.
 * The convolution, the bias add and the relu happen in one pass as each tile
 * of the output is stored (wasm), so the layer writes its output once instead
 * of three times, with the same bits as the three ops.
 *   y[n, oh, ow, co] = max(0, bias[co] + Σ_{ki, kj, ci} x[n, oh·sh − padTop + ki, ow·sw − padLeft + kj, ci] · filter[ki, kj, ci, co])
 * Shape: x [N, H, W, Cin], filter [kh, kw, Cin, Cout], bias [Cout] →
 * [N, Ho, Wo, Cout] (strides and padding as in conv2d).
 * Kernels: js (here), wasm.
 */
import { defineOp, formatShape, ShapeError, type TensorSpec } from '@ndgraph/graph';
import { checkWindowAttrs, conv2dOutputShape, type WindowAttrs } from '../window.ts';
import { convGeometry } from '../kernels/geometry.ts';
import { conv2dForward } from '../kernels/js/conv2d-forward.ts';
import { dimsAgree, expectSameFloat } from '../util.ts';

/** The shape rule of conv2dBiasRelu and conv2dBias: conv2d's, and a bias of one value per output channel. */
export function conv2dBiasShape([x, filter, bias]: TensorSpec[], attrs: WindowAttrs): TensorSpec {
  checkWindowAttrs(attrs);
  const dtype = expectSameFloat([x, filter, bias], ['x', 'filter', 'bias']);
  const shape = conv2dOutputShape(x.shape, filter.shape, attrs);
  if (bias.shape.length !== 1 || !dimsAgree(bias.shape[0], filter.shape[3])) {
    throw new ShapeError(`bias must have shape [${filter.shape[3]}] (the filter's output channels), found ${formatShape(bias.shape)}`);
  }
  return { shape, dtype };
}

export const conv2dBiasReluOp = defineOp<WindowAttrs>({
  name: 'conv2dBiasRelu',
  arity: 3,
  inferShape: conv2dBiasShape,
  forward([x, filter, bias], attrs, ctx) {
    const out = ctx.output();
    conv2dForward(x, filter, bias, true, out, convGeometry(x.shape, [filter.shape[0], filter.shape[1]], attrs), ctx);
    return out;
  },
});
