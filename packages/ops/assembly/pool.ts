// Max pooling over NHWC images, four channels at a time (with four or more
// channels; fewer go one at a time), for the images [firstImage, firstImage +
// imageCount). 2×2 windows with stride 2 that tile the image (LeNet's pools)
// have their own kernels with the four cells at fixed offsets.
//
// Conventions (the same as the host's reference kernels):
// - padding cells never take part; every window has at least one real cell;
// - ties: the FIRST maximum in row-major scan order (ki, then kj) wins and is
//   the only cell that receives the gradient;
// - NaN propagates: a window with a NaN has a NaN max, and its first NaN
//   receives the gradient.
// "v beats best" is v > best, or v is NaN while best is not.

import { zeroFloats } from './copy';
import { reluBackwardRun } from './elementwise';
import {
  geo, G_IN_HEIGHT, G_IN_WIDTH, G_CHANNELS, G_KERNEL_HEIGHT, G_KERNEL_WIDTH, G_STRIDE_HEIGHT, G_STRIDE_WIDTH,
  G_PAD_TOP, G_PAD_LEFT, G_OUT_HEIGHT, G_OUT_WIDTH,
} from './geometry';

const F32: usize = 4;

/**
 * Lanes where `best` stays ahead of a later `v`: v does not beat it (v ≤ best,
 * or best is NaN; the complement of "v beats best" in two comparisons
 * instead of three).
 */
// @ts-ignore: decorator
@inline
function keeps4(best: v128, v: v128): v128 {
  return v128.or(f32x4.le(v, best), f32x4.ne(best, best));
}

/** The first maximum of `best` and a later `v`, per lane. */
// @ts-ignore: decorator
@inline
function firstMax4(best: v128, v: v128): v128 {
  return v128.bitselect(best, v, keeps4(best, v));
}

// @ts-ignore: decorator
@inline
function keeps(best: f32, v: f32): bool {
  return v <= best || best != best;
}

// @ts-ignore: decorator
@inline
function beats(v: f32, best: f32): bool {
  return !keeps(best, v);
}

/** Lanes where v is the window's maximum `best` (equal, or both NaN). */
// @ts-ignore: decorator
@inline
function isBest4(v: v128, best: v128): v128 {
  return v128.or(f32x4.eq(v, best), v128.and(f32x4.ne(v, v), f32x4.ne(best, best)));
}

/** A lane mask with the first `lanes` (0 to 3) lanes set. */
// @ts-ignore: decorator
@inline
function alreadyDone(lanes: i32): v128 {
  let mask = i32x4.splat(0);
  if (lanes > 0) mask = i32x4.replace_lane(mask, 0, -1);
  if (lanes > 1) mask = i32x4.replace_lane(mask, 1, -1);
  if (lanes > 2) mask = i32x4.replace_lane(mask, 2, -1);
  return mask;
}

// One output position's window: rows [ihStart, ihEnd) × columns [iwStart, iwEnd) of `image`.

// @ts-ignore: decorator
@inline
function windowMax4(image: usize, W: i32, C: i32, c: i32, ihStart: i32, ihEnd: i32, iwStart: i32, iwEnd: i32): v128 {
  let best = v128.load(image + <usize>((ihStart * W + iwStart) * C + c) * F32);
  for (let ih = ihStart; ih < ihEnd; ih++) {
    for (let iw = iwStart; iw < iwEnd; iw++) {
      const v = v128.load(image + <usize>((ih * W + iw) * C + c) * F32);
      best = firstMax4(best, v);
    }
  }
  return best;
}

/** The address of the first maximum of one channel's window. */
// @ts-ignore: decorator
@inline
function windowArgMax(image: usize, W: i32, C: i32, c: i32, ihStart: i32, ihEnd: i32, iwStart: i32, iwEnd: i32): usize {
  let bestAt = image + <usize>((ihStart * W + iwStart) * C + c) * F32;
  let best = load<f32>(bestAt);
  for (let ih = ihStart; ih < ihEnd; ih++) {
    for (let iw = iwStart; iw < iwEnd; iw++) {
      const at = image + <usize>((ih * W + iw) * C + c) * F32;
      const v = load<f32>(at);
      if (beats(v, best)) {
        best = v;
        bestAt = at;
      }
    }
  }
  return bestAt;
}

