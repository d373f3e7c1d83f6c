// Direct convolution kernels for single-channel images with stride 1 along
// the width (a first layer on grayscale input, like LeNet's). There the
// im2col/GEMM route is a poor fit: each window row is a few floats, and a
// handful of output channels fills few SIMD lanes. Here four neighbouring
// output pixels of one row share the lanes of a vector instead, and every
// window tap is one unaligned v128 load from a zero-padded copy of the image,
// so there is no im2col matrix at all.
//
//   singleChannelConvForward:        y = relu?(conv2d(x, filter) + bias)
//   singleChannelConvBackpropFilter: partial filter gradient of a chunk of images
//
// The padded image (in the workspace) has Hp = (Ho − 1)·sh + kh rows of
// Wp = ⌈Wo/4⌉·4 + kw − 1 floats (rounded up to 4): output pixel (oh, ow) and
// tap t = ki·kw + kj read padded cell (oh·sh + ki, ow + kj).
//
// Register budget: V8 on x86-64 keeps values in 15 xmm registers and tends
// to issue all loads of a loop iteration before its arithmetic, so the sums
// plus the vectors loaded per iteration must fit in about 14, or sums spill
// to the stack (12 sums for 6 channels × 2 vectors did, and gained under
// 10% over 6 sums). Both kernels keep 8 sums: the forward pass 16 pixels
// (4 vectors) × 2 channels, loading 4 image vectors and 2 filter vectors per
// tap; the filter gradient 4 taps × 2 channels, loading 4 image vectors and
// 2 of dy per step. Each load serves 2 to 4 multiply-adds, and the 8
// independent sums hide the latency of the adds. Operands sit at fixed
// displacements from one pointer where possible (a v128.load with an offset
// is one instruction; a load32_splat with an offset costs one more), hence
// the pre-splatted filter of the forward pass and the transposed dy of the
// gradient, both laid out by channel pair.
//
// The variants (vectors, channels, taps) are one inlined function each,
// instantiated with constants. Binaryen folds an if/else whose arms call the
// same code with different constants into one body with the constant as a
// variable, which brings the tests back into the inner loop; the dispatchers
// below avoid that shape (early returns, separate call sites).

import { zeroFloats, copyFloats } from './copy';
import {
  geo, G_IN_HEIGHT, G_IN_WIDTH, G_KERNEL_HEIGHT, G_KERNEL_WIDTH, G_STRIDE_HEIGHT,
  G_PAD_TOP, G_PAD_LEFT, G_OUT_HEIGHT, G_OUT_WIDTH, G_OUT_CHANNELS,
} from './geometry';
import { alignUp } from './workspace';

const F32: usize = 4;

// @ts-ignore: decorator
@inline
function paddedWidth(g: usize): i32 {
  const vectors = (geo(g, G_OUT_WIDTH) + 3) >> 2;
  return (((vectors << 2) + geo(g, G_KERNEL_WIDTH) - 1 + 3) >> 2) << 2;
}

// @ts-ignore: decorator
@inline
function paddedHeight(g: usize): i32 {
  return (geo(g, G_OUT_HEIGHT) - 1) * geo(g, G_STRIDE_HEIGHT) + geo(g, G_KERNEL_HEIGHT);
}

// @ts-ignore: decorator
@inline
function paddedBytes(g: usize): usize {
  return alignUp(<usize>(paddedHeight(g) * paddedWidth(g)) * F32);
}

/**
 * Copies image n of x into the padded image at `padded`. The cells it
 * writes are the same for every image, so the padding around them is zeroed
 * once per call and stays zero.
 */
function copyImage(x: usize, g: usize, n: i32, padded: usize): void {
  const H = geo(g, G_IN_HEIGHT), W = geo(g, G_IN_WIDTH);
  const padTop = geo(g, G_PAD_TOP), padLeft = geo(g, G_PAD_LEFT);
  const Hp = paddedHeight(g), Wp = paddedWidth(g);
  const image = x + <usize>(n * H * W) * F32;
  // Image columns [c0, c1) land in padded columns [c0 + padLeft, c1 + padLeft).
  const c0 = max(0, -padLeft);
  const c1 = min(W, Wp - padLeft);
  if (c1 <= c0) return;
  for (let r = max(0, padTop); r < min(Hp, H + padTop); r++) {
    copyFloats(padded + <usize>(r * Wp + c0 + padLeft) * F32, image + <usize>((r - padTop) * W + c0) * F32, c1 - c0);
  }
}

