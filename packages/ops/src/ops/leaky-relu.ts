/**
 * leakyRelu(x, alpha = 0.01) = x for x > 0, alpha·x for x ≤ 0, elementwise.
 * Gradient: dy for x > 0, alpha·dy for x ≤ 0 (convention: the slope at 0 is
 * alpha, matching relu'(0) = 0 when alpha = 0). Built as
 * alpha·dy + (1 − alpha)·reluGrad(dy, x), so it needs no kernel of its own and
 * differentiates again (its derivative in x is 0 away from the kink).
 */
import type { Node } from '@ndgraph/graph';
import { defineUnary } from '../elementwise.ts';
import { expectFiniteAttr } from '../util.ts';
import { add } from './add.ts';
import { reluGrad } from './relu-grad.ts';
import { scale } from './scale.ts';

export interface LeakyReluAttrs {
  alpha: number;
}

export const leakyReluOp = defineUnary<LeakyReluAttrs>({
  checkAttrs: (attrs) => expectFiniteAttr(attrs as unknown as Record<string, unknown>, 'alpha'),
  name: 'leakyRelu',
  forward(x, o, y, n, { alpha }) {
    for (let i = 0; i < n; i++) {
      const v = x[o + i];
      y[i] = v > 0 ? v : alpha * v;
    }
  },
  grad: (_c, dy, x, _y, { alpha }) => add(scale(dy, alpha), scale(reluGrad(dy, x), 1 - alpha)),
});

export const leakyRelu = (x: Node, alpha = 0.01, name?: string): Node => leakyReluOp([x], { alpha }, { name });
