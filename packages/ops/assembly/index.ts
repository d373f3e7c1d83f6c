// Single-precision GEMM for WebAssembly SIMD (f32x4):
//
//   C = alpha · op(A) · op(B) + beta · C      op(X) = X or Xᵀ
//
// op(A) is M × K, op(B) is K × N, C is M × N; all matrices are row-major in
// linear memory with row strides lda, ldb, ldc (in elements). beta = 0 ignores
// C's old contents. The host copies the operands into scratch memory
// (`resetScratch`, `allocScratch`), calls `gemm`, and copies C back.
//
// The loops follow the Goto/BLIS scheme: for each KC × NC panel of op(B),
// packed once, and each MC × KC block of op(A), packed once, a macro-kernel
// sweeps MR × NR register tiles of C. Packing turns every transpose case into
// the same contiguous layout, so the micro-kernel has a single form.

import { KC, MC, MR, NC, NR } from './tile';
import { allocScratch, releaseScratch, scratchMark } from './scratch';
import { packA, packB } from './pack';
import { microKernel } from './kernel';

export { allocScratch, resetScratch } from './scratch';

const F32: usize = 4;

/** Status codes returned by `gemm`. */
const OK: i32 = 0;
const OUT_OF_MEMORY: i32 = 1;

// @ts-ignore: decorator
@inline
function roundUp(value: i32, multiple: i32): i32 {
  return ((value + multiple - 1) / multiple) * multiple;
}

/** Runs the register tiles of one mc × nc block of C against packed panels of depth kc. */
function macroKernel(mc: i32, nc: i32, kc: i32, alpha: f32, beta: f32, packedA: usize, packedB: usize, c: usize, ldc: usize): void {
  // Columns outside, rows inside: one kc × NR panel of B stays in L1 while
  // the panels of A stream past it.
  for (let j0 = 0; j0 < nc; j0 += NR) {
    const cols = min(NR, nc - j0);
    const panelB = packedB + <usize>j0 * kc * F32;
    for (let i0 = 0; i0 < mc; i0 += MR) {
      const rows = min(MR, mc - i0);
      const panelA = packedA + <usize>i0 * kc * F32;
      const tile = c + <usize>i0 * ldc + <usize>j0 * F32;
      microKernel(kc, panelA, panelB, alpha, beta, tile, ldc, rows, cols);
    }
  }
}

/** C = beta · C (the whole result when K = 0 or alpha = 0); beta = 0 writes zeros. */
function scaleC(m: i32, n: i32, beta: f32, c: usize, ldc: usize): void {
  for (let i = 0; i < m; i++) {
    const row = c + <usize>i * ldc;
    for (let j = 0; j < n; j++) {
      const at = row + <usize>j * F32;
      store<f32>(at, beta == 0 ? 0 : beta * load<f32>(at));
    }
  }
}

/**
 * C = alpha · op(A) · op(B) + beta · C. `a`, `b`, `c` are byte addresses of
 * element [0][0] of the stored matrices. Returns OK, or OUT_OF_MEMORY when
 * the packing buffers do not fit (C is then unchanged).
 */
export function gemm(transA: bool, transB: bool, m: i32, n: i32, k: i32, alpha: f32, a: usize, lda: i32, b: usize, ldb: i32, beta: f32, c: usize, ldc: i32): i32 {
  if (m <= 0 || n <= 0) return OK;
  const ldcBytes = <usize>ldc * F32;
  if (k <= 0 || alpha == 0) {
    // No product to add (as in BLAS, alpha = 0 does not read A or B).
    scaleC(m, n, beta, c, ldcBytes);
    return OK;
  }
  // Byte strides of op(A) and op(B): a transpose swaps row and column strides.
  const aRowStride: usize = transA ? F32 : <usize>lda * F32;
  const aColStride: usize = transA ? <usize>lda * F32 : F32;
  const bRowStride: usize = transB ? F32 : <usize>ldb * F32;
  const bColStride: usize = transB ? <usize>ldb * F32 : F32;

  // Split K into equal blocks of at most KC (400 → 200 + 200, not 256 + 144).
  const kBlocks = (k + KC - 1) / KC;
  const kcMax = (k + kBlocks - 1) / kBlocks;
  const mcMax = min(MC, roundUp(m, MR));
  const ncMax = min(NC, roundUp(n, NR));

  const mark = scratchMark();
  const packedA = allocScratch(<usize>mcMax * kcMax * F32);
  const packedB = allocScratch(<usize>kcMax * ncMax * F32);
  if (packedA == 0 || packedB == 0) {
    releaseScratch(mark);
    return OUT_OF_MEMORY;
  }

  for (let jc = 0; jc < n; jc += NC) {
    const nc = min(NC, n - jc);
    for (let pc = 0; pc < k; pc += kcMax) {
      const kc = min(kcMax, k - pc);
      packB(transB, kc, nc, b + <usize>pc * bRowStride + <usize>jc * bColStride, bRowStride, bColStride, packedB);
      // The first k-block applies beta; later blocks add to what it wrote.
      const blockBeta: f32 = pc == 0 ? beta : 1;
      for (let ic = 0; ic < m; ic += MC) {
        const mc = min(MC, m - ic);
        packA(transA, mc, kc, a + <usize>ic * aRowStride + <usize>pc * aColStride, aRowStride, aColStride, packedA);
        macroKernel(mc, nc, kc, alpha, blockBeta, packedA, packedB, c + <usize>ic * ldcBytes + <usize>jc * F32, ldcBytes);
      }
    }
  }
  releaseScratch(mark);
  return OK;
}
