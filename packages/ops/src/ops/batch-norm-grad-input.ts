/**
 * batchNormGradInput(dy, x, gamma, statistics, sums): the gradient of
 * batchNorm with respect to x, by the batchNorm mode rule (`ctx.training`):
 *
 * - training (batch statistics, which depend on x themselves):
 *     dx = (γ/σ) · (dy − mean(dy) − x̂ · mean(dy ⊙ x̂))
 *   with σ = √(batch variance + ε), x̂ = (x − batch mean)/σ, and the means
 *   taken per channel over every axis but the last: sums / M, from
 *   batchNormGradSums;
 * - eval (running statistics, constants w.r.t. x):
 *     dx = dy · γ / √(runningVar + ε)
 *
 * μ and 1/σ come from the statistics node (batchNormStatistics), which follows
 * the same mode rule.
 *
 * Shape: dy and x the same [..., C]; gamma [C]; statistics float64 [3, C];
 * sums float64 [2, C]. Result: x's shape.
 *
 * Gradient: none (second derivatives through batch norm are not supported;
 * asking for one makes `gradients` throw, naming this op).
 */
import { defineOp, dtypeOf, type Node, type Tensor, type TypedArray } from '@ndgraph/graph';
import { batchNormShape, channelAffine, channelRow, expectChannelRows, roundingOf, STATISTICS_ROWS, SUM_ROWS } from './batch-norm-shared.ts';

export const batchNormGradInputOp = defineOp({
  name: 'batchNormGradInput',
  dependsOnMode: true,
  arity: 5,
  inferShape([dy, x, gamma, statistics, sums]) {
    const spec = batchNormShape(x, 'x', [[gamma, 'gamma']], [[dy, 'dy']]);
    expectChannelRows(statistics, 'statistics', 3, spec, 'x');
    expectChannelRows(sums, 'sums', 2, spec, 'x');
    return spec;
  },
  forward([dy, x, gamma, statistics, sums], _attrs, ctx) {
    const channels = x.shape[x.shape.length - 1];
    const coefficient = () => ctx.scratch([channels], dtypeOf(x)).data;
    const m = coefficient(),
      a = coefficient(),
      k = coefficient(),
      c = coefficient();
    const out = ctx.output();
    if (!ctx.training) {
      // dx = dy·a: a per-channel scale, the normalization's pass with m = b = 0.
      evalCoefficients(gamma, statistics, m, a, k);
      channelAffine(dy, m, a, k, out);
      return out;
    }
    trainingCoefficients(gamma, statistics, sums, channels === 0 ? 0 : x.size / channels, m, a, k, c);
    gradInputAffine(dy, x, m, a, k, c, out);
    return out;
  },
});

/** Eval mode's dx = dy·γ/σ as a channelAffine of dy: m = 0, a = γ/σ, b = 0 (written into `zeros`). */
export function evalCoefficients(gamma: Tensor, statistics: Tensor, m: TypedArray, a: TypedArray, zeros: TypedArray): void {
  const inverseStd = channelRow(statistics, STATISTICS_ROWS.inverseStd);
  for (let c = 0; c < m.length; c++) {
    m[c] = 0;
    a[c] = gamma.data[gamma.offset + c] * inverseStd[c];
    zeros[c] = 0;
  }
}

/**
 * Training mode's dx = (γ/σ)·(dy − mean(dy) − x̂·mean(dy·x̂)) rewritten per
 * channel as dx = a·dy − k·(x − μ) − c, with a = γ/σ, k = a·mean(dy·x̂)/σ and
 * c = a·mean(dy), made in float64 and rounded once to x's dtype.
 */
export function trainingCoefficients(
  gamma: Tensor,
  statistics: Tensor,
  sums: Tensor,
  count: number,
  m: TypedArray,
  a: TypedArray,
  k: TypedArray,
  c: TypedArray,
): void {
  const mean = channelRow(statistics, STATISTICS_ROWS.mean);
  const inverseStd = channelRow(statistics, STATISTICS_ROWS.inverseStd);
  const sumDy = channelRow(sums, SUM_ROWS.dy);
  const sumDyXhat = channelRow(sums, SUM_ROWS.dyXhat);
  for (let j = 0; j < m.length; j++) {
    const scale = gamma.data[gamma.offset + j] * inverseStd[j];
    m[j] = mean[j];
    a[j] = scale;
    k[j] = scale * inverseStd[j] * (sumDyXhat[j] / count);
    c[j] = scale * (sumDy[j] / count);
  }
}

/** dx = (a·dy − k·(x − m)) − c per channel, in x's precision (float32 rounds every step, as the wasm kernel does). */
function gradInputAffine(dy: Tensor, x: Tensor, m: TypedArray, a: TypedArray, k: TypedArray, c: TypedArray, out: Tensor): void {
  const channels = m.length;
  const round = roundingOf(x);
  const xd = x.data,
    g = dy.data,
    dx = out.data;
  for (let i = 0, j = 0; i < x.size; i++) {
    const d = round(xd[x.offset + i] - m[j]);
    dx[out.offset + i] = round(round(a[j] * g[dy.offset + i]) - round(k[j] * d)) - c[j];
    if (++j === channels) j = 0;
  }
}

export const batchNormGradInput = (dy: Node, x: Node, gamma: Node, statistics: Node, sums: Node, name?: string): Node =>
  batchNormGradInputOp([dy, x, gamma, statistics, sums], {}, { name });
