/**
 * The JavaScript kernels for relu, its gradient, bias add (optionally
 * followed by relu) and the bias gradient, over contiguous arrays: what the
 * js backend (and float64) runs, and the references the WebAssembly kernels
 * (wasm/elementwise-wasm.ts) are tested against. Bias kernels treat the data as [rows, C], channels last.
 *
 * relu(x) = x < 0 ? 0 : x (NaN passes through); relu'(x) = 1 where x > 0,
 * else 0 (relu'(0) = 0).
 */
import type { FloatArray } from '@ndgraph/graph';

/** y = x < 0 ? 0 : x for n elements. */
export function reluKernel(x: FloatArray, xOffset: number, y: FloatArray, yOffset: number, n: number): void {
  for (let i = 0; i < n; i++) {
    const v = x[xOffset + i];
    y[yOffset + i] = v < 0 ? 0 : v;
  }
}

/** out = x > 0 ? dy : 0 for n elements. */
export function reluGradKernel(dy: FloatArray, dyOffset: number, x: FloatArray, xOffset: number, out: FloatArray, outOffset: number, n: number): void {
  for (let i = 0; i < n; i++) out[outOffset + i] = x[xOffset + i] > 0 ? dy[dyOffset + i] : 0;
}

/** out = relu?(x + bias[i mod C]) for n elements of [n / C, C] data. */
export function biasAddKernel(
  x: FloatArray,
  xOffset: number,
  bias: FloatArray,
  biasOffset: number,
  relu: boolean,
  out: FloatArray,
  outOffset: number,
  n: number,
  channels: number,
): void {
  for (let row = 0; row < n; row += channels) {
    for (let c = 0; c < channels; c++) {
      // Stored (rounded to the array's type) before relu, as two separate ops would.
      out[outOffset + row + c] = x[xOffset + row + c] + bias[biasOffset + c];
      if (relu && out[outOffset + row + c] < 0) out[outOffset + row + c] = 0;
    }
  }
}

/** out[c] = Σ over rows of dy[row, c] for n elements of [n / C, C] data, summed in float64. */
export function biasAddGradKernel(dy: FloatArray, dyOffset: number, n: number, channels: number, out: FloatArray, outOffset: number): void {
  for (let c = 0; c < channels; c++) {
    let sum = 0;
    for (let i = dyOffset + c; i < dyOffset + n; i += channels) sum += dy[i];
    out[outOffset + c] = sum;
  }
}
