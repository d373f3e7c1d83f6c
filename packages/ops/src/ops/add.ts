/** add(a, b) = a + b, broadcasting (NumPy rules). The residual connection is `add`. */
import type { Node } from '@ndgraph/graph';
import { defineBinary } from '../elementwise.ts';
import { reduceToShape } from './reduce-to-shape.ts';

export const addOp = defineBinary({ name: 'add', fn: (a, b) => a + b, grad: (_c, dy) => [dy, dy] }, reduceToShape);

export const add = (a: Node, b: Node, name?: string): Node => addOp([a, b], {}, { name });
