/**
 * flatten(x): [N, d1, d2, ...] → [N, d1·d2·…], keeping the leading (batch)
 * dim; a rank-1 [N] becomes [N, 1]. A view of x's buffer, like reshape.
 * It is its own op so that it works whatever dims are unknown (reshape allows
 * only one -1): the output's shape is computed from x's shape at run time.
 * Gradient: reshapeLike(dy, x).
 */
import { defineOp, ShapeError, formatShape, shapeSize, wrap, type Node } from '@ndgraph/graph';
import { expectFloat } from '../util.ts';
import { reshapeLike } from './reshape-like.ts';

export const flattenOp = defineOp<Record<string, never>>({
  name: 'flatten',
  arity: 1,
  inferShape([x]) {
    const dtype = expectFloat(x, 'x');
    if (x.shape.length < 1) throw new ShapeError(`flatten needs rank ≥ 1 (a leading batch dim), found the scalar shape ${formatShape(x.shape)}`);
    const rest = x.shape.slice(1);
    return { shape: [x.shape[0], rest.some((d) => d < 0) ? -1 : shapeSize(rest)], dtype };
  },
  forward([x], _attrs, ctx) {
    return wrap(x.data, ctx.outputSpec.shape, x.offset);
  },
  grad: (_ctx, dy, node) => [reshapeLike(dy, node.inputs[0])],
});

export const flatten = (x: Node, name?: string): Node => flattenOp([x], {}, { name });
