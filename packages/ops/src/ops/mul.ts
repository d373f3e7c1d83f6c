/** mul(a, b) = a ⊙ b, broadcasting. Gradient: d(ab) = b·da + a·db. */
import type { Node } from '@ndgraph/graph';
import { defineBinary } from '../elementwise.ts';
import { reduceToShape } from './reduce-to-shape.ts';

export const mulOp = defineBinary(
  { name: 'mul', fn: (a, b) => a * b, grad: (c, dy, a, b) => [c.needsGrad(0) ? mul(dy, b) : null, c.needsGrad(1) ? mul(dy, a) : null] },
  reduceToShape,
);

export const mul = (a: Node, b: Node, name?: string): Node => mulOp([a, b], {}, { name });
