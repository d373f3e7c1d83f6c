/**
 * sigmoid(x) = 1 / (1 + e⁻ˣ), elementwise, computed without overflow for
 * large |x|: for x < 0 as eˣ / (1 + eˣ), so exp never sees a large positive
 * argument.
 * Gradient: dy·y·(1 − y) with y the output, as one sigmoidGrad node whose
 * own gradient is defined, so it differentiates again.
 */
import type { Node } from '@ndgraph/graph';
import { defineUnary } from '../elementwise.ts';
import { sigmoidGrad } from './sigmoid-grad.ts';

export const sigmoidOp = defineUnary({
  name: 'sigmoid',
  forward(x, o, y, n) {
    for (let i = 0; i < n; i++) {
      const v = x[o + i];
      if (v >= 0) {
        y[i] = 1 / (1 + Math.exp(-v));
      } else {
        const e = Math.exp(v);
        y[i] = e / (1 + e);
      }
    }
  },
  grad: (_c, dy, _x, y) => sigmoidGrad(dy, y),
});

export const sigmoid = (x: Node, name?: string): Node => sigmoidOp([x], {}, { name });
