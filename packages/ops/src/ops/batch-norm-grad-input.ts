/**
 * batchNormGradInput(dy, x, gamma, runningVar, { epsilon }): the gradient of
 * batchNorm with respect to x, by the batchNorm mode rule (`ctx.training`):
 *
 * - training (batch statistics, which depend on x themselves):
 *     dx = (γ/σ) · (dy − mean(dy) − x̂ · mean(dy ⊙ x̂))
 *   with σ = √(batch variance + ε), x̂ = (x − batch mean)/σ, and the means
 *   taken per channel over every axis but the last;
 * - eval (running statistics, constants w.r.t. x):
 *     dx = dy · γ / √(runningVar + ε)
 *
 * Shape: dy and x the same [..., C]; gamma and runningVar [C]. Result: x's shape.
 *
 * Gradient: none (second derivatives through batch norm are not supported;
 * asking for one makes `gradients` throw, naming this op).
 */
import { defineOp, type Node } from '@ndgraph/graph';
import { batchNormShape, normalization } from './batch-norm-stats.ts';

export interface BatchNormGradAttrs {
  epsilon: number;
}

export const batchNormGradInputOp = defineOp<BatchNormGradAttrs>({
  name: 'batchNormGradInput',
  arity: 4,
  inferShape([dy, x, gamma, runningVar]) {
    return batchNormShape(
      x,
      'x',
      [
        [gamma, 'gamma'],
        [runningVar, 'runningVar'],
      ],
      [[dy, 'dy']],
    );
  },
  forward([dy, x, gamma, runningVar], { epsilon }, ctx) {
    const channels = x.shape[x.shape.length - 1];
    const n = x.size;
    const count = channels === 0 ? 0 : n / channels;
    const out = ctx.output();
    const dx = out.data;
    const xd = x.data,
      g = dy.data;
    const { mean, inverseStd } = normalization(ctx, x, null, runningVar, epsilon);
    // scale[c] = γ_c / σ_c: the whole eval gradient, and the leading factor in training.
    const scale = ctx.scratch([channels], 'float64').data;
    for (let c = 0; c < channels; c++) scale[c] = gamma.data[gamma.offset + c] * inverseStd[c];

    if (!ctx.training) {
      for (let i = 0, c = 0; i < n; i++) {
        dx[i] = g[dy.offset + i] * scale[c];
        if (++c === channels) c = 0;
      }
      return out;
    }

    // Training: per-channel means of dy and of dy ⊙ x̂.
    const meanDy = ctx.scratch([channels], 'float64').data;
    const meanDyXhat = ctx.scratch([channels], 'float64').data;
    meanDy.fill(0);
    meanDyXhat.fill(0);
    for (let i = 0, c = 0; i < n; i++) {
      const d = g[dy.offset + i];
      meanDy[c] += d;
      meanDyXhat[c] += d * (xd[x.offset + i] - mean[c]) * inverseStd[c];
      if (++c === channels) c = 0;
    }
    for (let c = 0; c < channels; c++) {
      meanDy[c] /= count;
      meanDyXhat[c] /= count;
    }
    for (let i = 0, c = 0; i < n; i++) {
      const xHat = (xd[x.offset + i] - mean[c]) * inverseStd[c];
      dx[i] = scale[c] * (g[dy.offset + i] - meanDy[c] - xHat * meanDyXhat[c]);
      if (++c === channels) c = 0;
    }
    return out;
  },
});

export const batchNormGradInput = (dy: Node, x: Node, gamma: Node, runningVar: Node, attrs: BatchNormGradAttrs, name?: string): Node =>
  batchNormGradInputOp([dy, x, gamma, runningVar], attrs, { name });
