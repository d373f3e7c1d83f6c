/**
 * conv2dBias(x, filter, bias) = conv2d(x, filter) + bias: the fused kernel
 * the planner runs for conv2d → biasAdd when no relu follows to take both
 * (conv2dBiasRelu; see fusion-rules.ts), as in layers with tanh, sigmoid,
 * elu or leaky relu. Plan-only like conv2dBiasRelu: no builder, no gradient
 * rule (gradients are built on the plain chain). The bias is added as each
 * tile of the output is stored, with the same bits as the two ops.
 * Shape: conv2dBiasRelu's. Kernels: js (here), wasm.
 */
import { defineOp } from '@ndgraph/graph';
import type { WindowAttrs } from '../window.ts';
import { convGeometry } from '../kernels/geometry.ts';
import { conv2dForward } from '../kernels/js/conv2d-forward.ts';
import { conv2dBiasShape } from './conv2d-bias-relu.ts';

export const conv2dBiasOp = defineOp<WindowAttrs>({
  name: 'conv2dBias',
  arity: 3,
  inferShape: conv2dBiasShape,
  forward([x, filter, bias], attrs, ctx) {
    const out = ctx.output();
    conv2dForward(x, filter, bias, false, out, convGeometry(x.shape, [filter.shape[0], filter.shape[1]], attrs), ctx);
    return out;
  },
});
