/**
 * log(x) = ln x, elementwise. log(0) = −Infinity and log(x < 0) = NaN, as in
 * Math.log. Gradient: dy / x (div of nodes, so it differentiates again).
 */
import type { Node } from '@ndgraph/graph';
import { defineUnary } from '../elementwise.ts';
import { div } from './div.ts';

export const logOp = defineUnary({
  name: 'log',
  forward(x, o, y, n) {
    for (let i = 0; i < n; i++) y[i] = Math.log(x[o + i]);
  },
  grad: (_c, dy, x) => div(dy, x),
});

export const log = (x: Node, name?: string): Node => logOp([x], {}, { name });
