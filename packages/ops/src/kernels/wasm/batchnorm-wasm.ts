/**
 * The wasm kernels of batchNormStatistics, batchNorm, batchNormGradSums and
 * batchNormGradInput (float32 x, statistics in float64; assembly/batchnorm.ts).
 * They give the bits of the JavaScript kernels: the same float64 operations
 * in the same order. The per-channel float64 tensors (statistics, sums) are
 * small: they are copied into the call frame, as are the vectors made from them.
 */
import type { RunContext, Tensor, TypedArray } from '@ndgraph/graph';
import { channelRow, normalizationCoefficients, STATISTICS_ROWS } from '../../ops/batch-norm-shared.ts';
import { updateRunningAverages } from '../../ops/batch-norm.ts';
import { evalCoefficients, trainingCoefficients } from '../../ops/batch-norm-grad-input.ts';
import { chunkFor } from './elementwise-wasm.ts';
import { kernelCall, type WasmKernels } from './runtime.ts';

/** Splits a batchnorm sum between threads by channels (an even number per chunk). */
const byChannels = (kernels: WasmKernels, x: Tensor, channels: number) => chunkFor(kernels, channels, x.size / Math.max(1, channels), 2);

/** The period the float32 passes tile their per-channel coefficients to: a multiple of 4 floats and of C. */
export const coefficientPeriod = (channels: number) => (channels % 4 === 0 ? channels : channels % 2 === 0 ? 2 * channels : 4 * channels);

/** Per-channel float32 coefficients, tiled to `period` floats in the call frame; returns the address. */
function tiled(kernels: WasmKernels, values: Float32Array, period: number): number {
  const at = kernels.reserve(period * 4);
  const view = new Float32Array(kernels.memory.buffer, at, period);
  for (let i = 0; i < period; i += values.length) view.set(values, i);
  return at;
}

/**
 * Runs a float32 pass over n elements (channelAffineF32, batchNormGradInputF32)
 * with its coefficient vectors tiled, split between threads by whole periods.
 */
function tiledPass(
  kernels: WasmKernels,
  name: 'channelAffineF32' | 'batchNormGradInputF32',
  tensors: number[],
  n: number,
  coefficients: Float32Array[],
  flags: number[] = [],
): void {
  const period = coefficientPeriod(coefficients[0].length);
  const addresses = coefficients.map((values) => tiled(kernels, values, period));
  const blocks = Math.ceil(n / period);
  kernels.parallel(name, [...tensors, n, ...addresses, period, ...flags], blocks, chunkFor(kernels, blocks, period, 1));
}

/** Room for `channels` float64 values in the call frame; returns the address. */
const reserveF64 = (kernels: WasmKernels, channels: number) => kernels.reserve(Math.max(1, channels) * 8);

/**
 * A view of float64 values in kernel memory. Made where it is used: a later
 * reserve may grow an ordinary (unshared) memory, which detaches older views.
 */
const f64View = (kernels: WasmKernels, address: number, channels: number) => new Float64Array(kernels.memory.buffer, address, channels);

/** A copy of `values` in the call frame; returns its address. */
function frameCopy(kernels: WasmKernels, values: TypedArray): number {
  const at = reserveF64(kernels, values.length);
  f64View(kernels, at, values.length).set(values);
  return at;
}

const f32 = (t: Tensor) => t.data as Float32Array;

/** The batch moments in training mode (eval's running averages are the JavaScript kernel's copy). */
export function batchNormStatisticsWasm(kernels: WasmKernels, x: Tensor, epsilon: number, out: Tensor): void {
  const channels = x.shape[x.shape.length - 1];
  kernelCall(kernels, () => {
    const xAt = kernels.input(f32(x), x.offset, x.size);
    const mean = reserveF64(kernels, channels);
    const variance = reserveF64(kernels, channels);
    kernels.parallel('batchNormMoments', [xAt, x.size, channels, mean, variance], channels, byChannels(kernels, x, channels));
    const batchVariance = f64View(kernels, variance, channels);
    channelRow(out, STATISTICS_ROWS.mean).set(f64View(kernels, mean, channels));
    channelRow(out, STATISTICS_ROWS.variance).set(batchVariance);
    const inverseStd = channelRow(out, STATISTICS_ROWS.inverseStd);
    for (let c = 0; c < channels; c++) inverseStd[c] = 1 / Math.sqrt(batchVariance[c] + epsilon);
  });
}

/** batchNorm's forward pass (with `relu`, batchNormRelu's); in training also folds the batch into the running averages. */
export function batchNormForwardWasm(
  kernels: WasmKernels,
  [x, gamma, beta, runningMean, runningVar, statistics]: Tensor[],
  momentum: number,
  relu: boolean,
  out: Tensor,
  ctx: RunContext,
): void {
  const channels = x.shape[x.shape.length - 1];
  const [m, a, b] = [0, 1, 2].map(() => new Float32Array(channels));
  normalizationCoefficients(gamma, beta, statistics, m, a, b);
  kernelCall(kernels, () => {
    const xAt = kernels.input(f32(x), x.offset, x.size);
    const yAt = kernels.output(f32(out), out.offset, out.size);
    tiledPass(kernels, 'channelAffineF32', [xAt, yAt], x.size, [m, a, b], [relu ? 1 : 0]);
  });
  if (ctx.training) updateRunningAverages(runningMean, runningVar, statistics, x.size / channels, momentum);
}

/** [Σ dy, Σ dy·x̂] per channel. */
export function batchNormGradSumsWasm(kernels: WasmKernels, [dy, x, statistics]: Tensor[], out: Tensor): void {
  const channels = x.shape[x.shape.length - 1];
  kernelCall(kernels, () => {
    const xAt = kernels.input(f32(x), x.offset, x.size);
    const dyAt = kernels.input(f32(dy), dy.offset, dy.size);
    const mean = frameCopy(kernels, channelRow(statistics, STATISTICS_ROWS.mean));
    const inverseStd = frameCopy(kernels, channelRow(statistics, STATISTICS_ROWS.inverseStd));
    const sumDy = reserveF64(kernels, channels);
    const sumDyXhat = reserveF64(kernels, channels);
    kernels.parallel('batchNormGradSums', [dyAt, xAt, x.size, channels, mean, inverseStd, sumDy, sumDyXhat], channels, byChannels(kernels, x, channels));
    out.data.set(f64View(kernels, sumDy, channels), out.offset);
    out.data.set(f64View(kernels, sumDyXhat, channels), out.offset + channels);
  });
}

/** dx, by the mode rule (see batch-norm-grad-input.ts). */
export function batchNormGradInputWasm(kernels: WasmKernels, [dy, x, gamma, statistics, sums]: Tensor[], out: Tensor, ctx: RunContext): void {
  const channels = x.shape[x.shape.length - 1];
  const [m, a, k, c] = [0, 1, 2, 3].map(() => new Float32Array(channels));
  kernelCall(kernels, () => {
    const dyAt = kernels.input(f32(dy), dy.offset, dy.size);
    const dxAt = kernels.output(f32(out), out.offset, out.size);
    if (!ctx.training) {
      evalCoefficients(gamma, statistics, m, a, k);
      tiledPass(kernels, 'channelAffineF32', [dyAt, dxAt], x.size, [m, a, k], [0]);
      return;
    }
    trainingCoefficients(gamma, statistics, sums, x.size / channels, m, a, k, c);
    const xAt = kernels.input(f32(x), x.offset, x.size);
    tiledPass(kernels, 'batchNormGradInputF32', [dyAt, xAt, dxAt], x.size, [m, a, k, c]);
  });
}
