/**
 * The wasm kernels of batchNorm, batchNormGradGamma and batchNormGradInput
 * (float32 tensors, statistics in float64; assembly/batchnorm.ts). They give
 * the bits of the JavaScript kernels: the same float64 operations in the same
 * order. Per-channel vectors live in the call frame.
 */
import type { RunContext, Tensor } from '@ndgraph/graph';
import { chunkFor } from './elementwise-wasm.ts';
import { kernelCall, type WasmKernels } from './runtime.ts';

/**
 * Splits a batchnorm kernel between threads: the sums by channels (an even
 * number per chunk), the passes that write a tensor by rows.
 */
const byChannels = (kernels: WasmKernels, x: Tensor, channels: number) => chunkFor(kernels, channels, x.size / Math.max(1, channels), 2);
const byRows = (kernels: WasmKernels, rows: number, channels: number) => chunkFor(kernels, rows, channels, 1);

/** Where the per-channel statistics are, in kernel memory (float64), for one call. */
interface Statistics {
  mean: number;
  inverseStd: number;
  /** The batch variance in training mode. */
  variance?: number;
}

/** `channels` float64 values in the call frame; returns the address. */
const reserveF64 = (kernels: WasmKernels, channels: number) => kernels.reserve(Math.max(1, channels) * 8);
const f64View = (kernels: WasmKernels, address: number, channels: number) => new Float64Array(kernels.memory.buffer, address, channels);

/**
 * The statistics that normalize x, by the batchNorm mode rule: batch moments
 * in training (computed by the kernel), running averages in eval (written here).
 */
function statistics(
  kernels: WasmKernels,
  ctx: RunContext,
  x: Tensor,
  xAt: number,
  runningMean: Tensor | null,
  runningVar: Tensor,
  epsilon: number,
): Statistics {
  const channels = x.shape[x.shape.length - 1];
  const mean = reserveF64(kernels, channels);
  const inverseStd = reserveF64(kernels, channels);
  if (ctx.training) {
    const variance = reserveF64(kernels, channels);
    kernels.parallel('batchNormMoments', [xAt, x.size, channels, mean, variance], channels, byChannels(kernels, x, channels));
    const v = f64View(kernels, variance, channels);
    const s = f64View(kernels, inverseStd, channels);
    for (let c = 0; c < channels; c++) s[c] = 1 / Math.sqrt(v[c] + epsilon);
    return { mean, inverseStd, variance };
  }
  const m = f64View(kernels, mean, channels);
  const s = f64View(kernels, inverseStd, channels);
  for (let c = 0; c < channels; c++) {
    m[c] = runningMean ? runningMean.data[runningMean.offset + c] : 0;
    s[c] = 1 / Math.sqrt(runningVar.data[runningVar.offset + c] + epsilon);
  }
  return { mean, inverseStd };
}

const f32 = (t: Tensor) => t.data as Float32Array;

/** batchNorm's forward pass; in training also folds the batch into the running averages. */
export function batchNormForwardWasm(
  kernels: WasmKernels,
  [x, gamma, beta, runningMean, runningVar]: Tensor[],
  momentum: number,
  epsilon: number,
  out: Tensor,
  ctx: RunContext,
): void {
  const channels = x.shape[x.shape.length - 1];
  kernelCall(kernels, () => {
    const xAt = kernels.input(f32(x), x.offset, x.size);
    const stats = statistics(kernels, ctx, x, xAt, runningMean, runningVar, epsilon);
    const yAt = kernels.output(f32(out), out.offset, out.size);
    const gammaAt = kernels.input(f32(gamma), gamma.offset, channels);
    const betaAt = kernels.input(f32(beta), beta.offset, channels);
    const rows = x.size / channels;
    kernels.parallel('batchNormApply', [xAt, channels, gammaAt, betaAt, stats.mean, stats.inverseStd, yAt], rows, byRows(kernels, rows, channels));
    if (stats.variance !== undefined) {
      const count = x.size / channels;
      const unbiased = count / (count - 1);
      const mean = f64View(kernels, stats.mean, channels);
      const variance = f64View(kernels, stats.variance, channels);
      for (let c = 0; c < channels; c++) {
        const m = runningMean.offset + c;
        const v = runningVar.offset + c;
        runningMean.data[m] = momentum * runningMean.data[m] + (1 - momentum) * mean[c];
        runningVar.data[v] = momentum * runningVar.data[v] + (1 - momentum) * variance[c] * unbiased;
      }
    }
  });
}

/** dgamma[c] = Σ dy·x̂. */
export function batchNormGradGammaWasm(kernels: WasmKernels, [dy, x, runningMean, runningVar]: Tensor[], epsilon: number, out: Tensor, ctx: RunContext): void {
  const channels = x.shape[x.shape.length - 1];
  kernelCall(kernels, () => {
    const xAt = kernels.input(f32(x), x.offset, x.size);
    const dyAt = kernels.input(f32(dy), dy.offset, dy.size);
    const stats = statistics(kernels, ctx, x, xAt, runningMean, runningVar, epsilon);
    const sums = reserveF64(kernels, channels);
    kernels.parallel('batchNormGradGammaSums', [dyAt, xAt, x.size, channels, stats.mean, stats.inverseStd, sums], channels, byChannels(kernels, x, channels));
    const s = f64View(kernels, sums, channels);
    for (let c = 0; c < channels; c++) out.data[out.offset + c] = s[c];
  });
}

/** dx, by the mode rule (see batch-norm-grad-input.ts). */
export function batchNormGradInputWasm(kernels: WasmKernels, [dy, x, gamma, runningVar]: Tensor[], epsilon: number, out: Tensor, ctx: RunContext): void {
  const channels = x.shape[x.shape.length - 1];
  kernelCall(kernels, () => {
    const xAt = kernels.input(f32(x), x.offset, x.size);
    const dyAt = kernels.input(f32(dy), dy.offset, dy.size);
    const stats = statistics(kernels, ctx, x, xAt, null, runningVar, epsilon);
    const scale = reserveF64(kernels, channels);
    const s = f64View(kernels, scale, channels);
    const inverseStd = f64View(kernels, stats.inverseStd, channels);
    for (let c = 0; c < channels; c++) s[c] = gamma.data[gamma.offset + c] * inverseStd[c];
    const dxAt = kernels.output(f32(out), out.offset, out.size);
    const rows = x.size / channels;
    if (!ctx.training) {
      kernels.parallel('batchNormGradInputEval', [dyAt, channels, scale, dxAt], rows, byRows(kernels, rows, channels));
      return;
    }
    const meanDy = reserveF64(kernels, channels);
    const meanDyXhat = reserveF64(kernels, channels);
    const means = [stats.mean, stats.inverseStd, meanDy, meanDyXhat];
    kernels.parallel('batchNormGradInputSums', [dyAt, xAt, x.size, channels, ...means], channels, byChannels(kernels, x, channels));
    const applied = [dyAt, xAt, channels, stats.mean, stats.inverseStd, scale, meanDy, meanDyXhat, dxAt];
    kernels.parallel('batchNormGradInputApply', applied, rows, byRows(kernels, rows, channels));
  });
}
