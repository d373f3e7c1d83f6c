/**
 * softmax(x) over the last axis: y_i = exp(x_i − m) / Σ_j exp(x_j − m), where
 * m is the row's maximum. Subtracting m changes nothing mathematically but
 * keeps every exp ≤ 1, so large logits cannot overflow.
 *
 * Shape: any x of rank ≥ 1; y has x's shape. Each row (last axis) is normalized
 * on its own.
 *
 * Gradient: dx = y ⊙ (dy − Σ_last(dy ⊙ y)), the op `softmaxGrad(dy, y)`.
 */
import { defineOp, ShapeError, formatShape, type Node } from '@ndgraph/graph';
import { expectFloat, sameAs } from '../util.ts';
import { softmaxGrad } from './softmax-grad.ts';

export const softmaxOp = defineOp<Record<string, never>>({
  name: 'softmax',
  arity: 1,
  inferShape([x]) {
    expectFloat(x, 'x');
    if (x.shape.length < 1) throw new ShapeError(`softmax needs at least one axis (it normalizes the last one), found a scalar ${formatShape(x.shape)}`);
    return sameAs(x);
  },
  forward([x], _attrs, ctx) {
    const out = ctx.output();
    const y = out.data;
    const xd = x.data;
    const classes = x.shape[x.shape.length - 1];
    const rows = classes === 0 ? 0 : x.size / classes;
    for (let r = 0; r < rows; r++) {
      const start = r * classes;
      const xStart = x.offset + start;
      let max = -Infinity;
      for (let c = 0; c < classes; c++) if (xd[xStart + c] > max) max = xd[xStart + c];
      let total = 0;
      for (let c = 0; c < classes; c++) {
        const e = Math.exp(xd[xStart + c] - max);
        y[start + c] = e;
        total += e;
      }
      const inverse = 1 / total;
      for (let c = 0; c < classes; c++) y[start + c] *= inverse;
    }
    return out;
  },
  grad: (_ctx, dy, node) => [softmaxGrad(dy, node)],
});

export const softmax = (x: Node, name?: string): Node => softmaxOp([x], {}, { name });