/**
 * Tap records of the forward pass, one per window tap and channel pair:
 * the tap's byte offset in the padded image (an i32, then 12 bytes unused),
 * then the filter value of each channel of the pair splatted to a vector
 * (zeros for a missing second channel). The tap loop reads everything at
 * fixed displacements from one pointer, and the kh·kw taps are one flat loop.
 */
const RECORD_BYTES: usize = 48;

/** Writes the tap records of every channel pair, pair by pair, to `records`. */
function writeTapRecords(g: usize, filter: usize, records: usize): void {
  const kh = geo(g, G_KERNEL_HEIGHT), kw = geo(g, G_KERNEL_WIDTH), Cout = geo(g, G_OUT_CHANNELS);
  const Wp = paddedWidth(g);
  let record = records;
  for (let co = 0; co < Cout; co += 2) {
    for (let ki = 0; ki < kh; ki++) {
      for (let kj = 0; kj < kw; kj++) {
        const tap = filter + <usize>((ki * kw + kj) * Cout + co) * F32;
        store<i32>(record, (ki * Wp + kj) * <i32>F32);
        v128.store(record, v128.load32_splat(tap), 16);
        v128.store(record, co + 1 < Cout ? v128.load32_splat(tap, 4) : f32x4.splat(0), 32);
        record += RECORD_BYTES;
      }
    }
  }
}

/**
 * Writes channels [0, lanes) (1 or 2) of four neighbouring pixels to `out`
 * (NHWC, pixels `pixelBytes` apart), for the first `pixels` (1 to 4) of
 * them. c0 and c1 hold one channel each, one pixel per lane.
 */
// @ts-ignore: decorator
@inline
function storeFour(lanes: i32, out: usize, pixelBytes: usize, pixels: i32, c0: v128, c1: v128): void {
  if (lanes == 1) {
    if (pixelBytes == F32 && pixels == 4) {
      v128.store(out, c0); // one channel in all: the pixels are contiguous
      return;
    }
    v128.store32_lane(out, c0, 0);
    if (pixels > 1) v128.store32_lane(out + pixelBytes, c0, 1);
    if (pixels > 2) v128.store32_lane(out + 2 * pixelBytes, c0, 2);
    if (pixels > 3) v128.store32_lane(out + 3 * pixelBytes, c0, 3);
    return;
  }
  // Both channels of pixels 0, 1 and of pixels 2, 3; one 8-byte store per pixel.
  const p01 = f32x4.shuffle(c0, c1, 0, 4, 1, 5);
  const p23 = f32x4.shuffle(c0, c1, 2, 6, 3, 7);
  v128.store64_lane(out, p01, 0);
  if (pixels > 1) v128.store64_lane(out + pixelBytes, p01, 1);
  if (pixels > 2) v128.store64_lane(out + 2 * pixelBytes, p23, 0);
  if (pixels > 3) v128.store64_lane(out + 3 * pixelBytes, p23, 1);
}

/**
 * Output channels [0, lanes) (1 or 2) of `vectors` · 4 neighbouring pixels
 * (1 to 4 vectors; `pixels` of them real): `x` is the padded cell of tap 0
 * of the first pixel, [records, recordsEnd) the channel pair's tap records,
 * `bias` (0: none) and `out` point at the pair's first channel. Inlined with
 * `vectors` and `lanes` constants, so the tests on them fold away and the
 * tap loop has no branches.
 */
