/**
 * GEMM, BLAS style, row-major:  C = alpha·op(A)·op(B) + beta·C
 * where op(A) is M×K (A itself, or Aᵀ when `transA`), op(B) is K×N and C is M×N.
 * `lda`, `ldb`, `ldc` are row strides of the matrices as stored (so a
 * sub-matrix of a larger one can be used in place); offsets say where each
 * matrix starts in its array.
 *
 * As in BLAS: beta = 0 overwrites C without reading it (old NaNs do not leak
 * in), and alpha = 0 does not read A or B.
 *
 * Every op calls `gemm`; a faster backend (for example WebAssembly SIMD) can
 * replace the implementation behind this same signature. The plain triple
 * loop that tests compare against is test/oracles/gemm.ts.
 */
import type { FloatArray } from '@ndgraph/graph';

export type GemmFn = (
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  alpha: number,
  A: FloatArray,
  aOffset: number,
  lda: number,
  B: FloatArray,
  bOffset: number,
  ldb: number,
  beta: number,
  C: FloatArray,
  cOffset: number,
  ldc: number,
) => void;

/** Block sizes: a KC×NC block of B (float64) is 256 KB, which stays in a typical L2 cache. */
const KC = 128;
const NC = 256;
/** Budget (elements) for the rows of B kept hot in the transposed-B kernel. */
const TRANS_B_BLOCK_ELEMENTS = 32768;

/**
 * The fast kernel. Two loop shapes:
 * - B not transposed: i-k-j order, so the innermost loop runs along a row of
 *   B and a row of C (unit stride). Two rows of C and four k-steps are done
 *   per pass, so each B element loaded feeds two products and each C element
 *   is loaded and stored once per four k-steps. Blocked over k and j so the
 *   block of B stays in cache across all rows of C.
 * - B transposed: each C element is a dot product of a row of op(A) and a row
 *   of B, both along k. A 2×4 tile of C is accumulated in locals, so each
 *   loaded element feeds two or four products. Blocked over j so the rows of
 *   B stay in cache across rows of C.
 * A transposed only changes A's strides: op(A)[i, p] = A[i·aStrideI + p·aStrideP].
 */
export function gemm(
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  alpha: number,
  A: FloatArray,
  aOffset: number,
  lda: number,
  B: FloatArray,
  bOffset: number,
  ldb: number,
  beta: number,
  C: FloatArray,
  cOffset: number,
  ldc: number,
): void {
  scaleC(M, N, beta, C, cOffset, ldc);
  if (M === 0 || N === 0 || K === 0 || alpha === 0) return;
  const aStrideI = transA ? 1 : lda;
  const aStrideP = transA ? lda : 1;
  if (transB) gemmTransB(M, N, K, alpha, A, aOffset, aStrideI, aStrideP, B, bOffset, ldb, C, cOffset, ldc);
  else gemmPlainB(M, N, K, alpha, A, aOffset, aStrideI, aStrideP, B, bOffset, ldb, C, cOffset, ldc);
}

/** C ← beta·C (beta = 0 writes zeros without reading C). */
function scaleC(M: number, N: number, beta: number, C: FloatArray, cOffset: number, ldc: number): void {
  if (beta === 1) return;
  for (let i = 0; i < M; i++) {
    const row = cOffset + i * ldc;
    if (beta === 0) C.fill(0, row, row + N);
    else for (let j = row; j < row + N; j++) C[j] *= beta;
  }
}

/** C += alpha·op(A)·B, i-k-j order, blocked over k and j. */
function gemmPlainB(
  M: number,
  N: number,
  K: number,
  alpha: number,
  A: FloatArray,
  aOffset: number,
  aStrideI: number,
  aStrideP: number,
  B: FloatArray,
  bOffset: number,
  ldb: number,
  C: FloatArray,
  cOffset: number,
  ldc: number,
): void {
  for (let j0 = 0; j0 < N; j0 += NC) {
    const j1 = Math.min(j0 + NC, N);
    for (let p0 = 0; p0 < K; p0 += KC) {
      const p1 = Math.min(p0 + KC, K);
      let i = 0;
      // Rows i and i+1 of C together.
      for (; i + 1 < M; i += 2) {
        const aRow0 = aOffset + i * aStrideI;
        const aRow1 = aRow0 + aStrideI;
        const cRow = cOffset + i * ldc;
        const cStart = cRow + j0;
        const cEnd = cRow + j1;
        let p = p0;
        for (; p + 3 < p1; p += 4) {
          const a00 = alpha * A[aRow0 + p * aStrideP];
          const a01 = alpha * A[aRow0 + (p + 1) * aStrideP];
          const a02 = alpha * A[aRow0 + (p + 2) * aStrideP];
          const a03 = alpha * A[aRow0 + (p + 3) * aStrideP];
          const a10 = alpha * A[aRow1 + p * aStrideP];
          const a11 = alpha * A[aRow1 + (p + 1) * aStrideP];
          const a12 = alpha * A[aRow1 + (p + 2) * aStrideP];
          const a13 = alpha * A[aRow1 + (p + 3) * aStrideP];
          // bK + c is B[p+k, j] for the C index c = cRow + j.
          const b0 = bOffset + p * ldb - cRow;
          const b1 = b0 + ldb;
          const b2 = b1 + ldb;
          const b3 = b2 + ldb;
          for (let c = cStart; c < cEnd; c++) {
            const v0 = B[b0 + c];
            const v1 = B[b1 + c];
            const v2 = B[b2 + c];
            const v3 = B[b3 + c];
            C[c] += a00 * v0 + a01 * v1 + a02 * v2 + a03 * v3;
            C[c + ldc] += a10 * v0 + a11 * v1 + a12 * v2 + a13 * v3;
          }
        }
        for (; p < p1; p++) {
          const a00 = alpha * A[aRow0 + p * aStrideP];
          const a10 = alpha * A[aRow1 + p * aStrideP];
          const b0 = bOffset + p * ldb - cRow;
          for (let c = cStart; c < cEnd; c++) {
            const v = B[b0 + c];
            C[c] += a00 * v;
            C[c + ldc] += a10 * v;
          }
        }
      }
      // The last row when M is odd.
      if (i < M) {
        const aRow = aOffset + i * aStrideI;
        const cRow = cOffset + i * ldc;
        const cStart = cRow + j0;
        const cEnd = cRow + j1;
        for (let p = p0; p < p1; p++) {
          const a0 = alpha * A[aRow + p * aStrideP];
          const b0 = bOffset + p * ldb - cRow;
          for (let c = cStart; c < cEnd; c++) C[c] += a0 * B[b0 + c];
        }
      }
    }
  }
}

