/** square(x) = x². Gradient: 2x·dy (built from mul and scale, so it differentiates again). */
import type { Node } from '@ndgraph/graph';
import { defineUnary } from '../elementwise.ts';
import { mul } from './mul.ts';
import { scale } from './scale.ts';

export const squareOp = defineUnary({
  name: 'square',
  forward(x, o, y, n) {
    for (let i = 0; i < n; i++) y[i] = x[o + i] * x[o + i];
  },
  grad: (_c, dy, x) => mul(dy, scale(x, 2)),
});

export const square = (x: Node, name?: string): Node => squareOp([x], {}, { name });
