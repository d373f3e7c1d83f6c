/**
 * Oracles of the pooling kernels: one output element at a time, over the
 * window's real cells. Ties and NaN follow the kernels' rule (\`beats\`: the
 * first maximum wins; NaN beats everything).
 */
import type { FloatArray } from '@ndgraph/graph';
import type { ConvGeometry } from '@ndgraph/ops/kernels';

/** The kernels' rule at ties and NaN: v replaces the running maximum when larger, or when it is the first NaN. */
function beats(v: number, best: number): boolean {
  return v > best || (v !== v && best === best);
}

/** Calls `visit(outIndex, cells)` for every output element, with the indices (plus `xOffset`) of its window's real cells in row-major order. */
function forEachWindowReference(g: ConvGeometry, xOffset: number, visit: (outIndex: number, cells: number[]) => void): void {
  const cells: number[] = [];
  for (let n = 0; n < g.batch; n++) {
    for (let oh = 0; oh < g.outHeight; oh++) {
      for (let ow = 0; ow < g.outWidth; ow++) {
        for (let c = 0; c < g.channels; c++) {
          cells.length = 0;
          for (let ki = 0; ki < g.kernelHeight; ki++) {
            for (let kj = 0; kj < g.kernelWidth; kj++) {
              const ih = oh * g.strideHeight - g.padTop + ki;
              const iw = ow * g.strideWidth - g.padLeft + kj;
              if (ih >= 0 && ih < g.inHeight && iw >= 0 && iw < g.inWidth) {
                cells.push(xOffset + ((n * g.inHeight + ih) * g.inWidth + iw) * g.channels + c);
              }
            }
          }
          visit(((n * g.outHeight + oh) * g.outWidth + ow) * g.channels + c, cells);
        }
      }
    }
  }
}

/** Reference max pool, one output element at a time. */
export function maxPoolForwardReference(x: FloatArray, xOffset: number, g: ConvGeometry, out: FloatArray, outOffset: number): void {
  forEachWindowReference(g, xOffset, (k, cells) => {
    let best = x[cells[0]];
    for (const i of cells) if (beats(x[i], best)) best = x[i];
    out[outOffset + k] = best;
  });
}

/** Reference max-pool gradient: dy goes to the first maximum of each window. */
export function maxPoolBackwardReference(
  dy: FloatArray,
  dyOffset: number,
  x: FloatArray,
  xOffset: number,
  g: ConvGeometry,
  dx: FloatArray,
  dxOffset: number,
): void {
  forEachWindowReference(g, 0, (k, cells) => {
    let bestCell = cells[0];
    for (const i of cells) if (beats(x[xOffset + i], x[xOffset + bestCell])) bestCell = i;
    dx[dxOffset + bestCell] += dy[dyOffset + k];
  });
}

/** Reference average pool. */
export function avgPoolForwardReference(x: FloatArray, xOffset: number, g: ConvGeometry, out: FloatArray, outOffset: number): void {
  forEachWindowReference(g, xOffset, (k, cells) => {
    let sum = 0;
    for (const i of cells) sum += x[i];
    out[outOffset + k] = sum / cells.length;
  });
}

/** Reference average-pool gradient. */
export function avgPoolBackwardReference(dy: FloatArray, dyOffset: number, g: ConvGeometry, dx: FloatArray, dxOffset: number): void {
  forEachWindowReference(g, dxOffset, (k, cells) => {
    for (const i of cells) dx[i] += dy[dyOffset + k] / cells.length;
  });
}
