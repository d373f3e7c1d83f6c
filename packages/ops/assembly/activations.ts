// tanh, the logistic sigmoid and elu, and their gradients, over flat float32
// arrays, two elements at a time on float64 lanes, rounded once when stored,
// like the JavaScript kernels (ops/tanh.ts, sigmoid.ts, elu.ts and their
// gradients). The gradients of tanh and sigmoid repeat the JavaScript
// arithmetic operation for operation (the same bits); eˣ and eˣ − 1 come from
// exp.ts, within a few float64 ulps of Math.exp / Math.expm1, so a result may
// differ from the JavaScript kernel's by one float32 ulp, rarely.
//
// Every kernel here takes its share of the elements last, (first, count), so
// threads can split a call between them without changing a bit.

import { exp2Lanes, expm12Lanes } from './exp';

const F32: usize = 4;

/** Two float32 values widened to float64 lanes. */
// @ts-ignore: decorator
@inline
function load2(at: usize): v128 {
  return f64x2.promote_low_f32x4(v128.load64_zero(at));
}

/** One float32 value in the low float64 lane (the other is 0). */
// @ts-ignore: decorator
@inline
function load1(at: usize): v128 {
  return f64x2.promote_low_f32x4(v128.load32_zero(at));
}

// @ts-ignore: decorator
@inline
function store2(at: usize, v: v128): void {
  v128.store64_lane(at, f32x4.demote_f64x2_zero(v), 0);
}

// @ts-ignore: decorator
@inline
function store1(at: usize, v: v128): void {
  v128.store32_lane(at, f32x4.demote_f64x2_zero(v), 0);
}

const SIGN: u64 = 0x8000000000000000;

/** tanh x = −m / (2 + m) with m = e^(−2|x|) − 1, the sign of x put back. */
// @ts-ignore: decorator
@inline
function tanhLanes(x: v128): v128 {
  const m = expm12Lanes(f64x2.mul(f64x2.abs(x), f64x2.splat(-2.0)));
  const t = f64x2.abs(f64x2.div(f64x2.neg(m), f64x2.add(f64x2.splat(2.0), m)));
  return v128.or(t, v128.and(x, i64x2.splat(SIGN)));
}

export function tanhForward(x: usize, y: usize, first: i32, count: i32): void {
  x += <usize>first * F32;
  y += <usize>first * F32;
  const n = count;
  let i = 0;
  for (; i + 2 <= n; i += 2) store2(y + <usize>i * F32, tanhLanes(load2(x + <usize>i * F32)));
  if (i < n) store1(y + <usize>i * F32, tanhLanes(load1(x + <usize>i * F32)));
}

/** 1 / (1 + e^−x) for x ≥ 0, eˣ / (1 + eˣ) below (e^−|x| is never large). */
// @ts-ignore: decorator
@inline
function sigmoidLanes(x: v128): v128 {
  const e = exp2Lanes(f64x2.neg(f64x2.abs(x)));
  const onePlus = f64x2.add(f64x2.splat(1.0), e);
  return v128.bitselect(f64x2.div(f64x2.splat(1.0), onePlus), f64x2.div(e, onePlus), f64x2.ge(x, f64x2.splat(0.0)));
}

export function sigmoidForward(x: usize, y: usize, first: i32, count: i32): void {
  x += <usize>first * F32;
  y += <usize>first * F32;
  const n = count;
  let i = 0;
  for (; i + 2 <= n; i += 2) store2(y + <usize>i * F32, sigmoidLanes(load2(x + <usize>i * F32)));
  if (i < n) store1(y + <usize>i * F32, sigmoidLanes(load1(x + <usize>i * F32)));
}

/** x for x > 0, alpha·(eˣ − 1) otherwise. */
// @ts-ignore: decorator
@inline
function eluLanes(x: v128, alpha: v128): v128 {
  return v128.bitselect(x, f64x2.mul(alpha, expm12Lanes(x)), f64x2.gt(x, f64x2.splat(0.0)));
}

export function eluForward(x: usize, y: usize, alpha: f64, first: i32, count: i32): void {
  x += <usize>first * F32;
  y += <usize>first * F32;
  const n = count;
  const a = f64x2.splat(alpha);
  let i = 0;
  for (; i + 2 <= n; i += 2) store2(y + <usize>i * F32, eluLanes(load2(x + <usize>i * F32), a));
  if (i < n) store1(y + <usize>i * F32, eluLanes(load1(x + <usize>i * F32), a));
}

/** dy for x > 0, dy·alpha·eˣ otherwise. */
// @ts-ignore: decorator
@inline
function eluGradLanes(dy: v128, x: v128, alpha: v128): v128 {
  return v128.bitselect(dy, f64x2.mul(f64x2.mul(dy, alpha), exp2Lanes(x)), f64x2.gt(x, f64x2.splat(0.0)));
}

export function eluBackward(dy: usize, x: usize, out: usize, alpha: f64, first: i32, count: i32): void {
  dy += <usize>first * F32;
  x += <usize>first * F32;
  out += <usize>first * F32;
  const n = count;
  const a = f64x2.splat(alpha);
  let i = 0;
  for (; i + 2 <= n; i += 2) {
    const at = <usize>i * F32;
    store2(out + at, eluGradLanes(load2(dy + at), load2(x + at), a));
  }
  if (i < n) {
    const at = <usize>i * F32;
    store1(out + at, eluGradLanes(load1(dy + at), load1(x + at), a));
  }
}

