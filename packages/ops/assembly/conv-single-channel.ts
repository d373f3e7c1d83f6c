// Direct convolution kernels for single-channel images with stride 1 along
// the width (a first layer on grayscale input, like LeNet's). There the
// im2col/GEMM route is a poor fit: each window row is a few floats, and a
// handful of output channels fills few SIMD lanes. Here four neighbouring
// output pixels of one row share the lanes of a vector instead, and every
// window tap is one unaligned v128 load from a zero-padded copy of the image
// row, so there is no im2col matrix at all.
//
//   singleChannelConvForward:        y = relu?(conv2d(x, filter) + bias)
//   singleChannelConvBackpropFilter: partial filter gradient of a chunk of images
//
// The padded image (in the workspace) has Hp = (Ho − 1)·sh + kh rows of
// Wp = ⌈Wo/4⌉·4 + kw − 1 floats (rounded up to 4): output pixel (oh, ow) and
// tap (ki, kj) read padded cell (oh·sh + ki, ow + kj). Up to eight output
// channels are computed together, so each tap's pixels are loaded once for
// all of them.

import { MR } from './tile';
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

/** Writes image n of x, zero-padded as described above, to `padded`. */
function padImage(x: usize, g: usize, n: i32, padded: usize): void {
  const H = geo(g, G_IN_HEIGHT), W = geo(g, G_IN_WIDTH);
  const padTop = geo(g, G_PAD_TOP), padLeft = geo(g, G_PAD_LEFT);
  const Hp = paddedHeight(g), Wp = paddedWidth(g);
  const image = x + <usize>(n * H * W) * F32;
  zeroFloats(padded, Hp * Wp);
  // Image columns [c0, c1) land in padded columns [c0 + padLeft, c1 + padLeft).
  const c0 = max(0, -padLeft);
  const c1 = min(W, Wp - padLeft);
  if (c1 <= c0) return;
  for (let r = 0; r < Hp; r++) {
    const ih = r - padTop;
    if (ih < 0 || ih >= H) continue;
    copyFloats(padded + <usize>(r * Wp + c0 + padLeft) * F32, image + <usize>(ih * W + c0) * F32, c1 - c0);
  }
}

/**
 * Writes output channels [co, co + lanes) of four neighbouring pixels to y
 * (NHWC, pixels `pixelStride` bytes apart), for the first `pixels` (1 to 4)
 * of them. acc0..acc7 hold one channel each, one pixel per lane. Channels
 * co..co+3 go through a 4×4 transpose (one v128 store per pixel); the rest,
 * one value at a time.
 */
// @ts-ignore: decorator
@inline
function storeChannels(
  y: usize, pixelStride: usize, pixels: i32, lanes: i32,
  acc0: v128, acc1: v128, acc2: v128, acc3: v128, acc4: v128, acc5: v128, acc6: v128, acc7: v128,
): void {
  if (lanes >= 4) {
    const t0 = f32x4.shuffle(acc0, acc1, 0, 4, 1, 5);
    const t1 = f32x4.shuffle(acc0, acc1, 2, 6, 3, 7);
    const t2 = f32x4.shuffle(acc2, acc3, 0, 4, 1, 5);
    const t3 = f32x4.shuffle(acc2, acc3, 2, 6, 3, 7);
    v128.store(y, f32x4.shuffle(t0, t2, 0, 1, 4, 5));
    if (pixels > 1) v128.store(y + pixelStride, f32x4.shuffle(t0, t2, 2, 3, 6, 7));
    if (pixels > 2) v128.store(y + 2 * pixelStride, f32x4.shuffle(t1, t3, 0, 1, 4, 5));
    if (pixels > 3) v128.store(y + 3 * pixelStride, f32x4.shuffle(t1, t3, 2, 3, 6, 7));
  }
  for (let p = 0; p < pixels; p++) {
    const at = y + <usize>p * pixelStride;
    if (lanes < 4) {
      store<f32>(at, laneOf(acc0, p));
      if (lanes > 1) store<f32>(at, laneOf(acc1, p), 4);
      if (lanes > 2) store<f32>(at, laneOf(acc2, p), 8);
      continue;
    }
    if (lanes > 4) store<f32>(at, laneOf(acc4, p), 16);
    if (lanes > 5) store<f32>(at, laneOf(acc5, p), 20);
    if (lanes > 6) store<f32>(at, laneOf(acc6, p), 24);
    if (lanes > 7) store<f32>(at, laneOf(acc7, p), 28);
  }
}

