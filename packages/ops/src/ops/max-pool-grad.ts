/**
 * maxPoolGrad(dy, x) — the gradient of maxPool(x) for output gradient dy:
 *   dx[cell] = Σ over windows whose first maximum (row-major scan) is `cell` of dy[window]
 * The maxima are found again from x (no state is kept from the forward run).
 * Ties: only the first maximum of a window receives its dy.
 * Shape: dy [N, Ho, Wo, C] (maxPool's output shape for x), x [N, H, W, C] → [N, H, W, C].
 * With the attribute `positiveOnly` (x is the output of a relu, and the
 * gradient is wanted on through that relu), cells where x ≤ 0 get 0: the
 * result is reluGrad(maxPoolGrad(dy, x), x) in one pass over memory
 * instead of two. The fused conv layer's gradient uses it (conv2d-bias-relu.ts).
 * Gradient: none. (It is linear in dy, but its transpose — gathering at each
 * window's maximum — is not an op here yet; with respect to x it is zero
 * almost everywhere.) Differentiating through it raises a GradientError.
 * Kernel: WebAssembly SIMD for float32, plain TypeScript otherwise (same results).
 */
import { defineOp, type FloatArray, type Node } from '@ndgraph/graph';
import { convGeometry, poolAttrs, poolGradSpec, type PoolAttrs, type PoolOptions } from '../kernels/conv-geometry.ts';
import { maxPoolBackward } from '../kernels/pool.ts';
import { maxPoolBackwardWasm } from '../kernels/wasm/pool-wasm.ts';

export interface MaxPoolGradAttrs extends PoolAttrs {
  /** Also pass the gradient back through the relu that produced x: 0 where x ≤ 0. */
  positiveOnly?: boolean;
}

export const maxPoolGradOp = defineOp<MaxPoolGradAttrs>({
  name: 'maxPoolGrad',
  arity: 2,
  inferShape: ([dy, x], attrs) => poolGradSpec(dy, x, attrs, 'maxPool'),
  forward([dy, x], attrs, ctx) {
    const g = convGeometry(x.shape, attrs.ksize, attrs);
    if (dy.data instanceof Float32Array && x.data instanceof Float32Array) {
      const dx = ctx.output(); // the WebAssembly kernel writes every element
      if (maxPoolBackwardWasm(dy.data, dy.offset, x.data, x.offset, g, dx.data as Float32Array, dx.offset, attrs.positiveOnly)) return dx;
    }
    const dx = ctx.outputZeros(); // the TypeScript kernel accumulates
    maxPoolBackward(dy.data as FloatArray, dy.offset, x.data as FloatArray, x.offset, g, dx.data as FloatArray, dx.offset, attrs.positiveOnly);
    return dx;
  },
});

/** The input gradient of maxPool(x, options) for output gradient `dy`. */
export const maxPoolGrad = (dy: Node, x: Node, options: PoolOptions, name?: string): Node => maxPoolGradOp([dy, x], poolAttrs(options), { name });
