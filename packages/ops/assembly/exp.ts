// eˣ and eˣ − 1 on four float32 lanes, for the activation kernels. The
// argument is reduced to x = k·ln 2 + r with |r| ≤ ln 2 / 2 (ln 2 split in
// two so k·ln2Hi is exact), eʳ − 1 is its Taylor polynomial to r⁷ (the next
// term is below a tenth of a float32 ulp), and 2ᵏ is built from exponent
// bits. Within about one float32 ulp of the correctly rounded value
// (test/properties.test.ts bounds the activations built on them).
//
// The constants are read from a table in memory, each already on all four
// lanes: V8 builds a v128 constant with several instructions every time a
// loop uses it, a load from the table is one.

// Where each constant is in the table (units of 16 bytes).
const LOG2E = 0;
/** ln 2 = LN2_HI + LN2_LO, LN2_HI with few enough bits that k·LN2_HI is exact. */
const LN2_HI = 1;
const LN2_LO = 2;
/** Below LOWEST eˣ rounds to 0 in float32, above HIGHEST to ∞ (and eˣ − 1 to −1 below EXPM1_LOWEST). */
const LOWEST = 3;
const HIGHEST = 4;
const EXPM1_LOWEST = 5;
const INFINITY = 6;
const ONE = 7;
const MINUS_ONE = 8;
/** 1/(n+1)! for n = 0 … 6: the coefficients of (eʳ − 1)/r. */
const TAYLOR = 9;

/** `v` on four lanes, as the table's f32 values. */
const TABLE: usize = memory.data<f32>([
  1.44269504, 1.44269504, 1.44269504, 1.44269504,
  0.693359375, 0.693359375, 0.693359375, 0.693359375,
  -2.12194440e-4, -2.12194440e-4, -2.12194440e-4, -2.12194440e-4,
  -104, -104, -104, -104,
  89, 89, 89, 89,
  -88, -88, -88, -88,
  Infinity, Infinity, Infinity, Infinity,
  1, 1, 1, 1,
  -1, -1, -1, -1,
  1.0, 1.0, 1.0, 1.0,
  1.0 / 2.0, 1.0 / 2.0, 1.0 / 2.0, 1.0 / 2.0,
  1.0 / 6.0, 1.0 / 6.0, 1.0 / 6.0, 1.0 / 6.0,
  1.0 / 24.0, 1.0 / 24.0, 1.0 / 24.0, 1.0 / 24.0,
  1.0 / 120.0, 1.0 / 120.0, 1.0 / 120.0, 1.0 / 120.0,
  1.0 / 720.0, 1.0 / 720.0, 1.0 / 720.0, 1.0 / 720.0,
  1.0 / 5040.0, 1.0 / 5040.0, 1.0 / 5040.0, 1.0 / 5040.0,
], 16);

/** Constant `k` of the table on all lanes. */
// @ts-ignore: decorator
@inline
export function constant(k: i32): v128 {
  return v128.load(TABLE + <usize>k * 16);
}

export const CONSTANT_ONE = ONE;

/** Taylor coefficients n + d·r, for n and n + 1. */
// @ts-ignore: decorator
@inline
function linear(n: i32, r: v128): v128 {
  return f32x4.add(constant(TAYLOR + n), f32x4.mul(constant(TAYLOR + n + 1), r));
}

/** eʳ − 1 = r·(1 + r/2! + … + r⁶/7!), in Estrin's order (pairs, then with r², r⁴): a short chain of dependent operations. */
// @ts-ignore: decorator
@inline
function expm1Reduced(r: v128): v128 {
  const r2 = f32x4.mul(r, r);
  const r4 = f32x4.mul(r2, r2);
  const b0 = f32x4.add(linear(0, r), f32x4.mul(linear(2, r), r2));
  const b1 = f32x4.add(linear(4, r), f32x4.mul(constant(TAYLOR + 6), r2));
  return f32x4.mul(r, f32x4.add(b0, f32x4.mul(b1, r4)));
}

/** k = round(x / ln 2) as a float, and r = x − k·ln 2. */
// @ts-ignore: decorator
@inline
function exponentOf(x: v128): v128 {
  return f32x4.nearest(f32x4.mul(x, constant(LOG2E)));
}

// @ts-ignore: decorator
@inline
function reducedArgument(x: v128, k: v128): v128 {
  return f32x4.sub(f32x4.sub(x, f32x4.mul(k, constant(LN2_HI))), f32x4.mul(k, constant(LN2_LO)));
}

/** 2ⁿ for integral n in [−126, 127], n an i32 lane. */
// @ts-ignore: decorator
@inline
function powerOfTwo(n: v128): v128 {
  return i32x4.shl(i32x4.add(n, i32x4.splat(127)), 23);
}

/** eˣ on four lanes (NaN stays NaN; results below the normal range round into the subnormals). */
// @ts-ignore: decorator
@inline
export function exp4Lanes(x: v128): v128 {
  const k = exponentOf(x);
  const n = i32x4.trunc_sat_f32x4_s(k);
  // 2ᵏ in two halves, so that k down to −150 (subnormal results) and up to 128 stay in range.
  const half = i32x4.shr_s(n, 1);
  const e = f32x4.mul(f32x4.mul(f32x4.add(expm1Reduced(reducedArgument(x, k)), constant(ONE)), powerOfTwo(half)), powerOfTwo(i32x4.sub(n, half)));
  const low = v128.bitselect(f32x4.splat(0), e, f32x4.lt(x, constant(LOWEST)));
  return v128.bitselect(constant(INFINITY), low, f32x4.gt(x, constant(HIGHEST)));
}

/**
 * eˣ − 1 for x ≤ 0 on four lanes (what tanh and elu need), accurate near 0
 * (k = 0 leaves the polynomial alone); ±0 gives ±0, −∞ gives −1.
 */
// @ts-ignore: decorator
@inline
export function expm1NonPositive4Lanes(x: v128): v128 {
  const k = exponentOf(x);
  const scale = powerOfTwo(i32x4.trunc_sat_f32x4_s(k));
  const value = f32x4.add(f32x4.mul(scale, expm1Reduced(reducedArgument(x, k))), f32x4.sub(scale, constant(ONE)));
  const saturated = v128.bitselect(constant(MINUS_ONE), value, f32x4.lt(x, constant(EXPM1_LOWEST)));
  return v128.bitselect(x, saturated, f32x4.eq(x, f32x4.splat(0)));
}
