/**
 * divByCount(x, like, { axes }): x / n where n = ∏ like.shape[a] over `axes`
 * (normalized, non-negative), read at run time. The gradient of mean uses it
 * when a reduced dim is unknown (-1) until run time, such as the batch: then
 * the count cannot be a constant in the graph. Only like's shape is read.
 * Gradient: divByCount(dy, like) for x (the op is linear in x); none for like.
 */
import { defineOp, ShapeError, formatShape, type Node } from '@ndgraph/graph';
import { expectFloat, sameAs } from '../util.ts';

export interface DivByCountAttrs {
  axes: number[];
}

export const divByCountOp = defineOp<DivByCountAttrs>({
  name: 'divByCount',
  arity: 2,
  inferShape([x, like], { axes }) {
    expectFloat(x, 'x');
    for (const a of axes) {
      if (!Number.isInteger(a) || a < 0 || a >= like.shape.length) {
        throw new ShapeError(`divByCount: axis ${a} is not a dim of like ${formatShape(like.shape)}`);
      }
    }
    return sameAs(x);
  },
  forward([x, like], { axes }, ctx) {
    let count = 1;
    for (const a of axes) count *= like.shape[a];
    const out = ctx.output();
    const inverse = 1 / count;
    for (let i = 0; i < out.size; i++) out.data[i] = x.data[x.offset + i] * inverse;
    return out;
  },
  grad: (_ctx, dy, node) => [divByCount(dy, node.inputs[1], node.attrs.axes), null],
});

export const divByCount = (x: Node, like: Node, axes: readonly number[], name?: string): Node => divByCountOp([x, like], { axes: axes.slice() }, { name });
