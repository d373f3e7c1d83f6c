// Convolution kernels (NHWC, filters [kh, kw, Cin, Cout]) that never write
// the whole im2col matrix out: each works through the output pixels in
// blocks, builds the im2col rows of one block in the workspace (where they
// stay in cache), and feeds them straight to the GEMM macro-kernel.
//
//   convForward:        y = relu?(im2col(x) · filter + bias)
//   convBackpropFilter: dfilter = beta · dfilter + im2col(x)ᵀ · dy
//   convBackpropInput:  dx = col2im(dy · filterᵀ)
//
// Single-channel images with horizontal stride 1 (a first layer on grayscale
// input) take the direct kernels of conv-single-channel.ts for the forward
// pass and the filter gradient instead.
//
// im2col row r = (n·Ho + oh)·Wo + ow, column q = (ki·kw + kj)·Cin + c holds
// x[n, oh·sh − padTop + ki, ow·sw − padLeft + kj, c] (0 in the padding), so the
// filter read as a [kh·kw·Cin, Cout] matrix multiplies it directly. Each
// kernel covers the images [firstImage, firstImage + imageCount), so the
// host can split a batch between threads.

import { MC, NR, KC } from './tile';
import { packA, packB } from './pack';
import { blockDepth, epilogueOnly, macroKernel, roundUp } from './gemm';
import { copyFloats, zeroFloats, addFloats } from './copy';
import { alignUp } from './workspace';
import {
  singleChannelConvForward, singleChannelConvForwardWorkspaceBytes, singleChannelConvBackpropFilter, singleChannelConvBackpropFilterWorkspaceBytes,
} from './conv-single-channel';
import {
  geo, G_IN_HEIGHT, G_IN_WIDTH, G_CHANNELS, G_KERNEL_HEIGHT, G_KERNEL_WIDTH, G_STRIDE_HEIGHT, G_STRIDE_WIDTH,
  G_PAD_TOP, G_PAD_LEFT, G_OUT_HEIGHT, G_OUT_WIDTH, G_OUT_CHANNELS,
} from './geometry';

const F32: usize = 4;

/** Columns of the im2col matrix: kh · kw · Cin. */
// @ts-ignore: decorator
@inline
function windowSize(g: usize): i32 {
  return geo(g, G_KERNEL_HEIGHT) * geo(g, G_KERNEL_WIDTH) * geo(g, G_CHANNELS);
}

// @ts-ignore: decorator
@inline
function pixelsPerImage(g: usize): i32 {
  return geo(g, G_OUT_HEIGHT) * geo(g, G_OUT_WIDTH);
}

/**
 * Walks im2col rows [firstRow, firstRow + rows) (counted over the whole
 * batch) and, for every window row (fixed ki) of every output pixel, either
 * copies the in-image part of it between `cols` and the image (`add` = false:
 * image → cols, im2col) or adds it back (`add` = true: cols → image, col2im).
 * Along one window row, consecutive kj are consecutive pixels and NHWC keeps
 * a pixel's channels together, so the in-image part is one contiguous run.
 */
