/**
 * maxPoolGrad(dy, x) — the gradient of maxPool(x) for output gradient dy:
 *   dx[cell] = Σ over windows whose first maximum (row-major scan) is `cell` of dy[window]
 * The maxima are found again from x (no state is kept from the forward run).
 * Ties: only the first maximum of a window receives its dy.
 * Shape: dy [N, Ho, Wo, C] (maxPool's output shape for x), x [N, H, W, C] → [N, H, W, C].
 * With the attribute `positiveOnly` (x is the output of a relu, and the
 * gradient is wanted on through that relu), cells where x ≤ 0 get 0: the
 * result is reluGrad(maxPoolGrad(dy, x), x) in one pass over memory
 * instead of two. A fusion rule (fusion-rules.ts) plans it for maxPoolGrad followed by reluGrad.
 * Gradient: it is linear in dy, so with respect to dy it is its transpose,
 * maxPoolGather(ddx, x) (each window takes ddx at its first maximum); with
 * respect to x it is zero (the chosen cells only jump at ties). So second
 * and higher derivatives flow through max pooling.
 * Kernels: js (here), wasm (same results).
 */
import { buildingNode, defineOp, type FloatArray, type Node, type OpBuilder } from '@ndgraph/graph';
import { poolAttrs, poolGradSpec, type PoolAttrs, type PoolOptions } from '../window.ts';
import { convGeometry } from '../kernels/geometry.ts';
import { maxPoolBackward } from '../kernels/js/pool.ts';
import { maxPoolGatherOp } from './max-pool-gather.ts';

export interface MaxPoolGradAttrs extends PoolAttrs {
  /** Also pass the gradient back through the relu that produced x: 0 where x ≤ 0. */
  positiveOnly?: boolean;
}

export const maxPoolGradOp: OpBuilder<MaxPoolGradAttrs> = defineOp<MaxPoolGradAttrs>({
  name: 'maxPoolGrad',
  arity: 2,
  inferShape: ([dy, x], attrs) => poolGradSpec(dy, x, attrs, 'maxPool'),
  forward([dy, x], attrs, ctx) {
    const g = convGeometry(x.shape, attrs.ksize, attrs);
    const dx = ctx.outputZeros(); // accumulates
    maxPoolBackward(dy.data as FloatArray, dy.offset, x.data as FloatArray, x.offset, g, dx.data as FloatArray, dx.offset, attrs.positiveOnly);
    return dx;
  },
  grad: (ctx, ddx, node): (Node | null)[] => [ctx.needsGrad(0) ? maxPoolGatherOp([ddx, node.inputs[1]], node.attrs) : null, null],
});

/** The input gradient of maxPool(x, options) for output gradient `dy` (with `positiveOnly`, on through the relu that made x). */
export const maxPoolGrad = (dy: Node, x: Node, options: PoolOptions & { positiveOnly?: boolean }, name?: string): Node =>
  buildingNode(dy?.graph, 'maxPoolGrad', name, () =>
    maxPoolGradOp([dy, x], { ...poolAttrs(options, 'maxPoolGrad', ['positiveOnly']), positiveOnly: options.positiveOnly ?? false }, { name }),
  );
