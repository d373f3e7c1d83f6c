/**
 * softmaxGrad(dy, y) = y ⊙ (dy − Σ_last(dy ⊙ y)): the vector-Jacobian product
 * of softmax, given its output y. The softmax Jacobian diag(y) − y·yᵀ is applied
 * row by row (rows = the last axis).
 *
 * Shape: dy and y have the same shape (rank ≥ 1); so does the result.
 *
 * Gradient (so softmax differentiates twice): the result is linear in dy and
 * the Jacobian is symmetric, so the gradient w.r.t. dy is softmaxGrad(g, y).
 * The gradient w.r.t. y is g ⊙ (dy − Σ dy⊙y) − dy ⊙ Σ(g⊙y), the op
 * `softmaxGradBackpropY(g, dy, y)`.
 */
import { defineOp, type Node } from '@ndgraph/graph';
import { softmaxGradShape, softmaxGradBackpropY } from './softmax-grad-backprop-y.ts';

export const softmaxGradOp = defineOp<Record<string, never>>({
  name: 'softmaxGrad',
  arity: 2,
  inferShape: (inputs) => softmaxGradShape(inputs, ['dy', 'y']),
  forward([dy, y], _attrs, ctx) {
    const out = ctx.output();
    const dx = out.data;
    const g = dy.data,
      yd = y.data;
    const classes = y.shape[y.shape.length - 1];
    const rows = classes === 0 ? 0 : y.size / classes;
    for (let r = 0; r < rows; r++) {
      const start = r * classes;
      const gStart = dy.offset + start;
      const yStart = y.offset + start;
      let dot = 0;
      for (let c = 0; c < classes; c++) dot += g[gStart + c] * yd[yStart + c];
      for (let c = 0; c < classes; c++) dx[start + c] = yd[yStart + c] * (g[gStart + c] - dot);
    }
    return out;
  },
  grad(ctx, g, node) {
    const [dy, y] = node.inputs;
    return [ctx.needsGrad(0) ? softmaxGrad(g, y) : null, ctx.needsGrad(1) ? softmaxGradBackpropY(g, dy, y) : null];
  },
});

export const softmaxGrad = (dy: Node, y: Node, name?: string): Node => softmaxGradOp([dy, y], {}, { name });
