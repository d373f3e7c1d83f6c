/**
 * softmaxCrossEntropyGradLabels(logits, dy): the gradient of
 * softmaxCrossEntropy with respect to float labels,
 *
 *   dlabels[n, c] = dy/N · (−log softmax(logits[n, :])[c]) = dy/N · (logsumexp(logits[n, :]) − logits[n, c])
 *
 * computed through log-sum-exp, so it stays finite for huge logits.
 *
 * Shape: logits [N, C], dy the scalar [] gradient of the loss; result [N, C].
 *
 * Gradient: none (asking for one makes `gradients` throw, naming this op).
 */
import { defineOp, ShapeError, formatShape, type Node } from '@ndgraph/graph';
import { expectFloat } from '../util.ts';
import { expectScalarGrad, logSumExp } from './softmax-cross-entropy-shared.ts';

export const softmaxCrossEntropyGradLabelsOp = defineOp<Record<string, never>>({
  name: 'softmaxCrossEntropyGradLabels',
  arity: 2,
  inferShape([logits, dy]) {
    expectFloat(logits, 'logits');
    if (logits.shape.length !== 2) throw new ShapeError(`logits must be [N, C] (rank 2), found ${formatShape(logits.shape)}`);
    expectScalarGrad(dy, logits);
    return { shape: logits.shape.slice(), dtype: logits.dtype };
  },
  forward([logits, dy], _attrs, ctx) {
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
});

export const softmaxCrossEntropyGradLabels = (logits: Node, dy: Node, name?: string): Node => softmaxCrossEntropyGradLabelsOp([logits, dy], {}, { name });
