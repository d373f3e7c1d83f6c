// Batch normalization over [rows, C] float32 data (channels last), with the
// statistics in float64: each function does what the JavaScript kernel of its
// op does (batch-norm*.ts), operation for operation in float64 in the same
// order, so both give the same bits. Per-channel vectors (mean, inverse std,
// sums) are float64 arrays of C values; gamma and beta are float32.
//
// The SIMD lanes run across channels, two per float64 vector: each channel
// still sums its rows one after another, as the JavaScript loop does, and a
// block of up to eight channels keeps four sums in registers, so four
// dependent chains of additions overlap instead of waiting on each other.
//
// Each kernel takes its share of the work last, so threads can split a call
// without changing a bit: the sums a range of channels (firstChannel,
// channelCount: each channel's sum is its own), the passes that write a
// tensor a range of rows (firstRow, rowCount).

const F32: usize = 4;
const F64: usize = 8;
/** Channels per block: four float64 vectors of two. */
const BLOCK: i32 = 8;

// The helpers below take `full`: whether channel c + 1 exists (false only for
// the last channel of an odd count, whose other lane is 0 and never stored).
// Loops pass a constant where they can, so the test compiles away.

/** Channels c and c + 1 of a float32 row, widened. */
// @ts-ignore: decorator
@inline
function pairF32(row: usize, c: i32, full: bool): v128 {
  const at = row + <usize>c * F32;
  return f64x2.promote_low_f32x4(full ? v128.load64_zero(at) : v128.load32_zero(at));
}

/** Channels c and c + 1 of a float64 vector. */
// @ts-ignore: decorator
@inline
function pairF64(base: usize, c: i32, full: bool): v128 {
  const at = base + <usize>c * F64;
  return full ? v128.load(at) : v128.load64_zero(at);
}

// @ts-ignore: decorator
@inline
function storePairF64(base: usize, c: i32, full: bool, v: v128): void {
  const at = base + <usize>c * F64;
  if (full) v128.store(at, v);
  else v128.store64_lane(at, v, 0);
}

// @ts-ignore: decorator
@inline
function storePairF32(row: usize, c: i32, full: bool, v: v128): void {
  const at = row + <usize>c * F32;
  const narrow = f32x4.demote_f64x2_zero(v);
  if (full) v128.store64_lane(at, narrow, 0);
  else v128.store32_lane(at, narrow, 0);
}

// @ts-ignore: decorator
@inline
function rowAt(base: usize, r: i32, channels: i32): usize {
  return base + <usize>r * <usize>channels * F32;
}

/** Σ over rows of x (per channel), then of (x − mean)², each divided by the row count (two passes, as channelMoments). */
export function batchNormMoments(x: usize, n: i32, channels: i32, mean: usize, variance: usize, firstChannel: i32, channelCount: i32): void {
  const rows = n / channels;
  const count = f64x2.splat(<f64>rows);
  const end = firstChannel + channelCount;
  for (let c = firstChannel; c < end; c += BLOCK) {
    const width = min(BLOCK, end - c);
    const f0 = width > 1, f1 = width > 3, f2 = width > 5, f3 = width > 7;
    let s0 = f64x2.splat(0), s1 = s0, s2 = s0, s3 = s0;
    for (let r = 0; r < rows; r++) {
      const row = rowAt(x, r, channels);
      s0 = f64x2.add(s0, pairF32(row, c, f0));
      if (width > 2) s1 = f64x2.add(s1, pairF32(row, c + 2, f1));
      if (width > 4) s2 = f64x2.add(s2, pairF32(row, c + 4, f2));
      if (width > 6) s3 = f64x2.add(s3, pairF32(row, c + 6, f3));
    }
    const m0 = f64x2.div(s0, count), m1 = f64x2.div(s1, count), m2 = f64x2.div(s2, count), m3 = f64x2.div(s3, count);
    let v0 = f64x2.splat(0), v1 = v0, v2 = v0, v3 = v0;
    for (let r = 0; r < rows; r++) {
      const row = rowAt(x, r, channels);
      const d0 = f64x2.sub(pairF32(row, c, f0), m0);
      v0 = f64x2.add(v0, f64x2.mul(d0, d0));
      if (width > 2) {
        const d1 = f64x2.sub(pairF32(row, c + 2, f1), m1);
        v1 = f64x2.add(v1, f64x2.mul(d1, d1));
      }
      if (width > 4) {
        const d2 = f64x2.sub(pairF32(row, c + 4, f2), m2);
        v2 = f64x2.add(v2, f64x2.mul(d2, d2));
      }
      if (width > 6) {
        const d3 = f64x2.sub(pairF32(row, c + 6, f3), m3);
        v3 = f64x2.add(v3, f64x2.mul(d3, d3));
      }
    }
    storePairF64(mean, c, f0, m0);
    storePairF64(variance, c, f0, f64x2.div(v0, count));
    if (width > 2) {
      storePairF64(mean, c + 2, f1, m1);
      storePairF64(variance, c + 2, f1, f64x2.div(v1, count));
    }
    if (width > 4) {
      storePairF64(mean, c + 4, f2, m2);
      storePairF64(variance, c + 4, f2, f64x2.div(v2, count));
    }
    if (width > 6) {
      storePairF64(mean, c + 6, f3, m3);
      storePairF64(variance, c + 6, f3, f64x2.div(v3, count));
    }
  }
}