// @ts-ignore: decorator
@inline
function forwardBlock(
  vectors: i32, lanes: i32, x: usize, records: usize, recordsEnd: usize,
  bias: usize, relu: bool, out: usize, pixelBytes: usize, pixels: i32,
): void {
  const zero = f32x4.splat(0);
  // aV: vector V (pixels 4V..4V+3) of the first channel; bV: of the second.
  let a0 = zero, a1 = zero, a2 = zero, a3 = zero;
  let b0 = zero, b1 = zero, b2 = zero, b3 = zero;
  for (let r = records; r < recordsEnd; r += RECORD_BYTES) {
    const at = x + <usize>load<i32>(r);
    const x0 = v128.load(at);
    const x1 = vectors > 1 ? v128.load(at, 16) : zero;
    const x2 = vectors > 2 ? v128.load(at, 32) : zero;
    const x3 = vectors > 3 ? v128.load(at, 48) : zero;
    const w0 = v128.load(r, 16);
    a0 = f32x4.add(a0, f32x4.mul(x0, w0));
    if (vectors > 1) a1 = f32x4.add(a1, f32x4.mul(x1, w0));
    if (vectors > 2) a2 = f32x4.add(a2, f32x4.mul(x2, w0));
    if (vectors > 3) a3 = f32x4.add(a3, f32x4.mul(x3, w0));
    if (lanes > 1) {
      const w1 = v128.load(r, 32);
      b0 = f32x4.add(b0, f32x4.mul(x0, w1));
      if (vectors > 1) b1 = f32x4.add(b1, f32x4.mul(x1, w1));
      if (vectors > 2) b2 = f32x4.add(b2, f32x4.mul(x2, w1));
      if (vectors > 3) b3 = f32x4.add(b3, f32x4.mul(x3, w1));
    }
  }
  // The bias joins after the sum (as a separate bias add would), so the
  // fused result has the same bits as conv2d followed by biasAdd.
  if (bias != 0) {
    const w0 = v128.load32_splat(bias);
    a0 = f32x4.add(a0, w0); a1 = f32x4.add(a1, w0); a2 = f32x4.add(a2, w0); a3 = f32x4.add(a3, w0);
    if (lanes > 1) {
      const w1 = v128.load32_splat(bias, 4);
      b0 = f32x4.add(b0, w1); b1 = f32x4.add(b1, w1); b2 = f32x4.add(b2, w1); b3 = f32x4.add(b3, w1);
    }
  }
  if (relu) {
    a0 = f32x4.pmax(a0, zero); a1 = f32x4.pmax(a1, zero); a2 = f32x4.pmax(a2, zero); a3 = f32x4.pmax(a3, zero);
    b0 = f32x4.pmax(b0, zero); b1 = f32x4.pmax(b1, zero); b2 = f32x4.pmax(b2, zero); b3 = f32x4.pmax(b3, zero);
  }
  storeFour(lanes, out, pixelBytes, min(pixels, 4), a0, b0);
  if (vectors > 1) storeFour(lanes, out + 4 * pixelBytes, pixelBytes, min(pixels - 4, 4), a1, b1);
  if (vectors > 2) storeFour(lanes, out + 8 * pixelBytes, pixelBytes, min(pixels - 8, 4), a2, b2);
  if (vectors > 3) storeFour(lanes, out + 12 * pixelBytes, pixelBytes, pixels - 12, a3, b3);
}

/**
 * Output channels [0, lanes) of one output row of Wo pixels: blocks of 16
 * pixels, then one of 4, 8 or 12 for the pixels left. `x` is the padded cell
 * of tap 0 of the row's first pixel, `out` the row's first output; the other
 * arguments as forwardBlock's.
 */
// @ts-ignore: decorator
@inline
function forwardRow(lanes: i32, x: usize, records: usize, recordsEnd: usize, bias: usize, relu: bool, out: usize, pixelBytes: usize, Wo: i32): void {
  let ow = 0;
  for (; ow + 16 <= Wo; ow += 16) {
    forwardBlock(4, lanes, x + <usize>ow * F32, records, recordsEnd, bias, relu, out + <usize>ow * pixelBytes, pixelBytes, 16);
  }
  const pixels = Wo - ow;
  const at = x + <usize>ow * F32, to = out + <usize>ow * pixelBytes;
  if (pixels > 12) forwardBlock(4, lanes, at, records, recordsEnd, bias, relu, to, pixelBytes, pixels);
  else if (pixels > 8) forwardBlock(3, lanes, at, records, recordsEnd, bias, relu, to, pixelBytes, pixels);
  else if (pixels > 4) forwardBlock(2, lanes, at, records, recordsEnd, bias, relu, to, pixelBytes, pixels);
  else if (pixels > 0) forwardBlock(1, lanes, at, records, recordsEnd, bias, relu, to, pixelBytes, pixels);
}

/** forwardRow with the channel count as a constant in each branch. */
function forwardRowOf(lanes: i32, x: usize, records: usize, recordsEnd: usize, bias: usize, relu: bool, out: usize, pixelBytes: usize, Wo: i32): void {
  if (lanes > 1) {
    forwardRow(2, x, records, recordsEnd, bias, relu, out, pixelBytes, Wo);
    return;
  }
  forwardRow(1, x, records, recordsEnd, bias, relu, out, pixelBytes, Wo);
}

