/*
 * Blocked float32 GEMM, in the style of Goto and van de Geijn ("Anatomy of
 * high-performance matrix multiplication", 2008) and BLIS:
 *
 *   C = relu?(alpha * op(A) * op(B) + beta * C + bias)
 *
 *   for each block of KC steps along k:
 *     for each block of NC columns:
 *       pack that block of op(B) into panels NR columns wide    (shared by all threads)
 *       for each block of MC rows of C (shared out between threads):
 *         pack that block of op(A) into slivers of mr rows        (stays in the L2 cache)
 *         for each panel of B:                                    (stays in the L1 cache)
 *           for each sliver of A:
 *             the micro-kernel: an mr x NR tile of C in registers (microkernel.h)
 *
 * (When C has only one block of rows, the threads share its blocks of
 * columns instead, each packing its own.)
 *
 * Packing copies each block into the order the micro-kernel reads it, so its
 * loads are sequential whatever the strides and transposes of A and B. A
 * block of op(A) comes from an nd_rows source: a plain matrix here, windows
 * of an image in conv.c (so a convolution needs no im2col matrix).
 *
 * Vector code is written with GCC/Clang vector extensions; compiled with
 * -O3 -march=native they become AVX-512 or AVX2 fused multiply-adds (or
 * whatever vectors the machine has). The tile shapes depend on how many
 * vector registers there are, and the tile width on N: LeNet's layers have
 * 6 and 16 output channels, so narrow tiles (8 or 16 columns) waste little.
 *
 * Every element of C is computed the same way (the same sums in the same
 * order) whichever block and thread it falls in, so results do not depend on
 * the number of threads.
 */
#include <stdatomic.h>
#include <string.h>

#include "ndgraph_native.h"
#include "vector.h"

/* What the micro-kernel does with its sums. */
typedef struct {
  float alpha, beta;
  int first;         /* the first block along k: C = alpha * acc + beta * C (beta = 0: C is not read) */
  int last;          /* the last block along k: then add the bias and apply relu (x < 0 ? 0 : x) */
  const float *bias; /* bias of the tile's first column, or NULL */
  int relu;
} nd_epilogue;

/* ---- the micro-kernels, one per tile shape ---- */

/*
 * Row by row, a sliver of A has this many floats per row (so a block along
 * k is at most this long): a constant, so that the micro-kernel reads row r
 * at a fixed offset. 160 holds LeNet's conv2 windows (5 * 5 * 6 = 150) whole.
 */
#define ND_ROW_PITCH 160

