import { describe, it, expect } from 'vitest';
import { gemm } from '@ndgraph/ops/kernels';
import type { FloatArray } from '@ndgraph/graph';
import { randomArray } from '../helpers.ts';
import { gemmReference } from '../oracles/gemm.ts';

function expectArraysClose(actual: FloatArray, expected: FloatArray, tol: number, label: string): void {
  expect(actual.length, label).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    if (!(err <= tol * Math.max(1, Math.abs(expected[i])))) expect.fail(`${label}: element ${i} is ${actual[i]}, reference ${expected[i]}`);
  }
}

const transposes: [boolean, boolean][] = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
];
const types = [
  { Type: Float64Array, tol: 1e-12 },
  { Type: Float32Array, tol: 1e-5 },
] as const;

/**
 * Runs fast and reference GEMM on the same operands, stored inside larger
 * arrays (offsets and row strides wider than the matrices), and compares every
 * element of C, including the padding around it, which must stay untouched.
 */
function compare(
  M: number,
  N: number,
  K: number,
  transA: boolean,
  transB: boolean,
  alpha: number,
  beta: number,
  Type: Float32ArrayConstructor | Float64ArrayConstructor,
  tol: number,
  seed: number,
): void {
  const [aRows, aCols] = transA ? [K, M] : [M, K];
  const [bRows, bCols] = transB ? [N, K] : [K, N];
  const lda = aCols + 2;
  const ldb = bCols + 1;
  const ldc = N + 3;
  const aOffset = 5;
  const bOffset = 3;
  const cOffset = 7;
  const A = randomArray(aOffset + aRows * lda, seed, Type);
  const B = randomArray(bOffset + bRows * ldb, seed + 1, Type);
  const C0 = randomArray(cOffset + M * ldc + 4, seed + 2, Type);
  const fast = C0.slice();
  const reference = C0.slice();
  gemm(transA, transB, M, N, K, alpha, A, aOffset, lda, B, bOffset, ldb, beta, fast, cOffset, ldc);
  gemmReference(transA, transB, M, N, K, alpha, A, aOffset, lda, B, bOffset, ldb, beta, reference, cOffset, ldc);
  expectArraysClose(fast, reference, tol * Math.max(1, K), `M=${M} N=${N} K=${K} transA=${transA} transB=${transB} alpha=${alpha} beta=${beta} ${Type.name}`);
}

describe('gemm kernels', () => {
  it('reference GEMM matches a hand-computed product in every transpose combination', () => {
    // A = [[1,2,3],[4,5,6]], B = [[7,8],[9,10],[11,12]]  →  A·B = [[58,64],[139,154]]
    const A = new Float64Array([1, 2, 3, 4, 5, 6]);
    const At = new Float64Array([1, 4, 2, 5, 3, 6]);
    const B = new Float64Array([7, 8, 9, 10, 11, 12]);
    const Bt = new Float64Array([7, 9, 11, 8, 10, 12]);
    for (const kernel of [gemm, gemmReference]) {
      for (const [transA, transB] of transposes) {
        const C = new Float64Array(4);
        kernel(transA, transB, 2, 2, 3, 1, transA ? At : A, 0, transA ? 2 : 3, transB ? Bt : B, 0, transB ? 3 : 2, 0, C, 0, 2);
        expect(Array.from(C)).toEqual([58, 64, 139, 154]);
      }
    }
  });

  it('alpha and beta: C = alpha·A·B + beta·C', () => {
    const A = new Float64Array([1, 2, 3, 4]); // [[1,2],[3,4]]
    const B = new Float64Array([1, 0, 0, 1]); // identity
    for (const kernel of [gemm, gemmReference]) {
      const C = new Float64Array([10, 20, 30, 40]);
      kernel(false, false, 2, 2, 2, 2, A, 0, 2, B, 0, 2, 0.5, C, 0, 2);
      expect(Array.from(C)).toEqual([7, 14, 21, 28]);
    }
  });

  for (const { Type, tol } of types) {
    for (const [transA, transB] of transposes) {
      it(`fast == reference on odd sizes, ${Type.name}, transA=${transA} transB=${transB}`, () => {
        const sizes = [1, 3, 7, 17, 33];
        let seed = 1;
        for (const M of sizes) for (const N of sizes) for (const K of sizes) compare(M, N, K, transA, transB, 1, 0, Type, tol, seed++);
        for (const [alpha, beta] of [
          [0.5, -2],
          [2, 1],
          [-1, 0.25],
        ])
          compare(17, 7, 33, transA, transB, alpha, beta, Type, tol, seed++);
      });
      it(`fast == reference across cache-block boundaries, ${Type.name}, transA=${transA} transB=${transB}`, () => {
        // N > 256 and K > 128 cross the block edges of the plain kernel; K = 150 gives 216-column blocks in the transposed-B one.
        compare(9, 300, 150, transA, transB, 1, 0, Type, tol, 11);
        compare(33, 517, 260, transA, transB, 0.5, 1, Type, tol, 12);
      });
    }
  }

  it('beta = 0 ignores what C held before, even NaN', () => {
    for (const kernel of [gemm, gemmReference]) {
      for (const [transA, transB] of transposes) {
        const A = randomArray(12, 3, Float64Array);
        const B = randomArray(12, 4, Float64Array);
        const C = new Float64Array(9).fill(NaN);
        kernel(transA, transB, 3, 3, 4, 1, A, 0, transA ? 3 : 4, B, 0, transB ? 4 : 3, 0, C, 0, 3);
        expect(C.every(Number.isFinite)).toBe(true);
      }
    }
  });

  it('K = 0 and alpha = 0 leave beta·C', () => {
    for (const kernel of [gemm, gemmReference]) {
      const C = new Float64Array([1, 2, 3, 4]);
      kernel(false, false, 2, 2, 0, 1, new Float64Array(0), 0, 0, new Float64Array(0), 0, 2, 3, C, 0, 2);
      expect(Array.from(C)).toEqual([3, 6, 9, 12]);
      const D = new Float64Array([1, 2, 3, 4]);
      kernel(false, false, 2, 2, 2, 0, new Float64Array([NaN, 1, 1, 1]), 0, 2, new Float64Array(4), 0, 2, 0, D, 0, 2);
      expect(Array.from(D)).toEqual([0, 0, 0, 0]);
    }
  });
});