export function singleChannelConvForwardWorkspaceBytes(g: usize): usize {
  const K = geo(g, G_KERNEL_HEIGHT) * geo(g, G_KERNEL_WIDTH);
  const pairs = (geo(g, G_OUT_CHANNELS) + 1) >> 1;
  return paddedBytes(g) + <usize>(pairs * K) * RECORD_BYTES;
}

/**
 * y = relu?(conv2d(x, filter) + bias) for the images [firstImage,
 * firstImage + imageCount) of single-channel x, horizontal stride 1.
 * `bias` is the address of Cout floats, or 0 for none.
 */
export function singleChannelConvForward(x: usize, filter: usize, bias: usize, relu: bool, y: usize, g: usize, firstImage: i32, imageCount: i32, workspace: usize): void {
  const sh = geo(g, G_STRIDE_HEIGHT);
  const Ho = geo(g, G_OUT_HEIGHT), Wo = geo(g, G_OUT_WIDTH), Cout = geo(g, G_OUT_CHANNELS);
  const K = geo(g, G_KERNEL_HEIGHT) * geo(g, G_KERNEL_WIDTH);
  const Wp = paddedWidth(g);
  const padded = workspace;
  const records = padded + paddedBytes(g);
  const pairBytes = <usize>K * RECORD_BYTES;
  const pixelBytes = <usize>Cout * F32;
  writeTapRecords(g, filter, records);
  zeroFloats(padded, <i32>(paddedBytes(g) / F32));
  for (let n = firstImage; n < firstImage + imageCount; n++) {
    copyImage(x, g, n, padded);
    for (let oh = 0; oh < Ho; oh++) {
      const rowY = y + <usize>((n * Ho + oh) * Wo) * pixelBytes;
      const rowX = padded + <usize>(oh * sh * Wp) * F32;
      for (let co = 0; co < Cout; co += 2) {
        const pairRecords = records + <usize>(co >> 1) * pairBytes;
        const channels = <usize>co * F32;
        forwardRowOf(min(2, Cout - co), rowX, pairRecords, pairRecords + pairBytes, bias == 0 ? 0 : bias + channels, relu, rowY + channels, pixelBytes, Wo);
      }
    }
  }
}

/**
 * Bytes of one channel pair's share of the transposed dy of one image: for
 * each of the Ho·⌈Wo/4⌉ vectors of pixels, the pair's two channels (32 bytes).
 */
// @ts-ignore: decorator
@inline
function pairPlaneBytes(g: usize): usize {
  return <usize>(geo(g, G_OUT_HEIGHT) * ((geo(g, G_OUT_WIDTH) + 3) >> 2)) * 32;
}

/**
 * Transposes channels co and, if `pair`, co + 1 of dy [Ho·Wo, Cout] of one
 * image (`from` is channel co of the first pixel) into their part of the
 * transposed dy (`to`, see transposeToPlanes). Four pixels at a time: one
 * 8-byte load per pixel (4 bytes for a last odd channel) and four shuffles;
 * the pixels left at the end of a row, one value at a time. Inlined with
 * `pair` a constant, so the loads have no branches.
 */
// @ts-ignore: decorator
@inline
function transposePair(pair: bool, from: usize, to: usize, Ho: i32, Wo: i32, pixelBytes: usize): void {
  for (let oh = 0; oh < Ho; oh++) {
    let ow = 0;
    for (; ow + 4 <= Wo; ow += 4) {
      // pN = (channel co of pixel N, channel co + 1 (or 0), 0, 0)
      const p0 = pair ? v128.load64_zero(from) : v128.load32_zero(from);
      const p1 = pair ? v128.load64_zero(from + pixelBytes) : v128.load32_zero(from + pixelBytes);
      const p2 = pair ? v128.load64_zero(from + 2 * pixelBytes) : v128.load32_zero(from + 2 * pixelBytes);
      const p3 = pair ? v128.load64_zero(from + 3 * pixelBytes) : v128.load32_zero(from + 3 * pixelBytes);
      const t01 = f32x4.shuffle(p0, p1, 0, 4, 1, 5);
      const t23 = f32x4.shuffle(p2, p3, 0, 4, 1, 5);
      v128.store(to, f32x4.shuffle(t01, t23, 0, 1, 4, 5));
      v128.store(to, f32x4.shuffle(t01, t23, 2, 3, 6, 7), 16);
      from += 4 * pixelBytes;
      to += 32;
    }
    if (ow < Wo) {
      // The row's last pixels; the lanes past its end stay 0.
      for (let lane: usize = 0; ow < Wo; ow++, lane++) {
        store<f32>(to + lane * F32, load<f32>(from));
        if (pair) store<f32>(to + lane * F32, load<f32>(from, 4), 16);
        from += pixelBytes;
      }
      to += 32;
    }
  }
}