#if defined(__AVX512F__)
/* 32 vector registers of 16 floats. */
#define ND_SIMD "AVX-512"
#define MK_NAME tile_8
#define MK_VEC nd_v8
#define MK_VLEN 8
#define MK_NV 1
#define MK_MR_MAX 24
#define MK_ROWS 0
#include "microkernel.h"
#define MK_NAME tile_8_rows
#define MK_VEC nd_v8
#define MK_VLEN 8
#define MK_NV 1
#define MK_MR_MAX 24
#define MK_ROWS 1
#include "microkernel.h"
#define MK_NAME tile_16
#define MK_VEC nd_v16
#define MK_VLEN 16
#define MK_NV 1
#define MK_MR_MAX 24
#define MK_ROWS 0
#include "microkernel.h"
#define MK_NAME tile_16_rows
#define MK_VEC nd_v16
#define MK_VLEN 16
#define MK_NV 1
#define MK_MR_MAX 24
#define MK_ROWS 1
#include "microkernel.h"
#define MK_NAME tile_wide
#define MK_VEC nd_v16
#define MK_VLEN 16
#define MK_NV 2
#define MK_MR_MAX 12
#define MK_ROWS 0
#include "microkernel.h"
#define TILE_8_MR 24
#define TILE_16_MR 24
#define TILE_WIDE_NR 32
#define TILE_WIDE_MR 12
#elif defined(__AVX2__) || defined(__AVX__)
/* 16 vector registers of 8 floats. */
#define ND_SIMD "AVX2"
#define MK_NAME tile_8
#define MK_VEC nd_v8
#define MK_VLEN 8
#define MK_NV 1
#define MK_MR_MAX 12
#define MK_ROWS 0
#include "microkernel.h"
#define MK_NAME tile_8_rows
#define MK_VEC nd_v8
#define MK_VLEN 8
#define MK_NV 1
#define MK_MR_MAX 12
#define MK_ROWS 1
#include "microkernel.h"
#define MK_NAME tile_16
#define MK_VEC nd_v8
#define MK_VLEN 8
#define MK_NV 2
#define MK_MR_MAX 6
#define MK_ROWS 0
#include "microkernel.h"
#define MK_NAME tile_16_rows
#define MK_VEC nd_v8
#define MK_VLEN 8
#define MK_NV 2
#define MK_MR_MAX 6
#define MK_ROWS 1
#include "microkernel.h"
#define tile_wide tile_16
#define TILE_8_MR 12
#define TILE_16_MR 6
#define TILE_WIDE_NR 16
#define TILE_WIDE_MR 6
#else
/* Anything else: vectors of 4 floats (SSE, NEON), which the compiler splits further if it must. */
#define ND_SIMD "128-bit vectors"
#define MK_NAME tile_8
#define MK_VEC nd_v4
#define MK_VLEN 4
#define MK_NV 2
#define MK_MR_MAX 6
#define MK_ROWS 0
#include "microkernel.h"
#define MK_NAME tile_8_rows
#define MK_VEC nd_v4
#define MK_VLEN 4
#define MK_NV 2
#define MK_MR_MAX 6
#define MK_ROWS 1
#include "microkernel.h"
#define tile_16 tile_8
#define tile_16_rows tile_8_rows
#define tile_wide tile_8
#define TILE_8_MR 6
#define TILE_16_MR 6
#define TILE_WIDE_NR 8
#define TILE_WIDE_MR 6
#endif

const char *nd_simd_name(void) { return ND_SIMD; }

typedef void (*nd_tile_fn)(int mr, int kc, const float *restrict ap, const float *restrict bp, float *restrict c, ptrdiff_t ldc, int cols,
                           const nd_epilogue *e);

typedef struct {
  nd_tile_fn tile;                   /* reads slivers of A packed column by column */
  nd_tile_fn tile_rows;              /* packed row by row (narrow tiles only), or NULL */
  int nr, mr_max;
} nd_family;

/*
 * The narrowest tile that covers N columns, or the wide one. With N at most
 * 16 each element of A feeds a single multiply-add instruction, so packing
 * A costs as much as the arithmetic: those tiles can also read slivers
 * packed row by row, which windows of an image (and row-major matrices)
 * are copied into in long runs.
 */
static nd_family family_for(int n) {
  if (n <= 8) return (nd_family){tile_8, tile_8_rows, 8, TILE_8_MR};
  if (n <= 16) return (nd_family){tile_16, tile_16_rows, 16, TILE_16_MR};
  return (nd_family){tile_wide, NULL, TILE_WIDE_NR, TILE_WIDE_MR};
}

/* Block sizes: a KC x NR panel of B (32 KB at most) stays in L1, an MC x KC block of A (about 256 KB) in L2. */
enum { KC = 256, MC_TARGET = 256 };

/* ---- packing ---- */

/* A block of op(A) from a plain matrix: op(A)[i, p] = data[i * row_stride + p * col_stride]. */
static void pack_matrix_rows(const nd_rows *self, int i0, int mr, int p0, int kc, float *dest, ptrdiff_t row_step, ptrdiff_t col_step) {
  const float *a = self->data + (ptrdiff_t)i0 * self->row_stride + (ptrdiff_t)p0 * self->col_stride;
  if (self->col_stride == 1) {
    /* A itself: each row of the block is contiguous. */
    for (int r = 0; r < mr; r++) {
      const float *row = a + (ptrdiff_t)r * self->row_stride;
      float *to = dest + r * row_step;
      if (col_step == 1) nd_copy(to, row, kc);
      else
        for (int p = 0; p < kc; p++) to[p * col_step] = row[p];
    }
  } else {
    /* A^T: each column of the block is contiguous (row_stride is 1). */
    for (int p = 0; p < kc; p++) {
      const float *column = a + (ptrdiff_t)p * self->col_stride;
      float *to = dest + p * col_step;
      if (row_step == 1) nd_copy(to, column, mr);
      else
        for (int r = 0; r < mr; r++) to[r * row_step] = column[r];
    }
  }
}

