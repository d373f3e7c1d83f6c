/**
 * reshapeLike(x, like): the values of x in row-major order, viewed with the
 * shape of `like` as it is at run time (only like's shape is read). The sizes
 * must agree. It is reshape for targets with unknown (-1) dims, such as the
 * gradient of a reshape whose input has an unknown batch.
 * The output is a view of x's buffer (no copy).
 * Gradient: reshapeLike(dy, x) for x; none for like (a shape is not differentiable).
 */
import { defineOp, ShapeError, formatShape, shapeSize, shapesEqual, wrap, type Node } from '@ndgraph/graph';
import { expectFloat } from '../util.ts';

export const reshapeLikeOp = defineOp<Record<string, never>>({
  name: 'reshapeLike',
  arity: 2,
  inferShape([x, like]) {
    const dtype = expectFloat(x, 'x');
    const known = (s: readonly number[]) => s.every((d) => d >= 0);
    if (known(x.shape) && known(like.shape) && shapeSize(x.shape) !== shapeSize(like.shape)) {
      throw new ShapeError(
        `cannot view ${formatShape(x.shape)} (${shapeSize(x.shape)} elements) as ${formatShape(like.shape)} (${shapeSize(like.shape)} elements)`,
      );
    }
    return { shape: like.shape.slice(), dtype };
  },
  forward([x], _attrs, ctx) {
    return wrap(x.data, ctx.outputSpec.shape, x.offset);
  },
  grad: (_ctx, dy, node) => [reshapeLike(dy, node.inputs[0]), null],
});

/** x viewed with like's shape; returns x itself when both static shapes are equal and fully known. */
export function reshapeLike(x: Node, like: Node, name?: string): Node {
  if (shapesEqual(x.shape, like.shape) && x.shape.every((d) => d >= 0)) return x;
  return reshapeLikeOp([x, like], {}, { name });
}
