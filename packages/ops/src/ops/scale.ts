/** scale(x, k) = k·x for a constant number k. Gradient: k·dy. */
import type { Node } from '@ndgraph/graph';
import { defineUnary } from '../elementwise.ts';
import { expectFiniteAttr } from '../util.ts';

export interface ScaleAttrs {
  factor: number;
}

export const scaleOp = defineUnary<ScaleAttrs>({
  checkAttrs: (attrs) => expectFiniteAttr(attrs as unknown as Record<string, unknown>, 'factor'),
  name: 'scale',
  forward(x, o, y, n, { factor }) {
    for (let i = 0; i < n; i++) y[i] = factor * x[o + i];
  },
  grad: (_c, dy, _x, _y, { factor }) => scale(dy, factor),
});

export const scale = (x: Node, factor: number, name?: string): Node => scaleOp([x], { factor }, { name });
