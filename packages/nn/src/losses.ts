/**
 * Losses. Both return a scalar node: the mean over the batch.
 *   crossEntropy: the fused, numerically stable softmax cross-entropy op.
 *   meanSquaredError on the softmax: mean over batch and classes of (softmax(z) − onehot(y))².
 */
import type { Node } from '@ndgraph/graph';
import { mean, oneHot, softmax, softmaxCrossEntropy, square, sub } from '@ndgraph/ops';

export type LossName = 'cross-entropy' | 'mse';

export function crossEntropyLoss(logits: Node, labels: Node): Node {
  return logits.graph.scope('loss', () => softmaxCrossEntropy(logits, labels));
}

export function softmaxMeanSquaredError(logits: Node, labels: Node): Node {
  return logits.graph.scope('loss', () => {
    const classes = logits.shape[1];
    const target = oneHot(labels, classes, logits.dtype === 'float64' ? 'float64' : 'float32');
    return mean(square(sub(softmax(logits), target)));
  });
}

export function lossByName(name: LossName): (logits: Node, labels: Node) => Node {
  if (name === 'cross-entropy') return crossEntropyLoss;
  if (name === 'mse') return softmaxMeanSquaredError;
  throw new RangeError(`unknown loss '${name as string}'; expected 'cross-entropy' or 'mse'`);
}

/** Fraction of rows whose largest logit is at the label's index (first max wins ties). */
export function countCorrect(
  logits: { data: ArrayLike<number>; offset: number; shape: number[] },
  labels: { data: ArrayLike<number>; offset: number },
): number {
  const [n, c] = logits.shape;
  let correct = 0;
  for (let row = 0; row < n; row++) {
    const base = logits.offset + row * c;
    let best = 0;
    for (let k = 1; k < c; k++) if (logits.data[base + k] > logits.data[base + best]) best = k;
    if (best === labels.data[labels.offset + row]) correct++;
  }
  return correct;
}