/** dy·(1 − y²). */
// @ts-ignore: decorator
@inline
function tanhGradLanes(dy: v128, t: v128): v128 {
  return f64x2.mul(dy, f64x2.sub(f64x2.splat(1.0), f64x2.mul(t, t)));
}

export function tanhBackward(dy: usize, y: usize, out: usize, first: i32, count: i32): void {
  dy += <usize>first * F32;
  y += <usize>first * F32;
  out += <usize>first * F32;
  const n = count;
  let i = 0;
  for (; i + 2 <= n; i += 2) {
    const at = <usize>i * F32;
    store2(out + at, tanhGradLanes(load2(dy + at), load2(y + at)));
  }
  if (i < n) {
    const at = <usize>i * F32;
    store1(out + at, tanhGradLanes(load1(dy + at), load1(y + at)));
  }
}

/** dy·y·(1 − y). */
// @ts-ignore: decorator
@inline
function sigmoidGradLanes(dy: v128, s: v128): v128 {
  return f64x2.mul(f64x2.mul(dy, s), f64x2.sub(f64x2.splat(1.0), s));
}

export function sigmoidBackward(dy: usize, y: usize, out: usize, first: i32, count: i32): void {
  dy += <usize>first * F32;
  y += <usize>first * F32;
  out += <usize>first * F32;
  const n = count;
  let i = 0;
  for (; i + 2 <= n; i += 2) {
    const at = <usize>i * F32;
    store2(out + at, sigmoidGradLanes(load2(dy + at), load2(y + at)));
  }
  if (i < n) {
    const at = <usize>i * F32;
    store1(out + at, sigmoidGradLanes(load1(dy + at), load1(y + at)));
  }
}

// Elementwise a ∘ b of two float32 arrays of one shape, four lanes at a time.
// A float32 sum, difference or product is correctly rounded either way, so
// these give the bits of the JavaScript kernels (float64 arithmetic rounded
// to float32: double rounding cannot change a float32 add or multiply).

export function addSame(a: usize, b: usize, out: usize, first: i32, count: i32): void {
  a += <usize>first * F32;
  b += <usize>first * F32;
  out += <usize>first * F32;
  const n = count;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const at = <usize>i * F32;
    v128.store(out + at, f32x4.add(v128.load(a + at), v128.load(b + at)));
  }
  for (; i < n; i++) store<f32>(out + <usize>i * F32, load<f32>(a + <usize>i * F32) + load<f32>(b + <usize>i * F32));
}

export function subSame(a: usize, b: usize, out: usize, first: i32, count: i32): void {
  a += <usize>first * F32;
  b += <usize>first * F32;
  out += <usize>first * F32;
  const n = count;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const at = <usize>i * F32;
    v128.store(out + at, f32x4.sub(v128.load(a + at), v128.load(b + at)));
  }
  for (; i < n; i++) store<f32>(out + <usize>i * F32, load<f32>(a + <usize>i * F32) - load<f32>(b + <usize>i * F32));
}

export function mulSame(a: usize, b: usize, out: usize, first: i32, count: i32): void {
  a += <usize>first * F32;
  b += <usize>first * F32;
  out += <usize>first * F32;
  const n = count;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const at = <usize>i * F32;
    v128.store(out + at, f32x4.mul(v128.load(a + at), v128.load(b + at)));
  }
  for (; i < n; i++) store<f32>(out + <usize>i * F32, load<f32>(a + <usize>i * F32) * load<f32>(b + <usize>i * F32));
}

/** y = factor·x, the product in float64 (factor is a float64 number) rounded once, as the JavaScript kernel does. */
export function scaleForward(x: usize, y: usize, factor: f64, first: i32, count: i32): void {
  x += <usize>first * F32;
  y += <usize>first * F32;
  const n = count;
  const f = f64x2.splat(factor);
  let i = 0;
  for (; i + 2 <= n; i += 2) store2(y + <usize>i * F32, f64x2.mul(f, load2(x + <usize>i * F32)));
  if (i < n) store1(y + <usize>i * F32, f64x2.mul(f, load1(x + <usize>i * F32)));
}

/** x for x > 0, alpha·x otherwise (in float64, rounded once). */
// @ts-ignore: decorator
@inline
function leakyReluLanes(x: v128, alpha: v128): v128 {
  return v128.bitselect(x, f64x2.mul(alpha, x), f64x2.gt(x, f64x2.splat(0.0)));
}

export function leakyReluForward(x: usize, y: usize, alpha: f64, first: i32, count: i32): void {
  x += <usize>first * F32;
  y += <usize>first * F32;
  const n = count;
  const a = f64x2.splat(alpha);
  let i = 0;
  for (; i + 2 <= n; i += 2) store2(y + <usize>i * F32, leakyReluLanes(load2(x + <usize>i * F32), a));
  if (i < n) store1(y + <usize>i * F32, leakyReluLanes(load1(x + <usize>i * F32), a));
}
