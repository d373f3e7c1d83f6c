/**
 * avgPoolGrad(dy, x) — the gradient of avgPool(x) for output gradient dy:
 *   dx[cell] = Σ over windows containing `cell` of dy[window] / count[window]
 * (count = real cells of the window). `x` is read only for its shape.
 * Shape: dy [N, Ho, Wo, C] (avgPool's output shape for x), x [N, H, W, C] → [N, H, W, C].
 * Gradient: the op is linear in dy and its transpose is avgPool itself, so
 * for an upstream g shaped like x: d/d dy = avgPool(g); none for x.
 */
import { buildingNode, defineOp, type FloatArray, type Node } from '@ndgraph/graph';
import { poolAttrs, poolGradSpec, type PoolAttrs, type PoolOptions } from '../window.ts';
import { convGeometry } from '../kernels/geometry.ts';
import { avgPoolBackward } from '../kernels/js/pool.ts';
import { avgPool } from './avg-pool.ts';

export const avgPoolGradOp = defineOp<PoolAttrs>({
  name: 'avgPoolGrad',
  arity: 2,
  inferShape: ([dy, x], attrs) => poolGradSpec(dy, x, attrs, 'avgPool'),
  forward([dy, x], attrs, ctx) {
    const dx = ctx.outputZeros(); // the kernel accumulates
    avgPoolBackward(dy.data as FloatArray, dy.offset, convGeometry(x.shape, attrs.ksize, attrs), dx.data as FloatArray, dx.offset);
    return dx;
  },
  grad: (ctx, g, node) => [ctx.needsGrad(0) ? avgPool(g, node.attrs) : null, null],
});

/** The input gradient of avgPool(x, options) for output gradient `dy`. */
export const avgPoolGrad = (dy: Node, x: Node, options: PoolOptions, name?: string): Node =>
  buildingNode(dy?.graph, 'avgPoolGrad', name, () => avgPoolGradOp([dy, x], poolAttrs(options, 'avgPoolGrad'), { name }));
