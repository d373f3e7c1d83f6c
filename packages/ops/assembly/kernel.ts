// The micro-kernel: one MR × NR (4 × 8) tile of C from one packed panel of A
// (kc steps of 4 values) and one packed panel of B (kc steps of 8 values).
// Each step broadcasts one value of A per row and multiplies it into the two
// vectors of B: 8 multiply-adds of 4 lanes, 64 flops per step.

import { MR, NR } from './tile';

const F32: usize = 4;

/** Writes alpha·acc (+ beta·C when beta ≠ 0) to the 8 floats at `c`. */
// @ts-ignore: decorator
@inline
function updateRow(c: usize, lo: v128, hi: v128, alpha: v128, beta: v128, betaIsZero: bool): void {
  let left = f32x4.mul(alpha, lo);
  let right = f32x4.mul(alpha, hi);
  if (!betaIsZero) {
    left = f32x4.add(left, f32x4.mul(beta, v128.load(c)));
    right = f32x4.add(right, f32x4.mul(beta, v128.load(c, 16)));
  }
  v128.store(c, left);
  v128.store(c, right, 16);
}

/** Writes one float: x (+ beta·C when beta ≠ 0). */
// @ts-ignore: decorator
@inline
function updateOne(c: usize, x: f32, beta: f32, betaIsZero: bool): void {
  store<f32>(c, betaIsZero ? x : x + beta * load<f32>(c));
}

/**
 * Like `updateRow` for a row cut by the right edge of C: writes only the
 * first `cols` (1 to 8) floats, four at a time and then one lane at a time.
 */
function updatePartialRow(c: usize, lo: v128, hi: v128, cols: i32, alpha: v128, beta: f32, betaIsZero: bool): void {
  let rest = f32x4.mul(alpha, lo);
  if (cols >= 4) {
    store4(c, rest, beta, betaIsZero);
    c += 4 * F32;
    cols -= 4;
    rest = f32x4.mul(alpha, hi);
  }
  if (cols >= 4) {
    store4(c, rest, beta, betaIsZero);
    return;
  }
  if (cols > 0) updateOne(c, f32x4.extract_lane(rest, 0), beta, betaIsZero);
  if (cols > 1) updateOne(c + F32, f32x4.extract_lane(rest, 1), beta, betaIsZero);
  if (cols > 2) updateOne(c + 2 * F32, f32x4.extract_lane(rest, 2), beta, betaIsZero);
}

/** Writes 4 floats: x (+ beta·C when beta ≠ 0). */
// @ts-ignore: decorator
@inline
function store4(c: usize, x: v128, beta: f32, betaIsZero: bool): void {
  v128.store(c, betaIsZero ? x : f32x4.add(x, f32x4.mul(f32x4.splat(beta), v128.load(c))));
}

/**
 * C = alpha · Apanel · Bpanel + beta · C for one tile at `c` whose rows are
 * `ldc` bytes apart. Only `rows` × `cols` of the tile exist (fewer than
 * MR × NR at the bottom and right edges of C; the packed panels are
 * zero-padded there, so the arithmetic is the same). beta = 0 never reads C,
 * so NaN or garbage there does not leak into the result.
 */
export function microKernel(kc: i32, a: usize, b: usize, alpha: f32, beta: f32, c: usize, ldc: usize, rows: i32, cols: i32): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(b);
    const b1 = v128.load(b, 16);
    let ai = v128.load32_splat(a);
    c00 = f32x4.add(c00, f32x4.mul(ai, b0));
    c01 = f32x4.add(c01, f32x4.mul(ai, b1));
    ai = v128.load32_splat(a, 4);
    c10 = f32x4.add(c10, f32x4.mul(ai, b0));
    c11 = f32x4.add(c11, f32x4.mul(ai, b1));
    ai = v128.load32_splat(a, 8);
    c20 = f32x4.add(c20, f32x4.mul(ai, b0));
    c21 = f32x4.add(c21, f32x4.mul(ai, b1));
    ai = v128.load32_splat(a, 12);
    c30 = f32x4.add(c30, f32x4.mul(ai, b0));
    c31 = f32x4.add(c31, f32x4.mul(ai, b1));
    a += <usize>MR * F32;
    b += <usize>NR * F32;
  }
  const va = f32x4.splat(alpha);
  const betaIsZero = beta == 0;
  if (rows == MR && cols == NR) {
    const vb = f32x4.splat(beta);
    updateRow(c, c00, c01, va, vb, betaIsZero);
    updateRow(c + ldc, c10, c11, va, vb, betaIsZero);
    updateRow(c + 2 * ldc, c20, c21, va, vb, betaIsZero);
    updateRow(c + 3 * ldc, c30, c31, va, vb, betaIsZero);
  } else {
    updatePartialRow(c, c00, c01, cols, va, beta, betaIsZero);
    if (rows > 1) updatePartialRow(c + ldc, c10, c11, cols, va, beta, betaIsZero);
    if (rows > 2) updatePartialRow(c + 2 * ldc, c20, c21, cols, va, beta, betaIsZero);
    if (rows > 3) updatePartialRow(c + 3 * ldc, c30, c31, cols, va, beta, betaIsZero);
  }
}
