/**
 * softmaxCrossEntropyGrad(dy, logits, labels): the gradient of
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
 * Gradient (so the loss differentiates twice: Hessian-vector products), for
 * an upstream gradient V shaped like the result, with f = dy/N and S the
 * label row sums (1 for int labels):
 *   logits: f · S · softmaxGrad(V, p)   (the softmax Jacobian is symmetric)
 *   dy:     Σ V ⊙ softmaxCrossEntropyGrad(1, logits, labels)
 *   float labels: f · (Σ_row V ⊙ p − V);  int labels: none.
 * The 1/N is divByCount over the batch, read at run time.
 */
import { defineOp, onesLike, type Node, type OpBuilder } from '@ndgraph/graph';
import { divByCount } from './div-by-count.ts';
import { mul } from './mul.ts';
import { softmax } from './softmax.ts';
import { softmaxGrad } from './softmax-grad.ts';
import { sub } from './sub.ts';
import { sum } from './sum.ts';
import { classIndex, crossEntropyShape, expectScalarGrad, logSumExp } from './softmax-cross-entropy-shared.ts';

export const softmaxCrossEntropyGradOp: OpBuilder<Record<string, never>> = defineOp<Record<string, never>>({
  name: 'softmaxCrossEntropyGrad',
  arity: 3,
  inferShape([dy, logits, labels]) {
    const shape = crossEntropyShape(logits, labels);
    expectScalarGrad(dy, logits);
    return { shape, dtype: logits.dtype };
  },
  forward([dy, logits, labels], _attrs, ctx) {
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
  grad(ctx, v, node): (Node | null)[] {
    const [dy, logits, labels] = node.inputs;
    const intLabels = labels.dtype === 'int32';
    const p = softmax(logits);
    // f · X: times dy, then divided by the batch size at run time.
    const timesF = (x: Node) => divByCount(mul(x, dy), logits, [0]);
    const rowSum = (x: Node) => sum(x, { axes: [-1], keepDims: true });
    const vp = softmaxGrad(v, p);
    return [
      ctx.needsGrad(0) ? sum(mul(v, softmaxCrossEntropyGradOp([onesLike([dy]), logits, labels]))) : null,
      ctx.needsGrad(1) ? timesF(intLabels ? vp : mul(vp, rowSum(labels))) : null,
      !intLabels && ctx.needsGrad(2) ? timesF(sub(rowSum(mul(v, p)), v)) : null,
    ];
  },
});

export const softmaxCrossEntropyGrad = (dy: Node, logits: Node, labels: Node, name?: string): Node =>
  softmaxCrossEntropyGradOp([dy, logits, labels], {}, { name });