// ---- 2×2 windows with stride 2 that tile the image ----
//
// Output row oh reads input rows 2·oh and 2·oh + 1, and output column ow the
// cells 2·ow and 2·ow + 1 of each: a window row is 2·C contiguous floats, and
// the window's four cells sit at fixed offsets. Images are stored one after
// another and H = 2·Ho, so the output rows of all the images walk the input
// two rows at a time. The first maximum of the four cells is found as a
// tree: the first maximum of each window row, then the first of those two.
// Picking the first maximum is associative, so this is the cell a scan finds.
//
// Without NaN, f32x4.pmax(best, v) = best < v ? v : best is exactly the first
// maximum of best and a later v (it keeps best on ties, −0 against +0 too),
// in one instruction, and best ≥ v says that best stays. So each strip (one
// channel vector along an output row) is done that way first, noting where
// the windows' sums are NaN; a strip that met a NaN (rare; +∞ + −∞ counts
// too) is done again with the general comparisons.

/** True for 2×2 windows with stride 2, no padding, tiling the image exactly (every cell in one window). */
// @ts-ignore: decorator
@inline
function isTwoByTwoTiling(g: usize): bool {
  return geo(g, G_KERNEL_HEIGHT) == 2 && geo(g, G_KERNEL_WIDTH) == 2 && geo(g, G_STRIDE_HEIGHT) == 2 && geo(g, G_STRIDE_WIDTH) == 2 &&
    geo(g, G_PAD_TOP) == 0 && geo(g, G_PAD_LEFT) == 0 &&
    geo(g, G_OUT_HEIGHT) * 2 == geo(g, G_IN_HEIGHT) && geo(g, G_OUT_WIDTH) * 2 == geo(g, G_IN_WIDTH);
}

/** Lanes where the sum of a, b, c and d is NaN (some of them is NaN, or they hold +∞ and −∞). */
// @ts-ignore: decorator
@inline
function sumIsNaN(a: v128, b: v128, c: v128, d: v128): v128 {
  const sum = f32x4.add(f32x4.add(a, b), f32x4.add(c, d));
  return f32x4.ne(sum, sum);
}

/**
 * One strip of maxima: the windows of Wo output positions, one channel
 * vector each, from the window row at `at` to `out`. Without `exact`, uses
 * pmax and returns the lanes where a window's sum was NaN.
 */
// @ts-ignore: decorator
@inline
function forwardStrip(at: usize, out: usize, Wo: i32, cell: usize, inRow: usize, exact: bool): v128 {
  let nan = i32x4.splat(0);
  for (let ow = 0; ow < Wo; ow++) {
    const topLeft = v128.load(at), topRight = v128.load(at + cell);
    const bottomLeft = v128.load(at + inRow), bottomRight = v128.load(at + inRow + cell);
    if (exact) {
      v128.store(out, firstMax4(firstMax4(topLeft, topRight), firstMax4(bottomLeft, bottomRight)));
    } else {
      v128.store(out, f32x4.pmax(f32x4.pmax(topLeft, topRight), f32x4.pmax(bottomLeft, bottomRight)));
      nan = v128.or(nan, sumIsNaN(topLeft, topRight, bottomLeft, bottomRight));
    }
    at += 2 * cell;
    out += cell;
  }
  return nan;
}

/** y for `rows` output rows (of Wo positions) from the input rows at x, W cells of C channels each. */
function maxPool2x2Forward(x: usize, W: i32, C: i32, rows: i32, Wo: i32, y: usize): void {
  const cell = <usize>C * F32;
  const inRow = <usize>(W * C) * F32;
  for (let r = 0; r < rows; r++) {
    const top = x + <usize>(2 * r) * inRow;
    const outRow = y + <usize>(r * Wo) * cell;
    if (C >= 4) {
      // As in the general case, the last vector ends at the last channel.
      for (let c = 0; c < C; c += 4) {
        const offset = <usize>min(c, C - 4) * F32;
        if (v128.any_true(forwardStrip(top + offset, outRow + offset, Wo, cell, inRow, false))) {
          forwardStrip(top + offset, outRow + offset, Wo, cell, inRow, true);
        }
      }
    } else {
      for (let c = 0; c < C; c++) {
        let at = top + <usize>c * F32;
        let out = outRow + <usize>c * F32;
        for (let ow = 0; ow < Wo; ow++) {
          const topLeft = load<f32>(at), topRight = load<f32>(at + cell);
          const bottomLeft = load<f32>(at + inRow), bottomRight = load<f32>(at + inRow + cell);
          const top = select<f32>(topLeft, topRight, keeps(topLeft, topRight));
          const bottom = select<f32>(bottomLeft, bottomRight, keeps(bottomLeft, bottomRight));
          store<f32>(out, select<f32>(top, bottom, keeps(top, bottom)));
          at += 2 * cell;
          out += cell;
        }
      }
    }
  }
}

