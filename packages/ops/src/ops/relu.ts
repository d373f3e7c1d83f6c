/**
 * relu(x) = max(x, 0), elementwise. NaN passes through (so anomaly checks see it).
 * Gradient: reluGrad(dy, x) = dy where x > 0, else 0. Convention: relu'(0) = 0.
 */
import type { Node } from '@ndgraph/graph';
import { defineUnary } from '../elementwise.ts';
import { reluGrad } from './relu-grad.ts';

export const reluOp = defineUnary({
  name: 'relu',
  forward(x, o, y, n) {
    for (let i = 0; i < n; i++) {
      const v = x[o + i];
      y[i] = v < 0 ? 0 : v;
    }
  },
  grad: (_c, dy, x) => reluGrad(dy, x),
});

export const relu = (x: Node, name?: string): Node => reluOp([x], {}, { name });
