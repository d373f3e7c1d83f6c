// The micro-kernel: one MR × NR (4 × 8) tile of C from one packed panel of A
// (kc steps of 4 values) and one packed panel of B (kc steps of 8 values).
// Each step broadcasts one value of A per row and multiplies it into the two
// vectors of B: 8 multiply-adds of 4 lanes, 64 flops per step.
// microKernelInPlace is the same loop on an A read where it lies (four row
// pointers walking runs of values), for the convolutions' implicit im2col:
// on LeNet's shapes it runs about as fast as on packed A, and the copies
// that packing (and im2col) would cost are gone.
//
// The epilogue finishes the tile in registers before it is stored, so fused
// ops cost no extra pass over C:
//
//   C = relu?( alpha · (A·B) + beta · C + bias[j] )
//
// beta = 0 never reads C (NaN or garbage there does not leak in); `bias` is
// the address of the tile's first bias value, or 0 for none; relu is
// v < 0 ? 0 : v (NaN passes through, −0 stays −0), the same as the
// JavaScript relu. Edge tiles (fewer than 4 rows or 8 columns left) are
// finished with the same vector arithmetic, loading and storing only the
// lanes that exist.

import { MR, NR } from './tile';

const F32: usize = 4;

/** The first `count` (0 to 4) floats at p in the low lanes, zeros above: never reads past them. */
// @ts-ignore: decorator
@inline
function loadPartial(p: usize, count: i32): v128 {
  if (count >= 4) return v128.load(p);
  let v = f32x4.splat(0);
  if (count > 0) v = f32x4.replace_lane(v, 0, load<f32>(p));
  if (count > 1) v = f32x4.replace_lane(v, 1, load<f32>(p, 4));
  if (count > 2) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
  return v;
}

