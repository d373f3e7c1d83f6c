/** div(a, b) = a / b, broadcasting. Gradient: d(a/b) = da/b − a·db/b². */
import type { Node } from '@ndgraph/graph';
import { defineBinary } from '../elementwise.ts';
import { reduceToShape } from './reduce-to-shape.ts';
import { mul } from './mul.ts';
import { neg } from './neg.ts';
import { square } from './square.ts';

export const divOp = defineBinary(
  {
    name: 'div',
    fn: (a, b) => a / b,
    grad: (c, dy, a, b) => [c.needsGrad(0) ? div(dy, b) : null, c.needsGrad(1) ? neg(div(mul(dy, a), square(b))) : null],
  },
  reduceToShape,
);

export const div = (a: Node, b: Node, name?: string): Node => divOp([a, b], {}, { name });
