/**
 * avgPool(x) — the mean of each window, per channel, NHWC:
 *   y[n, oh, ow, c] = (1 / count) · Σ over the window's real cells of x[n, ih, iw, c]
 * where count is the number of real (non-padding) cells, as in TensorFlow.
 * Shape: x [N, H, W, C] → [N, Ho, Wo, C]; `ksize` is the window, `strides`
 * default to `ksize`, `padding` to 'valid'.
 * Gradient: avgPoolGrad(dy, x) — each output's dy / count goes to every real
 * cell of its window.
 */
import { buildingNode, defineOp, type FloatArray, type Node } from '@ndgraph/graph';
import { poolAttrs, poolSpec, type PoolAttrs, type PoolOptions } from '../window.ts';
import { convGeometry } from '../kernels/geometry.ts';
import { avgPoolForward } from '../kernels/js/pool.ts';
import { avgPoolGrad } from './avg-pool-grad.ts';

export const avgPoolOp = defineOp<PoolAttrs>({
  name: 'avgPool',
  arity: 1,
  inferShape: ([x], attrs) => poolSpec(x, attrs),
  forward([x], attrs, ctx) {
    const out = ctx.output();
    avgPoolForward(x.data as FloatArray, x.offset, convGeometry(x.shape, attrs.ksize, attrs), out.data as FloatArray, out.offset);
    return out;
  },
  grad: (_ctx, dy, node) => [avgPoolGrad(dy, node.inputs[0], node.attrs)],
});

/** Average pooling of NHWC `x` over `ksize` windows. */
export const avgPool = (x: Node, options: PoolOptions, name?: string): Node =>
  buildingNode(x?.graph, 'avgPool', name, () => avgPoolOp([x], poolAttrs(options, 'avgPool'), { name }));
