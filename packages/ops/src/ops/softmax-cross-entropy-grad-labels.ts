/**
 * softmaxCrossEntropyGradLabels(dy, logits): the gradient of
 * softmaxCrossEntropy with respect to float labels,
 *
 *   dlabels[n, c] = dy/N · (−log softmax(logits[n, :])[c]) = dy/N · (logsumexp(logits[n, :]) − logits[n, c])
 *
 * computed through log-sum-exp, so it stays finite for huge logits.
 *
 * Shape: logits [N, C], dy the scalar [] gradient of the loss; result [N, C].
 *
 * Gradient, for an upstream gradient V and f = dy/N:
 *   logits: f · (p · Σ_row V − V),  p = softmax(logits)
 *   dy:     Σ V ⊙ softmaxCrossEntropyGradLabels(1, logits)
 */
import { defineOp, ShapeError, formatShape, onesLike, type Node, type OpBuilder } from '@ndgraph/graph';
import { expectFloat } from '../util.ts';
import { divByCount } from './div-by-count.ts';
import { mul } from './mul.ts';
import { softmax } from './softmax.ts';
import { sub } from './sub.ts';
import { sum } from './sum.ts';
import { expectScalarGrad, logSumExp } from './softmax-cross-entropy-shared.ts';

export const softmaxCrossEntropyGradLabelsOp: OpBuilder<Record<string, never>> = defineOp<Record<string, never>>({
  name: 'softmaxCrossEntropyGradLabels',
  arity: 2,
  inferShape([dy, logits]) {
    expectFloat(logits, 'logits');
    if (logits.shape.length !== 2) throw new ShapeError(`logits must be [N, C] (rank 2), found ${formatShape(logits.shape)}`);
    expectScalarGrad(dy, logits);
    return { shape: logits.shape.slice(), dtype: logits.dtype };
  },
  forward([dy, logits], _attrs, ctx) {
    const out = ctx.output();
    const grad = out.data;
    const x = logits.data;
    const [batch, classes] = logits.shape;
    const factor = dy.data[dy.offset] / Math.max(batch, 1);
    for (let n = 0; n < batch; n++) {
      const start = n * classes;
      const lse = logSumExp(x, logits.offset + start, classes);
      for (let c = 0; c < classes; c++) grad[start + c] = factor * (lse - x[logits.offset + start + c]);
    }
    return out;
  },
  grad(ctx, v, node): (Node | null)[] {
    const [dy, logits] = node.inputs;
    const rowSumOfV = sum(v, { axes: [-1], keepDims: true });
    return [
      ctx.needsGrad(0) ? sum(mul(v, softmaxCrossEntropyGradLabelsOp([onesLike([dy]), logits]))) : null,
      ctx.needsGrad(1) ? divByCount(mul(sub(mul(softmax(logits), rowSumOfV), v), dy), logits, [0]) : null,
    ];
  },
});

export const softmaxCrossEntropyGradLabels = (dy: Node, logits: Node, name?: string): Node => softmaxCrossEntropyGradLabelsOp([dy, logits], {}, { name });