// @ts-ignore: decorator
@inline
function applyPair(xRow: usize, yRow: usize, c: i32, full: bool, gamma: usize, beta: usize, mean: usize, inverseStd: usize): void {
  const centered = f64x2.sub(pairF32(xRow, c, full), pairF64(mean, c, full));
  storePairF32(yRow, c, full, f64x2.add(f64x2.mul(f64x2.mul(pairF32(gamma, c, full), centered), pairF64(inverseStd, c, full)), pairF32(beta, c, full)));
}

/** y = gamma[c]·(x − mean[c])·inverseStd[c] + beta[c], row after row (the per-channel vectors stay in the cache). */
export function batchNormApply(
  x: usize, channels: i32, gamma: usize, beta: usize, mean: usize, inverseStd: usize, y: usize, firstRow: i32, rowCount: i32,
): void {
  for (let r = firstRow; r < firstRow + rowCount; r++) {
    const xRow = rowAt(x, r, channels);
    const yRow = rowAt(y, r, channels);
    let c = 0;
    for (; c + 2 <= channels; c += 2) applyPair(xRow, yRow, c, true, gamma, beta, mean, inverseStd);
    if (c < channels) applyPair(xRow, yRow, c, false, gamma, beta, mean, inverseStd);
  }
}

/** sums[c] = Σ dy·(x − mean[c])·inverseStd[c] (the gamma gradient, before it is stored as float32). */
export function batchNormGradGammaSums(
  dy: usize, x: usize, n: i32, channels: i32, mean: usize, inverseStd: usize, sums: usize, firstChannel: i32, channelCount: i32,
): void {
  const rows = n / channels;
  const end = firstChannel + channelCount;
  for (let c = firstChannel; c < end; c += BLOCK) {
    const width = min(BLOCK, end - c);
    const f0 = width > 1, f1 = width > 3, f2 = width > 5, f3 = width > 7;
    const m0 = pairF64(mean, c, f0), s0 = pairF64(inverseStd, c, f0);
    const m1 = width > 2 ? pairF64(mean, c + 2, f1) : m0, s1 = width > 2 ? pairF64(inverseStd, c + 2, f1) : s0;
    const m2 = width > 4 ? pairF64(mean, c + 4, f2) : m0, s2 = width > 4 ? pairF64(inverseStd, c + 4, f2) : s0;
    const m3 = width > 6 ? pairF64(mean, c + 6, f3) : m0, s3 = width > 6 ? pairF64(inverseStd, c + 6, f3) : s0;
    let a0 = f64x2.splat(0), a1 = a0, a2 = a0, a3 = a0;
    for (let r = 0; r < rows; r++) {
      const xRow = rowAt(x, r, channels);
      const dyRow = rowAt(dy, r, channels);
      a0 = f64x2.add(a0, f64x2.mul(f64x2.mul(pairF32(dyRow, c, f0), f64x2.sub(pairF32(xRow, c, f0), m0)), s0));
      if (width > 2) a1 = f64x2.add(a1, f64x2.mul(f64x2.mul(pairF32(dyRow, c + 2, f1), f64x2.sub(pairF32(xRow, c + 2, f1), m1)), s1));
      if (width > 4) a2 = f64x2.add(a2, f64x2.mul(f64x2.mul(pairF32(dyRow, c + 4, f2), f64x2.sub(pairF32(xRow, c + 4, f2), m2)), s2));
      if (width > 6) a3 = f64x2.add(a3, f64x2.mul(f64x2.mul(pairF32(dyRow, c + 6, f3), f64x2.sub(pairF32(xRow, c + 6, f3), m3)), s3));
    }
    storePairF64(sums, c, f0, a0);
    if (width > 2) storePairF64(sums, c + 2, f1, a1);
    if (width > 4) storePairF64(sums, c + 4, f2, a2);
    if (width > 6) storePairF64(sums, c + 6, f3, a3);
  }
}

/**
 * The two per-channel means the input gradient in training mode needs:
 * meanDy[c] = mean(dy) and meanDyXhat[c] = mean(dy·x̂), x̂ = (x − mean[c])·inverseStd[c]
 * (C-float64 arrays), four channels at a time (four chains of additions).
 */
