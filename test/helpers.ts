/** Shared test helpers: run a small graph, compare numbers, assert a gradient check. */
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { expect } from 'vitest';
import { Graph, Session, gradcheck, tensor, toArray, type GradcheckOptions, type Node, type Tensor, type DType, type RunOptions } from '@ndgraph/graph';

export { tensor, toArray };

/** Builds `build(...placeholders)` on a fresh graph, runs it on `inputs`, returns the output. */
export function evaluate(build: (...xs: Node[]) => Node, inputs: Tensor[], options: RunOptions & { seed?: number } = {}): Tensor {
  const g = new Graph({ seed: options.seed ?? 0 });
  const xs = inputs.map((t, i) => g.placeholder(`x${i}`, t.shape, (t.dtype as DType) ?? 'float32'));
  const y = build(...xs);
  return new Session(g).run(y, new Map(xs.map((x, i) => [x, inputs[i]])), options);
}

/** Elementwise closeness with a message naming the first bad index. */
export function expectClose(actual: Tensor | ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-5): void {
  const a = 'shape' in actual && 'data' in actual ? toArray(actual as Tensor) : Array.from(actual as ArrayLike<number>);
  expect(a.length, 'number of elements').toBe(expected.length);
  for (let i = 0; i < a.length; i++) {
    const ok = Math.abs(a[i] - expected[i]) <= tol * Math.max(1, Math.abs(expected[i]));
    if (!ok)
      expect.fail(`element ${i}: got ${a[i]}, expected ${expected[i]} (tol ${tol})\nactual:   ${a.join(', ')}\nexpected: ${Array.from(expected).join(', ')}`);
  }
}

/** Deterministic pseudo-random values in [0, 1) (xorshift32; seed 0 counts as 1), for test inputs. */
export function uniformRandom(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

/** Deterministic values in [-1, 1), exactly representable in float32. */
export function makeRandom(seed: number): () => number {
  const uniform = uniformRandom(seed);
  return () => Math.fround(uniform() * 2 - 1);
}

/** A new array of n deterministic values in [-1, 1) (rounded to float32 when `Type` is Float32Array). */
export function randomArray<T extends Float32ArrayConstructor | Float64ArrayConstructor = Float64ArrayConstructor>(
  n: number,
  seed: number,
  Type: T = Float64Array as T,
): InstanceType<T> {
  const uniform = uniformRandom(seed);
  const out = new Type(n) as InstanceType<T>;
  for (let i = 0; i < n; i++) out[i] = uniform() * 2 - 1;
  return out;
}

/** Deterministic pseudo-random values in [lo, hi), for test inputs. */
export function randomTensor(shape: number[], seed = 1, lo = -1, hi = 1, dtype: DType = 'float64'): Tensor {
  const uniform = uniformRandom(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const values: number[] = [];
  for (let i = 0; i < n; i++) values.push(lo + uniform() * (hi - lo));
  return tensor(values, shape, dtype);
}

/**
 * Asserts that the float64 gradient check passes, and records the errors
 * (set GRADCHECK_REPORT=path to collect a table of max errors per op).
 */
export function expectGradcheck(label: string, build: (...xs: Node[]) => Node, inputs: Tensor[], options: GradcheckOptions = {}): void {
  const report = gradcheck(build, inputs, options);
  const file = process.env.GRADCHECK_REPORT;
  if (file) {
    mkdirSync(dirname(file), { recursive: true });
    appendFileSync(file, `${JSON.stringify({ label, maxAbsError: report.maxAbsError, maxRelError: report.maxRelError, ok: report.ok })}\n`);
  }
  if (!report.ok) expect.fail(`gradcheck ${label} failed:\n${report.summary}`);
  expect(report.ok).toBe(true);
}

/** Distinct values 0.1 apart in a scrambled order (float64): no ties, so max pooling is differentiable there. */
export function distinctTensor(shape: number[], seed: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = Array.from({ length: n }, (_, k) => (k - n / 2) * 0.1);
  let s = seed;
  for (let i = n - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const j = s % (i + 1);
    [values[i], values[j]] = [values[j], values[i]];
  }
  return tensor(values, shape, 'float64');
}
