/** neg(x) = −x. Gradient: −dy. */
import type { Node } from '@ndgraph/graph';
import { defineUnary } from '../elementwise.ts';

export const negOp = defineUnary({
  name: 'neg',
  forward(x, o, y, n) {
    for (let i = 0; i < n; i++) y[i] = -x[o + i];
  },
  grad: (_c, dy) => neg(dy),
});

export const neg = (x: Node, name?: string): Node => negOp([x], {}, { name });
