/** exp(x) = eˣ, elementwise. Gradient: dy·y with y = eˣ (mul of nodes, so it differentiates again). */
import type { Node } from '@ndgraph/graph';
import { defineUnary } from '../elementwise.ts';
import { mul } from './mul.ts';

export const expOp = defineUnary({
  name: 'exp',
  forward(x, o, y, n) {
    for (let i = 0; i < n; i++) y[i] = Math.exp(x[o + i]);
  },
  grad: (_c, dy, _x, y) => mul(dy, y),
});

export const exp = (x: Node, name?: string): Node => expOp([x], {}, { name });
