/** Shape and dtype rules shared by many ops. Each throws ShapeError/DTypeError with what was expected and found. */
import { DTypeError, GraphError, ShapeError, formatShape, isFloatDType, type DType, type TensorSpec } from '@ndgraph/graph';

/** Checks that input `i` is a float tensor and returns its dtype. */
export function expectFloat(spec: TensorSpec, what: string): DType {
  if (!isFloatDType(spec.dtype)) throw new DTypeError(`${what} must be float32 or float64, found ${spec.dtype}`);
  return spec.dtype;
}

/** Checks that all inputs share one float dtype. */
export function expectSameFloat(specs: readonly TensorSpec[], names: readonly string[]): DType {
  const dtype = expectFloat(specs[0], names[0]);
  specs.forEach((s, i) => {
    if (s.dtype !== dtype) throw new DTypeError(`${names[i]} is ${s.dtype}, expected ${dtype} like ${names[0]}`);
  });
  return dtype;
}

export function expectRank(spec: TensorSpec, rank: number, what: string): void {
  if (spec.shape.length !== rank) throw new ShapeError(`${what} must have rank ${rank}, found ${formatShape(spec.shape)}`);
}

/** Two dims agree when equal or when either is unknown (-1). */
export function dimsAgree(a: number, b: number): boolean {
  return a < 0 || b < 0 || a === b;
}

/** Combines two dims that agree, preferring the known one. */
export function mergeDim(a: number, b: number): number {
  return a < 0 ? b : a;
}

/**
 * NumPy broadcasting: shapes are aligned at the right; each pair of dims must
 * be equal or one of them 1. Unknown (-1) dims broadcast against anything
 * except where the other side fixes them.
 */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da === 1) out[i] = db;
    else if (db === 1) out[i] = da;
    else if (dimsAgree(da, db)) out[i] = mergeDim(da, db);
    else throw new ShapeError(`shapes ${formatShape(a)} and ${formatShape(b)} do not broadcast (dimension ${i}: ${da} vs ${db})`);
  }
  return out;
}

export const sameAs = (spec: TensorSpec): TensorSpec => ({ shape: spec.shape.slice(), dtype: spec.dtype });

/** Shape rule of an elementwise backward kernel (dy, y): both the same float dtype and shape; the result is dy's spec. */
export function elementwiseGradSpec(dy: TensorSpec, y: TensorSpec): TensorSpec {
  expectSameFloat([dy, y], ['dy', 'y']);
  if (dy.shape.length !== y.shape.length || dy.shape.some((d, i) => !dimsAgree(d, y.shape[i]))) {
    throw new ShapeError(`dy ${formatShape(dy.shape)} must have the shape of y ${formatShape(y.shape)}`);
  }
  return sameAs(dy);
}

/** Checks that attribute `name` is a finite number (a NaN or a string would compute NaN everywhere). */
export function expectFiniteAttr(attrs: Record<string, unknown>, name: string): void {
  const v = attrs[name];
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new GraphError(`${name} must be a finite number, found ${typeof v === 'number' ? v : JSON.stringify(v)}`);
}
