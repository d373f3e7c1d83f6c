/** sub(a, b) = a − b, broadcasting. Gradient: (dy, −dy), each reduced to its input's shape. */
import type { Node } from '@ndgraph/graph';
import { defineBinary } from '../elementwise.ts';
import { reduceToShape } from './reduce-to-shape.ts';
import { neg } from './neg.ts';

export const subOp = defineBinary({ name: 'sub', fn: (a, b) => a - b, grad: (c, dy) => [dy, c.needsGrad(1) ? neg(dy) : null] }, reduceToShape);

export const sub = (a: Node, b: Node, name?: string): Node => subOp([a, b], {}, { name });
