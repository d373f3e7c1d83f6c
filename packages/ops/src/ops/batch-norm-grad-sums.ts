/**
 * batchNormGradSums(dy, x, statistics): the two per-channel sums that
 * batchNorm's gradients with respect to x and gamma are made of,
 *
 *   sums[0, c] = Σ dy        sums[1, c] = Σ dy·x̂,   x̂ = (x − μ_c)·inverseStd_c
 *
 * over every axis but the last, in float64, with μ and inverseStd from the
 * statistics node (batchNormStatistics: batch moments in training, running
 * averages in eval). One pass over dy and x serves both gradients.
 *
 * Shape: dy and x the same [..., C]; statistics float64 [3, C]. Result:
 * float64 [2, C].
 *
 * Gradient: none (second derivatives through batch norm are not supported;
 * asking for one makes `gradients` throw, naming this op).
 */
import { defineOp, type Node } from '@ndgraph/graph';
import { batchNormShape, channelRow, expectChannelRows, STATISTICS_ROWS, SUM_ROWS } from './batch-norm-shared.ts';

export const batchNormGradSumsOp = defineOp({
  name: 'batchNormGradSums',
  arity: 3,
  kernelDtypeInput: 1, // float64 statistics of x: x's dtype picks the kernel
  inferShape([dy, x, statistics]) {
    const spec = batchNormShape(x, 'x', [], [[dy, 'dy']]);
    expectChannelRows(statistics, 'statistics', 3, spec, 'x');
    return { shape: [2, spec.shape[spec.shape.length - 1]], dtype: 'float64' };
  },
  forward([dy, x, statistics], _attrs, ctx) {
    const channels = x.shape[x.shape.length - 1];
    const mean = channelRow(statistics, STATISTICS_ROWS.mean);
    const inverseStd = channelRow(statistics, STATISTICS_ROWS.inverseStd);
    const out = ctx.output();
    const sumDy = channelRow(out, SUM_ROWS.dy);
    const sumDyXhat = channelRow(out, SUM_ROWS.dyXhat);
    sumDy.fill(0);
    sumDyXhat.fill(0);
    const xd = x.data,
      g = dy.data;
    for (let i = 0, c = 0; i < x.size; i++) {
      const d = g[dy.offset + i];
      sumDy[c] += d;
      sumDyXhat[c] += d * (xd[x.offset + i] - mean[c]) * inverseStd[c];
      if (++c === channels) c = 0;
    }
    return out;
  },
});

export const batchNormGradSums = (dy: Node, x: Node, statistics: Node, name?: string): Node => batchNormGradSumsOp([dy, x, statistics], {}, { name });