/**
 * Transposes channels co..co + 3 of dy (`from` is channel co of the first
 * pixel) into their two pairs' part of the transposed dy (`to`, see
 * transposeToPlanes): four pixels at a time, one load per pixel and a 4×4
 * transpose; the pixels left at the end of a row, one value at a time.
 */
function transposeQuad(from: usize, to: usize, Ho: i32, Wo: i32, pixelBytes: usize, pairBytes: usize): void {
  for (let oh = 0; oh < Ho; oh++) {
    let ow = 0;
    for (; ow + 4 <= Wo; ow += 4) {
      const p0 = v128.load(from);
      const p1 = v128.load(from + pixelBytes);
      const p2 = v128.load(from + 2 * pixelBytes);
      const p3 = v128.load(from + 3 * pixelBytes);
      const t0 = f32x4.shuffle(p0, p1, 0, 4, 1, 5);
      const t1 = f32x4.shuffle(p0, p1, 2, 6, 3, 7);
      const t2 = f32x4.shuffle(p2, p3, 0, 4, 1, 5);
      const t3 = f32x4.shuffle(p2, p3, 2, 6, 3, 7);
      v128.store(to, f32x4.shuffle(t0, t2, 0, 1, 4, 5));
      v128.store(to, f32x4.shuffle(t0, t2, 2, 3, 6, 7), 16);
      v128.store(to + pairBytes, f32x4.shuffle(t1, t3, 0, 1, 4, 5));
      v128.store(to + pairBytes, f32x4.shuffle(t1, t3, 2, 3, 6, 7), 16);
      from += 4 * pixelBytes;
      to += 32;
    }
    if (ow < Wo) {
      // The row's last pixels; the lanes past its end stay 0.
      for (let lane: usize = 0; ow < Wo; ow++, lane++) {
        const at = to + lane * F32;
        store<f32>(at, load<f32>(from));
        store<f32>(at, load<f32>(from, 4), 16);
        store<f32>(at + pairBytes, load<f32>(from, 8));
        store<f32>(at + pairBytes, load<f32>(from, 12), 16);
        from += pixelBytes;
      }
      to += 32;
    }
  }
}

/**
 * Transposes dy [Ho·Wo, Cout] of one image (at `grad`) into `planes`: for
 * channel pair p, pixel vector q = oh·⌈Wo/4⌉ + v (pixels 4v..4v+3 of row oh),
 * channel 2p + s, the four pixels' values at p·pairBytes + q·32 + s·16. Lanes
 * of pixels past the row's end are left as they are (0).
 */
function transposeToPlanes(grad: usize, planes: usize, Ho: i32, Wo: i32, Cout: i32, pairBytes: usize): void {
  const pixelBytes = <usize>Cout * F32;
  let co = 0;
  for (; co + 4 <= Cout; co += 4) transposeQuad(grad + <usize>co * F32, planes + <usize>(co >> 1) * pairBytes, Ho, Wo, pixelBytes, pairBytes);
  for (; co + 1 < Cout; co += 2) transposePair(true, grad + <usize>co * F32, planes + <usize>(co >> 1) * pairBytes, Ho, Wo, pixelBytes);
  if (co < Cout) transposePair(false, grad + <usize>co * F32, planes + <usize>(co >> 1) * pairBytes, Ho, Wo, pixelBytes);
}

/**
 * Adds the contributions of one image to the four-lane sums of `taps` (1 to
 * 4) window taps and channels [0, lanes) (1 or 2): the sums of tap T at
 * `sum` + T·`tapBytes` (16 bytes a channel). `x` is the first tap's first
 * padded cell, the other taps' are `apart1..3` bytes after it; `dy` is the
 * channel pair's transposed dy. Each load of dy serves every tap, each load
 * of x both channels. Inlined with `taps` and `lanes` constants (see
 * filterTapsOf), so the inner loop has no branches.
 */
