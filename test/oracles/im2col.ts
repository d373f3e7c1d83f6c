/** Oracles of the im2col kernels: the defining formulas, one element at a time. */
import type { FloatArray } from '@ndgraph/graph';
import { type ConvGeometry, im2colWidth } from '@ndgraph/ops/kernels';

/** Reference im2col: the defining formula, one element at a time. */
export function im2colReference(
  x: FloatArray,
  xOffset: number,
  g: ConvGeometry,
  firstImage: number,
  imageCount: number,
  cols: FloatArray,
  colsOffset: number,
): void {
  const width = im2colWidth(g);
  for (let n = firstImage; n < firstImage + imageCount; n++) {
    for (let oh = 0; oh < g.outHeight; oh++) {
      for (let ow = 0; ow < g.outWidth; ow++) {
        const r = ((n - firstImage) * g.outHeight + oh) * g.outWidth + ow;
        for (let ki = 0; ki < g.kernelHeight; ki++) {
          for (let kj = 0; kj < g.kernelWidth; kj++) {
            for (let c = 0; c < g.channels; c++) {
              const q = (ki * g.kernelWidth + kj) * g.channels + c;
              const ih = oh * g.strideHeight - g.padTop + ki;
              const iw = ow * g.strideWidth - g.padLeft + kj;
              const inside = ih >= 0 && ih < g.inHeight && iw >= 0 && iw < g.inWidth;
              cols[colsOffset + r * width + q] = inside ? x[xOffset + ((n * g.inHeight + ih) * g.inWidth + iw) * g.channels + c] : 0;
            }
          }
        }
      }
    }
  }
}

/** Reference col2im: adds every in-image entry of cols onto its input cell. */
export function col2imReference(
  cols: FloatArray,
  colsOffset: number,
  g: ConvGeometry,
  firstImage: number,
  imageCount: number,
  dx: FloatArray,
  dxOffset: number,
): void {
  const width = im2colWidth(g);
  for (let n = firstImage; n < firstImage + imageCount; n++) {
    for (let oh = 0; oh < g.outHeight; oh++) {
      for (let ow = 0; ow < g.outWidth; ow++) {
        const r = ((n - firstImage) * g.outHeight + oh) * g.outWidth + ow;
        for (let ki = 0; ki < g.kernelHeight; ki++) {
          for (let kj = 0; kj < g.kernelWidth; kj++) {
            for (let c = 0; c < g.channels; c++) {
              const q = (ki * g.kernelWidth + kj) * g.channels + c;
              const ih = oh * g.strideHeight - g.padTop + ki;
              const iw = ow * g.strideWidth - g.padLeft + kj;
              if (ih >= 0 && ih < g.inHeight && iw >= 0 && iw < g.inWidth) {
                dx[dxOffset + ((n * g.inHeight + ih) * g.inWidth + iw) * g.channels + c] += cols[colsOffset + r * width + q];
              }
            }
          }
        }
      }
    }
  }
}
