import ndarray from 'ndarray';
import type { NdArray } from 'ndarray';
import { type DType, type TypedArray, dtypeOfArray, newTypedArray } from './dtype.ts';
import { DTypeError, ShapeError } from './errors.ts';

/**
 * A tensor value: a scijs `ndarray` over a typed array. Values that the engine
 * hands to a kernel are always contiguous, row-major (NHWC for images), and
 * start at `offset` (usually 0): kernels index `data[offset + i]` directly.
 */
export type Tensor = NdArray<TypedArray>;

/** Shape and element type, known when the graph is built. -1 marks an unknown (batch) dimension. */
export interface TensorSpec {
  shape: number[];
  dtype: DType;
}

export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.map((d) => (d < 0 ? '?' : String(d))).join(',')}]`;
}

export function shapesEqual(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** True when `actual` fits `declared`, where -1 in `declared` matches any size. */
export function shapeMatches(declared: readonly number[], actual: readonly number[]): boolean {
  return declared.length === actual.length && declared.every((d, i) => d < 0 || actual[i] < 0 || d === actual[i]);
}

export function dtypeOf(t: Tensor): DType {
  const dtype = dtypeOfArray(t.data);
  if (!dtype) throw new DTypeError(`expected a Float32Array, Float64Array or Int32Array tensor, found ${Object.prototype.toString.call(t.data)}`);
  return dtype;
}

export function specOf(t: Tensor): TensorSpec {
  return { shape: t.shape.slice(), dtype: dtypeOf(t) };
}

function checkShape(shape: readonly number[], what: string): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new ShapeError(`${what}: expected non-negative integer dimensions, found ${formatShape(shape)}`);
  }
}

/** Row-major strides for a shape. */
export function rowMajorStrides(shape: readonly number[]): number[] {
  const stride = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    stride[i] = s;
    s *= shape[i];
  }
  return stride;
}

/** Wraps a typed array (not copied) as a contiguous tensor of the given shape. */
export function wrap(data: TypedArray, shape: readonly number[], offset = 0): Tensor {
  checkShape(shape, 'wrap');
  if (offset + shapeSize(shape) > data.length) {
    throw new ShapeError(`wrap: shape ${formatShape(shape)} needs ${shapeSize(shape)} elements from offset ${offset}, but the array has ${data.length}`);
  }
  return ndarray(data, shape.slice(), rowMajorStrides(shape), offset);
}

/** A new tensor from numbers (nested arrays are flattened in row-major order). */
export function tensor(values: ArrayLike<number> | number | NestedNumbers, shape?: readonly number[], dtype: DType = 'float32'): Tensor {
  const flat: number[] = [];
  const inferred: number[] = [];
  flatten(values, flat, inferred, 0);
  const finalShape = shape ?? inferred;
  checkShape(finalShape, 'tensor');
  if (shapeSize(finalShape) !== flat.length) {
    throw new ShapeError(`tensor: shape ${formatShape(finalShape)} holds ${shapeSize(finalShape)} values, found ${flat.length}`);
  }
  const data = newTypedArray(dtype, flat.length);
  for (let i = 0; i < flat.length; i++) data[i] = flat[i];
  return wrap(data, finalShape);
}

export type NestedNumbers = number | readonly NestedNumbers[];

function flatten(v: unknown, out: number[], shape: number[], depth: number): void {
  if (typeof v === 'number') {
    out.push(v);
    return;
  }
  const arr = v as ArrayLike<unknown>;
  if (shape.length === depth) shape.push(arr.length);
  for (let i = 0; i < arr.length; i++) flatten(arr[i], out, shape, depth + 1);
}

export function zeros(shape: readonly number[], dtype: DType = 'float32'): Tensor {
  checkShape(shape, 'zeros');
  return wrap(newTypedArray(dtype, shapeSize(shape)), shape);
}

export function full(shape: readonly number[], value: number, dtype: DType = 'float32'): Tensor {
  const t = zeros(shape, dtype);
  t.data.fill(value);
  return t;
}

export function isContiguous(t: Tensor): boolean {
  const expected = rowMajorStrides(t.shape);
  return t.shape.every((d, i) => d <= 1 || t.stride[i] === expected[i]);
}

/** A contiguous copy in the given dtype (default: the same). */
export function copyTensor(t: Tensor, dtype: DType = dtypeOf(t)): Tensor {
  const out = zeros(t.shape, dtype);
  const n = t.size;
  if (isContiguous(t)) {
    const src = t.data;
    for (let i = 0; i < n; i++) out.data[i] = src[t.offset + i];
    return out;
  }
  // General strided walk, one flat index at a time.
  const rank = t.shape.length;
  const idx = new Array<number>(rank).fill(0);
  for (let i = 0; i < n; i++) {
    let p = t.offset;
    for (let k = 0; k < rank; k++) p += idx[k] * t.stride[k];
    out.data[i] = t.data[p];
    for (let k = rank - 1; k >= 0; k--) {
      if (++idx[k] < t.shape[k]) break;
      idx[k] = 0;
    }
  }
  return out;
}

/** Values in row-major order as a plain array (for tests and printing). */
export function toArray(t: Tensor): number[] {
  const c = isContiguous(t) ? t : copyTensor(t);
  return Array.from(c.data.subarray(c.offset, c.offset + c.size));
}
