/**
 * softplus(x) = log(1 + eˣ), elementwise, computed stably as
 * max(x, 0) + log1p(e^(−|x|)): no overflow for large x, no loss of the
 * small result for very negative x.
 * Gradient: dy·sigmoid(x).
 */
import type { Node } from '@ndgraph/graph';
import { defineUnary } from '../elementwise.ts';
import { mul } from './mul.ts';
import { sigmoid } from './sigmoid.ts';

export const softplusOp = defineUnary({
  name: 'softplus',
  forward(x, o, y, n) {
    for (let i = 0; i < n; i++) {
      const v = x[o + i];
      y[i] = (v > 0 ? v : 0) + Math.log1p(Math.exp(-Math.abs(v)));
    }
  },
  grad: (_c, dy, x) => mul(dy, sigmoid(x)),
});

export const softplus = (x: Node, name?: string): Node => softplusOp([x], {}, { name });
