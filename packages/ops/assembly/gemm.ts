// Single-precision GEMM for WebAssembly SIMD (f32x4):
//
//   C = relu?( alpha · op(A) · op(B) + beta · C + bias )      op(X) = X or Xᵀ
//
// op(A) is M × K, op(B) is K × N, C is M × N; all matrices are row-major in
// linear memory with row strides lda, ldb, ldc (in elements). beta = 0 ignores
// C's old contents. `bias` (address of N floats, or 0) is added to every row
// and `relu` applied last: the epilogue of a dense layer, fused into the
// product (see kernel.ts).
//
// The loops follow the Goto/BLIS scheme: for each KC × NC panel of op(B),
// packed once, and each MC × KC block of op(A), packed once, a macro-kernel
// sweeps MR × NR register tiles of C. Packing turns every transpose case into
// the same contiguous layout, so the micro-kernel has a single form.

import { KC, MC, MR, NC, NR } from './tile';
import { packA, packB } from './pack';
import { microKernel } from './kernel';
import { alignUp } from './workspace';

const F32: usize = 4;

// @ts-ignore: decorator
@inline
export function roundUp(value: i32, multiple: i32): i32 {
  return ((value + multiple - 1) / multiple) * multiple;
}

/** The depth of each k-block: K split into equal blocks of at most KC (400 → 200 + 200, not 256 + 144). */
// @ts-ignore: decorator
@inline
export function blockDepth(k: i32): i32 {
  const blocks = (k + KC - 1) / KC;
  return (k + blocks - 1) / blocks;
}

/**
 * Runs the register tiles of one mc × nc block of C against packed panels of
 * depth kc. `bias` is the address of the block's first bias value (or 0).
 */
export function macroKernel(
  mc: i32, nc: i32, kc: i32, alpha: f32, beta: f32, packedA: usize, packedB: usize, c: usize, ldc: usize,
  bias: usize, relu: bool,
): void {
  // Columns outside, rows inside: one kc × NR panel of B stays in L1 while
  // the panels of A stream past it.
  for (let j0 = 0; j0 < nc; j0 += NR) {
    const cols = min(NR, nc - j0);
    const panelB = packedB + <usize>j0 * kc * F32;
    const tileBias: usize = bias == 0 ? 0 : bias + <usize>j0 * F32;
    for (let i0 = 0; i0 < mc; i0 += MR) {
      const rows = min(MR, mc - i0);
      const panelA = packedA + <usize>i0 * kc * F32;
      const tile = c + <usize>i0 * ldc + <usize>j0 * F32;
      microKernel(kc, panelA, panelB, alpha, beta, tile, ldc, rows, cols, tileBias, relu);
    }
  }
}

/** C = relu?(beta · C + bias) without a product (K = 0 or alpha = 0); beta = 0 does not read C. */
export function epilogueOnly(m: i32, n: i32, beta: f32, c: usize, ldc: usize, bias: usize, relu: bool): void {
  for (let i = 0; i < m; i++) {
    const row = c + <usize>i * ldc;
    for (let j = 0; j < n; j++) {
      const at = row + <usize>j * F32;
      let v: f32 = beta == 0 ? 0 : beta * load<f32>(at);
      if (bias != 0) v += load<f32>(bias + <usize>j * F32);
      if (relu && v < 0) v = 0;
      store<f32>(at, v);
    }
  }
}

/** Bytes of workspace `gemm` needs for an m × n × k product. */
export function gemmWorkspaceBytes(m: i32, n: i32, k: i32): usize {
  if (m <= 0 || n <= 0 || k <= 0) return 0;
  const kcMax = blockDepth(k);
  const mcMax = min(MC, roundUp(m, MR));
  const ncMax = min(NC, roundUp(n, NR));
  return alignUp(<usize>mcMax * kcMax * F32) + alignUp(<usize>kcMax * ncMax * F32);
}

