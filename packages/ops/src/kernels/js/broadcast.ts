/**
 * Elementwise binary kernel with NumPy broadcasting over contiguous inputs.
 * Fast paths: same shape, scalar on either side, and b a trailing block of a
 * (bias-style). The general path walks the output with per-input strides
 * where broadcast dims have stride 0.
 */
import type { Tensor, TypedArray } from '@ndgraph/graph';

export type BinaryFn = (a: number, b: number) => number;

/** Strides of `shape` as seen from an output of rank `rank`, 0 where broadcast. */
export function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const rank = outShape.length;
  const strides = new Array<number>(rank).fill(0);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const k = rank - shape.length + i;
    strides[k] = shape[i] === 1 && outShape[k] !== 1 ? 0 : s;
    s *= shape[i];
  }
  return strides;
}

export function broadcastBinary(a: Tensor, b: Tensor, out: Tensor, f: BinaryFn): void {
  const o = out.data;
  const n = out.size;
  const ad: TypedArray = a.data,
    bd: TypedArray = b.data;
  const ao = a.offset,
    bo = b.offset;
  if (a.size === n && b.size === n) {
    for (let i = 0; i < n; i++) o[i] = f(ad[ao + i], bd[bo + i]);
    return;
  }
  if (b.size === 1 && a.size === n) {
    const bv = bd[bo];
    for (let i = 0; i < n; i++) o[i] = f(ad[ao + i], bv);
    return;
  }
  if (a.size === 1 && b.size === n) {
    const av = ad[ao];
    for (let i = 0; i < n; i++) o[i] = f(av, bd[bo + i]);
    return;
  }
  if (a.size === n && b.size > 0 && isTrailingBlock(b.shape, out.shape)) {
    const m = b.size;
    for (let i = 0; i < n; i += m) for (let j = 0; j < m; j++) o[i + j] = f(ad[ao + i + j], bd[bo + j]);
    return;
  }
  const shape = out.shape;
  const rank = shape.length;
  const sa = broadcastStrides(a.shape, shape);
  const sb = broadcastStrides(b.shape, shape);
  const idx = new Array<number>(rank).fill(0);
  let pa = ao,
    pb = bo;
  for (let i = 0; i < n; i++) {
    o[i] = f(ad[pa], bd[pb]);
    for (let k = rank - 1; k >= 0; k--) {
      idx[k]++;
      pa += sa[k];
      pb += sb[k];
      if (idx[k] < shape[k]) break;
      pa -= sa[k] * shape[k];
      pb -= sb[k] * shape[k];
      idx[k] = 0;
    }
  }
}

/** True when `inner` equals the last dims of `outer` (leading 1s allowed), so it repeats in blocks. */
function isTrailingBlock(inner: readonly number[], outer: readonly number[]): boolean {
  let start = 0;
  while (start < inner.length && inner[start] === 1) start++;
  const tail = inner.length - start;
  if (tail > outer.length) return false;
  for (let i = 0; i < tail; i++) if (inner[start + i] !== outer[outer.length - tail + i]) return false;
  return true;
}

/**
 * Sums `src` (of the broadcast output shape) down to `target`'s shape: the
 * reduction that the gradient of a broadcasting op needs.
 */
export function sumToShapeKernel(src: Tensor, out: Tensor): void {
  const o = out.data;
  o.fill(0);
  const shape = src.shape;
  const rank = shape.length;
  const so = broadcastStrides(out.shape, shape);
  const idx = new Array<number>(rank).fill(0);
  const sd = src.data;
  let po = 0;
  const n = src.size;
  for (let i = 0; i < n; i++) {
    o[po] += sd[src.offset + i];
    for (let k = rank - 1; k >= 0; k--) {
      idx[k]++;
      po += so[k];
      if (idx[k] < shape[k]) break;
      po -= so[k] * shape[k];
      idx[k] = 0;
    }
  }
}