/**
 * Output channels [0, lanes) of four neighbouring pixels (`pixels` of them
 * real): `rowX` is the padded row of the first window tap of the first pixel,
 * `filter`, `bias` (0: none) and `out` point at the group's first channel.
 * Inlined with `lanes` a constant (see forwardGroupOf), so the per-channel
 * tests below fold away and the inner loop has no branches.
 */
// @ts-ignore: decorator
@inline
function forwardGroup(lanes: i32, rowX: usize, Wp: i32, kh: i32, kw: i32, filter: usize, pixelStride: usize, bias: usize, relu: bool, out: usize, pixels: i32): void {
  const zero = f32x4.splat(0);
  let acc0 = zero, acc1 = zero, acc2 = zero, acc3 = zero, acc4 = zero, acc5 = zero, acc6 = zero, acc7 = zero;
  let tap = filter;
  for (let ki = 0; ki < kh; ki++) {
    const line = rowX + <usize>(ki * Wp) * F32;
    for (let kj = 0; kj < kw; kj++) {
      const v = v128.load(line + <usize>kj * F32);
      acc0 = f32x4.add(acc0, f32x4.mul(v, v128.load32_splat(tap)));
      if (lanes > 1) acc1 = f32x4.add(acc1, f32x4.mul(v, v128.load32_splat(tap, 4)));
      if (lanes > 2) acc2 = f32x4.add(acc2, f32x4.mul(v, v128.load32_splat(tap, 8)));
      if (lanes > 3) acc3 = f32x4.add(acc3, f32x4.mul(v, v128.load32_splat(tap, 12)));
      if (lanes > 4) acc4 = f32x4.add(acc4, f32x4.mul(v, v128.load32_splat(tap, 16)));
      if (lanes > 5) acc5 = f32x4.add(acc5, f32x4.mul(v, v128.load32_splat(tap, 20)));
      if (lanes > 6) acc6 = f32x4.add(acc6, f32x4.mul(v, v128.load32_splat(tap, 24)));
      if (lanes > 7) acc7 = f32x4.add(acc7, f32x4.mul(v, v128.load32_splat(tap, 28)));
      tap += pixelStride;
    }
  }
  // The bias joins after the sum (as a separate bias add would), so the
  // fused result has the same bits as conv2d followed by biasAdd.
  if (bias != 0) {
    const b = bias;
    acc0 = f32x4.add(acc0, v128.load32_splat(b));
    if (lanes > 1) acc1 = f32x4.add(acc1, v128.load32_splat(b, 4));
    if (lanes > 2) acc2 = f32x4.add(acc2, v128.load32_splat(b, 8));
    if (lanes > 3) acc3 = f32x4.add(acc3, v128.load32_splat(b, 12));
    if (lanes > 4) acc4 = f32x4.add(acc4, v128.load32_splat(b, 16));
    if (lanes > 5) acc5 = f32x4.add(acc5, v128.load32_splat(b, 20));
    if (lanes > 6) acc6 = f32x4.add(acc6, v128.load32_splat(b, 24));
    if (lanes > 7) acc7 = f32x4.add(acc7, v128.load32_splat(b, 28));
  }
  if (relu) {
    acc0 = f32x4.pmax(acc0, zero);
    acc1 = f32x4.pmax(acc1, zero);
    acc2 = f32x4.pmax(acc2, zero);
    acc3 = f32x4.pmax(acc3, zero);
    acc4 = f32x4.pmax(acc4, zero);
    acc5 = f32x4.pmax(acc5, zero);
    acc6 = f32x4.pmax(acc6, zero);
    acc7 = f32x4.pmax(acc7, zero);
  }
  storeChannels(out, pixelStride, pixels, lanes, acc0, acc1, acc2, acc3, acc4, acc5, acc6, acc7);
}

