/**
 * im2col and its adjoint col2im, for NHWC images and windows of `ConvGeometry`.
 *
 * im2col lays every window out as one row of a matrix `cols`:
 *   row    r = ((n − firstImage)·outHeight + oh)·outWidth + ow
 *   column q = (ki·kernelWidth + kj)·channels + c
 *   cols[r, q] = x[n, oh·strideHeight − padTop + ki, ow·strideWidth − padLeft + kj, c]  (0 in the padding)
 * so a convolution is cols · filter, with the filter [kh, kw, cin, cout] read as
 * a [kh·kw·cin, cout] matrix (the same column order).
 *
 * col2im is the transpose of that linear map: each entry of `cols` is added
 * back onto the input cell it was copied from (entries in the padding are
 * dropped). It ADDS into `dx`; the caller zero-fills dx first.
 *
 * Both work on the images [firstImage, firstImage + imageCount), so a caller
 * can process a large batch in chunks; `cols` holds only those images' rows.
 */
import type { FloatArray } from '@ndgraph/graph';
import type { ConvGeometry } from '../geometry.ts';

/** Bound on an im2col buffer, in elements (8 MB in float32, 16 MB in float64); bigger batches go in chunks. */
export const MAX_COLS_ELEMENTS = 1 << 21;

/** How many images one chunk holds so that its im2col matrix stays under MAX_COLS_ELEMENTS (at least one). */
export function imagesPerChunk(g: ConvGeometry): number {
  const perImage = g.outHeight * g.outWidth * im2colWidth(g);
  return Math.max(1, Math.min(g.batch, Math.floor(MAX_COLS_ELEMENTS / Math.max(1, perImage))));
}

/** A 1×1 window with stride 1 (so no padding): the im2col matrix is x itself, read as [N·H·W, C]. */
export function isPointwise(g: ConvGeometry): boolean {
  return g.kernelHeight === 1 && g.kernelWidth === 1 && g.strideHeight === 1 && g.strideWidth === 1;
}

/** Number of columns of the im2col matrix: kh·kw·channels. */
export function im2colWidth(g: ConvGeometry): number {
  return g.kernelHeight * g.kernelWidth * g.channels;
}

/**
 * Fast im2col. Along one window row (fixed ki), consecutive kj are
 * consecutive pixels, and NHWC keeps a pixel's channels together, so the part
 * of the row inside the image is one contiguous run of x: it is copied in a
 * single loop, with zeros for the columns that fall in the padding.
 */
export function im2col(x: FloatArray, xOffset: number, g: ConvGeometry, firstImage: number, imageCount: number, cols: FloatArray, colsOffset: number): void {
  const {
    inHeight: H,
    inWidth: W,
    channels: C,
    kernelHeight: kh,
    kernelWidth: kw,
    strideHeight: sh,
    strideWidth: sw,
    padTop,
    padLeft,
    outHeight: Ho,
    outWidth: Wo,
  } = g;
  const windowRow = kw * C; // one ki row of a window, in cols entries
  let out = colsOffset;
  for (let n = firstImage; n < firstImage + imageCount; n++) {
    const image = xOffset + n * H * W * C;
    for (let oh = 0; oh < Ho; oh++) {
      const top = oh * sh - padTop;
      for (let ow = 0; ow < Wo; ow++) {
        const left = ow * sw - padLeft;
        // Window columns kj in [kjStart, kjEnd) are inside the image.
        const kjStart = Math.max(0, -left);
        const kjEnd = Math.max(kjStart, Math.min(kw, W - left));
        const zerosBefore = kjStart * C;
        const copied = (kjEnd - kjStart) * C;
        for (let ki = 0; ki < kh; ki++) {
          const ih = top + ki;
          if (ih < 0 || ih >= H || copied === 0) {
            for (let t = 0; t < windowRow; t++) cols[out + t] = 0;
          } else {
            for (let t = 0; t < zerosBefore; t++) cols[out + t] = 0;
            const src = image + (ih * W + left + kjStart) * C - (out + zerosBefore);
            for (let t = out + zerosBefore, end = t + copied; t < end; t++) cols[t] = x[src + t];
            for (let t = zerosBefore + copied; t < windowRow; t++) cols[out + t] = 0;
          }
          out += windowRow;
        }
      }
    }
  }
}

/** Fast col2im: the same walk as `im2col`, adding each in-image run back onto dx. */
export function col2im(cols: FloatArray, colsOffset: number, g: ConvGeometry, firstImage: number, imageCount: number, dx: FloatArray, dxOffset: number): void {
  const {
    inHeight: H,
    inWidth: W,
    channels: C,
    kernelHeight: kh,
    kernelWidth: kw,
    strideHeight: sh,
    strideWidth: sw,
    padTop,
    padLeft,
    outHeight: Ho,
    outWidth: Wo,
  } = g;
  const windowRow = kw * C;
  let row = colsOffset;
  for (let n = firstImage; n < firstImage + imageCount; n++) {
    const image = dxOffset + n * H * W * C;
    for (let oh = 0; oh < Ho; oh++) {
      const top = oh * sh - padTop;
      for (let ow = 0; ow < Wo; ow++) {
        const left = ow * sw - padLeft;
        const kjStart = Math.max(0, -left);
        const kjEnd = Math.max(kjStart, Math.min(kw, W - left));
        const skipped = kjStart * C;
        const added = (kjEnd - kjStart) * C;
        for (let ki = 0; ki < kh; ki++) {
          const ih = top + ki;
          if (ih >= 0 && ih < H && added > 0) {
            const from = row + skipped;
            const to = image + (ih * W + left + kjStart) * C - from;
            for (let t = from, end = from + added; t < end; t++) dx[to + t] += cols[t];
          }
          row += windowRow;
        }
      }
    }
  }
}