// @ts-ignore: decorator
@inline
function walkWindows(image0: usize, g: usize, firstRow: i32, rows: i32, cols: usize, add: bool): void {
  const H = geo(g, G_IN_HEIGHT), W = geo(g, G_IN_WIDTH), C = geo(g, G_CHANNELS);
  const kh = geo(g, G_KERNEL_HEIGHT), kw = geo(g, G_KERNEL_WIDTH);
  const sh = geo(g, G_STRIDE_HEIGHT), sw = geo(g, G_STRIDE_WIDTH);
  const padTop = geo(g, G_PAD_TOP), padLeft = geo(g, G_PAD_LEFT);
  const Ho = geo(g, G_OUT_HEIGHT), Wo = geo(g, G_OUT_WIDTH);
  const windowRow = kw * C;
  const perImage = Ho * Wo;
  const imageBytes = <usize>(H * W * C) * F32;
  let n = firstRow / perImage;
  const rest = firstRow - n * perImage;
  let oh = rest / Wo;
  let ow = rest - oh * Wo;
  let row = cols;
  for (let r = 0; r < rows; r++) {
    const image = image0 + <usize>n * imageBytes;
    const top = oh * sh - padTop;
    const left = ow * sw - padLeft;
    // Window columns kj in [kjStart, kjEnd) are inside the image.
    const kjStart = max(0, -left);
    const kjEnd = max(kjStart, min(kw, W - left));
    const before = kjStart * C;
    const inside = (kjEnd - kjStart) * C;
    const after = windowRow - before - inside;
    if (!add && inside == windowRow && top >= 0 && top + kh <= H) {
      // The whole window is inside the image: kh runs of kw·C floats, one image row apart.
      let from = image + <usize>((top * W + left) * C) * F32;
      for (let ki = 0; ki < kh; ki++) {
        copyFloats(row, from, windowRow);
        row += <usize>windowRow * F32;
        from += <usize>(W * C) * F32;
      }
    } else {
      for (let ki = 0; ki < kh; ki++) {
        const ih = top + ki;
        const rowInImage = ih >= 0 && ih < H && inside > 0;
        if (add) {
          if (rowInImage) addFloats(image + <usize>((ih * W + left + kjStart) * C) * F32, row + <usize>before * F32, inside);
        } else if (!rowInImage) {
          zeroFloats(row, windowRow);
        } else {
          if (before > 0) zeroFloats(row, before);
          copyFloats(row + <usize>before * F32, image + <usize>((ih * W + left + kjStart) * C) * F32, inside);
          if (after > 0) zeroFloats(row + <usize>(before + inside) * F32, after);
        }
        row += <usize>windowRow * F32;
      }
    }
    if (++ow == Wo) {
      ow = 0;
      if (++oh == Ho) {
        oh = 0;
        n++;
      }
    }
  }
}

/** Writes im2col rows [firstRow, firstRow + rows) of x to `cols` (row-major, kh·kw·Cin floats a row). */
export function im2colRows(x: usize, g: usize, firstRow: i32, rows: i32, cols: usize): void {
  walkWindows(x, g, firstRow, rows, cols, false);
}

/** Adds im2col rows [firstRow, firstRow + rows) held in `cols` back onto the cells of dx they came from. */
export function col2imRows(cols: usize, g: usize, firstRow: i32, rows: i32, dx: usize): void {
  walkWindows(dx, g, firstRow, rows, cols, true);
}

/** Single-channel images with horizontal stride 1 go to the direct kernels of conv-single-channel.ts. */
// @ts-ignore: decorator
@inline
function isSingleChannel(g: usize): bool {
  return geo(g, G_CHANNELS) == 1 && geo(g, G_STRIDE_WIDTH) == 1;
}

/** Bytes of workspace `convForward` needs. */
export function convForwardWorkspaceBytes(g: usize): usize {
  if (isSingleChannel(g)) return singleChannelConvForwardWorkspaceBytes(g);
  const K = windowSize(g);
  const N = geo(g, G_OUT_CHANNELS);
  return alignUp(<usize>K * roundUp(N, NR) * F32) + alignUp(<usize>MC * K * F32) + alignUp(<usize>MC * blockDepth(K) * F32);
}

/**
 * y = relu?(conv2d(x, filter) + bias) for the images [firstImage, firstImage
 * + imageCount). `bias` is the address of Cout floats, or 0 for none.
 */