/** forwardGroup with the channel count as a constant in each branch. */
function forwardGroupOf(lanes: i32, rowX: usize, Wp: i32, kh: i32, kw: i32, filter: usize, pixelStride: usize, bias: usize, relu: bool, out: usize, pixels: i32): void {
  switch (lanes) {
    case 8: forwardGroup(8, rowX, Wp, kh, kw, filter, pixelStride, bias, relu, out, pixels); break;
    case 7: forwardGroup(7, rowX, Wp, kh, kw, filter, pixelStride, bias, relu, out, pixels); break;
    case 6: forwardGroup(6, rowX, Wp, kh, kw, filter, pixelStride, bias, relu, out, pixels); break;
    case 5: forwardGroup(5, rowX, Wp, kh, kw, filter, pixelStride, bias, relu, out, pixels); break;
    case 4: forwardGroup(4, rowX, Wp, kh, kw, filter, pixelStride, bias, relu, out, pixels); break;
    case 3: forwardGroup(3, rowX, Wp, kh, kw, filter, pixelStride, bias, relu, out, pixels); break;
    case 2: forwardGroup(2, rowX, Wp, kh, kw, filter, pixelStride, bias, relu, out, pixels); break;
    default: forwardGroup(1, rowX, Wp, kh, kw, filter, pixelStride, bias, relu, out, pixels);
  }
}

export function singleChannelConvForwardWorkspaceBytes(g: usize): usize {
  return alignUp(<usize>(paddedHeight(g) * paddedWidth(g)) * F32);
}

/**
 * y = relu?(conv2d(x, filter) + bias) for the images [firstImage,
 * firstImage + imageCount) of single-channel x, horizontal stride 1.
 * `bias` is the address of Cout floats, or 0 for none.
 */
export function singleChannelConvForward(x: usize, filter: usize, bias: usize, relu: bool, y: usize, g: usize, firstImage: i32, imageCount: i32, workspace: usize): void {
  const kh = geo(g, G_KERNEL_HEIGHT), kw = geo(g, G_KERNEL_WIDTH), sh = geo(g, G_STRIDE_HEIGHT);
  const Ho = geo(g, G_OUT_HEIGHT), Wo = geo(g, G_OUT_WIDTH), Cout = geo(g, G_OUT_CHANNELS);
  const Wp = paddedWidth(g);
  const padded = workspace;
  const pixelStride = <usize>Cout * F32;
  for (let n = firstImage; n < firstImage + imageCount; n++) {
    padImage(x, g, n, padded);
    for (let oh = 0; oh < Ho; oh++) {
      const rowY = y + <usize>((n * Ho + oh) * Wo) * pixelStride;
      const rowX = padded + <usize>(oh * sh * Wp) * F32;
      for (let ow = 0; ow < Wo; ow += MR) {
        const pixels = min(MR, Wo - ow);
        const out = rowY + <usize>ow * pixelStride;
        // Up to eight output channels at a time, each window tap loaded once
        // for all of them (the last group may overlap the one before it, which
        // only recomputes the same values).
        for (let c = 0; c < Cout; c += 8) {
          const co = Cout >= 8 ? min(c, Cout - 8) : 0;
          forwardGroupOf(min(8, Cout - co), rowX + <usize>ow * F32, Wp, kh, kw, filter + <usize>co * F32, pixelStride, bias == 0 ? 0 : bias + <usize>co * F32, relu, out + <usize>co * F32, pixels);
        }
      }
    }
  }
}

// @ts-ignore: decorator
@inline
function laneOf(v: v128, lane: i32): f32 {
  if (lane == 0) return f32x4.extract_lane(v, 0);
  if (lane == 1) return f32x4.extract_lane(v, 1);
  if (lane == 2) return f32x4.extract_lane(v, 2);
  return f32x4.extract_lane(v, 3);
}

/** Floats per output channel in the transposed dy of one image: Ho rows of ⌈Wo/4⌉·4. */
// @ts-ignore: decorator
@inline
function planeSize(g: usize): i32 {
  return geo(g, G_OUT_HEIGHT) * (((geo(g, G_OUT_WIDTH) + 3) >> 2) << 2);
}