/** C += alpha·op(A)·Bᵀ as dot products along k, 2×4 tiles of C at a time, blocked over j. */
function gemmTransB(
  M: number,
  N: number,
  K: number,
  alpha: number,
  A: FloatArray,
  aOffset: number,
  aStrideI: number,
  aStrideP: number,
  B: FloatArray,
  bOffset: number,
  ldb: number,
  C: FloatArray,
  cOffset: number,
  ldc: number,
): void {
  const jBlock = Math.max(4, Math.floor(TRANS_B_BLOCK_ELEMENTS / K / 4) * 4);
  for (let j0 = 0; j0 < N; j0 += jBlock) {
    const j1 = Math.min(j0 + jBlock, N);
    let i = 0;
    for (; i + 1 < M; i += 2) {
      const aRow0 = aOffset + i * aStrideI;
      const aRow1 = aRow0 + aStrideI;
      const cRow0 = cOffset + i * ldc;
      const cRow1 = cRow0 + ldc;
      let j = j0;
      for (; j + 3 < j1; j += 4) {
        const b0 = bOffset + j * ldb;
        const b1 = b0 + ldb;
        const b2 = b1 + ldb;
        const b3 = b2 + ldb;
        // sRC: row i+R, column j+C of the tile.
        let s00 = 0,
          s01 = 0,
          s02 = 0,
          s03 = 0;
        let s10 = 0,
          s11 = 0,
          s12 = 0,
          s13 = 0;
        for (let p = 0, a0 = aRow0, a1 = aRow1; p < K; p++, a0 += aStrideP, a1 += aStrideP) {
          const u0 = A[a0];
          const u1 = A[a1];
          const w0 = B[b0 + p];
          const w1 = B[b1 + p];
          const w2 = B[b2 + p];
          const w3 = B[b3 + p];
          s00 += u0 * w0;
          s01 += u0 * w1;
          s02 += u0 * w2;
          s03 += u0 * w3;
          s10 += u1 * w0;
          s11 += u1 * w1;
          s12 += u1 * w2;
          s13 += u1 * w3;
        }
        C[cRow0 + j] += alpha * s00;
        C[cRow0 + j + 1] += alpha * s01;
        C[cRow0 + j + 2] += alpha * s02;
        C[cRow0 + j + 3] += alpha * s03;
        C[cRow1 + j] += alpha * s10;
        C[cRow1 + j + 1] += alpha * s11;
        C[cRow1 + j + 2] += alpha * s12;
        C[cRow1 + j + 3] += alpha * s13;
      }
      for (; j < j1; j++) {
        const b0 = bOffset + j * ldb;
        let s0 = 0;
        let s1 = 0;
        for (let p = 0, a0 = aRow0, a1 = aRow1; p < K; p++, a0 += aStrideP, a1 += aStrideP) {
          const w = B[b0 + p];
          s0 += A[a0] * w;
          s1 += A[a1] * w;
        }
        C[cRow0 + j] += alpha * s0;
        C[cRow1 + j] += alpha * s1;
      }
    }
    // The last row when M is odd.
    if (i < M) {
      const aRow = aOffset + i * aStrideI;
      const cRow = cOffset + i * ldc;
      for (let j = j0; j < j1; j++) {
        const b0 = bOffset + j * ldb;
        let s = 0;
        for (let p = 0, a = aRow; p < K; p++, a += aStrideP) s += A[a] * B[b0 + p];
        C[cRow + j] += alpha * s;
      }
    }
  }
}
