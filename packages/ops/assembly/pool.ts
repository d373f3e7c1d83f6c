// Max pooling over NHWC images, four channels at a time (with four or more
// channels; fewer go one at a time), for the images [firstImage, firstImage +
// imageCount).
//
// Conventions (the same as the host's reference kernels):
// - padding cells never take part; every window has at least one real cell;
// - ties: the FIRST maximum in row-major scan order (ki, then kj) wins and is
//   the only cell that receives the gradient;
// - NaN propagates: a window with a NaN has a NaN max, and its first NaN
//   receives the gradient.
// "v beats best" is v > best, or v is NaN while best is not.

import { zeroFloats } from './copy';
import {
  geo, G_IN_HEIGHT, G_IN_WIDTH, G_CHANNELS, G_KERNEL_HEIGHT, G_KERNEL_WIDTH, G_STRIDE_HEIGHT, G_STRIDE_WIDTH,
  G_PAD_TOP, G_PAD_LEFT, G_OUT_HEIGHT, G_OUT_WIDTH,
} from './geometry';

const F32: usize = 4;

/** Lanes where v beats best. */
// @ts-ignore: decorator
@inline
function beats4(v: v128, best: v128): v128 {
  return v128.or(f32x4.gt(v, best), v128.and(f32x4.ne(v, v), f32x4.eq(best, best)));
}

// @ts-ignore: decorator
@inline
function beats(v: f32, best: f32): bool {
  return v > best || (v != v && best == best);
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
      // Keep best where v does not beat it: v ≤ best, or best is NaN (the
      // complement of beats4 in two comparisons instead of three).
      best = v128.bitselect(best, v, v128.or(f32x4.le(v, best), f32x4.ne(best, best)));
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

export function maxPoolForward(x: usize, g: usize, y: usize, firstImage: i32, imageCount: i32): void {
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
 * found again from x.
 */
export function maxPoolBackward(dy: usize, x: usize, g: usize, dx: usize, firstImage: i32, imageCount: i32): void {
  const H = geo(g, G_IN_HEIGHT), W = geo(g, G_IN_WIDTH), C = geo(g, G_CHANNELS);
  const kh = geo(g, G_KERNEL_HEIGHT), kw = geo(g, G_KERNEL_WIDTH);
  const sh = geo(g, G_STRIDE_HEIGHT), sw = geo(g, G_STRIDE_WIDTH);
  const padTop = geo(g, G_PAD_TOP), padLeft = geo(g, G_PAD_LEFT);
  const Ho = geo(g, G_OUT_HEIGHT), Wo = geo(g, G_OUT_WIDTH);
  const imageFloats = H * W * C;
  // Windows that tile the image exactly (2×2 with stride 2 on an even image,
  // say) own every cell once: each cell is written, dy or 0, with no zero fill
  // and no read-modify-write. Otherwise start from zeros and add.
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
          const d = v128.load(grad + <usize>c0 * F32);
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
}
