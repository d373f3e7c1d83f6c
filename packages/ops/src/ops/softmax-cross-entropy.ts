/**
 * softmaxCrossEntropy(logits, labels): the mean over the batch of the cross
 * entropy between the labels and softmax(logits),
 *
 *   loss = (1/N) Σ_n Σ_c −labels[n, c] · log softmax(logits[n, :])[c]
 *        = (1/N) Σ_n Σ_c labels[n, c] · (logsumexp(logits[n, :]) − logits[n, c])
 *
 * Fused and stable: log softmax is computed as x − logsumexp(x), with the row
 * maximum taken out of the exponentials, so logits of ±1e4 give a finite loss
 * (a separate softmax followed by log would give log(0) = −∞ there).
 *
 * Shape: logits [N, C] float; labels either int32 [N] (class indices, read as
 * one-hot rows) or float [N, C] (one-hot rows or probabilities), same dtype as
 * the logits. Result: scalar []. A class index outside [0, C) throws at run
 * time, naming the row and the value. An empty batch (N = 0) has loss 0.
 *
 * Gradient: w.r.t. logits dy·(softmax(logits) − labels)/N, the op
 * `softmaxCrossEntropyGrad`; w.r.t. float labels dy·(−log softmax(logits))/N,
 * the op `softmaxCrossEntropyGradLabels`; int labels have none (null).
 */
import { defineOp, type Node } from '@ndgraph/graph';
import { classIndex, crossEntropyShape, logSumExp } from './softmax-cross-entropy-shared.ts';
import { softmaxCrossEntropyGrad } from './softmax-cross-entropy-grad.ts';
import { softmaxCrossEntropyGradLabels } from './softmax-cross-entropy-grad-labels.ts';

export const softmaxCrossEntropyOp = defineOp<Record<string, never>>({
  name: 'softmaxCrossEntropy',
  arity: 2,
  inferShape([logits, labels]) {
    crossEntropyShape(logits, labels);
    return { shape: [], dtype: logits.dtype };
  },
  forward([logits, labels], _attrs, ctx) {
    const out = ctx.output();
    const x = logits.data;
    const [batch, classes] = logits.shape;
    let total = 0;
    for (let n = 0; n < batch; n++) {
      const start = logits.offset + n * classes;
      const lse = logSumExp(x, start, classes);
      if (labels.dtype === 'int32') {
        total += lse - x[start + classIndex(labels, n, classes)];
      } else {
        const l = labels.data;
        const lStart = labels.offset + n * classes;
        // Skip zero labels: a class with label 0 adds nothing, even when its logit is −∞ (a masked class).
        for (let c = 0; c < classes; c++) if (l[lStart + c] !== 0) total += l[lStart + c] * (lse - x[start + c]);
      }
    }
    out.data[0] = total / Math.max(batch, 1);
    return out;
  },
  grad(ctx, dy, node) {
    const [logits, labels] = node.inputs;
    const floatLabels = labels.dtype !== 'int32';
    return [
      ctx.needsGrad(0) ? softmaxCrossEntropyGrad(dy, logits, labels) : null,
      floatLabels && ctx.needsGrad(1) ? softmaxCrossEntropyGradLabels(dy, logits) : null,
    ];
  },
});

export const softmaxCrossEntropy = (logits: Node, labels: Node, name?: string): Node => softmaxCrossEntropyOp([logits, labels], {}, { name });
