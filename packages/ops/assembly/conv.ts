// Convolution kernels (NHWC, filters [kh, kw, Cin, Cout]) as implicit
// GEMMs: the im2col matrix is never built, not even a block of it. Its row
// for one output pixel, restricted to one window row ki, is kw·Cin floats
// that lie one after another in the image (NHWC keeps a pixel's channels
// together), so the micro-kernel reads its A operand straight from the image,
// one such run per window row (microKernelInPlace).
//
//   convForward:        y = relu?(im2col(x) · filter + bias)
//   convBackpropFilter: dfilter = beta · dfilter + im2col(x)ᵀ · dy
//   convBackpropInput:  dx = col2im(dy · filterᵀ)
//
// Windows that cross the border of the image read (or, for dx, write) a
// zero-padded copy of the image in the workspace instead, so every window
// lies inside the image it walks and there is only one path.
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

import { MC, MR, NR, KC } from './tile';
import { packB } from './pack';
import { blockDepth, epilogueOnly, roundUp } from './gemm';
import { microKernelInPlace } from './kernel';
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

/** Rows of the padded image: all the windows reach, (Ho − 1)·sh + kh. */
// @ts-ignore: decorator
@inline
function paddedHeight(g: usize): i32 {
  return (geo(g, G_OUT_HEIGHT) - 1) * geo(g, G_STRIDE_HEIGHT) + geo(g, G_KERNEL_HEIGHT);
}

/** Columns of the padded image: (Wo − 1)·sw + kw. */
// @ts-ignore: decorator
@inline
function paddedWidth(g: usize): i32 {
  return (geo(g, G_OUT_WIDTH) - 1) * geo(g, G_STRIDE_WIDTH) + geo(g, G_KERNEL_WIDTH);
}

/** Whether some window crosses the border of the image (so the kernels walk a padded copy). */
// @ts-ignore: decorator
@inline
function needsPadding(g: usize): bool {
  return geo(g, G_PAD_TOP) > 0 || geo(g, G_PAD_LEFT) > 0 || paddedHeight(g) > geo(g, G_IN_HEIGHT) || paddedWidth(g) > geo(g, G_IN_WIDTH);
}

/** Bytes of the padded image in the workspace (none when no window crosses the border). */
// @ts-ignore: decorator
@inline
function paddedImageBytes(g: usize): usize {
  return needsPadding(g) ? alignUp(<usize>(paddedHeight(g) * paddedWidth(g) * geo(g, G_CHANNELS)) * F32) : 0;
}

/** Bytes from one row of the image the windows walk to the next (the padded copy's rows, if any). */
// @ts-ignore: decorator
@inline
function walkedRowBytes(g: usize): usize {
  return <usize>((needsPadding(g) ? paddedWidth(g) : geo(g, G_IN_WIDTH)) * geo(g, G_CHANNELS)) * F32;
}

/**
 * Cell (r, col) of the padded image is x[r − padTop, col − padLeft] (0 outside
 * the image). Copies image `image` into `padded` this way (`toPadded`), or adds
 * the inside part of `padded` onto the image (the reverse, for dx).
 */
function padImage(image: usize, g: usize, padded: usize, toPadded: bool): void {
  const H = geo(g, G_IN_HEIGHT), W = geo(g, G_IN_WIDTH), C = geo(g, G_CHANNELS);
  const padTop = geo(g, G_PAD_TOP), padLeft = geo(g, G_PAD_LEFT);
  const Hp = paddedHeight(g), Wp = paddedWidth(g);
  if (toPadded) zeroFloats(padded, Hp * Wp * C);
  // Image rows [0, rows) and columns [0, cols) are the ones some window reaches.
  const rows = min(H, Hp - padTop), cols = min(W, Wp - padLeft);
  if (cols <= 0) return;
  for (let ih = 0; ih < rows; ih++) {
    const from = image + <usize>(ih * W * C) * F32;
    const to = padded + <usize>(((ih + padTop) * Wp + padLeft) * C) * F32;
    if (toPadded) copyFloats(to, from, cols * C);
    else addFloats(from, to, cols * C);
  }
}

/** Image n of x as the windows walk it: x itself, or a zero-padded copy in `padded`. */
// @ts-ignore: decorator
@inline
function walkedImage(x: usize, g: usize, n: i32, padded: usize): usize {
  const image = x + <usize>(n * geo(g, G_IN_HEIGHT) * geo(g, G_IN_WIDTH) * geo(g, G_CHANNELS)) * F32;
  if (!needsPadding(g)) return image;
  padImage(image, g, padded, true);
  return padded;
}

