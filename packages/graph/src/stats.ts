import type { Tensor } from './tensor.ts';

/** Summary statistics of a tensor, NaN/Inf counted apart (mean and std are over finite values). */
export interface TensorStats {
  size: number;
  mean: number;
  std: number;
  min: number;
  max: number;
  /** Fraction of elements exactly 0. */
  zeroFraction: number;
  nan: number;
  inf: number;
}

export function tensorStats(t: Tensor): TensorStats {
  const d = t.data;
  let n = 0,
    sum = 0,
    sumSq = 0,
    zeros = 0,
    nan = 0,
    inf = 0;
  let min = Infinity,
    max = -Infinity;
  for (let i = 0; i < t.size; i++) {
    const v = d[t.offset + i];
    if (Number.isNaN(v)) {
      nan++;
      continue;
    }
    if (!Number.isFinite(v)) {
      inf++;
      continue;
    }
    n++;
    sum += v;
    if (v === 0) zeros++;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = n ? sum / n : NaN;
  for (let i = 0; i < t.size; i++) {
    const v = d[t.offset + i];
    if (Number.isFinite(v)) sumSq += (v - mean) * (v - mean);
  }
  return {
    size: t.size,
    mean,
    std: n ? Math.sqrt(sumSq / n) : NaN,
    min: n ? min : NaN,
    max: n ? max : NaN,
    zeroFraction: t.size ? zeros / t.size : 0,
    nan,
    inf,
  };
}

const num = (v: number) => (Number.isNaN(v) ? 'nan' : Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(2) : v.toFixed(4));

export function formatStats(s: TensorStats): string {
  return `mean ${num(s.mean)} std ${num(s.std)} min ${num(s.min)} max ${num(s.max)} zeros ${(s.zeroFraction * 100).toFixed(1)}% nan ${s.nan} inf ${s.inf}`;
}
