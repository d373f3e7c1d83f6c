/** broadcastTo(x, like): repeats x along broadcast dims to `like`'s shape. Gradient: reduceToShape. */
import { defineOp, ShapeError, formatShape, shapeMatches, type Node } from '@ndgraph/graph';
import { broadcastBinary } from '../kernels/js/broadcast.ts';
import { broadcastShapes } from '../util.ts';
import { reduceToShapeOp } from './reduce-to-shape.ts';

export const broadcastToOp = defineOp<Record<string, never>>({
  name: 'broadcastTo',
  arity: 2,
  inferShape([x, like]) {
    const b = broadcastShapes(x.shape, like.shape);
    if (!shapeMatches(b, like.shape) || b.length !== like.shape.length) {
      throw new ShapeError(`${formatShape(x.shape)} cannot be broadcast to ${formatShape(like.shape)}`);
    }
    return { shape: like.shape.slice(), dtype: x.dtype };
  },
  forward([x, like], _attrs, ctx) {
    const out = ctx.output();
    broadcastBinary(x, like, out, (a) => a);
    return out;
  },
  grad: (_ctx, dy, node) => [reduceToShapeOp([dy, node.inputs[0]]), null],
});

export function broadcastTo(x: Node, like: Node): Node {
  if (x.shape.length === like.shape.length && x.shape.every((d, i) => d === like.shape[i])) return x;
  return broadcastToOp([x, like]);
}
