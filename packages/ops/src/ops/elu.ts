/**
 * elu(x, alpha = 1) = x for x > 0, alpha·(eˣ − 1) for x ≤ 0, elementwise
 * (expm1 keeps small negative x accurate).
 * Gradient: eluGrad(dy, x) = dy for x > 0, dy·alpha·eˣ for x ≤ 0 (convention
 * at 0: alpha, the left slope; with alpha = 1 both sides agree).
 */
import type { Node } from '@ndgraph/graph';
import { defineUnary } from '../elementwise.ts';
import { expectFiniteAttr } from '../util.ts';
import { eluGrad, type EluAttrs } from './elu-grad.ts';

export const eluOp = defineUnary<EluAttrs>({
  checkAttrs: (attrs) => expectFiniteAttr(attrs as unknown as Record<string, unknown>, 'alpha'),
  name: 'elu',
  forward(x, o, y, n, { alpha }) {
    for (let i = 0; i < n; i++) {
      const v = x[o + i];
      y[i] = v > 0 ? v : alpha * Math.expm1(v);
    }
  },
  grad: (_c, dy, x, _y, { alpha }) => eluGrad(dy, x, alpha),
});

export const elu = (x: Node, alpha = 1, name?: string): Node => eluOp([x], { alpha }, { name });