/**
 * One strip of the gradient: dy at `grad` for Wo output positions (one
 * channel vector each) routed to the windows' cells at `at` + `toDx`. Without
 * `exact`, uses pmax and ≥ and returns the lanes where a window's sum was NaN.
 */
// @ts-ignore: decorator
@inline
function backwardStrip(grad: usize, at: usize, toDx: usize, Wo: i32, cell: usize, inRow: usize, exact: bool, positiveOnly: bool): v128 {
  const zero = f32x4.splat(0);
  let nan = i32x4.splat(0);
  for (let ow = 0; ow < Wo; ow++) {
    const topLeft = v128.load(at), topRight = v128.load(at + cell);
    const bottomLeft = v128.load(at + inRow), bottomRight = v128.load(at + inRow + cell);
    // Lanes where the top-left cell stays ahead of the top-right one, the
    // bottom-left ahead of the bottom-right, and the top row's maximum ahead
    // of the bottom row's.
    let keepsTopLeft: v128, keepsBottomLeft: v128, keepsTop: v128, top: v128, bottom: v128;
    if (exact) {
      keepsTopLeft = keeps4(topLeft, topRight);
      keepsBottomLeft = keeps4(bottomLeft, bottomRight);
      top = v128.bitselect(topLeft, topRight, keepsTopLeft);
      bottom = v128.bitselect(bottomLeft, bottomRight, keepsBottomLeft);
      keepsTop = keeps4(top, bottom);
    } else {
      keepsTopLeft = f32x4.ge(topLeft, topRight);
      keepsBottomLeft = f32x4.ge(bottomLeft, bottomRight);
      top = f32x4.pmax(topLeft, topRight);
      bottom = f32x4.pmax(bottomLeft, bottomRight);
      keepsTop = f32x4.ge(top, bottom);
      nan = v128.or(nan, sumIsNaN(topLeft, topRight, bottomLeft, bottomRight));
    }
    // 0 + dy, as the reference adds dy into zeros (a −0 gradient lands as +0).
    let d = f32x4.add(v128.load(grad), zero);
    // Through a relu too: only a window whose maximum is positive passes dy on.
    if (positiveOnly) d = v128.and(d, f32x4.gt(v128.bitselect(top, bottom, keepsTop), zero));
    const toTop = v128.and(d, keepsTop), toBottom = v128.andnot(d, keepsTop);
    v128.store(at + toDx, v128.and(toTop, keepsTopLeft));
    v128.store(at + cell + toDx, v128.andnot(toTop, keepsTopLeft));
    v128.store(at + inRow + toDx, v128.and(toBottom, keepsBottomLeft));
    v128.store(at + inRow + cell + toDx, v128.andnot(toBottom, keepsBottomLeft));
    at += 2 * cell;
    grad += cell;
  }
  return nan;
}

/** dx at the input rows `x` + `toDx` for `rows` output rows of dy (every cell written). */
function maxPool2x2Backward(dy: usize, x: usize, W: i32, C: i32, rows: i32, Wo: i32, toDx: usize, positiveOnly: bool): void {
  const cell = <usize>C * F32;
  const inRow = <usize>(W * C) * F32;
  for (let r = 0; r < rows; r++) {
    const top = x + <usize>(2 * r) * inRow;
    const gradRow = dy + <usize>(r * Wo) * cell;
    if (C >= 4) {
      for (let c = 0; c < C; c += 4) {
        const offset = <usize>min(c, C - 4) * F32;
        if (v128.any_true(backwardStrip(gradRow + offset, top + offset, toDx, Wo, cell, inRow, false, positiveOnly))) {
          backwardStrip(gradRow + offset, top + offset, toDx, Wo, cell, inRow, true, positiveOnly);
        }
      }
    } else {
      for (let c = 0; c < C; c++) {
        let at = top + <usize>c * F32;
        let grad = gradRow + <usize>c * F32;
        for (let ow = 0; ow < Wo; ow++) {
          const topLeft = load<f32>(at), topRight = load<f32>(at + cell);
          const bottomLeft = load<f32>(at + inRow), bottomRight = load<f32>(at + inRow + cell);
          const keepsTopLeft = keeps(topLeft, topRight), keepsBottomLeft = keeps(bottomLeft, bottomRight);
          const keepsTop = keeps(select<f32>(topLeft, topRight, keepsTopLeft), select<f32>(bottomLeft, bottomRight, keepsBottomLeft));
          const best = keepsTop ? select<f32>(topLeft, topRight, keepsTopLeft) : select<f32>(bottomLeft, bottomRight, keepsBottomLeft);
          // As above: a −0 gradient lands as +0; through a relu, only a positive maximum passes dy on.
          const d: f32 = positiveOnly && !(best > 0) ? 0 : load<f32>(grad) + 0;
          store<f32>(at + toDx, keepsTop && keepsTopLeft ? d : 0);
          store<f32>(at + cell + toDx, keepsTop && !keepsTopLeft ? d : 0);
          store<f32>(at + inRow + toDx, !keepsTop && keepsBottomLeft ? d : 0);
          store<f32>(at + inRow + cell + toDx, !keepsTop && !keepsBottomLeft ? d : 0);
          at += 2 * cell;
          grad += cell;
        }
      }
    }
  }
}

