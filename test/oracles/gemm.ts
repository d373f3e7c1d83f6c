/** The oracle of the GEMM kernels: the plain definition, one dot product per output element. */
import type { FloatArray } from '@ndgraph/graph';

export function gemmReference(
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
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let sum = 0;
      if (alpha !== 0) {
        for (let p = 0; p < K; p++) {
          const a = transA ? A[aOffset + p * lda + i] : A[aOffset + i * lda + p];
          const b = transB ? B[bOffset + j * ldb + p] : B[bOffset + p * ldb + j];
          sum += a * b;
        }
      }
      const c = cOffset + i * ldc + j;
      C[c] = beta === 0 ? alpha * sum : alpha * sum + beta * C[c];
    }
  }
}