/**
 * Writes the byte offset of every output pixel's window (its top-left cell)
 * in the walked image to `offsets` (Ho·Wo i32 values), so the forward pass
 * never divides to find a pixel's row.
 */
function pixelOffsets(g: usize, offsets: usize): void {
  const Ho = geo(g, G_OUT_HEIGHT), Wo = geo(g, G_OUT_WIDTH);
  const sh = geo(g, G_STRIDE_HEIGHT), sw = geo(g, G_STRIDE_WIDTH), C = geo(g, G_CHANNELS);
  const rowBytes = walkedRowBytes(g);
  let at = offsets;
  for (let oh = 0; oh < Ho; oh++) {
    for (let ow = 0; ow < Wo; ow++) {
      store<i32>(at, <i32>(<usize>oh * sh * rowBytes + <usize>(ow * sw * C) * F32));
      at += 4;
    }
  }
}

/**
 * Window rows per k-block of the forward pass: the depth kh·kw·Cin is cut
 * between whole window rows (each a run of the micro-kernel) into equal
 * blocks of at most KC where possible.
 */
// @ts-ignore: decorator
@inline
function windowRowsPerBlock(g: usize): i32 {
  const kh = geo(g, G_KERNEL_HEIGHT);
  const blocks = min(kh, (windowSize(g) + KC - 1) / KC);
  return (kh + blocks - 1) / blocks;
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
  return alignUp(<usize>K * roundUp(N, NR) * F32) + alignUp(<usize>pixelsPerImage(g) * 4) + paddedImageBytes(g);
}

/**
 * y = relu?(conv2d(x, filter) + bias) for the images [firstImage, firstImage
 * + imageCount). `bias` is the address of Cout floats, or 0 for none.
 * Image by image, the register tiles take four output pixels at a time and
 * read their windows where they lie in the (walked) image.
 */
export function convForward(x: usize, filter: usize, bias: usize, relu: bool, y: usize, g: usize, firstImage: i32, imageCount: i32, workspace: usize): void {
  if (isSingleChannel(g) && geo(g, G_OUT_CHANNELS) > 0) {
    singleChannelConvForward(x, filter, bias, relu, y, g, firstImage, imageCount, workspace);
    return;
  }
  const K = windowSize(g);
  const N = geo(g, G_OUT_CHANNELS);
  const P = pixelsPerImage(g);
  const ldy = <usize>N * F32;
  if (imageCount <= 0 || P <= 0 || N <= 0) return;
  if (K == 0) {
    epilogueOnly(imageCount * P, N, 0, y + <usize>(firstImage * P) * ldy, ldy, bias, relu);
    return;
  }
  const kh = geo(g, G_KERNEL_HEIGHT);
  const run = geo(g, G_KERNEL_WIDTH) * geo(g, G_CHANNELS);
  const blockRows = windowRowsPerBlock(g);
  const nPadded = roundUp(N, NR);
  const packedB = workspace;
  const offsets = packedB + alignUp(<usize>K * nPadded * F32);
  const padded = offsets + alignUp(<usize>P * 4);
  const rowBytes = walkedRowBytes(g);
  // The filter is packed once; the k-block of window rows from ki0 starts ki0·run·nPadded floats in.
  for (let ki0 = 0; ki0 < kh; ki0 += blockRows) {
    const pc = ki0 * run;
    packB(false, min(blockRows, kh - ki0) * run, N, filter + <usize>pc * ldy, ldy, F32, packedB + <usize>pc * nPadded * F32);
  }
  pixelOffsets(g, offsets);
  for (let n = firstImage; n < firstImage + imageCount; n++) {
    const image = walkedImage(x, g, n, padded);
    const out = y + <usize>(n * P) * ldy;
    // Blocks of MC pixels, so the windows a block reads stay in cache through all its k-blocks and column panels.
    for (let r0 = 0; r0 < P; r0 += MC) {
      const r1 = min(P, r0 + MC);
      for (let ki0 = 0; ki0 < kh; ki0 += blockRows) {
        const rows = min(blockRows, kh - ki0);
        const kc = rows * run;
        const first = ki0 == 0;
        const last = ki0 + rows >= kh;
        const blockB = packedB + <usize>(ki0 * run) * nPadded * F32;
        const top = image + <usize>ki0 * rowBytes;
        for (let j0 = 0; j0 < N; j0 += NR) {
          const cols = min(NR, N - j0);
          const panelB = blockB + <usize>(j0 * kc) * F32;
          // The bias joins the finished sum, as a separate bias add would.
          const tileBias: usize = last && bias != 0 ? bias + <usize>j0 * F32 : 0;
          for (let i0 = r0; i0 < r1; i0 += MR) {
            const pixels = min(MR, r1 - i0);
            const at = offsets + <usize>i0 * 4;
            // Rows past the last pixel repeat the first (computed, not stored).
            const a0 = top + <usize>load<i32>(at);
            const a1 = pixels > 1 ? top + <usize>load<i32>(at, 4) : a0;
            const a2 = pixels > 2 ? top + <usize>load<i32>(at, 8) : a0;
            const a3 = pixels > 3 ? top + <usize>load<i32>(at, 12) : a0;
            const c = out + <usize>i0 * ldy + <usize>j0 * F32;
            microKernelInPlace(rows, run, F32, rowBytes, a0, a1, a2, a3, panelB, <usize>run * NR * F32, 1, first ? 0 : 1, c, c + ldy, c + 2 * ldy, c + 3 * ldy, pixels, cols, tileBias, relu && last);
          }
        }
      }
    }
  }
}