export function batchNormGradInputSums(
  dy: usize, x: usize, n: i32, channels: i32, mean: usize, inverseStd: usize, meanDy: usize, meanDyXhat: usize, firstChannel: i32, channelCount: i32,
): void {
  const rows = n / channels;
  const count = f64x2.splat(<f64>rows);
  const end = firstChannel + channelCount;
  for (let c = firstChannel; c < end; c += 4) {
    const two = c + 2 < end;
    const f0 = c + 1 < end, f1 = c + 3 < end;
    const m0 = pairF64(mean, c, f0), s0 = pairF64(inverseStd, c, f0);
    const m1 = two ? pairF64(mean, c + 2, f1) : m0, s1 = two ? pairF64(inverseStd, c + 2, f1) : s0;
    let dy0 = f64x2.splat(0), dy1 = dy0, dyXhat0 = dy0, dyXhat1 = dy0;
    for (let r = 0; r < rows; r++) {
      const dyRow = rowAt(dy, r, channels);
      const xRow = rowAt(x, r, channels);
      const d0 = pairF32(dyRow, c, f0);
      dy0 = f64x2.add(dy0, d0);
      dyXhat0 = f64x2.add(dyXhat0, f64x2.mul(f64x2.mul(d0, f64x2.sub(pairF32(xRow, c, f0), m0)), s0));
      if (two) {
        const d1 = pairF32(dyRow, c + 2, f1);
        dy1 = f64x2.add(dy1, d1);
        dyXhat1 = f64x2.add(dyXhat1, f64x2.mul(f64x2.mul(d1, f64x2.sub(pairF32(xRow, c + 2, f1), m1)), s1));
      }
    }
    storePairF64(meanDy, c, f0, f64x2.div(dy0, count));
    storePairF64(meanDyXhat, c, f0, f64x2.div(dyXhat0, count));
    if (two) {
      storePairF64(meanDy, c + 2, f1, f64x2.div(dy1, count));
      storePairF64(meanDyXhat, c + 2, f1, f64x2.div(dyXhat1, count));
    }
  }
}

/**
 * The input gradient in training mode: with scale[c] = γ_c·inverseStd[c],
 * dx = scale·(dy − meanDy − x̂·meanDyXhat) (the means from batchNormGradInputSums).
 */
export function batchNormGradInputApply(
  dy: usize, x: usize, channels: i32, mean: usize, inverseStd: usize, scale: usize, meanDy: usize, meanDyXhat: usize, dx: usize, firstRow: i32, rowCount: i32,
): void {
  for (let r = firstRow; r < firstRow + rowCount; r++) {
    const xRow = rowAt(x, r, channels);
    const dyRow = rowAt(dy, r, channels);
    const dxRow = rowAt(dx, r, channels);
    let c = 0;
    for (; c + 2 <= channels; c += 2) gradInputPair(xRow, dyRow, dxRow, c, true, mean, inverseStd, scale, meanDy, meanDyXhat);
    if (c < channels) gradInputPair(xRow, dyRow, dxRow, c, false, mean, inverseStd, scale, meanDy, meanDyXhat);
  }
}

// @ts-ignore: decorator
@inline
function gradInputPair(
  xRow: usize, dyRow: usize, dxRow: usize, c: i32, full: bool, mean: usize, inverseStd: usize, scale: usize, meanDy: usize, meanDyXhat: usize,
): void {
  const xHat = f64x2.mul(f64x2.sub(pairF32(xRow, c, full), pairF64(mean, c, full)), pairF64(inverseStd, c, full));
  const centeredDy = f64x2.sub(pairF32(dyRow, c, full), pairF64(meanDy, c, full));
  storePairF32(dxRow, c, full, f64x2.mul(pairF64(scale, c, full), f64x2.sub(centeredDy, f64x2.mul(xHat, pairF64(meanDyXhat, c, full)))));
}

/** The input gradient in eval mode: dx = dy·scale[c]. */
export function batchNormGradInputEval(dy: usize, channels: i32, scale: usize, dx: usize, firstRow: i32, rowCount: i32): void {
  for (let r = firstRow; r < firstRow + rowCount; r++) {
    const dyRow = rowAt(dy, r, channels);
    const dxRow = rowAt(dx, r, channels);
    let c = 0;
    for (; c + 2 <= channels; c += 2) storePairF32(dxRow, c, true, f64x2.mul(pairF32(dyRow, c, true), pairF64(scale, c, true)));
    if (c < channels) storePairF32(dxRow, c, false, f64x2.mul(pairF32(dyRow, c, false), pairF64(scale, c, false)));
  }
}

/**
 * out[c] = Σ over rows of x[row, c], accumulated in float32 row after row:
 * the sum reduceToShape's JavaScript kernel makes for [..., C] → [C] (a
 * float64 sum of two float32 values rounded to float32 is the float32 sum, so
 * the bits agree). Four channels to a vector, the last ones one at a time.
 */
export function sumRowsF32(x: usize, rows: i32, channels: i32, out: usize): void {
  let c = 0;
  for (; c + 4 <= channels; c += 4) {
    let s = f32x4.splat(0);
    for (let r = 0; r < rows; r++) s = f32x4.add(s, v128.load(rowAt(x, r, channels) + <usize>c * F32));
    v128.store(out + <usize>c * F32, s);
  }
  for (; c < channels; c++) {
    let s: f32 = 0;
    for (let r = 0; r < rows; r++) s += load<f32>(rowAt(x, r, channels) + <usize>c * F32);
    store<f32>(out + <usize>c * F32, s);
  }
}
