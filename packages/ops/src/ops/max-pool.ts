/**
 * maxPool(x) — the maximum of each window, per channel, NHWC:
 *   y[n, oh, ow, c] = max over the window's real cells of x[n, ih, iw, c]
 * (padding cells never win).
 * Shape: x [N, H, W, C] → [N, Ho, Wo, C]; `ksize` is the window, `strides`
 * default to `ksize`, `padding` to 'valid'.
 * Gradient: maxPoolGrad(dy, x) — each output's dy goes to the FIRST maximum of
 * its window in row-major scan order (the convention at ties, where max is
 * not differentiable); overlapping windows add up.
 * Kernels: js (here), wasm (same results).
 */
import { buildingNode, defineOp, type FloatArray, type Node } from '@ndgraph/graph';
import { poolAttrs, poolSpec, type PoolAttrs, type PoolOptions } from '../window.ts';
import { convGeometry } from '../kernels/geometry.ts';
import { maxPoolForward } from '../kernels/js/pool.ts';
import { maxPoolGrad } from './max-pool-grad.ts';

export const maxPoolOp = defineOp<PoolAttrs>({
  name: 'maxPool',
  arity: 1,
  inferShape: ([x], attrs) => poolSpec(x, attrs),
  forward([x], attrs, ctx) {
    const out = ctx.output();
    const g = convGeometry(x.shape, attrs.ksize, attrs);
    maxPoolForward(x.data as FloatArray, x.offset, g, out.data as FloatArray, out.offset);
    return out;
  },
  grad: (_ctx, dy, node) => [maxPoolGrad(dy, node.inputs[0], node.attrs)],
});

/** Max pooling of NHWC `x` over `ksize` windows. */
export const maxPool = (x: Node, options: PoolOptions, name?: string): Node =>
  buildingNode(x?.graph, 'maxPool', name, () => maxPoolOp([x], poolAttrs(options, 'maxPool'), { name }));
