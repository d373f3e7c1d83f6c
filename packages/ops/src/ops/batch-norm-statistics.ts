/**
 * batchNormStatistics(x, runningMean, runningVar, { epsilon }): the
 * per-channel statistics a batchNorm normalizes with, by the mode rule
 * (`ctx.training`):
 *
 * - training: the batch mean μ and the biased batch variance σ² (÷ M) of x,
 *   in two passes (the variance does not suffer from cancellation);
 * - eval: runningMean and runningVar.
 *
 * Shape: x [..., C] (rank ≥ 2, channels last); runningMean and runningVar
 * [C]. Result: float64 [3, C], whatever x's dtype, with rows mean, variance
 * and inverseStd = 1/√(variance + ε).
 *
 * The `batchNorm` builder makes this node and hands it to batchNorm and to
 * its gradient ops, so that the statistics of a training step are computed
 * once, not once per op. Fetch it to see a batch's statistics.
 *
 * Gradient: none. The dependence of μ and σ on x is in batchNorm's gradient
 * with respect to x, and batchNorm gives this input no gradient of its own;
 * asking for one here makes `gradients` throw, naming this op.
 */
import { defineOp, GraphError, formatShape, type Node } from '@ndgraph/graph';
import { batchNormShape, channelMoments, channelRow, STATISTICS_ROWS } from './batch-norm-shared.ts';

export interface BatchNormStatisticsAttrs {
  /** Added to the variance before the square root. */
  epsilon: number;
}

export const batchNormStatisticsOp = defineOp<BatchNormStatisticsAttrs>({
  name: 'batchNormStatistics',
  dependsOnMode: true,
  arity: 3,
  kernelDtypeInput: 0, // float64 statistics of x: x's dtype picks the kernel
  inferShape([x, runningMean, runningVar], { epsilon }) {
    if (!(epsilon > 0 && Number.isFinite(epsilon))) throw new GraphError(`epsilon must be a positive number, found ${epsilon}`);
    const { shape } = batchNormShape(x, 'x', [
      [runningMean, 'runningMean'],
      [runningVar, 'runningVar'],
    ]);
    return { shape: [3, shape[shape.length - 1]], dtype: 'float64' };
  },
  forward([x, runningMean, runningVar], { epsilon }, ctx) {
    const channels = x.shape[x.shape.length - 1];
    const out = ctx.output();
    const mean = channelRow(out, STATISTICS_ROWS.mean);
    const variance = channelRow(out, STATISTICS_ROWS.variance);
    const inverseStd = channelRow(out, STATISTICS_ROWS.inverseStd);
    if (ctx.training) {
      const count = channels === 0 ? 0 : x.size / channels;
      if (count < 2)
        throw new GraphError(`training-mode batch norm needs at least 2 values per channel to estimate a variance, found ${count} (x ${formatShape(x.shape)})`);
      channelMoments(x, mean, variance);
    } else {
      for (let c = 0; c < channels; c++) {
        mean[c] = runningMean.data[runningMean.offset + c];
        variance[c] = runningVar.data[runningVar.offset + c];
      }
    }
    for (let c = 0; c < channels; c++) inverseStd[c] = 1 / Math.sqrt(variance[c] + epsilon);
    return out;
  },
});

export const batchNormStatistics = (x: Node, runningMean: Node, runningVar: Node, attrs: BatchNormStatisticsAttrs, name?: string): Node =>
  batchNormStatisticsOp([x, runningMean, runningVar], attrs, { name });