export function maxPoolForward(x: usize, g: usize, y: usize, firstImage: i32, imageCount: i32): void {
  const H = geo(g, G_IN_HEIGHT), W = geo(g, G_IN_WIDTH), C = geo(g, G_CHANNELS);
  const kh = geo(g, G_KERNEL_HEIGHT), kw = geo(g, G_KERNEL_WIDTH);
  const sh = geo(g, G_STRIDE_HEIGHT), sw = geo(g, G_STRIDE_WIDTH);
  const padTop = geo(g, G_PAD_TOP), padLeft = geo(g, G_PAD_LEFT);
  const Ho = geo(g, G_OUT_HEIGHT), Wo = geo(g, G_OUT_WIDTH);
  let out = y + <usize>(firstImage * Ho * Wo * C) * F32;
  if (isTwoByTwoTiling(g)) {
    maxPool2x2Forward(x + <usize>(firstImage * H * W * C) * F32, W, C, imageCount * Ho, Wo, out);
    return;
  }
  for (let n = firstImage; n < firstImage + imageCount; n++) {
    const image = x + <usize>(n * H * W * C) * F32;
    for (let oh = 0; oh < Ho; oh++) {
      const top = oh * sh - padTop;
      const ihStart = max(0, top), ihEnd = min(H, top + kh);
      for (let ow = 0; ow < Wo; ow++) {
        const left = ow * sw - padLeft;
        const iwStart = max(0, left), iwEnd = min(W, left + kw);
        if (C >= 4) {
          // Vectors at 0, 4, 8, …, and one more ending at the last channel
          // (overlapping the previous one: the max is the same both times).
          for (let c = 0; c < C; c += 4) {
            const c0 = min(c, C - 4);
            v128.store(out + <usize>c0 * F32, windowMax4(image, W, C, c0, ihStart, ihEnd, iwStart, iwEnd));
          }
        } else {
          for (let c = 0; c < C; c++) store<f32>(out + <usize>c * F32, load<f32>(windowArgMax(image, W, C, c, ihStart, ihEnd, iwStart, iwEnd)));
        }
        out += <usize>C * F32;
      }
    }
  }
}

/**
 * dx for the images [firstImage, firstImage + imageCount) (zero-filled
 * first): every output's dy is added to the first maximum of its window,
 * found again from x. With `positiveOnly` (x is a relu's output and the
 * gradient goes on through that relu) cells where x is not positive get 0.
 */
