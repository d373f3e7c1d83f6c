// Elementwise kernels over flat float32 arrays (n elements).
//
// Bias kernels work on [rows, C] data (channels last) viewed flat: the bias
// pattern repeats every C floats, so every L = lcm(C, 4) floats it lines up
// with whole vectors again. They tile the bias L floats wide in the workspace
// once, then run whole vectors for any C.

import { alignUp } from './workspace';

const F32: usize = 4;
const F64: usize = 8;

/** y = x < 0 ? 0 : x for elements [first, first + count) (NaN passes through, −0 stays −0). */
export function reluForward(x: usize, y: usize, first: i32, count: i32): void {
  reluForwardRun(x + <usize>first * F32, y + <usize>first * F32, count);
}

function reluForwardRun(x: usize, y: usize, n: i32): void {
  const zero = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(y + <usize>i * F32, f32x4.pmax(v128.load(x + <usize>i * F32), zero));
  for (; i < n; i++) {
    const v = load<f32>(x + <usize>i * F32);
    store<f32>(y + <usize>i * F32, v < 0 ? 0 : v);
  }
}

/** out = x > 0 ? dy : 0 for elements [first, first + count) (relu'(0) = 0; a NaN x gives 0). */
export function reluBackward(dy: usize, x: usize, out: usize, first: i32, count: i32): void {
  const at = <usize>first * F32;
  reluBackwardRun(dy + at, x + at, out + at, count);
}

/** out = x > 0 ? dy : 0 for n elements (out may be dy). */
export function reluBackwardRun(dy: usize, x: usize, out: usize, n: i32): void {
  const zero = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const at = <usize>i * F32;
    v128.store(out + at, v128.and(v128.load(dy + at), f32x4.gt(v128.load(x + at), zero)));
  }
  for (; i < n; i++) {
    const at = <usize>i * F32;
    store<f32>(out + at, load<f32>(x + at) > 0 ? load<f32>(dy + at) : 0);
  }
}

/** lcm(channels, 4): the period, in floats, after which the bias lines up with vectors again. */
// @ts-ignore: decorator
@inline
function biasPeriod(channels: i32): i32 {
  return channels % 4 == 0 ? channels : channels % 2 == 0 ? channels * 2 : channels * 4;
}

export function biasAddWorkspaceBytes(channels: i32): usize {
  return alignUp(<usize>biasPeriod(channels) * F32);
}

/** out = relu?(x + bias[c]) for rows [firstRow, firstRow + rowCount) of [rows, C] data. */
export function biasAdd(x: usize, bias: usize, out: usize, channels: i32, relu: bool, firstRow: i32, rowCount: i32, workspace: usize): void {
  const at = <usize>(firstRow * channels) * F32;
  biasAddRun(x + at, bias, out + at, rowCount * channels, channels, relu, workspace);
}

function biasAddRun(x: usize, bias: usize, out: usize, n: i32, channels: i32, relu: bool, workspace: usize): void {
  if (channels <= 0 || n <= 0) return;
  const period = biasPeriod(channels);
  const pattern = workspace;
  for (let i = 0; i < period; i++) store<f32>(pattern + <usize>i * F32, load<f32>(bias + <usize>(i % channels) * F32));
  const zero = f32x4.splat(0);
  const whole = n - n % period;
  for (let start = 0; start < whole; start += period) {
    const from = x + <usize>start * F32;
    const to = out + <usize>start * F32;
    for (let i = 0; i < period; i += 4) {
      const at = <usize>i * F32;
      let v = f32x4.add(v128.load(from + at), v128.load(pattern + at));
      if (relu) v = f32x4.pmax(v, zero);
      v128.store(to + at, v);
    }
  }
  for (let i = whole; i < n; i++) {
    let v = load<f32>(x + <usize>i * F32) + load<f32>(pattern + <usize>(i - whole) * F32);
    if (relu && v < 0) v = 0;
    store<f32>(out + <usize>i * F32, v);
  }
}