nd_rows nd_matrix_rows(const float *a, long lda, int transposed) {
  nd_rows rows = {0};
  rows.pack = pack_matrix_rows;
  rows.prefers_rows = !transposed;
  rows.data = a;
  rows.row_stride = transposed ? 1 : lda;
  rows.col_stride = transposed ? lda : 1;
  return rows;
}

/* Packs rows [p0, p0 + kc) and columns [j_begin, j_end) of op(B) into panels of nr columns: dest[(jp * kc + p) * nr + j], zero past j_end. */
static void pack_b(const nd_gemm_problem *pr, int p0, int kc, int j_begin, int j_end, int nr, float *dest) {
  if (pr->b_source) {
    pr->b_source->pack(pr->b_source, p0, kc, j_begin, j_end, nr, dest);
    return;
  }
  for (int j0 = j_begin; j0 < j_end; j0 += nr) {
    const int cols = j_end - j0 < nr ? j_end - j0 : nr;
    float *panel = dest + (ptrdiff_t)((j0 - j_begin) / nr) * kc * nr;
    for (int p = 0; p < kc; p++) {
      const float *b = pr->b + (ptrdiff_t)(p0 + p) * pr->b_row_stride + (ptrdiff_t)j0 * pr->b_col_stride;
      float *to = panel + (ptrdiff_t)p * nr;
      if (pr->b_col_stride == 1) nd_copy_padded(to, b, cols, nr);
      else
        for (int j = 0; j < nr; j++) to[j] = j < cols ? b[(ptrdiff_t)j * pr->b_col_stride] : 0;
    }
  }
}

/* ---- the driver ---- */

typedef struct {
  const nd_gemm_problem *pr;
  nd_family f;
  int by_rows;  /* slivers of A packed row by row (f.tile_rows) */
  int mr, mc;  /* rows per sliver, rows per block */
  int kc_max;  /* steps along k per block (the last block may have fewer) */
  int nc;      /* columns per block of B */
  /* For blocks of rows sharing one packed block of B: the current block along k and of columns. */
  int p0, kc, j_begin, j_end;
  const float *packed_b;
  atomic_int failed; /* set by a task that could not get its scratch memory */
} nd_block_job;

/* C = beta * C, then bias and relu: the whole problem when there is no product to add (k = 0 or alpha = 0). */
static void scale_only(const nd_gemm_problem *pr) {
  for (int i = 0; i < pr->m; i++) {
    float *c = pr->c + (ptrdiff_t)i * pr->ldc;
    for (int j = 0; j < pr->n; j++) {
      float x = pr->beta == 0.0f ? 0.0f : pr->beta * c[j];
      if (pr->bias) x += pr->bias[j];
      if (pr->relu && x < 0) x = 0;
      c[j] = x;
    }
  }
}

/* A block of op(A) ready for the micro-kernels: packed slivers `pitch` floats apart per row. */
typedef struct {
  const float *packed;
  int pitch;
} nd_a_block;

/* Floats of scratch for a block of A. */
static size_t a_block_floats(const nd_block_job *job) {
  return (size_t)job->mc * (job->by_rows ? ND_ROW_PITCH : job->kc_max);
}