// @ts-ignore: decorator
@inline
function filterTaps(
  taps: i32, lanes: i32, sum: usize, tapBytes: usize, x: usize, apart1: usize, apart2: usize, apart3: usize,
  dy: usize, Ho: i32, xRowBytes: usize, vectors: i32,
): void {
  const zero = f32x4.splat(0);
  const sum1 = sum + tapBytes, sum2 = sum + 2 * tapBytes, sum3 = sum + 3 * tapBytes;
  // sTC: tap T, channel C.
  let s00 = v128.load(sum);
  let s10 = taps > 1 ? v128.load(sum1) : zero;
  let s20 = taps > 2 ? v128.load(sum2) : zero;
  let s30 = taps > 3 ? v128.load(sum3) : zero;
  let s01 = lanes > 1 ? v128.load(sum, 16) : zero;
  let s11 = taps > 1 && lanes > 1 ? v128.load(sum1, 16) : zero;
  let s21 = taps > 2 && lanes > 1 ? v128.load(sum2, 16) : zero;
  let s31 = taps > 3 && lanes > 1 ? v128.load(sum3, 16) : zero;
  const rowBytes = <usize>vectors * 32;
  let d = dy;
  for (let oh = 0; oh < Ho; oh++) {
    let xAt = x + <usize>oh * xRowBytes;
    for (const rowEnd = d + rowBytes; d < rowEnd; d += 32) {
      const x0 = v128.load(xAt);
      const x1 = taps > 1 ? v128.load(xAt + apart1) : zero;
      const x2 = taps > 2 ? v128.load(xAt + apart2) : zero;
      const x3 = taps > 3 ? v128.load(xAt + apart3) : zero;
      const g0 = v128.load(d);
      s00 = f32x4.add(s00, f32x4.mul(x0, g0));
      if (taps > 1) s10 = f32x4.add(s10, f32x4.mul(x1, g0));
      if (taps > 2) s20 = f32x4.add(s20, f32x4.mul(x2, g0));
      if (taps > 3) s30 = f32x4.add(s30, f32x4.mul(x3, g0));
      if (lanes > 1) {
        const g1 = v128.load(d, 16);
        s01 = f32x4.add(s01, f32x4.mul(x0, g1));
        if (taps > 1) s11 = f32x4.add(s11, f32x4.mul(x1, g1));
        if (taps > 2) s21 = f32x4.add(s21, f32x4.mul(x2, g1));
        if (taps > 3) s31 = f32x4.add(s31, f32x4.mul(x3, g1));
      }
      xAt += 16;
    }
  }
  v128.store(sum, s00);
  if (taps > 1) v128.store(sum1, s10);
  if (taps > 2) v128.store(sum2, s20);
  if (taps > 3) v128.store(sum3, s30);
  if (lanes > 1) {
    v128.store(sum, s01, 16);
    if (taps > 1) v128.store(sum1, s11, 16);
    if (taps > 2) v128.store(sum2, s21, 16);
    if (taps > 3) v128.store(sum3, s31, 16);
  }
}

/** filterTaps with the tap and channel counts as constants in each branch. */
function filterTapsOf(
  taps: i32, lanes: i32, sum: usize, tapBytes: usize, x: usize, apart1: usize, apart2: usize, apart3: usize,
  dy: usize, Ho: i32, xRowBytes: usize, vectors: i32,
): void {
  if (lanes > 1) {
    switch (taps) {
      case 4: filterTaps(4, 2, sum, tapBytes, x, apart1, apart2, apart3, dy, Ho, xRowBytes, vectors); break;
      case 3: filterTaps(3, 2, sum, tapBytes, x, apart1, apart2, apart3, dy, Ho, xRowBytes, vectors); break;
      case 2: filterTaps(2, 2, sum, tapBytes, x, apart1, apart2, apart3, dy, Ho, xRowBytes, vectors); break;
      default: filterTaps(1, 2, sum, tapBytes, x, apart1, apart2, apart3, dy, Ho, xRowBytes, vectors);
    }
    return;
  }
  switch (taps) {
    case 4: filterTaps(4, 1, sum, tapBytes, x, apart1, apart2, apart3, dy, Ho, xRowBytes, vectors); break;
    case 3: filterTaps(3, 1, sum, tapBytes, x, apart1, apart2, apart3, dy, Ho, xRowBytes, vectors); break;
    case 2: filterTaps(2, 1, sum, tapBytes, x, apart1, apart2, apart3, dy, Ho, xRowBytes, vectors); break;
    default: filterTaps(1, 1, sum, tapBytes, x, apart1, apart2, apart3, dy, Ho, xRowBytes, vectors);
  }
}

