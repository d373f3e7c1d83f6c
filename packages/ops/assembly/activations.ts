// tanh, the logistic sigmoid and elu, and their gradients, over flat float32
// arrays, like the JavaScript kernels (ops/tanh.ts, sigmoid.ts, elu.ts and
// their gradients). The functions built on eˣ (tanh, sigmoid, elu and elu's
// gradient) compute on four float32 lanes with exp.ts, within a few float32
// ulps of the JavaScript kernels (test/properties.test.ts bounds them); the
// others compute on two float64 lanes and round once, repeating the
// JavaScript arithmetic operation for operation (the same bits).
//
// Every kernel here takes its share of the elements last, (first, count), so
// threads can split a call between them without changing a bit.

import { constant, CONSTANT_ONE, exp4Lanes, expm1NonPositive4Lanes } from './exp';

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

/** The last `count` (< 4) float32 values from `at` in the low lanes, 0 in the others. */
// @ts-ignore: decorator
@inline
function loadPartial(at: usize, count: i32): v128 {
  let v = f32x4.splat(0);
  v = f32x4.replace_lane(v, 0, load<f32>(at));
  if (count > 1) v = f32x4.replace_lane(v, 1, load<f32>(at + F32));
  if (count > 2) v = f32x4.replace_lane(v, 2, load<f32>(at + 2 * F32));
  return v;
}

// @ts-ignore: decorator
@inline
function storePartial(at: usize, v: v128, count: i32): void {
  store<f32>(at, f32x4.extract_lane(v, 0));
  if (count > 1) store<f32>(at + F32, f32x4.extract_lane(v, 1));
  if (count > 2) store<f32>(at + 2 * F32, f32x4.extract_lane(v, 2));
}

const SIGN: u32 = 0x80000000;

/** tanh x = −m / (2 + m) with m = e^(−2|x|) − 1, the sign of x put back. */
// @ts-ignore: decorator
@inline
function tanhLanes(x: v128): v128 {
  const m = expm1NonPositive4Lanes(f32x4.mul(f32x4.abs(x), f32x4.splat(-2.0)));
  const t = f32x4.abs(f32x4.div(f32x4.neg(m), f32x4.add(f32x4.splat(2.0), m)));
  return v128.or(t, v128.and(x, i32x4.splat(SIGN)));
}

export function tanhForward(x: usize, y: usize, first: i32, count: i32): void {
  x += <usize>first * F32;
  y += <usize>first * F32;
  let i = 0;
  for (; i + 4 <= count; i += 4) v128.store(y + <usize>i * F32, tanhLanes(v128.load(x + <usize>i * F32)));
  if (i < count) storePartial(y + <usize>i * F32, tanhLanes(loadPartial(x + <usize>i * F32, count - i)), count - i);
}

/** 1 / (1 + e^−x) for x ≥ 0, eˣ / (1 + eˣ) below (e^−|x| is never large). */
// @ts-ignore: decorator
@inline
function sigmoidLanes(x: v128): v128 {
  const e = exp4Lanes(f32x4.neg(f32x4.abs(x)));
  const one = constant(CONSTANT_ONE);
  const onePlus = f32x4.add(one, e);
  return v128.bitselect(f32x4.div(one, onePlus), f32x4.div(e, onePlus), f32x4.ge(x, f32x4.splat(0)));
}

export function sigmoidForward(x: usize, y: usize, first: i32, count: i32): void {
  x += <usize>first * F32;
  y += <usize>first * F32;
  let i = 0;
  for (; i + 4 <= count; i += 4) v128.store(y + <usize>i * F32, sigmoidLanes(v128.load(x + <usize>i * F32)));
  if (i < count) storePartial(y + <usize>i * F32, sigmoidLanes(loadPartial(x + <usize>i * F32, count - i)), count - i);
}

/** x for x > 0, alpha·(eˣ − 1) otherwise. */
// @ts-ignore: decorator
@inline
function eluLanes(x: v128, alpha: v128): v128 {
  const negative = f32x4.min(x, f32x4.splat(0)); // the branch not taken must not overflow
  return v128.bitselect(x, f32x4.mul(alpha, expm1NonPositive4Lanes(negative)), f32x4.gt(x, f32x4.splat(0)));
}

export function eluForward(x: usize, y: usize, alpha: f64, first: i32, count: i32): void {
  x += <usize>first * F32;
  y += <usize>first * F32;
  const a = f32x4.splat(<f32>alpha);
  let i = 0;
  for (; i + 4 <= count; i += 4) v128.store(y + <usize>i * F32, eluLanes(v128.load(x + <usize>i * F32), a));
  if (i < count) storePartial(y + <usize>i * F32, eluLanes(loadPartial(x + <usize>i * F32, count - i), a), count - i);
}

/** dy for x > 0, dy·alpha·eˣ otherwise. */
// @ts-ignore: decorator
@inline
function eluGradLanes(dy: v128, x: v128, alpha: v128): v128 {
  return v128.bitselect(dy, f32x4.mul(f32x4.mul(dy, alpha), exp4Lanes(x)), f32x4.gt(x, f32x4.splat(0)));
}

export function eluBackward(dy: usize, x: usize, out: usize, alpha: f64, first: i32, count: i32): void {
  dy += <usize>first * F32;
  x += <usize>first * F32;
  out += <usize>first * F32;
  const a = f32x4.splat(<f32>alpha);
  let i = 0;
  for (; i + 4 <= count; i += 4) {
    const at = <usize>i * F32;
    v128.store(out + at, eluGradLanes(v128.load(dy + at), v128.load(x + at), a));
  }
  if (i < count) {
    const at = <usize>i * F32;
    storePartial(out + at, eluGradLanes(loadPartial(dy + at, count - i), loadPartial(x + at, count - i), a), count - i);
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
