/**
 * conv2dBiasReluMaxPool(x, filter, bias) = maxPool(relu(conv2d(x, filter) + bias)):
 * the fused kernel the planner runs for the chain conv2d → biasAdd → relu →
 * maxPool (see fusion-rules.ts) when nothing else reads the activation: in
 * inference. (A training step keeps the activation for maxPoolGrad and
 * reluGrad, so it runs conv2dBiasRelu and maxPool instead.) Plan-only like
 * conv2dBiasRelu: no builder, no gradient rule.
 * The wasm kernel pools a few images' activations at a time while they are
 * still in the cache, so the full-size activation is never written to
 * memory and read back. relu and max are exact, so the values are the four
 * ops' bit for bit.
 * Attributes: `conv` (the convolution's strides and padding) and `pool`
 * (the pool's ksize, strides and padding).
 * Shape: x [N, H, W, Cin], filter [kh, kw, Cin, Cout], bias [Cout] → maxPool's
 * output for conv2dBiasRelu's [N, Ho, Wo, Cout].
 * Kernels: js (here), wasm, native.
 */
import { defineOp, type FloatArray, type TensorSpec } from '@ndgraph/graph';
import { conv2dOutputShape, type PoolAttrs, poolSpec, type WindowAttrs } from '../window.ts';
import { convGeometry } from '../kernels/geometry.ts';
import { conv2dForward } from '../kernels/js/conv2d-forward.ts';
import { maxPoolForward } from '../kernels/js/pool.ts';
import { conv2dBiasShape } from './conv2d-bias-relu.ts';

export interface ConvPoolAttrs {
  conv: WindowAttrs;
  pool: PoolAttrs;
}

export const conv2dBiasReluMaxPoolOp = defineOp<ConvPoolAttrs>({
  name: 'conv2dBiasReluMaxPool',
  arity: 3,
  inferShape: (inputs: TensorSpec[], attrs) => poolSpec(conv2dBiasShape(inputs, attrs.conv), attrs.pool),
  forward([x, filter, bias], attrs, ctx) {
    const activation = ctx.scratch(conv2dOutputShape(x.shape, filter.shape, attrs.conv), x.dtype);
    conv2dForward(x, filter, bias, true, activation, convGeometry(x.shape, [filter.shape[0], filter.shape[1]], attrs.conv), ctx);
    const out = ctx.output();
    maxPoolForward(
      activation.data as FloatArray,
      activation.offset,
      convGeometry(activation.shape, attrs.pool.ksize, attrs.pool),
      out.data as FloatArray,
      out.offset,
    );
    return out;
  },
});