/**
 * Rows [first, first + count) of C (or, with `byColumns`, columns) of
 * C = relu?(alpha · op(A) · op(B) + beta · C + bias): the unit of work a
 * thread takes. Every element of C is computed the same way whichever part
 * it falls in. `workspace` holds at least `gemmWorkspaceBytes(m, n, k)` bytes.
 */
export function gemm(
  transA: bool, transB: bool, m: i32, n: i32, k: i32, alpha: f32, a: usize, lda: i32, b: usize, ldb: i32,
  beta: f32, c: usize, ldc: i32, bias: usize, relu: bool, byColumns: bool, first: i32, count: i32, workspace: usize,
): void {
  if (count <= 0) return;
  if (byColumns) {
    const bAt = b + <usize>first * (transB ? <usize>ldb * F32 : F32);
    const biasAt: usize = bias == 0 ? 0 : bias + <usize>first * F32;
    gemmBlock(transA, transB, m, count, k, alpha, a, lda, bAt, ldb, beta, c + <usize>first * F32, ldc, biasAt, relu, workspace);
  } else {
    const aAt = a + <usize>first * (transA ? F32 : <usize>lda * F32);
    gemmBlock(transA, transB, count, n, k, alpha, aAt, lda, b, ldb, beta, c + <usize>first * <usize>ldc * F32, ldc, bias, relu, workspace);
  }
}

/**
 * C = relu?(alpha · op(A) · op(B) + beta · C + bias). `a`, `b`, `c` are byte
 * addresses of element [0][0] of the stored matrices; `workspace` holds at
 * least `gemmWorkspaceBytes(m, n, k)` bytes.
 */
export function gemmBlock(
  transA: bool, transB: bool, m: i32, n: i32, k: i32, alpha: f32, a: usize, lda: i32, b: usize, ldb: i32,
  beta: f32, c: usize, ldc: i32, bias: usize, relu: bool, workspace: usize,
): void {
  if (m <= 0 || n <= 0) return;
  const ldcBytes = <usize>ldc * F32;
  if (k <= 0 || alpha == 0) {
    // No product to add (as in BLAS, alpha = 0 does not read A or B).
    epilogueOnly(m, n, beta, c, ldcBytes, bias, relu);
    return;
  }
  // Byte strides of op(A) and op(B): a transpose swaps row and column strides.
  const aRowStride: usize = transA ? F32 : <usize>lda * F32;
  const aColStride: usize = transA ? <usize>lda * F32 : F32;
  const bRowStride: usize = transB ? F32 : <usize>ldb * F32;
  const bColStride: usize = transB ? <usize>ldb * F32 : F32;

  const kcMax = blockDepth(k);
  const mcMax = min(MC, roundUp(m, MR));
  const packedA = workspace;
  const packedB = packedA + alignUp(<usize>mcMax * kcMax * F32);

  for (let jc = 0; jc < n; jc += NC) {
    const nc = min(NC, n - jc);
    const blockBias: usize = bias == 0 ? 0 : bias + <usize>jc * F32;
    for (let pc = 0; pc < k; pc += kcMax) {
      const kc = min(kcMax, k - pc);
      packB(transB, kc, nc, b + <usize>pc * bRowStride + <usize>jc * bColStride, bRowStride, bColStride, packedB);
      // The first k-block applies beta and the bias; later blocks add to what
      // it wrote; the last one applies relu.
      const first = pc == 0;
      const last = pc + kc >= k;
      for (let ic = 0; ic < m; ic += MC) {
        const mc = min(MC, m - ic);
        packA(transA, mc, kc, a + <usize>ic * aRowStride + <usize>pc * aColStride, aRowStride, aColStride, packedA);
        macroKernel(mc, nc, kc, alpha, first ? beta : 1, packedA, packedB, c + <usize>ic * ldcBytes + <usize>jc * F32, ldcBytes,
          first ? blockBias : <usize>0, relu && last);
      }
    }
  }
}