export function maxPoolBackward(dy: usize, x: usize, g: usize, dx: usize, positiveOnly: bool, firstImage: i32, imageCount: i32): void {
  const H = geo(g, G_IN_HEIGHT), W = geo(g, G_IN_WIDTH), C = geo(g, G_CHANNELS);
  const kh = geo(g, G_KERNEL_HEIGHT), kw = geo(g, G_KERNEL_WIDTH);
  const sh = geo(g, G_STRIDE_HEIGHT), sw = geo(g, G_STRIDE_WIDTH);
  const padTop = geo(g, G_PAD_TOP), padLeft = geo(g, G_PAD_LEFT);
  const Ho = geo(g, G_OUT_HEIGHT), Wo = geo(g, G_OUT_WIDTH);
  const imageFloats = H * W * C;
  if (isTwoByTwoTiling(g)) {
    // x and dx have the same layout: dx - x from a cell of x to its cell of dx.
    maxPool2x2Backward(dy + <usize>(firstImage * Ho * Wo * C) * F32, x + <usize>(firstImage * imageFloats) * F32, W, C, imageCount * Ho, Wo, dx - x, positiveOnly);
    return;
  }
  // Other windows that tile the image exactly (3×3 with stride 3 on a 9×9
  // image, say) also own every cell once: each cell is written, dy or 0, with
  // no zero fill and no read-modify-write. Otherwise start from zeros and add.
  const tiling = C >= 4 && sh == kh && sw == kw && padTop == 0 && padLeft == 0 && Ho * kh == H && Wo * kw == W;
  if (!tiling) zeroFloats(dx + <usize>(firstImage * imageFloats) * F32, imageCount * imageFloats);
  const zero = f32x4.splat(0);
  let grad = dy + <usize>(firstImage * Ho * Wo * C) * F32;
  for (let n = firstImage; n < firstImage + imageCount; n++) {
    const image = x + <usize>(n * imageFloats) * F32;
    // x and dx have the same layout: the same offset from each image's start.
    const toDx = dx + <usize>(n * imageFloats) * F32 - image;
    for (let oh = 0; oh < Ho; oh++) {
      const top = oh * sh - padTop;
      const ihStart = max(0, top), ihEnd = min(H, top + kh);
      for (let ow = 0; ow < Wo; ow++) {
        const left = ow * sw - padLeft;
        const iwStart = max(0, left), iwEnd = min(W, left + kw);
        let c = 0;
        for (; c < C && C >= 4; c += 4) {
          // As in the forward pass, the last vector ends at the last channel;
          // its lanes below `c` were done by the previous vector and start as taken.
          const c0 = min(c, C - 4);
          const best = windowMax4(image, W, C, c0, ihStart, ihEnd, iwStart, iwEnd);
          // 0 + dy, as the reference adds dy into zeros (a −0 gradient lands as +0).
          const d = f32x4.add(v128.load(grad + <usize>c0 * F32), zero);
          // Scan again: the first cell equal to the maximum takes dy, per lane.
          // (With a tiling, the lanes the previous vector did are simply written
          // again with the same values; otherwise they start as taken.)
          let taken = tiling ? zero : alreadyDone(c - c0);
          for (let ih = ihStart; ih < ihEnd; ih++) {
            for (let iw = iwStart; iw < iwEnd; iw++) {
              const at = image + <usize>((ih * W + iw) * C + c0) * F32;
              const hit = v128.andnot(isBest4(v128.load(at), best), taken);
              if (tiling) {
                v128.store(at + toDx, v128.bitselect(d, zero, hit));
              } else {
                // Branch-free: lanes without a hit store back what they loaded.
                const current = v128.load(at + toDx);
                v128.store(at + toDx, v128.bitselect(f32x4.add(current, d), current, hit));
              }
              taken = v128.or(taken, hit);
            }
          }
        }
        for (; c < C; c++) {
          const at = windowArgMax(image, W, C, c, ihStart, ihEnd, iwStart, iwEnd) + toDx;
          store<f32>(at, load<f32>(at) + load<f32>(grad + <usize>c * F32));
        }
        grad += <usize>C * F32;
      }
    }
  }
  if (positiveOnly) {
    // Through the relu as a pass of its own (only the 2×2 kernels fold it in).
    const from = <usize>(firstImage * imageFloats) * F32;
    reluBackwardRun(dx + from, x + from, dx + from, imageCount * imageFloats);
  }
}

// Average pooling: the mean of each window's real (non-padding) cells, as
// the JavaScript kernels compute it (js/pool.ts). The forward pass sums in
// float32 in the window's row-major order and divides once (a float32
// division is correctly rounded either way): the same bits, four channels at
// a time. The gradient adds dy / count, in float64, to each real cell of
// each window in output order, two channels at a time: the same bits too.

