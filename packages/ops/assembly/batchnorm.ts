// Batch normalization over [rows, C] float32 data (channels last): each
// function does what the JavaScript kernel of its op does (batch-norm*.ts),
// operation for operation in the same order and precision, so both give the
// same bits. The statistics and the gradient sums are float64 (per-channel
// vectors of C values); the passes that write a tensor are float32.
//
// In the sums the SIMD lanes run across channels, two per float64 vector: each channel
// still sums its rows one after another, as the JavaScript loop does, and a
// block of up to eight channels keeps four sums in registers, so four
// dependent chains of additions overlap instead of waiting on each other.
//
// Each kernel takes its share of the work last, so threads can split a call
// without changing a bit: the sums a range of channels (firstChannel,
// channelCount: each channel's sum is its own), the passes that write a
// tensor a range of whole periods (below).

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

/**
 * The two per-channel sums both gradients are made of (batchNormGradSums):
 * sumDy[c] = Σ dy and sumDyXhat[c] = Σ dy·x̂, x̂ = (x − mean[c])·inverseStd[c]
 * (C-float64 arrays), six channels at a time: six chains of additions, and
 * LeNet's 6-channel layer in one sweep over dy and x.
 */
export function batchNormGradSums(
  dy: usize, x: usize, n: i32, channels: i32, mean: usize, inverseStd: usize, sumDy: usize, sumDyXhat: usize, firstChannel: i32, channelCount: i32,
): void {
  const rows = n / channels;
  const end = firstChannel + channelCount;
  for (let c = firstChannel; c < end; c += 6) {
    const width = min(6, end - c);
    const f0 = width > 1, f1 = width > 3, f2 = width > 5;
    const m0 = pairF64(mean, c, f0), s0 = pairF64(inverseStd, c, f0);
    const m1 = width > 2 ? pairF64(mean, c + 2, f1) : m0, s1 = width > 2 ? pairF64(inverseStd, c + 2, f1) : s0;
    const m2 = width > 4 ? pairF64(mean, c + 4, f2) : m0, s2 = width > 4 ? pairF64(inverseStd, c + 4, f2) : s0;
    let dy0 = f64x2.splat(0), dy1 = dy0, dy2 = dy0, dyXhat0 = dy0, dyXhat1 = dy0, dyXhat2 = dy0;
    for (let r = 0; r < rows; r++) {
      const dyRow = rowAt(dy, r, channels);
      const xRow = rowAt(x, r, channels);
      const d0 = pairF32(dyRow, c, f0);
      dy0 = f64x2.add(dy0, d0);
      dyXhat0 = f64x2.add(dyXhat0, f64x2.mul(f64x2.mul(d0, f64x2.sub(pairF32(xRow, c, f0), m0)), s0));
      if (width > 2) {
        const d1 = pairF32(dyRow, c + 2, f1);
        dy1 = f64x2.add(dy1, d1);
        dyXhat1 = f64x2.add(dyXhat1, f64x2.mul(f64x2.mul(d1, f64x2.sub(pairF32(xRow, c + 2, f1), m1)), s1));
      }
      if (width > 4) {
        const d2 = pairF32(dyRow, c + 4, f2);
        dy2 = f64x2.add(dy2, d2);
        dyXhat2 = f64x2.add(dyXhat2, f64x2.mul(f64x2.mul(d2, f64x2.sub(pairF32(xRow, c + 4, f2), m2)), s2));
      }
    }
    storePairF64(sumDy, c, f0, dy0);
    storePairF64(sumDyXhat, c, f0, dyXhat0);
    if (width > 2) {
      storePairF64(sumDy, c + 2, f1, dy1);
      storePairF64(sumDyXhat, c + 2, f1, dyXhat1);
    }
    if (width > 4) {
      storePairF64(sumDy, c + 4, f2, dy2);
      storePairF64(sumDyXhat, c + 4, f2, dyXhat2);
    }
  }
}

// The passes that write a tensor run in float32, four lanes wide, on
// per-channel coefficients the caller computed in float64 and rounded once.
// The coefficient vectors are tiled to a period of P floats, P a multiple of
// both 4 and C, so lane j of the i-th vector always meets the same channels.
// Threads split them by whole periods (firstBlock, blockCount); the float32
// tail after the last full vector is done one element at a time.

/**
 * y = (x − m[j])·a[j] + b[j] (per channel j), in float32: batchNorm's
 * normalization, and a scale by channel with m = b = 0. With `relu`, the
 * result goes through relu as reluForward does it (batchNorm + relu, fused).
 */
export function channelAffineF32(
  x: usize, y: usize, n: i32, m: usize, a: usize, b: usize, period: i32, relu: bool, firstBlock: i32, blockCount: i32,
): void {
  if (relu) channelAffineRun(x, y, n, m, a, b, period, true, firstBlock, blockCount);
  else channelAffineRun(x, y, n, m, a, b, period, false, firstBlock, blockCount);
}

// @ts-ignore: decorator
@inline
function channelAffineRun(
  x: usize, y: usize, n: i32, m: usize, a: usize, b: usize, period: i32, relu: bool, firstBlock: i32, blockCount: i32,
): void {
  const start = firstBlock * period;
  const end = min(n, start + blockCount * period);
  const zero = f32x4.splat(0);
  let i = start, j = 0;
  for (; i + 4 <= end; i += 4) {
    const at = <usize>j * F32;
    const d = f32x4.sub(v128.load(x + <usize>i * F32), v128.load(m + at));
    const v = f32x4.add(f32x4.mul(d, v128.load(a + at)), v128.load(b + at));
    v128.store(y + <usize>i * F32, relu ? f32x4.pmax(v, zero) : v);
    j += 4;
    if (j === period) j = 0;
  }
  for (; i < end; i++, j++) {
    const at = <usize>j * F32;
    const v = (load<f32>(x + <usize>i * F32) - load<f32>(m + at)) * load<f32>(a + at) + load<f32>(b + at);
    store<f32>(y + <usize>i * F32, relu && v < 0 ? 0 : v);
  }
}

/**
 * batchNorm's input gradient in training mode, in float32:
 * dx = (a[j]·dy − k[j]·(x − m[j])) − c[j], with a = γ/σ, k = a·mean(dy·x̂)/σ,
 * c = a·mean(dy) (batch-norm-grad-input.ts).
 */
export function batchNormGradInputF32(
  dy: usize, x: usize, dx: usize, n: i32, m: usize, a: usize, k: usize, c: usize, period: i32, firstBlock: i32, blockCount: i32,
): void {
  const start = firstBlock * period;
  const end = min(n, start + blockCount * period);
  let i = start, j = 0;
  for (; i + 4 <= end; i += 4) {
    const at = <usize>j * F32;
    const off = <usize>i * F32;
    const d = f32x4.sub(v128.load(x + off), v128.load(m + at));
    const u = f32x4.sub(f32x4.mul(v128.load(a + at), v128.load(dy + off)), f32x4.mul(v128.load(k + at), d));
    v128.store(dx + off, f32x4.sub(u, v128.load(c + at)));
    j += 4;
    if (j === period) j = 0;
  }
  for (; i < end; i++, j++) {
    const at = <usize>j * F32;
    const off = <usize>i * F32;
    const d = load<f32>(x + off) - load<f32>(m + at);
    const u = load<f32>(a + at) * load<f32>(dy + off) - load<f32>(k + at) * d;
    store<f32>(dx + off, u - load<f32>(c + at));
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