/**
 * The block the bias gradient sums over, in floats: a whole number of
 * periods, and at least 4 vectors where periods of 1 or 2 vectors fit (C = 1,
 * 2, 4, 8), so that a strip of 4 vectors has enough independent sums.
 */
// @ts-ignore: decorator
@inline
function biasGradBlock(channels: i32): i32 {
  const period = biasPeriod(channels);
  return period * max(1, 16 / period);
}

export function biasAddGradWorkspaceBytes(channels: i32): usize {
  return alignUp(<usize>biasGradBlock(channels) * F64);
}

/**
 * Column sums of a strip `vectors` (1 to 4) vectors wide, down `count` rows
 * `stride` bytes apart from `from`, in float64 kept in registers (two floats
 * at a time, loaded straight into an f64x2); stored at `sums` (4·vectors
 * float64).
 */
// @ts-ignore: decorator
@inline
function sumStrip(from: usize, count: i32, stride: usize, vectors: i32, sums: usize): void {
  let s0 = f64x2.splat(0), s1 = f64x2.splat(0), s2 = f64x2.splat(0), s3 = f64x2.splat(0);
  let s4 = f64x2.splat(0), s5 = f64x2.splat(0), s6 = f64x2.splat(0), s7 = f64x2.splat(0);
  for (let i = 0; i < count; i++) {
    s0 = f64x2.add(s0, f64x2.promote_low_f32x4(v128.load64_zero(from)));
    s1 = f64x2.add(s1, f64x2.promote_low_f32x4(v128.load64_zero(from, 8)));
    if (vectors > 1) {
      s2 = f64x2.add(s2, f64x2.promote_low_f32x4(v128.load64_zero(from, 16)));
      s3 = f64x2.add(s3, f64x2.promote_low_f32x4(v128.load64_zero(from, 24)));
    }
    if (vectors > 2) {
      s4 = f64x2.add(s4, f64x2.promote_low_f32x4(v128.load64_zero(from, 32)));
      s5 = f64x2.add(s5, f64x2.promote_low_f32x4(v128.load64_zero(from, 40)));
    }
    if (vectors > 3) {
      s6 = f64x2.add(s6, f64x2.promote_low_f32x4(v128.load64_zero(from, 48)));
      s7 = f64x2.add(s7, f64x2.promote_low_f32x4(v128.load64_zero(from, 56)));
    }
    from += stride;
  }
  v128.store(sums, s0);
  v128.store(sums, s1, 16);
  if (vectors > 1) {
    v128.store(sums, s2, 32);
    v128.store(sums, s3, 48);
  }
  if (vectors > 2) {
    v128.store(sums, s4, 64);
    v128.store(sums, s5, 80);
  }
  if (vectors > 3) {
    v128.store(sums, s6, 96);
    v128.store(sums, s7, 112);
  }
}

/**
 * out[c] = Σ over rows of dy[row, c], for n elements of [rows, C] data,
 * summed in float64: one sum per position of a block of whole periods
 * (`biasGradBlock`), taken in strips of up to 4 vectors down all the whole
 * blocks with the sums in registers, then the last, partial block one
 * element at a time; the sums are added up per channel at the end.
 */
export function biasAddGrad(dy: usize, n: i32, channels: i32, out: usize, workspace: usize): void {
  if (channels <= 0) return;
  const block = biasGradBlock(channels);
  const blocks = n / block;
  const total = workspace;
  for (let s = 0; s < block; s += 16) {
    sumStrip(dy + <usize>s * F32, blocks, <usize>block * F32, min(4, (block - s) / 4), total + <usize>s * F64);
  }
  // The last, partial block: one float64 add per element.
  const whole = blocks * block;
  for (let i = whole; i < n; i++) {
    const sum = total + <usize>(i - whole) * F64;
    store<f64>(sum, load<f64>(sum) + <f64>load<f32>(dy + <usize>i * F32));
  }
  for (let c = 0; c < channels; c++) {
    let s: f64 = 0;
    for (let i = c; i < block; i += channels) s += load<f64>(total + <usize>i * F64);
    store<f32>(out + <usize>c * F32, <f32>s);
  }
}