export function convForward(x: usize, filter: usize, bias: usize, relu: bool, y: usize, g: usize, firstImage: i32, imageCount: i32, workspace: usize): void {
  if (isSingleChannel(g) && geo(g, G_OUT_CHANNELS) > 0) {
    singleChannelConvForward(x, filter, bias, relu, y, g, firstImage, imageCount, workspace);
    return;
  }
  const K = windowSize(g);
  const N = geo(g, G_OUT_CHANNELS);
  const rows = imageCount * pixelsPerImage(g);
  const firstRow = firstImage * pixelsPerImage(g);
  const ldy = <usize>N * F32;
  if (rows <= 0 || N <= 0) return;
  if (K == 0) {
    epilogueOnly(rows, N, 0, y + <usize>firstRow * ldy, ldy, bias, relu);
    return;
  }
  const kcMax = blockDepth(K);
  const nPadded = roundUp(N, NR);
  const packedB = workspace;
  const cols = packedB + alignUp(<usize>K * nPadded * F32);
  const packedA = cols + alignUp(<usize>MC * K * F32);
  // The filter is packed once; k-block pc starts pc · nPadded floats in.
  for (let pc = 0; pc < K; pc += kcMax) {
    packB(false, min(kcMax, K - pc), N, filter + <usize>pc * ldy, ldy, F32, packedB + <usize>pc * nPadded * F32);
  }
  for (let r0 = 0; r0 < rows; r0 += MC) {
    const mc = min(MC, rows - r0);
    const out = y + <usize>(firstRow + r0) * ldy;
    im2colRows(x, g, firstRow + r0, mc, cols);
    for (let pc = 0; pc < K; pc += kcMax) {
      const kc = min(kcMax, K - pc);
      const first = pc == 0;
      packA(false, mc, kc, cols + <usize>pc * F32, <usize>K * F32, F32, packedA);
      macroKernel(mc, N, kc, 1, first ? 0 : 1, packedA, packedB + <usize>pc * nPadded * F32, out, ldy, first ? bias : 0, relu && pc + kc >= K);
    }
  }
}

/** Bytes of workspace `convBackpropFilter` needs. */
export function convBackpropFilterWorkspaceBytes(g: usize): usize {
  if (isSingleChannel(g)) return singleChannelConvBackpropFilterWorkspaceBytes(g);
  const K = windowSize(g);
  const N = geo(g, G_OUT_CHANNELS);
  return alignUp(<usize>KC * K * F32) + alignUp(<usize>KC * roundUp(N, NR) * F32) + alignUp(<usize>MC * KC * F32);
}

/**
 * The filter gradient of the images [firstImage, firstImage + imageCount),
 * written (not added) to partial sum number firstImage / imagesPerPartial of
 * `partials` (consecutive [kh·kw·Cin, Cout] arrays): the unit of work a
 * thread takes. The host adds the partial sums up in order, so the result
 * does not depend on which thread computed which part.
 */
export function convBackpropFilter(x: usize, dy: usize, partials: usize, imagesPerPartial: i32, g: usize, firstImage: i32, imageCount: i32, workspace: usize): void {
  if (isSingleChannel(g)) {
    singleChannelConvBackpropFilter(x, dy, partials, imagesPerPartial, g, firstImage, imageCount, workspace);
    return;
  }
  const size = <usize>(windowSize(g) * geo(g, G_OUT_CHANNELS)) * F32;
  const partial = partials + <usize>(firstImage / imagesPerPartial) * size;
  convBackpropFilterInto(x, dy, partial, 0, g, firstImage, imageCount, workspace);
}

/**
 * dfilter = beta · dfilter + im2col(x)ᵀ · dy over the images [firstImage,
 * firstImage + imageCount): a GEMM whose reduction runs over output pixels,
 * KC pixels at a time. dfilter is [kh·kw·Cin, Cout] row-major.
 */
