/**
 * sqrt(x) = √x, elementwise; NaN for x < 0, as in Math.sqrt.
 * Gradient: dy / (2√x), built from div and scale of the output node so it
 * differentiates again. At x = 0 the gradient is dy/0 (±Infinity, or NaN
 * where dy = 0): the derivative does not exist there.
 */
import type { Node } from '@ndgraph/graph';
import { defineUnary } from '../elementwise.ts';
import { div } from './div.ts';
import { scale } from './scale.ts';

export const sqrtOp = defineUnary({
  name: 'sqrt',
  forward(x, o, y, n) {
    for (let i = 0; i < n; i++) y[i] = Math.sqrt(x[o + i]);
  },
  grad: (_c, dy, _x, y) => div(dy, scale(y, 2)),
});

export const sqrt = (x: Node, name?: string): Node => sqrtOp([x], {}, { name });
