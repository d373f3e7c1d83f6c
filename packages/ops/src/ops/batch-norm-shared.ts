/**
 * What batchNorm, batchNormStatistics and the gradient ops share: the
 * attributes, the shape rules and the per-channel moments. Channels are the
 * last axis (NHWC); the statistics run over every other axis, M = x.size / C
 * values per channel.
 *
 * The per-channel vectors the ops pass each other are float64 whatever x's
 * dtype, so that a float32 network normalizes with float64 statistics:
 * - statistics [3, C] (batchNormStatistics): rows mean, variance and
 *   inverseStd = 1/√(variance + ε), by the mode rule (batch moments in
 *   training, running averages in eval);
 * - gradient sums [2, C] (batchNormGradSums): rows Σ dy and Σ dy·x̂.
 */
import { DTypeError, GraphError, ShapeError, dtypeOf, formatShape, type Tensor, type TensorSpec, type TypedArray } from '@ndgraph/graph';
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

/** Rows of a statistics tensor [3, C]. */
export const STATISTICS_ROWS = { mean: 0, variance: 1, inverseStd: 2 } as const;
/** Rows of a gradient-sums tensor [2, C]. */
export const SUM_ROWS = { dy: 0, dyXhat: 1 } as const;

/**
 * Shape rule of a per-channel float64 tensor of `rows` rows (statistics or
 * gradient sums) that goes with `x`: [rows, C] with x's channel count.
 */
export function expectChannelRows(spec: TensorSpec, name: string, rows: number, x: TensorSpec, xName: string): void {
  if (spec.dtype !== 'float64') throw new DTypeError(`${name} must be float64 (per-channel statistics are float64 for every x), found ${spec.dtype}`);
  const channels = x.shape[x.shape.length - 1];
  if (spec.shape.length !== 2 || spec.shape[0] !== rows || !dimsAgree(spec.shape[1], channels))
    throw new ShapeError(
      `${name} must be [${rows}, C] = [${rows}, ${channels < 0 ? '?' : channels}] for ${xName} ${formatShape(x.shape)}, found ${formatShape(spec.shape)}`,
    );
}

/** Row `row` of a [rows, C] float64 tensor, as a view. */
export function channelRow(t: Tensor, row: number): TypedArray {
  const channels = t.shape[1];
  return t.data.subarray(t.offset + row * channels, t.offset + (row + 1) * channels);
}

const keep = (v: number) => v;

/** How a pass in x's precision rounds each step: to float32 for float32 tensors (as the wasm kernels' lanes do), not at all for float64. */
export const roundingOf = (x: Tensor): ((v: number) => number) => (dtypeOf(x) === 'float32' ? Math.fround : keep);

/**
 * y = (x − m_c)·a_c + b_c per channel (the last axis), in x's precision: for
 * float32 every step rounds to float32, as the wasm kernel's float32 lanes
 * do. m, a and b are per-channel coefficients of x's dtype (made in float64
 * and rounded once). batchNorm's normalization is one; a per-channel scale
 * is one with m = b = 0. With `relu`, y < 0 becomes 0 (relu's convention:
 * −0 and NaN pass through).
 */
export function channelAffine(x: Tensor, m: TypedArray, a: TypedArray, b: TypedArray, out: Tensor, relu = false): void {
  const channels = m.length;
  const round = roundingOf(x);
  const xd = x.data,
    y = out.data;
  for (let i = 0, c = 0; i < x.size; i++) {
    const v = round(round(round(xd[x.offset + i] - m[c]) * a[c]) + b[c]);
    y[out.offset + i] = relu && v < 0 ? 0 : v;
    if (++c === channels) c = 0;
  }
}

/** The coefficients of batchNorm's normalization as a channelAffine: m = μ, a = γ/σ, b = β (x's dtype). */
export function normalizationCoefficients(gamma: Tensor, beta: Tensor, statistics: Tensor, m: TypedArray, a: TypedArray, b: TypedArray): void {
  const mean = channelRow(statistics, STATISTICS_ROWS.mean);
  const inverseStd = channelRow(statistics, STATISTICS_ROWS.inverseStd);
  for (let c = 0; c < m.length; c++) {
    m[c] = mean[c];
    a[c] = gamma.data[gamma.offset + c] * inverseStd[c];
    b[c] = beta.data[beta.offset + c];
  }
}

/**
 * Shape rule of batchNorm's parameter gradients (batchNormGradGamma,
 * batchNormGradBeta): sums float64 [2, C] and the parameter [C], whose shape
 * and dtype the gradient has.
 */
export function parameterGradientShape(sums: TensorSpec, parameter: TensorSpec, name: string): TensorSpec {
  expectFloat(parameter, name);
  if (parameter.shape.length !== 1) throw new ShapeError(`${name} must be [C], one value per channel, found ${formatShape(parameter.shape)}`);
  expectChannelRows(sums, 'sums', 2, parameter, name);
  return { shape: parameter.shape.slice(), dtype: parameter.dtype };
}