/**
 * Adds one window tap's contribution over one image to the four-lane sums of
 * channels [0, lanes) at `sum`: `tapX` is the tap's first padded cell,
 * `planes` the first channel's plane of transposed dy. Inlined with `lanes` a
 * constant (see filterTapOf), so the inner loop has no per-channel tests.
 */
// @ts-ignore: decorator
@inline
function filterTap(lanes: i32, sum: usize, tapX: usize, planes: usize, planeBytes: usize, Ho: i32, sh: i32, Wp: i32, vectors: i32): void {
  const zero = f32x4.splat(0);
  let s0 = v128.load(sum);
  let s1 = lanes > 1 ? v128.load(sum, 16) : zero;
  let s2 = lanes > 2 ? v128.load(sum, 32) : zero;
  let s3 = lanes > 3 ? v128.load(sum, 48) : zero;
  let s4 = lanes > 4 ? v128.load(sum, 64) : zero;
  let s5 = lanes > 5 ? v128.load(sum, 80) : zero;
  let s6 = lanes > 6 ? v128.load(sum, 96) : zero;
  let s7 = lanes > 7 ? v128.load(sum, 112) : zero;
  for (let oh = 0; oh < Ho; oh++) {
    let xAt = tapX + <usize>(oh * sh * Wp) * F32;
    let dAt = planes + <usize>(oh * (vectors << 2)) * F32;
    for (let v = 0; v < vectors; v++) {
      const xv = v128.load(xAt);
      s0 = f32x4.add(s0, f32x4.mul(xv, v128.load(dAt)));
      if (lanes > 1) s1 = f32x4.add(s1, f32x4.mul(xv, v128.load(dAt + planeBytes)));
      if (lanes > 2) s2 = f32x4.add(s2, f32x4.mul(xv, v128.load(dAt + 2 * planeBytes)));
      if (lanes > 3) s3 = f32x4.add(s3, f32x4.mul(xv, v128.load(dAt + 3 * planeBytes)));
      if (lanes > 4) s4 = f32x4.add(s4, f32x4.mul(xv, v128.load(dAt + 4 * planeBytes)));
      if (lanes > 5) s5 = f32x4.add(s5, f32x4.mul(xv, v128.load(dAt + 5 * planeBytes)));
      if (lanes > 6) s6 = f32x4.add(s6, f32x4.mul(xv, v128.load(dAt + 6 * planeBytes)));
      if (lanes > 7) s7 = f32x4.add(s7, f32x4.mul(xv, v128.load(dAt + 7 * planeBytes)));
      xAt += 16;
      dAt += 16;
    }
  }
  v128.store(sum, s0);
  if (lanes > 1) v128.store(sum, s1, 16);
  if (lanes > 2) v128.store(sum, s2, 32);
  if (lanes > 3) v128.store(sum, s3, 48);
  if (lanes > 4) v128.store(sum, s4, 64);
  if (lanes > 5) v128.store(sum, s5, 80);
  if (lanes > 6) v128.store(sum, s6, 96);
  if (lanes > 7) v128.store(sum, s7, 112);
}

/** filterTap with the channel count as a constant in each branch. */
function filterTapOf(lanes: i32, sum: usize, tapX: usize, planes: usize, planeBytes: usize, Ho: i32, sh: i32, Wp: i32, vectors: i32): void {
  switch (lanes) {
    case 8: filterTap(8, sum, tapX, planes, planeBytes, Ho, sh, Wp, vectors); break;
    case 7: filterTap(7, sum, tapX, planes, planeBytes, Ho, sh, Wp, vectors); break;
    case 6: filterTap(6, sum, tapX, planes, planeBytes, Ho, sh, Wp, vectors); break;
    case 5: filterTap(5, sum, tapX, planes, planeBytes, Ho, sh, Wp, vectors); break;
    case 4: filterTap(4, sum, tapX, planes, planeBytes, Ho, sh, Wp, vectors); break;
    case 3: filterTap(3, sum, tapX, planes, planeBytes, Ho, sh, Wp, vectors); break;
    case 2: filterTap(2, sum, tapX, planes, planeBytes, Ho, sh, Wp, vectors); break;
    default: filterTap(1, sum, tapX, planes, planeBytes, Ho, sh, Wp, vectors);
  }
}

