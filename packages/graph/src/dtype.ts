/** Element types a tensor can hold. float32 is the default; float64 is for gradient checks; int32 for labels. */
export type DType = 'float32' | 'float64' | 'int32';

export type TypedArray = Float32Array | Float64Array | Int32Array;
export type FloatArray = Float32Array | Float64Array;

export function isFloatDType(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64';
}

export function newTypedArray(dtype: DType, size: number): TypedArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(size);
    case 'float64':
      return new Float64Array(size);
    case 'int32':
      return new Int32Array(size);
  }
}

export function dtypeOfArray(data: unknown): DType | undefined {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Int32Array) return 'int32';
  return undefined;
}
