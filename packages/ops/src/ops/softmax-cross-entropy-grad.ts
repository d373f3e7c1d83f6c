/**
 * softmaxCrossEntropyGrad(logits, labels, dy): the gradient of
 * softmaxCrossEntropy with respect to the logits,
 *
 *   dlogits[n, c] = dy/N · (p[n, c] · Σ_k labels[n, k] − labels[n, c]),   p = softmax(logits[n, :])
 *
 * which is the familiar dy·(p − onehot)/N when each label row sums to 1 (int
 * labels, one-hot rows, probability rows). The general form keeps the
 * gradient exact for label rows that do not sum to 1.
 *
 * Shape: logits [N, C]; labels int32 [N] or float [N, C]; dy the scalar []
 * gradient of the loss. Result [N, C] like logits. Int labels outside [0, C)
 * throw at run time, naming the row and the value.
 *
 * Gradient: none (second derivatives of the fused loss are not supported;
 * asking for one makes `gradients` throw, naming this op).
 */
import { defineOp, type Node } from '@ndgraph/graph';
import { classIndex, crossEntropyShape, expectScalarGrad, logSumExp } from './softmax-cross-entropy-shared.ts';

export const softmaxCrossEntropyGradOp = defineOp<Record<string, never>>({
  name: 'softmaxCrossEntropyGrad',
  arity: 3,
  inferShape([logits, labels, dy]) {
    const shape = crossEntropyShape(logits, labels);
    expectScalarGrad(dy, logits);
    return { shape, dtype: logits.dtype };
  },
  forward([logits, labels, dy], _attrs, ctx) {
    const out = ctx.output();
    const grad = out.data;
    const x = logits.data;
    const [batch, classes] = logits.shape;
    const intLabels = labels.dtype === 'int32';
    // Mean over the batch; an empty batch has a zero loss and no gradient.
    const factor = dy.data[dy.offset] / Math.max(batch, 1);
    for (let n = 0; n < batch; n++) {
      const start = n * classes;
      const lse = logSumExp(x, logits.offset + start, classes);
      if (intLabels) {
        const label = classIndex(labels, n, classes);
        for (let c = 0; c < classes; c++) grad[start + c] = factor * Math.exp(x[logits.offset + start + c] - lse);
        grad[start + label] -= factor;
      } else {
        const l = labels.data;
        const lStart = labels.offset + start;
        let labelSum = 0;
        for (let c = 0; c < classes; c++) labelSum += l[lStart + c];
        for (let c = 0; c < classes; c++) grad[start + c] = factor * (Math.exp(x[logits.offset + start + c] - lse) * labelSum - l[lStart + c]);
      }
    }
    return out;
  },
});

export const softmaxCrossEntropyGrad = (logits: Node, labels: Node, dy: Node, name?: string): Node =>
  softmaxCrossEntropyGradOp([logits, labels, dy], {}, { name });
