/**
 * reduceToShape(x, like): sums x over the dims that broadcasting stretched so
 * that the result has `like`'s shape. Broadcasting ops use it in their
 * gradients; its own gradient broadcasts back (broadcastTo).
 */
import { defineOp, ShapeError, formatShape, shapeMatches, type Node } from '@ndgraph/graph';
import { sumToShapeKernel } from '../kernels/js/broadcast.ts';
import { broadcastShapes } from '../util.ts';
import { broadcastTo } from './broadcast-to.ts';

export const reduceToShapeOp = defineOp<Record<string, never>>({
  name: 'reduceToShape',
  arity: 2,
  inferShape([x, like]) {
    const b = broadcastShapes(like.shape, x.shape);
    if (!shapeMatches(b, x.shape) || b.length !== x.shape.length) {
      throw new ShapeError(`${formatShape(x.shape)} cannot be reduced to ${formatShape(like.shape)} by summing broadcast dims`);
    }
    return { shape: like.shape.slice(), dtype: x.dtype };
  },
  forward([x], _attrs, ctx) {
    const out = ctx.output();
    sumToShapeKernel(x, out);
    return out;
  },
  grad: (_ctx, dy, node) => [broadcastTo(dy, node.inputs[0]), null],
});

/** Returns x unchanged when its static shape already is `like`'s (unknown dims are taken to agree), else the reduction. */
export function reduceToShape(x: Node, like: Node): Node {
  if (x.shape.length === like.shape.length && x.shape.every((d, i) => d === like.shape[i])) return x;
  return reduceToShapeOp([x, like]);
}