/* Rows [i0, i0 + rows) of op(A), columns [p0, p0 + kc), as slivers of mr rows. */
static nd_a_block pack_a(const nd_block_job *job, int i0, int rows, int p0, int kc, float *scratch) {
  const nd_rows *a = job->pr->a;
  nd_a_block block = {scratch, 0};
  /* Row by row, sliver rows are ND_ROW_PITCH apart; column by column, a sliver of mr rows takes mr * kc floats. */
  block.pitch = job->by_rows ? ND_ROW_PITCH : kc;
  for (int r0 = 0; r0 < rows; r0 += job->mr) {
    const int mr = rows - r0 < job->mr ? rows - r0 : job->mr;
    float *sliver = scratch + (ptrdiff_t)r0 * block.pitch;
    if (job->by_rows) a->pack(a, i0 + r0, mr, p0, kc, sliver, ND_ROW_PITCH, 1);
    else a->pack(a, i0 + r0, mr, p0, kc, sliver, 1, mr);
  }
  return block;
}

/* The tiles of rows [i0, i0 + rows) and columns [j_begin, j_end) of C, for the block [p0, p0 + kc) along k, from blocks of A and B. */
static void compute_block(const nd_block_job *job, nd_a_block a, int i0, int rows, const float *packed_b, int j_begin, int j_end, int p0, int kc) {
  const nd_gemm_problem *pr = job->pr;
  nd_epilogue e = {pr->alpha, pr->beta, p0 == 0, p0 + kc == pr->k, NULL, pr->relu};
  const nd_tile_fn tile = job->by_rows ? job->f.tile_rows : job->f.tile;
  const int nr = job->f.nr;
  for (int j0 = j_begin; j0 < j_end; j0 += nr) {
    const int cols = j_end - j0 < nr ? j_end - j0 : nr;
    const float *panel = packed_b + (ptrdiff_t)((j0 - j_begin) / nr) * kc * nr;
    e.bias = pr->bias ? pr->bias + j0 : NULL;
    for (int r0 = 0; r0 < rows; r0 += job->mr) {
      const int mr = rows - r0 < job->mr ? rows - r0 : job->mr;
      float *c = pr->c + (ptrdiff_t)(i0 + r0) * pr->ldc + j0;
      tile(mr, kc, a.packed + (ptrdiff_t)r0 * a.pitch, panel, c, pr->ldc, cols, &e);
    }
  }
}

/* A task: one block of MC rows of C, with the block of B that the calling thread packed for all of them. */
static void run_row_block(void *context, int block, int thread) {
  (void)thread;
  nd_block_job *job = context;
  const int i0 = block * job->mc;
  const int rows = job->pr->m - i0 < job->mc ? job->pr->m - i0 : job->mc;
  float *scratch = nd_scratch(ND_SCRATCH_PACK_A, a_block_floats(job));
  if (!scratch) {
    atomic_store(&job->failed, 1);
    return;
  }
  const nd_a_block a = pack_a(job, i0, rows, job->p0, job->kc, scratch);
  compute_block(job, a, i0, rows, job->packed_b, job->j_begin, job->j_end, job->p0, job->kc);
}

/* A task when C has a single block of rows (m <= MC): one block of nc columns, along all of k, each thread packing its own blocks. */
static void run_column_block(void *context, int block, int thread) {
  (void)thread;
  nd_block_job *job = context;
  const nd_gemm_problem *pr = job->pr;
  const int j_begin = block * job->nc;
  const int j_end = pr->n - j_begin < job->nc ? pr->n : j_begin + job->nc;
  const int panels = (j_end - j_begin + job->f.nr - 1) / job->f.nr;
  float *scratch = nd_scratch(ND_SCRATCH_PACK_A, a_block_floats(job));
  float *packed_b = nd_scratch(ND_SCRATCH_PACK_B, (size_t)job->kc_max * panels * job->f.nr);
  if (!scratch || !packed_b) {
    atomic_store(&job->failed, 1);
    return;
  }
  for (int p0 = 0; p0 < pr->k; p0 += job->kc_max) {
    const int kc = pr->k - p0 < job->kc_max ? pr->k - p0 : job->kc_max;
    const nd_a_block a = pack_a(job, 0, pr->m, p0, kc, scratch);
    pack_b(pr, p0, kc, j_begin, j_end, job->f.nr, packed_b);
    compute_block(job, a, 0, pr->m, packed_b, j_begin, j_end, p0, kc);
  }
}