/** y for the images [firstImage, firstImage + imageCount). */
export function avgPoolForward(x: usize, g: usize, y: usize, firstImage: i32, imageCount: i32): void {
  const H = geo(g, G_IN_HEIGHT), W = geo(g, G_IN_WIDTH), C = geo(g, G_CHANNELS);
  const kh = geo(g, G_KERNEL_HEIGHT), kw = geo(g, G_KERNEL_WIDTH);
  const sh = geo(g, G_STRIDE_HEIGHT), sw = geo(g, G_STRIDE_WIDTH);
  const padTop = geo(g, G_PAD_TOP), padLeft = geo(g, G_PAD_LEFT);
  const Ho = geo(g, G_OUT_HEIGHT), Wo = geo(g, G_OUT_WIDTH);
  let out = y + <usize>(firstImage * Ho * Wo * C) * F32;
  for (let n = firstImage; n < firstImage + imageCount; n++) {
    const image = x + <usize>(n * H * W * C) * F32;
    for (let oh = 0; oh < Ho; oh++) {
      const top = oh * sh - padTop;
      const ihStart = max(0, top), ihEnd = min(H, top + kh);
      for (let ow = 0; ow < Wo; ow++) {
        const left = ow * sw - padLeft;
        const iwStart = max(0, left), iwEnd = min(W, left + kw);
        const count = <f32>((ihEnd - ihStart) * (iwEnd - iwStart));
        let c = 0;
        for (; c + 4 <= C; c += 4) {
          let s = f32x4.splat(0);
          for (let ih = ihStart; ih < ihEnd; ih++)
            for (let iw = iwStart; iw < iwEnd; iw++) s = f32x4.add(s, v128.load(image + <usize>((ih * W + iw) * C + c) * F32));
          v128.store(out + <usize>c * F32, f32x4.div(s, f32x4.splat(count)));
        }
        for (; c < C; c++) {
          let s: f32 = 0;
          for (let ih = ihStart; ih < ihEnd; ih++) for (let iw = iwStart; iw < iwEnd; iw++) s += load<f32>(image + <usize>((ih * W + iw) * C + c) * F32);
          store<f32>(out + <usize>c * F32, s / count);
        }
        out += <usize>C * F32;
      }
    }
  }
}

/** dx += dy / count at one cell, channels c and c + 1 (only c when `full` is false). */
// @ts-ignore: decorator
@inline
function addShare(cell: usize, share: v128, full: bool): void {
  const sum = f64x2.add(f64x2.promote_low_f32x4(full ? v128.load64_zero(cell) : v128.load32_zero(cell)), share);
  const narrow = f32x4.demote_f64x2_zero(sum);
  if (full) v128.store64_lane(cell, narrow, 0);
  else v128.store32_lane(cell, narrow, 0);
}

/** dx for the images [firstImage, firstImage + imageCount), zero-filled first. */
export function avgPoolBackward(dy: usize, g: usize, dx: usize, firstImage: i32, imageCount: i32): void {
  const H = geo(g, G_IN_HEIGHT), W = geo(g, G_IN_WIDTH), C = geo(g, G_CHANNELS);
  const kh = geo(g, G_KERNEL_HEIGHT), kw = geo(g, G_KERNEL_WIDTH);
  const sh = geo(g, G_STRIDE_HEIGHT), sw = geo(g, G_STRIDE_WIDTH);
  const padTop = geo(g, G_PAD_TOP), padLeft = geo(g, G_PAD_LEFT);
  const Ho = geo(g, G_OUT_HEIGHT), Wo = geo(g, G_OUT_WIDTH);
  memory.fill(dx + <usize>(firstImage * H * W * C) * F32, 0, <usize>(imageCount * H * W * C) * F32);
  let grad = dy + <usize>(firstImage * Ho * Wo * C) * F32;
  for (let n = firstImage; n < firstImage + imageCount; n++) {
    const image = dx + <usize>(n * H * W * C) * F32;
    for (let oh = 0; oh < Ho; oh++) {
      const top = oh * sh - padTop;
      const ihStart = max(0, top), ihEnd = min(H, top + kh);
      for (let ow = 0; ow < Wo; ow++) {
        const left = ow * sw - padLeft;
        const iwStart = max(0, left), iwEnd = min(W, left + kw);
        const count = f64x2.splat(<f64>((ihEnd - ihStart) * (iwEnd - iwStart)));
        let c = 0;
        for (; c + 2 <= C; c += 2) {
          const share = f64x2.div(f64x2.promote_low_f32x4(v128.load64_zero(grad + <usize>c * F32)), count);
          for (let ih = ihStart; ih < ihEnd; ih++) for (let iw = iwStart; iw < iwEnd; iw++) addShare(image + <usize>((ih * W + iw) * C + c) * F32, share, true);
        }
        if (c < C) {
          const share = f64x2.div(f64x2.promote_low_f32x4(v128.load32_zero(grad + <usize>c * F32)), count);
          for (let ih = ihStart; ih < ihEnd; ih++) for (let iw = iwStart; iw < iwEnd; iw++) addShare(image + <usize>((ih * W + iw) * C + c) * F32, share, false);
        }
        grad += <usize>C * F32;
      }
    }
  }
}
