// eˣ and eˣ − 1 on two float64 lanes, for the activation kernels. The
// argument is reduced to x = k·ln 2 + r with |r| ≤ ln 2 / 2 (ln 2 split in
// two so k·ln2Hi is exact), eʳ − 1 is its Taylor polynomial to r¹³ (the
// next term is below 1e-17 of the result), and 2ᵏ is built from its
// exponent bits. Within a few float64 ulps of the correctly rounded value,
// so once rounded to float32 the results are those of the JavaScript
// kernels' Math.exp / Math.expm1 except, rarely, by one float32 ulp.

const LOG2E: f64 = 1.4426950408889634;
const LN2_HI: f64 = 6.93147180369123816490e-1;
const LN2_LO: f64 = 1.90821492927058770002e-10;
/** 2⁵² + 2⁵¹: adding it to a small integral float64 leaves the integer in the low bits. */
const ROUNDING_MAGIC: f64 = 6755399441055744.0;
/** Inside these, 2ᵏ is a normal float64; beyond them eˣ is taken as 0 or ∞ (a float32 result would round there anyway). */
const LOWEST: f64 = -708;
const HIGHEST: f64 = 709;

/** c + d·r on both lanes. */
// @ts-ignore: decorator
@inline
function linear(c: f64, d: f64, r: v128): v128 {
  return f64x2.add(f64x2.splat(c), f64x2.mul(f64x2.splat(d), r));
}

/**
 * eʳ − 1 = r·(1 + r/2! + r²/3! + … + r¹²/13!), the polynomial in Estrin's
 * order (pairs, then pairs of pairs, with r², r⁴, r⁸) rather than Horner's:
 * a quarter of the chain of dependent operations, so the lanes do not wait.
 */
// @ts-ignore: decorator
@inline
function expm1Reduced(r: v128): v128 {
  const r2 = f64x2.mul(r, r);
  const r4 = f64x2.mul(r2, r2);
  const r8 = f64x2.mul(r4, r4);
  const a0 = linear(1.0, 1.0 / 2.0, r);
  const a1 = linear(1.0 / 6.0, 1.0 / 24.0, r);
  const a2 = linear(1.0 / 120.0, 1.0 / 720.0, r);
  const a3 = linear(1.0 / 5040.0, 1.0 / 40320.0, r);
  const a4 = linear(1.0 / 362880.0, 1.0 / 3628800.0, r);
  const a5 = linear(1.0 / 39916800.0, 1.0 / 479001600.0, r);
  const b0 = f64x2.add(a0, f64x2.mul(a1, r2));
  const b1 = f64x2.add(a2, f64x2.mul(a3, r2));
  const b2 = f64x2.add(a4, f64x2.mul(a5, r2));
  const b3 = f64x2.splat(1.0 / 6227020800.0);
  const d0 = f64x2.add(b0, f64x2.mul(b1, r4));
  const d1 = f64x2.add(b2, f64x2.mul(b3, r4));
  return f64x2.mul(r, f64x2.add(d0, f64x2.mul(d1, r8)));
}

/** k = round(x / ln 2), as a float64 lane. */
// @ts-ignore: decorator
@inline
function exponentOf(x: v128): v128 {
  return f64x2.nearest(f64x2.mul(x, f64x2.splat(LOG2E)));
}

// @ts-ignore: decorator
@inline
function reducedArgument(x: v128, k: v128): v128 {
  return f64x2.sub(f64x2.sub(x, f64x2.mul(k, f64x2.splat(LN2_HI))), f64x2.mul(k, f64x2.splat(LN2_LO)));
}

/** 2ᵏ for integral k in [−1022, 1023]. */
// @ts-ignore: decorator
@inline
function powerOfTwo(k: v128): v128 {
  const magic = f64x2.splat(ROUNDING_MAGIC);
  const integer = i64x2.sub(f64x2.add(k, magic), magic);
  return i64x2.shl(i64x2.add(integer, i64x2.splat(1023)), 52);
}

/** Outside [LOWEST, HIGHEST] (where 2ᵏ is not built right), `below` or ∞ instead of `inside`. */
// @ts-ignore: decorator
@inline
function saturated(x: v128, inside: v128, below: f64): v128 {
  const low = v128.bitselect(f64x2.splat(below), inside, f64x2.lt(x, f64x2.splat(LOWEST)));
  return v128.bitselect(f64x2.splat(Infinity), low, f64x2.gt(x, f64x2.splat(HIGHEST)));
}

/** eˣ on both lanes (NaN stays NaN). */
// @ts-ignore: decorator
@inline
export function exp2Lanes(x: v128): v128 {
  const k = exponentOf(x);
  const scale = powerOfTwo(k);
  return saturated(x, f64x2.add(f64x2.mul(scale, expm1Reduced(reducedArgument(x, k))), scale), 0.0);
}

/** eˣ − 1 on both lanes, accurate for small x (k = 0 leaves the polynomial alone); ±0 gives ±0. */
// @ts-ignore: decorator
@inline
export function expm12Lanes(x: v128): v128 {
  const k = exponentOf(x);
  const scale = powerOfTwo(k);
  const zero = f64x2.eq(x, f64x2.splat(0.0));
  return v128.bitselect(x, saturated(x, f64x2.add(f64x2.mul(scale, expm1Reduced(reducedArgument(x, k))), f64x2.sub(scale, f64x2.splat(1.0))), -1.0), zero);
}
