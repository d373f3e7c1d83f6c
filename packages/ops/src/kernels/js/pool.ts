/**
 * Max and average pooling over NHWC images, and their backward kernels,
 * for windows described by `ConvGeometry` (channels pooled independently).
 *
 * Conventions:
 * - Padding cells never take part: a max is over the window's real cells
 *   only, and an average divides by the number of real cells (TensorFlow's
 *   rule for 'same' padding). Every window has at least one real cell.
 * - Max ties: the FIRST maximum in row-major scan order (ki, then kj) wins and
 *   is the only cell that receives the gradient.
 * - NaN propagates: a window with a NaN has a NaN max, and the first NaN
 *   receives the gradient.
 * - The backward kernels ADD into dx (overlapping windows accumulate); the
 *   caller zero-fills dx first.
 */
import type { FloatArray } from '@ndgraph/graph';
import type { ConvGeometry } from '../geometry.ts';

/** True when `v` should replace the running maximum `best`: larger, or the first NaN. */
function beats(v: number, best: number): boolean {
  return v > best || (v !== v && best === best);
}

/**
 * Calls `visit(out, image, ihStart, ihEnd, iwStart, iwEnd)` for every output
 * position of a pool: `out` is the flat index (from 0) of its first channel,
 * `image` the flat index (from 0) of its image's first cell, and the window's
 * in-image rows and columns are [ihStart, ihEnd) × [iwStart, iwEnd) (clipped
 * once per position; padding cells never take part).
 */
