// Packing: copies a block of op(A) or op(B) into the contiguous order the
// micro-kernel reads, so its inner loop walks memory strictly forward.
//
// Packed A (an mc × kc block of op(A)) is a sequence of panels of MR rows;
// inside a panel, step p holds the MR values op(A)[i0 .. i0+MR-1][p].
// Packed B (a kc × nc block of op(B)) is a sequence of panels of NR columns;
// inside a panel, step p holds the NR values op(B)[p][j0 .. j0+NR-1].
// Rows (columns) past the edge of the matrix are filled with zeros, so the
// micro-kernel always runs on full panels.
//
// A matrix element op(X)[r][q] lives at `base + r * rowStride + q * colStride`
// (strides in bytes): a stored row-major matrix has rowStride = ld·4 and
// colStride = 4; its transpose swaps the two.

import { MR, NR } from './tile';

const F32: usize = 4;

/**
 * Writes the transpose of the 4×4 block at `src` (rows `srcStride` bytes apart)
 * to `dst` (rows `dstStride` bytes apart): output row q is input column q.
 */
// @ts-ignore: decorator
@inline
function transpose4x4(src: usize, srcStride: usize, dst: usize, dstStride: usize): void {
  const r0 = v128.load(src);
  const r1 = v128.load(src + srcStride);
  const r2 = v128.load(src + 2 * srcStride);
  const r3 = v128.load(src + 3 * srcStride);
  // Interleave pairs of rows, then pairs of pairs.
  const t0 = f32x4.shuffle(r0, r1, 0, 4, 1, 5); // a0 b0 a1 b1
  const t1 = f32x4.shuffle(r0, r1, 2, 6, 3, 7); // a2 b2 a3 b3
  const t2 = f32x4.shuffle(r2, r3, 0, 4, 1, 5); // c0 d0 c1 d1
  const t3 = f32x4.shuffle(r2, r3, 2, 6, 3, 7); // c2 d2 c3 d3
  v128.store(dst, f32x4.shuffle(t0, t2, 0, 1, 4, 5)); // a0 b0 c0 d0
  v128.store(dst + dstStride, f32x4.shuffle(t0, t2, 2, 3, 6, 7)); // a1 b1 c1 d1
  v128.store(dst + 2 * dstStride, f32x4.shuffle(t1, t3, 0, 1, 4, 5)); // a2 b2 c2 d2
  v128.store(dst + 3 * dstStride, f32x4.shuffle(t1, t3, 2, 3, 6, 7)); // a3 b3 c3 d3
}

/**
 * Copies the `count` values of one step of a partial panel (they are `stride`
 * bytes apart at `from`) to the start of its packed step at `to`. The caller
 * has zero-filled the panel, so the padding after them stays zero.
 */
// @ts-ignore: decorator
@inline
function copyPartialStep(from: usize, stride: usize, count: i32, to: usize): void {
  let e = 0;
  if (stride == F32 && count >= 4) {
    v128.store(to, v128.load(from));
    e = 4;
  }
  for (; e < count; e++) store<f32>(to + <usize>e * F32, load<f32>(from + <usize>e * stride));
}

/**
 * Packs the mc × kc block of op(A) starting at `src` (its element [0][0]) into
 * `dst`. `transposed` says whether op(A) = Aᵀ, which decides the fast path:
 * for A the MR rows of a panel are each contiguous (transpose 4×4 tiles);
 * for Aᵀ the MR values of one step are contiguous (one v128 copy per step).
 */
export function packA(transposed: bool, mc: i32, kc: i32, src: usize, rowStride: usize, colStride: usize, dst: usize): void {
  for (let i0 = 0; i0 < mc; i0 += MR) {
    const rows = min(MR, mc - i0);
    const panel = src + <usize>i0 * rowStride;
    if (rows == MR && transposed) {
      for (let p = 0; p < kc; p++) {
        v128.store(dst + <usize>p * <usize>MR * F32, v128.load(panel + <usize>p * colStride));
      }
    } else if (rows == MR) {
      let p = 0;
      for (; p + 4 <= kc; p += 4) {
        transpose4x4(panel + <usize>p * F32, rowStride, dst + <usize>p * <usize>MR * F32, <usize>MR * F32);
      }
      for (; p < kc; p++) {
        for (let r = 0; r < MR; r++) {
          store<f32>(dst + (<usize>p * MR + r) * F32, load<f32>(panel + <usize>r * rowStride + <usize>p * F32));
        }
      }
    } else {
      // Last, partial panel: zeros, then the rows that exist.
      memory.fill(dst, 0, <usize>kc * <usize>MR * F32);
      for (let p = 0; p < kc; p++) {
        copyPartialStep(panel + <usize>p * colStride, rowStride, rows, dst + <usize>p * <usize>MR * F32);
      }
    }
    dst += <usize>kc * <usize>MR * F32;
  }
}

/**
 * Packs the kc × nc block of op(B) starting at `src` into `dst`. For B the NR
 * values of one step are contiguous (two v128 copies per step); for Bᵀ each
 * column of op(B) is contiguous (transpose 4×4 tiles, two per 4 steps).
 */
export function packB(transposed: bool, kc: i32, nc: i32, src: usize, rowStride: usize, colStride: usize, dst: usize): void {
  for (let j0 = 0; j0 < nc; j0 += NR) {
    const cols = min(NR, nc - j0);
    const panel = src + <usize>j0 * colStride;
    if (cols == NR && !transposed) {
      for (let p = 0; p < kc; p++) {
        const from = panel + <usize>p * rowStride;
        const to = dst + <usize>p * <usize>NR * F32;
        v128.store(to, v128.load(from));
        v128.store(to, v128.load(from, 16), 16);
      }
    } else if (cols == NR) {
      let p = 0;
      for (; p + 4 <= kc; p += 4) {
        const from = panel + <usize>p * F32;
        const to = dst + <usize>p * <usize>NR * F32;
        transpose4x4(from, colStride, to, <usize>NR * F32);
        transpose4x4(from + 4 * colStride, colStride, to + 4 * F32, <usize>NR * F32);
      }
      for (; p < kc; p++) {
        for (let c = 0; c < NR; c++) {
          store<f32>(dst + (<usize>p * NR + c) * F32, load<f32>(panel + <usize>c * colStride + <usize>p * F32));
        }
      }
    } else {
      // Last, partial panel: zeros, then the columns that exist.
      memory.fill(dst, 0, <usize>kc * <usize>NR * F32);
      for (let p = 0; p < kc; p++) {
        copyPartialStep(panel + <usize>p * rowStride, colStride, cols, dst + <usize>p * <usize>NR * F32);
      }
    }
    dst += <usize>kc * <usize>NR * F32;
  }
}
