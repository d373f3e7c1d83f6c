/**
 * What batchNorm and its gradient ops share: the attributes, the shape rule
 * and the per-channel statistics. Channels are the last axis (NHWC); the
 * statistics run over every other axis, M = x.size / C values per channel.
 *
 * The mode rule, the same for the forward op and both gradient ops:
 * - training (`ctx.training`): normalize with the batch mean and the biased
 *   batch variance (divide by M), recomputed from x;
 * - eval: normalize with the running mean and running variance.
 */
import { GraphError, ShapeError, formatShape, type RunContext, type Tensor, type TensorSpec, type TypedArray } from '@ndgraph/graph';
import { dimsAgree, expectFloat, expectSameFloat, mergeDim } from '../util.ts';

export interface BatchNormAttrs {
  /** running = momentum·running + (1 − momentum)·batch (TensorFlow's convention). */
  momentum: number;
  /** Added to the variance before the square root. */
  epsilon: number;
}

export function checkBatchNormAttrs({ momentum, epsilon }: BatchNormAttrs): void {
  if (!(momentum >= 0 && momentum <= 1)) throw new GraphError(`momentum must be in [0, 1], found ${momentum}`);
  if (!(epsilon > 0 && Number.isFinite(epsilon))) throw new GraphError(`epsilon must be a positive number, found ${epsilon}`);
}

/**
 * Shape rule: x of rank ≥ 2 with channels last, and per-channel vectors [C]
 * (all of x's float dtype). `others` lists the extra tensors that must have
 * x's full shape (dy). Returns x's spec with unknown dims filled in.
 */
export function batchNormShape(
  x: TensorSpec,
  xName: string,
  perChannel: readonly [TensorSpec, string][],
  sameAsX: readonly [TensorSpec, string][] = [],
): TensorSpec {
  expectFloat(x, xName);
  expectSameFloat([x, ...perChannel.map(([s]) => s), ...sameAsX.map(([s]) => s)], [xName, ...perChannel.map(([, n]) => n), ...sameAsX.map(([, n]) => n)]);
  if (x.shape.length < 2) throw new ShapeError(`${xName} must be [N, C] or [N, H, W, C] (channels last, rank ≥ 2), found ${formatShape(x.shape)}`);
  let shape = x.shape.slice();
  for (const [spec, name] of sameAsX) {
    const fits = spec.shape.length === shape.length && spec.shape.every((d, k) => dimsAgree(d, shape[k]));
    if (!fits) throw new ShapeError(`${name} ${formatShape(spec.shape)} must have the shape of ${xName} ${formatShape(x.shape)}`);
    shape = shape.map((d, k) => mergeDim(d, spec.shape[k]));
  }
  let channels = shape[shape.length - 1];
  for (const [spec, name] of perChannel) {
    if (spec.shape.length !== 1 || !dimsAgree(spec.shape[0], channels)) {
      throw new ShapeError(
        `${name} must be [C] = [${channels < 0 ? '?' : channels}], one value per channel of ${xName} ${formatShape(x.shape)}, found ${formatShape(spec.shape)}`,
      );
    }
    channels = mergeDim(channels, spec.shape[0]);
  }
  shape[shape.length - 1] = channels;
  return { shape, dtype: x.dtype };
}

/** Per-channel mean and biased variance of x (two passes, so the variance does not suffer from cancellation). */
export function channelMoments(x: Tensor, mean: TypedArray, variance: TypedArray): void {
  const channels = x.shape[x.shape.length - 1];
  const n = x.size;
  const count = n / channels;
  const xd = x.data;
  mean.fill(0);
  variance.fill(0);
  for (let i = 0, c = 0; i < n; i++) {
    mean[c] += xd[x.offset + i];
    if (++c === channels) c = 0;
  }
  for (let c = 0; c < channels; c++) mean[c] /= count;
  for (let i = 0, c = 0; i < n; i++) {
    const d = xd[x.offset + i] - mean[c];
    variance[c] += d * d;
    if (++c === channels) c = 0;
  }
  for (let c = 0; c < channels; c++) variance[c] /= count;
}

/** The mean and 1/√(variance + ε) per channel that normalize x, by the mode rule above. */
export interface Normalization {
  mean: TypedArray;
  inverseStd: TypedArray;
  /** The batch variance (training mode only; eval mode leaves it unset). */
  batchVariance?: TypedArray;
}

export function normalization(ctx: RunContext, x: Tensor, runningMean: Tensor | null, runningVar: Tensor, epsilon: number): Normalization {
  const channels = x.shape[x.shape.length - 1];
  const mean = ctx.scratch([channels], 'float64').data;
  const inverseStd = ctx.scratch([channels], 'float64').data;
  if (ctx.training) {
    const batchVariance = ctx.scratch([channels], 'float64').data;
    channelMoments(x, mean, batchVariance);
    for (let c = 0; c < channels; c++) inverseStd[c] = 1 / Math.sqrt(batchVariance[c] + epsilon);
    return { mean, inverseStd, batchVariance };
  }
  for (let c = 0; c < channels; c++) {
    mean[c] = runningMean ? runningMean.data[runningMean.offset + c] : 0;
    inverseStd[c] = 1 / Math.sqrt(runningVar.data[runningVar.offset + c] + epsilon);
  }
  return { mean, inverseStd };
}
