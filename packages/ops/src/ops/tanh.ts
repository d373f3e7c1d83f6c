/**
 * tanh(x), elementwise (Math.tanh saturates to ±1 without overflow).
 * Gradient: dy·(1 − y²) with y the output, as one tanhGrad node whose own
 * gradient is defined, so it differentiates again: d²/dx² tanh = −2·y·(1 − y²).
 */
import type { Node } from '@ndgraph/graph';
import { defineUnary } from '../elementwise.ts';
import { tanhGrad } from './tanh-grad.ts';

export const tanhOp = defineUnary({
  name: 'tanh',
  forward(x, o, y, n) {
    for (let i = 0; i < n; i++) y[i] = Math.tanh(x[o + i]);
  },
  grad: (_c, dy, _x, y) => tanhGrad(dy, y),
});

export const tanh = (x: Node, name?: string): Node => tanhOp([x], {}, { name });