export function singleChannelConvBackpropFilterWorkspaceBytes(g: usize): usize {
  const K = geo(g, G_KERNEL_HEIGHT) * geo(g, G_KERNEL_WIDTH);
  const Cout = geo(g, G_OUT_CHANNELS);
  return alignUp(<usize>(paddedHeight(g) * paddedWidth(g)) * F32) + alignUp(<usize>(Cout * planeSize(g)) * F32) + alignUp(<usize>(K * Cout * 4) * F32);
}

/**
 * The filter gradient of the images [firstImage, firstImage + imageCount) of
 * single-channel x (horizontal stride 1), written to partial sum number
 * firstImage / imagesPerPartial of `partials` (as convBackpropFilter):
 *   dfilter[ki, kj, co] = Σ over pixels of padded(oh·sh + ki, ow + kj) · dy[oh, ow, co]
 * dy is first transposed to one plane per channel (rows padded with zeros to
 * whole vectors); then, tap by tap, four-lane partial sums for up to eight
 * channels run over the image, and the lanes are added up at the end.
 */
export function singleChannelConvBackpropFilter(x: usize, dy: usize, partials: usize, imagesPerPartial: i32, g: usize, firstImage: i32, imageCount: i32, workspace: usize): void {
  const kh = geo(g, G_KERNEL_HEIGHT), kw = geo(g, G_KERNEL_WIDTH), sh = geo(g, G_STRIDE_HEIGHT);
  const Ho = geo(g, G_OUT_HEIGHT), Wo = geo(g, G_OUT_WIDTH), Cout = geo(g, G_OUT_CHANNELS);
  const K = kh * kw;
  const Wp = paddedWidth(g);
  const vectors = (Wo + 3) >> 2;
  const plane = planeSize(g);
  const padded = workspace;
  const planes = padded + alignUp(<usize>(paddedHeight(g) * Wp) * F32);
  const sums = planes + alignUp(<usize>(Cout * plane) * F32); // K · Cout four-lane sums
  const dfilter = partials + <usize>((firstImage / imagesPerPartial) * K * Cout) * F32;
  zeroFloats(sums, K * Cout * 4);
  zeroFloats(planes, Cout * plane);
  for (let n = firstImage; n < firstImage + imageCount; n++) {
    padImage(x, g, n, padded);
    // Transpose dy [Ho·Wo, Cout] of image n into planes [Cout][Ho][vectors·4] (the padding lanes stay 0).
    const grad = dy + <usize>(n * Ho * Wo * Cout) * F32;
    for (let oh = 0; oh < Ho; oh++) {
      for (let ow = 0; ow < Wo; ow++) {
        const from = grad + <usize>((oh * Wo + ow) * Cout) * F32;
        const to = planes + <usize>(oh * (vectors << 2) + ow) * F32;
        for (let co = 0; co < Cout; co++) store<f32>(to + <usize>(co * plane) * F32, load<f32>(from + <usize>co * F32));
      }
    }
    // Up to eight channels at a time: each window tap's pixels are loaded once for all of them.
    for (let c = 0; c < Cout; c += 8) {
      const lanes = min(8, Cout - c);
      const planeBytes = <usize>plane * F32;
      for (let ki = 0; ki < kh; ki++) {
        for (let kj = 0; kj < kw; kj++) {
          const sum = sums + <usize>(((ki * kw + kj) * Cout + c) * 4) * F32;
          filterTapOf(lanes, sum, padded + <usize>(ki * Wp + kj) * F32, planes + <usize>(c * plane) * F32, planeBytes, Ho, sh, Wp, vectors);
        }
      }
    }
  }
  // Add up the four lanes of every sum.
  for (let i = 0; i < K * Cout; i++) {
    const s = v128.load(sums + <usize>(i * 4) * F32);
    store<f32>(dfilter + <usize>i * F32, (f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1)) + (f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3)));
  }
}