/* A block of B holds at most this many floats (512 KB, in L2); a block of columns for a single block of rows, 256 KB. */
enum { B_BLOCK_FLOATS = 1 << 17, B_COLUMN_BLOCK_FLOATS = 1 << 16 };

int nd_gemm(const nd_gemm_problem *pr) {
  if (pr->m <= 0 || pr->n <= 0) return ND_OK;
  if (pr->k <= 0 || pr->alpha == 0.0f) {
    scale_only(pr);
    return ND_OK;
  }
  nd_block_job job;
  memset(&job, 0, sizeof job);
  job.pr = pr;
  job.f = family_for(pr->n);
  job.by_rows = job.f.tile_rows != NULL && pr->a->prefers_rows;
  const int nr = job.f.nr;
  /* Rows per sliver: as many as fit, evened out so that the last sliver is not much shorter. */
  const int slivers = (pr->m + job.f.mr_max - 1) / job.f.mr_max;
  job.mr = (pr->m + slivers - 1) / slivers;
  job.mc = MC_TARGET / job.mr * job.mr;
  if (job.mc < job.mr) job.mc = job.mr;
  /* Steps along k per block, evened out the same way. */
  const int kc_limit = job.by_rows ? ND_ROW_PITCH : KC;
  const int kblocks = (pr->k + kc_limit - 1) / kc_limit;
  job.kc_max = (pr->k + kblocks - 1) / kblocks;
  const int row_blocks = (pr->m + job.mc - 1) / job.mc;

  if (row_blocks == 1) {
    /* Few rows and (perhaps) many columns: the threads share blocks of columns. */
    job.nc = B_COLUMN_BLOCK_FLOATS / job.kc_max / nr * nr;
    if (job.nc < nr) job.nc = nr;
    nd_parallel_for((pr->n + job.nc - 1) / job.nc, run_column_block, &job);
    return atomic_load(&job.failed) ? ND_OUT_OF_MEMORY : ND_OK;
  }

  /* Otherwise the threads share the blocks of rows; the calling thread packs each block of B for all of them. */
  job.nc = B_BLOCK_FLOATS / job.kc_max / nr * nr;
  if (job.nc < nr) job.nc = nr;
  const int nc = pr->n < job.nc ? pr->n : job.nc;
  float *packed_b = nd_scratch(ND_SCRATCH_PACK_B, (size_t)job.kc_max * ((nc + nr - 1) / nr) * nr);
  if (!packed_b) return ND_OUT_OF_MEMORY;
  job.packed_b = packed_b;
  for (job.p0 = 0; job.p0 < pr->k; job.p0 += job.kc_max) {
    job.kc = pr->k - job.p0 < job.kc_max ? pr->k - job.p0 : job.kc_max;
    for (job.j_begin = 0; job.j_begin < pr->n; job.j_begin += nc) {
      job.j_end = pr->n - job.j_begin < nc ? pr->n : job.j_begin + nc;
      pack_b(pr, job.p0, job.kc, job.j_begin, job.j_end, nr, packed_b);
      nd_parallel_for(row_blocks, run_row_block, &job);
      if (atomic_load(&job.failed)) return ND_OUT_OF_MEMORY;
    }
  }
  return ND_OK;
}

int nd_gemm_strided(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, long lda, const float *b, long ldb, float beta, float *c,
                    long ldc, const float *bias, int relu) {
  const nd_rows rows = nd_matrix_rows(a, lda, trans_a);
  nd_gemm_problem pr;
  memset(&pr, 0, sizeof pr);
  pr.m = m;
  pr.n = n;
  pr.k = k;
  pr.alpha = alpha;
  pr.beta = beta;
  pr.a = &rows;
  pr.b = b;
  pr.b_row_stride = trans_b ? 1 : ldb;
  pr.b_col_stride = trans_b ? ldb : 1;
  pr.c = c;
  pr.ldc = ldc;
  pr.bias = bias;
  pr.relu = relu;
  return nd_gemm(&pr);
}