export function convBackpropFilterInto(x: usize, dy: usize, dfilter: usize, beta: f32, g: usize, firstImage: i32, imageCount: i32, workspace: usize): void {
  const K = windowSize(g);
  const N = geo(g, G_OUT_CHANNELS);
  const rows = imageCount * pixelsPerImage(g);
  const firstRow = firstImage * pixelsPerImage(g);
  const ldd = <usize>N * F32;
  if (K <= 0 || N <= 0) return;
  if (rows <= 0) {
    epilogueOnly(K, N, beta, dfilter, ldd, 0, false);
    return;
  }
  const cols = workspace;
  const packedB = cols + alignUp(<usize>KC * K * F32);
  const packedA = packedB + alignUp(<usize>KC * roundUp(N, NR) * F32);
  for (let p0 = 0; p0 < rows; p0 += KC) {
    const kc = min(KC, rows - p0);
    im2colRows(x, g, firstRow + p0, kc, cols);
    packB(false, kc, N, dy + <usize>(firstRow + p0) * ldd, ldd, F32, packedB);
    const blockBeta: f32 = p0 == 0 ? beta : 1;
    for (let ic = 0; ic < K; ic += MC) {
      const mc = min(MC, K - ic);
      // op(A) = colsᵀ: its row i is column ic + i of the im2col block.
      packA(true, mc, kc, cols + <usize>ic * F32, F32, <usize>K * F32, packedA);
      macroKernel(mc, N, kc, 1, blockBeta, packedA, packedB, dfilter + <usize>ic * ldd, ldd, 0, false);
    }
  }
}

/** Bytes of workspace `convBackpropInput` needs. */
export function convBackpropInputWorkspaceBytes(g: usize): usize {
  const K = windowSize(g);
  const N = geo(g, G_OUT_CHANNELS);
  return alignUp(<usize>N * roundUp(K, NR) * F32) + alignUp(<usize>MC * blockDepth(N) * F32) + alignUp(<usize>MC * K * F32);
}

/**
 * dx = col2im(dy · filterᵀ) for the images [firstImage, firstImage +
 * imageCount), which it zero-fills first. Each block of output pixels gets
 * its im2col-shaped gradient from the GEMM and is added back onto dx at once.
 */
export function convBackpropInput(dy: usize, filter: usize, dx: usize, g: usize, firstImage: i32, imageCount: i32, workspace: usize): void {
  const K = windowSize(g);
  const N = geo(g, G_OUT_CHANNELS);
  const imageFloats = geo(g, G_IN_HEIGHT) * geo(g, G_IN_WIDTH) * geo(g, G_CHANNELS);
  zeroFloats(dx + <usize>firstImage * imageFloats * F32, imageCount * imageFloats);
  const rows = imageCount * pixelsPerImage(g);
  const firstRow = firstImage * pixelsPerImage(g);
  if (rows <= 0 || K <= 0 || N <= 0) return;
  const kcMax = blockDepth(N);
  const kPadded = roundUp(K, NR);
  const packedB = workspace;
  const packedA = packedB + alignUp(<usize>N * kPadded * F32);
  const dcols = packedA + alignUp(<usize>MC * kcMax * F32);
  const ldy = <usize>N * F32;
  // op(B) = filterᵀ (Cout × K): row p is column p of the stored filter.
  for (let pc = 0; pc < N; pc += kcMax) {
    packB(true, min(kcMax, N - pc), K, filter + <usize>pc * F32, F32, ldy, packedB + <usize>pc * kPadded * F32);
  }
  for (let r0 = 0; r0 < rows; r0 += MC) {
    const mc = min(MC, rows - r0);
    for (let pc = 0; pc < N; pc += kcMax) {
      const kc = min(kcMax, N - pc);
      packA(false, mc, kc, dy + <usize>(firstRow + r0) * ldy + <usize>pc * F32, ldy, F32, packedA);
      macroKernel(mc, K, kc, 1, pc == 0 ? 0 : 1, packedA, packedB + <usize>pc * kPadded * F32, dcols, <usize>K * F32, 0, false);
    }
    col2imRows(dcols, g, firstRow + r0, mc, dx);
  }
}

/** out = Σ partial sums (`count` consecutive arrays of `size` floats at `partials`), added in order. */
export function sumPartials(partials: usize, count: i32, size: i32, out: usize): void {
  if (count <= 0) {
    zeroFloats(out, size);
    return;
  }
  copyFloats(out, partials, size);
  for (let i = 1; i < count; i++) addFloats(out, partials + <usize>(i * size) * F32, size);
}