/** Byte offset of tap t = ki·kw + kj in the padded image. */
// @ts-ignore: decorator
@inline
function tapOffset(t: i32, kw: i32, Wp: i32): usize {
  return <usize>((t / kw) * Wp + t % kw) * F32;
}

export function singleChannelConvBackpropFilterWorkspaceBytes(g: usize): usize {
  const K = geo(g, G_KERNEL_HEIGHT) * geo(g, G_KERNEL_WIDTH);
  const pairs = (geo(g, G_OUT_CHANNELS) + 1) >> 1;
  return paddedBytes(g) + <usize>pairs * pairPlaneBytes(g) + <usize>(K * pairs * 2 * 4) * F32;
}

/**
 * The filter gradient of the images [firstImage, firstImage + imageCount) of
 * single-channel x (horizontal stride 1), written to partial sum number
 * firstImage / imagesPerPartial of `partials` (as convBackpropFilter):
 *   dfilter[ki, kj, co] = Σ over pixels of padded(oh·sh + ki, ow + kj) · dy[oh, ow, co]
 * dy is first transposed to vectors of four pixels, channel pair by channel
 * pair (transposeToPlanes); then, four taps and two channels at a time,
 * four-lane partial sums run over the image, and the lanes are added up at
 * the end.
 */
export function singleChannelConvBackpropFilter(x: usize, dy: usize, partials: usize, imagesPerPartial: i32, g: usize, firstImage: i32, imageCount: i32, workspace: usize): void {
  const kw = geo(g, G_KERNEL_WIDTH), sh = geo(g, G_STRIDE_HEIGHT);
  const Ho = geo(g, G_OUT_HEIGHT), Wo = geo(g, G_OUT_WIDTH), Cout = geo(g, G_OUT_CHANNELS);
  const K = geo(g, G_KERNEL_HEIGHT) * kw;
  const Wp = paddedWidth(g);
  const vectors = (Wo + 3) >> 2;
  const pairs = (Cout + 1) >> 1;
  const pairBytes = pairPlaneBytes(g);
  const padded = workspace;
  const planes = padded + paddedBytes(g);
  // K · Cout four-lane sums, tap by tap (Cout rounded up to whole pairs).
  const sums = planes + <usize>pairs * pairBytes;
  const tapBytes = <usize>(pairs * 2 * 4) * F32;
  const dfilter = partials + <usize>((firstImage / imagesPerPartial) * K * Cout) * F32;
  zeroFloats(sums, K * pairs * 2 * 4);
  zeroFloats(padded, <i32>(paddedBytes(g) / F32));
  zeroFloats(planes, <i32>(<usize>pairs * pairBytes / F32));
  for (let n = firstImage; n < firstImage + imageCount; n++) {
    copyImage(x, g, n, padded);
    transposeToPlanes(dy + <usize>(n * Ho * Wo) * <usize>Cout * F32, planes, Ho, Wo, Cout, pairBytes);
    for (let co = 0; co < Cout; co += 2) {
      for (let t = 0; t < K; t += 4) {
        const taps = min(4, K - t);
        const first = tapOffset(t, kw, Wp);
        filterTapsOf(
          taps, min(2, Cout - co), sums + <usize>t * tapBytes + <usize>co * 16, tapBytes, padded + first,
          tapOffset(min(t + 1, K - 1), kw, Wp) - first, tapOffset(min(t + 2, K - 1), kw, Wp) - first, tapOffset(min(t + 3, K - 1), kw, Wp) - first,
          planes + <usize>(co >> 1) * pairBytes, Ho, <usize>(sh * Wp) * F32, vectors,
        );
      }
    }
  }
  // Add up the four lanes of every sum.
  for (let t = 0; t < K; t++) {
    for (let co = 0; co < Cout; co++) {
      const s = v128.load(sums + <usize>t * tapBytes + <usize>co * 16);
      store<f32>(dfilter + <usize>(t * Cout + co) * F32, (f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1)) + (f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3)));
    }
  }
}