function forEachClippedWindow(
  g: ConvGeometry,
  visit: (out: number, image: number, ihStart: number, ihEnd: number, iwStart: number, iwEnd: number) => void,
): void {
  const {
    batch,
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
  let o = 0;
  for (let n = 0; n < batch; n++) {
    const image = n * H * W * C;
    for (let oh = 0; oh < Ho; oh++) {
      const top = oh * sh - padTop;
      const ihStart = Math.max(0, top);
      const ihEnd = Math.min(H, top + kh);
      for (let ow = 0; ow < Wo; ow++, o += C) {
        const left = ow * sw - padLeft;
        visit(o, image, ihStart, ihEnd, Math.max(0, left), Math.min(W, left + kw));
      }
    }
  }
}

/**
 * Fast max pool. Each cell's channel vector is contiguous, so the running
 * maximum of all channels is kept in the output row itself.
 */
export function maxPoolForward(x: FloatArray, xOffset: number, g: ConvGeometry, out: FloatArray, outOffset: number): void {
  const { inWidth: W, channels: C } = g;
  forEachClippedWindow(g, (position, image, ihStart, ihEnd, iwStart, iwEnd) => {
    const o = outOffset + position;
    let first = true;
    for (let ih = ihStart; ih < ihEnd; ih++) {
      for (let iw = iwStart; iw < iwEnd; iw++) {
        const cell = xOffset + image + (ih * W + iw) * C;
        if (first) {
          for (let c = 0; c < C; c++) out[o + c] = x[cell + c];
          first = false;
        } else {
          for (let c = 0; c < C; c++) {
            const v = x[cell + c];
            if (beats(v, out[o + c])) out[o + c] = v;
          }
        }
      }
    }
  });
}

/**
 * Calls `visit(outputIndex, cellIndex)` for every output element of a max
 * pool over x: the flat index of the element (from 0) and the index into x
 * (from xOffset) of its window's FIRST maximum in row-major scan order.
 */
function forEachFirstMax(x: FloatArray, xOffset: number, g: ConvGeometry, visit: (outputIndex: number, cellIndex: number) => void): void {
  const { inWidth: W, channels: C } = g;
  forEachClippedWindow(g, (o, image, ihStart, ihEnd, iwStart, iwEnd) => {
    const start = xOffset + image;
    for (let c = 0; c < C; c++) {
      let bestIndex = start + (ihStart * W + iwStart) * C + c;
      let best = x[bestIndex];
      for (let ih = ihStart; ih < ihEnd; ih++) {
        for (let iw = iwStart, i = start + (ih * W + iw) * C + c; iw < iwEnd; iw++, i += C) {
          const v = x[i];
          if (beats(v, best)) {
            best = v;
            bestIndex = i;
          }
        }
      }
      visit(o + c, bestIndex);
    }
  });
}

/**
 * Fast max-pool gradient: for every output element, finds the first maximum
 * of its window again (from x, no stored state) and adds dy there. With
 * `positiveOnly`, cells where x is not positive then get 0: the gradient
 * continues through the relu that produced x (reluGrad(dx, x)).
 */
export function maxPoolBackward(
  dy: FloatArray,
  dyOffset: number,
  x: FloatArray,
  xOffset: number,
  g: ConvGeometry,
  dx: FloatArray,
  dxOffset: number,
  positiveOnly = false,
): void {
  // x and dx have the same layout: an index into x minus xOffset plus dxOffset is the same cell of dx.
  const toDx = dxOffset - xOffset;
  forEachFirstMax(x, xOffset, g, (o, cell) => {
    dx[cell + toDx] += dy[dyOffset + o];
  });
  // Through the relu that produced x: reluGrad(dx, x).
  if (positiveOnly) {
    const size = g.batch * g.inHeight * g.inWidth * g.channels;
    for (let i = 0; i < size; i++) if (!(x[xOffset + i] > 0)) dx[dxOffset + i] = 0;
  }
}

/**
 * The transpose of maxPoolBackward: each output element takes the value of
 * `grad` (shaped like x) at its window's first maximum — and, with
 * `positiveOnly`, 0 where that maximum is not positive.
 */
export function gatherAtFirstMaxima(
  grad: FloatArray,
  gradOffset: number,
  x: FloatArray,
  xOffset: number,
  g: ConvGeometry,
  out: FloatArray,
  outOffset: number,
  positiveOnly = false,
): void {
  const toGrad = gradOffset - xOffset;
  forEachFirstMax(x, xOffset, g, (o, cell) => {
    out[outOffset + o] = positiveOnly && !(x[cell] > 0) ? 0 : grad[cell + toGrad];
  });
}

/** Fast average pool: sum of the window's real cells divided by their count. */
export function avgPoolForward(x: FloatArray, xOffset: number, g: ConvGeometry, out: FloatArray, outOffset: number): void {
  const { inWidth: W, channels: C } = g;
  forEachClippedWindow(g, (position, image, ihStart, ihEnd, iwStart, iwEnd) => {
    const o = outOffset + position;
    const count = (ihEnd - ihStart) * (iwEnd - iwStart);
    for (let c = 0; c < C; c++) out[o + c] = 0;
    for (let ih = ihStart; ih < ihEnd; ih++) {
      for (let iw = iwStart; iw < iwEnd; iw++) {
        const cell = xOffset + image + (ih * W + iw) * C;
        for (let c = 0; c < C; c++) out[o + c] += x[cell + c];
      }
    }
    for (let c = 0; c < C; c++) out[o + c] /= count;
  });
}

/** Fast average-pool gradient: each output's dy / count is added to every real cell of its window. */
export function avgPoolBackward(dy: FloatArray, dyOffset: number, g: ConvGeometry, dx: FloatArray, dxOffset: number): void {
  const { inWidth: W, channels: C } = g;
  forEachClippedWindow(g, (position, image, ihStart, ihEnd, iwStart, iwEnd) => {
    const o = dyOffset + position;
    const count = (ihEnd - ihStart) * (iwEnd - iwStart);
    for (let ih = ihStart; ih < ihEnd; ih++) {
      for (let iw = iwStart; iw < iwEnd; iw++) {
        const cell = dxOffset + image + (ih * W + iw) * C;
        for (let c = 0; c < C; c++) dx[cell + c] += dy[o + c] / count;
      }
    }
  });
}
