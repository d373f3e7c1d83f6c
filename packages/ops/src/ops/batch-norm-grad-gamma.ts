/**
 * batchNormGradGamma(dy, x, runningMean, runningVar, { epsilon }): the
 * gradient of batchNorm with respect to gamma,
 *
 *   dgamma[c] = Σ dy ⊙ x̂   over every axis but the last,
 *
 * where x̂ = (x − μ)/√(σ² + ε) is recomputed by the batchNorm mode rule:
 * batch mean and biased batch variance in training (`ctx.training`), running
 * averages in eval.
 *
 * Shape: dy and x the same [..., C]; runningMean and runningVar [C]. Result [C].
 *
 * Gradient: none (asking for one makes `gradients` throw, naming this op).
 */
import { defineOp, type Node } from '@ndgraph/graph';
import { batchNormShape, normalization } from './batch-norm-stats.ts';
import type { BatchNormGradAttrs } from './batch-norm-grad-input.ts';

export const batchNormGradGammaOp = defineOp<BatchNormGradAttrs>({
  name: 'batchNormGradGamma',
  arity: 4,
  inferShape([dy, x, runningMean, runningVar]) {
    const { shape, dtype } = batchNormShape(
      x,
      'x',
      [
        [runningMean, 'runningMean'],
        [runningVar, 'runningVar'],
      ],
      [[dy, 'dy']],
    );
    return { shape: [shape[shape.length - 1]], dtype };
  },
  forward([dy, x, runningMean, runningVar], { epsilon }, ctx) {
    const channels = x.shape[x.shape.length - 1];
    const { mean, inverseStd } = normalization(ctx, x, runningMean, runningVar, epsilon);
    // Accumulate in float64 even for float32 tensors: a channel may sum many values.
    const sums = ctx.scratch([channels], 'float64').data;
    sums.fill(0);
    const xd = x.data,
      g = dy.data;
    for (let i = 0, c = 0; i < x.size; i++) {
      sums[c] += g[dy.offset + i] * (xd[x.offset + i] - mean[c]) * inverseStd[c];
      if (++c === channels) c = 0;
    }
    const out = ctx.output();
    for (let c = 0; c < channels; c++) out.data[c] = sums[c];
    return out;
  },
});

export const batchNormGradGamma = (dy: Node, x: Node, runningMean: Node, runningVar: Node, attrs: BatchNormGradAttrs, name?: string): Node =>
  batchNormGradGammaOp([dy, x, runningMean, runningVar], attrs, { name });
