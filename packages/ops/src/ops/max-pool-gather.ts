/**
 * maxPoolGather(g, x) — the transpose of maxPoolGrad(·, x): each window of a
 * max pool over x takes g's value at the window's FIRST maximum (row-major
 * scan order, as in maxPoolGrad):
 *   out[n, oh, ow, c] = g[n, ih*, iw*, c]   where (ih*, iw*) is that cell
 * With `positiveOnly` (the transpose of maxPoolGrad's), 0 where x at that
 * cell is not positive.
 * Shape: g [N, H, W, C] (x's shape), x [N, H, W, C] → maxPool's output [N, Ho, Wo, C].
 * Gradient: with respect to g, maxPoolGrad(dout, x) with the same attributes
 * (gather and scatter are each other's transposes); with respect to x, zero:
 * the choice of cell only jumps where x has ties, and is constant elsewhere.
 * It is what maxPoolGrad's own gradient is built from, so gradients of any
 * order flow through max pooling.
 * Kernel: plain TypeScript (it only appears in second and higher derivatives).
 */
import { buildingNode, ShapeError, defineOp, formatShape, type FloatArray, type Node, type OpBuilder } from '@ndgraph/graph';
import { poolAttrs, poolSpec, type PoolOptions } from '../window.ts';
import { convGeometry } from '../kernels/geometry.ts';
import { gatherAtFirstMaxima } from '../kernels/js/pool.ts';
import { dimsAgree, expectSameFloat } from '../util.ts';
import { maxPoolGradOp, type MaxPoolGradAttrs } from './max-pool-grad.ts';

export const maxPoolGatherOp: OpBuilder<MaxPoolGradAttrs> = defineOp<MaxPoolGradAttrs>({
  name: 'maxPoolGather',
  arity: 2,
  inferShape([g, x], attrs) {
    const spec = poolSpec(x, attrs);
    expectSameFloat([g, x], ['g', 'x']);
    if (g.shape.length !== x.shape.length || !g.shape.every((d, i) => dimsAgree(d, x.shape[i]))) {
      throw new ShapeError(`g must have x's shape ${formatShape(x.shape)}, found ${formatShape(g.shape)}`);
    }
    return spec;
  },
  forward([g, x], attrs, ctx) {
    const out = ctx.output(); // every element is written
    gatherAtFirstMaxima(
      g.data as FloatArray,
      g.offset,
      x.data as FloatArray,
      x.offset,
      convGeometry(x.shape, attrs.ksize, attrs),
      out.data as FloatArray,
      out.offset,
      attrs.positiveOnly,
    );
    return out;
  },
  grad: (ctx, dout, node): (Node | null)[] => [ctx.needsGrad(0) ? maxPoolGradOp([dout, node.inputs[1]], node.attrs) : null, null],
});

/** maxPoolGather(g, x, options): each window of maxPool(x, options) takes g at its first maximum. */
export const maxPoolGather = (g: Node, x: Node, options: PoolOptions & { positiveOnly?: boolean }, name?: string): Node =>
  buildingNode(g?.graph, 'maxPoolGather', name, () =>
    maxPoolGatherOp([g, x], { ...poolAttrs(options, 'maxPoolGather', ['positiveOnly']), positiveOnly: options.positiveOnly ?? false }, { name }),
  );