/** Stores the low `count` (0 to 4) lanes of v at p: never writes past them. */
// @ts-ignore: decorator
@inline
function storePartial(p: usize, v: v128, count: i32): void {
  if (count >= 4) {
    v128.store(p, v);
    return;
  }
  if (count > 0) store<f32>(p, f32x4.extract_lane(v, 0));
  if (count > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
  if (count > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
}

/** relu?(alpha·acc + beta·C + bias) for `count` lanes at c (C is read only when beta ≠ 0). */
// @ts-ignore: decorator
@inline
function finish(acc: v128, c: usize, count: i32, alpha: v128, beta: v128, betaIsZero: bool, bias: v128, hasBias: bool, relu: bool): v128 {
  let v = f32x4.mul(alpha, acc);
  if (!betaIsZero) v = f32x4.add(v, f32x4.mul(beta, loadPartial(c, count)));
  // Without a bias nothing is added: x + 0 would turn −0 into +0.
  if (hasBias) v = f32x4.add(v, bias);
  if (relu) v = f32x4.pmax(v, f32x4.splat(0)); // pmax(v, 0) = v < 0 ? 0 : v
  return v;
}

/** Finishes and stores the first `cols` (1 to 8) floats of one row of the tile at c. */
// @ts-ignore: decorator
@inline
function finishRow(c: usize, lo: v128, hi: v128, cols: i32, alpha: v128, beta: v128, betaIsZero: bool, biasLo: v128, biasHi: v128, hasBias: bool, relu: bool): void {
  if (cols == NR) {
    v128.store(c, finish(lo, c, 4, alpha, beta, betaIsZero, biasLo, hasBias, relu));
    v128.store(c, finish(hi, c + 16, 4, alpha, beta, betaIsZero, biasHi, hasBias, relu), 16);
    return;
  }
  const left = min(cols, 4);
  storePartial(c, finish(lo, c, left, alpha, beta, betaIsZero, biasLo, hasBias, relu), left);
  if (cols > 4) storePartial(c + 16, finish(hi, c + 16, cols - 4, alpha, beta, betaIsZero, biasHi, hasBias, relu), cols - 4);
}

/**
 * Finishes the tile whose rows start at c0..c3 (only the first `rows` are
 * stored) from its accumulators: the epilogue of both micro-kernels.
 */
// @ts-ignore: decorator
@inline
function finishTile(
  c00: v128, c01: v128, c10: v128, c11: v128, c20: v128, c21: v128, c30: v128, c31: v128,
  alpha: f32, beta: f32, c0: usize, c1: usize, c2: usize, c3: usize, rows: i32, cols: i32, bias: usize, relu: bool,
): void {
  const va = f32x4.splat(alpha);
  const vb = f32x4.splat(beta);
  const betaIsZero = beta == 0;
  const hasBias = bias != 0;
  const biasLo = hasBias ? loadPartial(bias, min(cols, 4)) : f32x4.splat(0);
  const biasHi = hasBias && cols > 4 ? loadPartial(bias + 16, cols - 4) : f32x4.splat(0);
  finishRow(c0, c00, c01, cols, va, vb, betaIsZero, biasLo, biasHi, hasBias, relu);
  if (rows > 1) finishRow(c1, c10, c11, cols, va, vb, betaIsZero, biasLo, biasHi, hasBias, relu);
  if (rows > 2) finishRow(c2, c20, c21, cols, va, vb, betaIsZero, biasLo, biasHi, hasBias, relu);
  if (rows > 3) finishRow(c3, c30, c31, cols, va, vb, betaIsZero, biasLo, biasHi, hasBias, relu);
}

/**
 * C = relu?(alpha · Apanel · Bpanel + beta · C + bias) for one tile at `c`
 * whose rows are `ldc` bytes apart. Only `rows` × `cols` of the tile exist
 * (fewer than MR × NR at the bottom and right edges of C; the packed panels
 * are zero-padded there, so the arithmetic is the same): nothing outside
 * them is read or written. Inlined into the macro-kernel's loop.
 */
// @ts-ignore: decorator
@inline
export function microKernel(
  kc: i32, a: usize, b: usize, alpha: f32, beta: f32, c: usize, ldc: usize, rows: i32, cols: i32,
  bias: usize, relu: bool,
): void {
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
  finishTile(c00, c01, c10, c11, c20, c21, c30, c31, alpha, beta, c, c + ldc, c + 2 * ldc, c + 3 * ldc, rows, cols, bias, relu);
}

/**
 * The micro-kernel with A read where it lies instead of packed (the
 * convolutions read their im2col rows straight from the image this way).
 * Row r of the tile's A panel starts at a0..a3 (rows past `rows` may repeat
 * a0: they are computed but not stored); its kc = runs · run values come in
 * `runs` runs of `run` values `step` bytes apart, and each run starts `jump`
 * bytes after the one before (wrapping: a jump back is a large usize). B is
 * packed as for microKernel, one panel of `run` steps per run, `bJump` bytes
 * apart. The tile's rows of C start at c0..c3. Each row's products are added
 * in the same order as microKernel's, so the two give the same bits on the
 * same values.
 */
// @ts-ignore: decorator
@inline
export function microKernelInPlace(
  runs: i32, run: i32, step: usize, jump: usize, a0: usize, a1: usize, a2: usize, a3: usize, b: usize, bJump: usize,
  alpha: f32, beta: f32, c0: usize, c1: usize, c2: usize, c3: usize, rows: i32, cols: i32, bias: usize, relu: bool,
): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  const skip = jump - <usize>run * step;
  const bSkip = bJump - <usize>run * <usize>NR * F32;
  for (let s = 0; s < runs; s++) {
    for (let p = 0; p < run; p++) {
      const b0 = v128.load(b);
      const b1 = v128.load(b, 16);
      let ai = v128.load32_splat(a0);
      c00 = f32x4.add(c00, f32x4.mul(ai, b0));
      c01 = f32x4.add(c01, f32x4.mul(ai, b1));
      ai = v128.load32_splat(a1);
      c10 = f32x4.add(c10, f32x4.mul(ai, b0));
      c11 = f32x4.add(c11, f32x4.mul(ai, b1));
      ai = v128.load32_splat(a2);
      c20 = f32x4.add(c20, f32x4.mul(ai, b0));
      c21 = f32x4.add(c21, f32x4.mul(ai, b1));
      ai = v128.load32_splat(a3);
      c30 = f32x4.add(c30, f32x4.mul(ai, b0));
      c31 = f32x4.add(c31, f32x4.mul(ai, b1));
      a0 += step;
      a1 += step;
      a2 += step;
      a3 += step;
      b += <usize>NR * F32;
    }
    a0 += skip;
    a1 += skip;
    a2 += skip;
    a3 += skip;
    b += bSkip;
  }
  finishTile(c00, c01, c10, c11, c20, c21, c30, c31, alpha, beta, c0, c1, c2, c3, rows, cols, bias, relu);
}