/** Bytes of workspace `convBackpropFilter` needs. */
export function convBackpropFilterWorkspaceBytes(g: usize): usize {
  if (isSingleChannel(g)) return singleChannelConvBackpropFilterWorkspaceBytes(g);
  return alignUp(<usize>(outRowsPerBlock(g) * geo(g, G_OUT_WIDTH) * roundUp(geo(g, G_OUT_CHANNELS), NR)) * F32) + alignUp(<usize>windowSize(g) * 4) + paddedImageBytes(g);
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
 * Output rows per block of the filter gradient's reduction: as many as fit
 * in KC pixels (at least one).
 */
// @ts-ignore: decorator
@inline
function outRowsPerBlock(g: usize): i32 {
  return min(geo(g, G_OUT_HEIGHT), max(1, KC / max(1, geo(g, G_OUT_WIDTH))));
}

/**
 * Writes the byte offset of every window column q = (ki·kw + kj)·Cin + c
 * from the window's top-left cell in the walked image to `offsets` (kh·kw·Cin
 * i32 values).
 */
function windowOffsets(g: usize, offsets: usize): void {
  const kh = geo(g, G_KERNEL_HEIGHT), run = geo(g, G_KERNEL_WIDTH) * geo(g, G_CHANNELS);
  const rowBytes = walkedRowBytes(g);
  let at = offsets;
  for (let ki = 0; ki < kh; ki++) {
    for (let e = 0; e < run; e++) {
      store<i32>(at, <i32>(<usize>ki * rowBytes + <usize>e * F32));
      at += 4;
    }
  }
}

/**
 * dfilter = beta · dfilter + im2col(x)ᵀ · dy over the images [firstImage,
 * firstImage + imageCount): a GEMM whose reduction runs over output pixels,
 * a block of whole output rows of one image at a time. dfilter is
 * [kh·kw·Cin, Cout] row-major. A register tile takes four window columns;
 * for each, the micro-kernel walks the image cells that column sees, output
 * row by output row, where they lie; the block of dy is packed.
 */
export function convBackpropFilterInto(x: usize, dy: usize, dfilter: usize, beta: f32, g: usize, firstImage: i32, imageCount: i32, workspace: usize): void {
  const K = windowSize(g);
  const N = geo(g, G_OUT_CHANNELS);
  const Ho = geo(g, G_OUT_HEIGHT), Wo = geo(g, G_OUT_WIDTH);
  const ldd = <usize>N * F32;
  if (K <= 0 || N <= 0) return;
  if (imageCount <= 0 || Ho * Wo <= 0) {
    epilogueOnly(K, N, beta, dfilter, ldd, 0, false);
    return;
  }
  const blockRows = outRowsPerBlock(g);
  const packedB = workspace;
  const offsets = packedB + alignUp(<usize>(blockRows * Wo * roundUp(N, NR)) * F32);
  const padded = offsets + alignUp(<usize>K * 4);
  const rowBytes = walkedRowBytes(g);
  // Along an output row the windows move sw cells; from one output row to the next, sh image rows.
  const step = <usize>(geo(g, G_STRIDE_WIDTH) * geo(g, G_CHANNELS)) * F32;
  const jump = <usize>geo(g, G_STRIDE_HEIGHT) * rowBytes;
  windowOffsets(g, offsets);
  for (let n = firstImage; n < firstImage + imageCount; n++) {
    const image = walkedImage(x, g, n, padded);
    for (let oh0 = 0; oh0 < Ho; oh0 += blockRows) {
      const rows = min(blockRows, Ho - oh0);
      const kc = rows * Wo;
      packB(false, kc, N, dy + <usize>((n * Ho + oh0) * Wo) * ldd, ldd, F32, packedB);
      const blockBeta: f32 = n == firstImage && oh0 == 0 ? beta : 1;
      const top = image + <usize>oh0 * jump;
      for (let j0 = 0; j0 < N; j0 += NR) {
        const cols = min(NR, N - j0);
        const panelB = packedB + <usize>(j0 * kc) * F32;
        for (let q0 = 0; q0 < K; q0 += MR) {
          const count = min(MR, K - q0);
          const at = offsets + <usize>q0 * 4;
          // Rows past the last window column repeat the first (computed, not stored).
          const a0 = top + <usize>load<i32>(at);
          const a1 = count > 1 ? top + <usize>load<i32>(at, 4) : a0;
          const a2 = count > 2 ? top + <usize>load<i32>(at, 8) : a0;
          const a3 = count > 3 ? top + <usize>load<i32>(at, 12) : a0;
          const c = dfilter + <usize>q0 * ldd + <usize>j0 * F32;
          microKernelInPlace(rows, Wo, step, jump, a0, a1, a2, a3, panelB, <usize>Wo * NR * F32, 1, blockBeta, c, c + ldd, c + 2 * ldd, c + 3 * ldd, count, cols, 0, false);
        }
      }
    }
  }
}

/** Bytes of workspace `convBackpropInput` needs. */
export function convBackpropInputWorkspaceBytes(g: usize): usize {
  const N = geo(g, G_OUT_CHANNELS);
  const run = geo(g, G_KERNEL_WIDTH) * geo(g, G_CHANNELS);
  return alignUp(<usize>(N * geo(g, G_KERNEL_HEIGHT) * roundUp(run, NR)) * F32) + alignUp(<usize>(MR * geo(g, G_OUT_WIDTH) * 2) * 4) + <usize>MR * paddedImageBytes(g);
}

/**
 * dx = col2im(dy · filterᵀ) for the images [firstImage, firstImage +
 * imageCount), which it zero-fills first. No im2col-shaped gradient is built
 * and added back: the register tiles gather instead. Row ih of an image
 * receives, through pixel column ow, the gradient of window row ki of output
 * pixel ((ih − ki)/sh, ow) for every ki that fits. A tile takes four pixel
 * columns and eight consecutive floats of a window row (one column panel of
 * filterᵀ), sums over those ki inside the micro-kernel (dy read where it
 * lies, one run of Cout values per ki) and adds the total onto the image
 * (beta = 1). So each cell is read and written once per pixel column that
 * reaches it rather than once per window tap, and the micro-kernel runs up
 * to kh·Cout steps deep rather than Cout.
 *
 * The four pixel columns of a tile are the same column of up to four images
 * when the pass has several (then the tile's rows never land on the same
 * cells), else neighbouring columns. Windows that cross the border add onto
 * zero-padded images, whose insides are then added onto dx.
 */
export function convBackpropInput(dy: usize, filter: usize, dx: usize, g: usize, firstImage: i32, imageCount: i32, workspace: usize): void {
  const N = geo(g, G_OUT_CHANNELS);
  const Ho = geo(g, G_OUT_HEIGHT), Wo = geo(g, G_OUT_WIDTH);
  const kh = geo(g, G_KERNEL_HEIGHT), C = geo(g, G_CHANNELS);
  const sh = geo(g, G_STRIDE_HEIGHT), sw = geo(g, G_STRIDE_WIDTH);
  const run = geo(g, G_KERNEL_WIDTH) * C;
  const imageFloats = geo(g, G_IN_HEIGHT) * geo(g, G_IN_WIDTH) * C;
  zeroFloats(dx + <usize>firstImage * imageFloats * F32, imageCount * imageFloats);
  if (imageCount <= 0 || Ho * Wo <= 0 || run <= 0 || kh <= 0 || N <= 0) return;
  const kcMax = blockDepth(N);
  const runPadded = roundUp(run, NR);
  const packedB = workspace;
  const slotOffsets = packedB + alignUp(<usize>(N * kh * runPadded) * F32);
  const padded = slotOffsets + alignUp(<usize>(MR * Wo * 2) * 4);
  const padding = needsPadding(g);
  const paddedBytes = paddedImageBytes(g);
  const Hp = paddedHeight(g);
  const ldy = <usize>N * F32;
  const rowBytes = walkedRowBytes(g);
  const pixelStep = <usize>(sw * C) * F32;
  // op(B) = filterᵀ (Cout × K): row p is column p of the stored filter. The
  // panel of k-block pc, columns j0.. of window row ki starts
  // pc·kh·runPadded + j0·kh·kc + ki·kc·NR floats in: a tile's window rows one after another.
  for (let pc = 0; pc < N; pc += kcMax) {
    const kc = min(kcMax, N - pc);
    for (let j0 = 0; j0 < run; j0 += NR) {
      for (let ki = 0; ki < kh; ki++) {
        const dst = packedB + <usize>(pc * kh * runPadded + j0 * kh * kc + ki * kc * NR) * F32;
        packB(true, kc, min(NR, run - j0), filter + <usize>(ki * run + j0) * ldy + <usize>pc * F32, F32, ldy, dst);
      }
    }
  }
  const end = firstImage + imageCount;
  for (let n0 = firstImage; n0 < end; n0 += MR) {
    const images = min(MR, end - n0);
    if (padding) zeroFloats(padded, <i32>(<usize>images * paddedBytes / F32));
    // Slot t is pixel column t / images of image n0 + t % images: the addresses of
    // its dy row in output row 0 and of its windows' top-left cell in walked row 0.
    const slots = images * Wo;
    for (let t = 0; t < slots; t++) {
      const i = t % images, ow = t / images;
      const target = padding ? padded + <usize>i * paddedBytes : dx + <usize>((n0 + i) * imageFloats) * F32;
      store<i32>(slotOffsets + <usize>t * 8, <i32>(dy + <usize>((n0 + i) * Ho * Wo + ow) * ldy));
      store<i32>(slotOffsets + <usize>t * 8, <i32>(target + <usize>ow * pixelStep), 4);
    }
    // Walked rows past the last window (when there is no padding) get nothing.
    for (let ih = 0; ih < Hp; ih++) {
      // Window rows ki that reach row ih: ki ≡ ih (mod sh), from output row (ih − ki)/sh in [0, Ho).
      const lo = max(0, ih - (Ho - 1) * sh);
      const kiFirst = lo + (ih - lo) % sh;
      const kiLast = min(kh - 1, ih);
      if (kiFirst > kiLast) continue;
      const runs = (kiLast - kiFirst) / sh + 1;
      const ohFirst = (ih - kiFirst) / sh;
      for (let pc = 0; pc < N; pc += kcMax) {
        const kc = min(kcMax, N - pc);
        // From one window row to the next: dy one output row up, filterᵀ sh panels on.
        const aJump = <usize>0 - <usize>Wo * ldy;
        const bJump = <usize>(sh * kc * NR) * F32;
        for (let j0 = 0; j0 < run; j0 += NR) {
          const cols = min(NR, run - j0);
          const panelB = packedB + <usize>(pc * kh * runPadded + j0 * kh * kc + kiFirst * kc * NR) * F32;
          const aRow = <usize>((ohFirst * Wo) * N + pc) * F32;
          const cRow = <usize>ih * rowBytes + <usize>j0 * F32;
          for (let t = 0; t < slots; t += MR) {
            const rows = min(MR, slots - t);
            const at = slotOffsets + <usize>t * 8;
            // Rows past the last slot repeat the first (computed, not stored).
            const a0 = <usize>load<i32>(at) + aRow, c0 = <usize>load<i32>(at, 4) + cRow;
            const a1 = rows > 1 ? <usize>load<i32>(at, 8) + aRow : a0, c1 = rows > 1 ? <usize>load<i32>(at, 12) + cRow : c0;
            const a2 = rows > 2 ? <usize>load<i32>(at, 16) + aRow : a0, c2 = rows > 2 ? <usize>load<i32>(at, 20) + cRow : c0;
            const a3 = rows > 3 ? <usize>load<i32>(at, 24) + aRow : a0, c3 = rows > 3 ? <usize>load<i32>(at, 28) + cRow : c0;
            microKernelInPlace(runs, kc, F32, aJump, a0, a1, a2, a3, panelB, bJump, 1, 1, c0, c1, c2, c3, rows, cols, 0, false);
          }
        }
      }
    }
    if (padding) {
      for (let i = 0; i < images; i++) padImage(dx + <usize>((n0 + i) * imageFloats) * F32, g, padded + <usize>i * paddedBytes, false);
    }
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
