/*
 * ndgraph's native float32 kernels: the C interface shared by the kernel
 * files (gemm.c, conv.c, threads.c) and the Node-API binding (addon.c).
 *
 * Everything is row-major and NHWC, as in the TypeScript kernels of
 * packages/ops/src/kernels/js/, which are the reference these are tested
 * against (test/kernels/native.test.ts):
 *
 *   gemm                  C = relu?(alpha * op(A) * op(B) + beta * C + bias)
 *   conv2d forward        y = relu?(conv2d(x, filter) + bias)
 *   conv2d input grad     dx = col2im(dy * filter^T)
 *   conv2d filter grad    dfilter = im2col(x)^T * dy
 *
 * Images are [batch, height, width, channels], filters [kh, kw, cin, cout].
 * Sizes are ints (a tensor in a WebAssembly memory has fewer than 2^31
 * elements); element offsets and products of sizes are size_t / long.
 *
 * The kernels do not check their arguments: addon.c checks every length
 * against the arrays it was given before calling them.
 */
#ifndef NDGRAPH_NATIVE_H
#define NDGRAPH_NATIVE_H

#include <stddef.h>

/* Everything a conv kernel needs to walk its windows (ConvGeometry in geometry.ts, plus outChannels). */
typedef struct {
  int batch, in_height, in_width, channels;
  int kernel_height, kernel_width, stride_height, stride_width;
  int pad_top, pad_left; /* padding rows above the image and columns left of it */
  int out_height, out_width, out_channels;
} nd_conv_geometry;

/* Return codes of the kernels. */
enum { ND_OK = 0, ND_OUT_OF_MEMORY = 1 };

/* ---- threads (threads.c) ---- */

/* The largest number of threads the kernels split work between. */
#define ND_MAX_THREADS 16

/*
 * Sets the number of threads (1 to ND_MAX_THREADS, clamped): this one plus
 * n - 1 helpers, started on first use. Returns the number now in use.
 * Results are the same bits for any number of threads: work is cut into
 * pieces that do not depend on it, and each piece is computed the same way
 * whichever thread runs it.
 */
int nd_set_threads(int n);
int nd_threads(void);

/* Runs task(context, i, thread) for i in [0, count) on the threads; returns when all are done. */
typedef void (*nd_task)(void *context, int index, int thread);
void nd_parallel_for(int count, nd_task task, void *context);

/*
 * Scratch memory: the calling thread's grow-only, 64-byte aligned buffer
 * number `slot`, at least `floats` long, kept between calls so that the
 * steady state allocates nothing (and freed when the thread ends). Its
 * contents are undefined. Returns NULL when the memory cannot be had.
 */
enum { ND_SCRATCH_PACK_A, ND_SCRATCH_PACK_B, ND_SCRATCH_COLUMNS, ND_SCRATCH_PARTIALS, ND_SCRATCH_FILTER, ND_SCRATCH_SLOTS };
float *nd_scratch(int slot, size_t floats);

/* ---- GEMM (gemm.c) ---- */

/*
 * Where the rows of op(A) come from. `pack` copies the block of op(A) with
 * rows [i0, i0 + mr) and columns [p0, p0 + kc) to
 *
 *   dest[r * row_step + (p - p0) * col_step] = op(A)[i0 + r, p]
 *
 * (the GEMM packs slivers column by column, row_step 1, or row by row,
 * col_step 1, whichever its micro-kernel reads; `prefers_rows` says which
 * of the two the source writes faster). A plain matrix uses
 * nd_matrix_rows; the conv kernels copy windows of images straight from the
 * image instead of building an im2col matrix first.
 */
typedef struct nd_rows nd_rows;
struct nd_rows {
  void (*pack)(const nd_rows *self, int i0, int mr, int p0, int kc, float *dest, ptrdiff_t row_step, ptrdiff_t col_step);
  int prefers_rows;
  /* For nd_matrix_rows: op(A)[i, p] = data[i * row_stride + p * col_stride]. */
  const float *data;
  long row_stride, col_stride;
  /* For the conv kernels' sources. */
  const nd_conv_geometry *geometry;
  int first_image;
};

/* op(A) = A (transposed = 0, A stored M x K) or A^T (A stored K x M), with row stride lda. */
nd_rows nd_matrix_rows(const float *a, long lda, int transposed);

/*
 * Where op(B) comes from when it is not a plain matrix: `pack` copies rows
 * [p0, p0 + kc) and columns [j_begin, j_end) of op(B) into panels of nr
 * columns, as the GEMM packs B: element (p, j) (counted from p0 and
 * j_begin) to dest[(j / nr) * kc * nr + p * nr + j % nr], with zeros after
 * the last column up to a whole panel.
 */
typedef struct nd_cols nd_cols;
struct nd_cols {
  void (*pack)(const nd_cols *self, int p0, int kc, int j_begin, int j_end, int nr, float *dest);
  const float *data;
  const nd_conv_geometry *geometry;
  int first_image;
};

typedef struct {
  int m, n, k;
  float alpha, beta;
  const nd_rows *a;
  /* op(B)[p, j] = b[p * b_row_stride + j * b_col_stride] (B itself: ldb, 1; B^T: 1, ldb), unless b_source is set. */
  const float *b;
  long b_row_stride, b_col_stride;
  const nd_cols *b_source;
  float *c;
  long ldc;
  /* Optional: bias[j] added to every row of the result, then relu (x < 0 ? 0 : x), after the product. */
  const float *bias;
  int relu;
} nd_gemm_problem;

/*
 * Solves the problem. beta = 0 overwrites C without reading it, as in BLAS
 * (old NaNs in C do not leak in); alpha = 0 or k = 0 reads neither A nor B.
 * The work is split between the threads by blocks of rows of C.
 */
int nd_gemm(const nd_gemm_problem *problem);

/* Plain GEMM with the signature of packages/ops/src/kernels/js/gemm.ts (plus bias and relu). */
int nd_gemm_strided(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, long lda, const float *b, long ldb, float beta, float *c,
                    long ldc, const float *bias, int relu);

/* The vector instructions the kernels were compiled for ("AVX-512", "AVX2", ...). */
const char *nd_simd_name(void);

/* ---- conv2d (conv.c) ---- */

int nd_conv2d_forward(const float *x, const float *filter, const float *bias, int relu, float *y, const nd_conv_geometry *g);
int nd_conv2d_backprop_input(const float *dy, const float *filter, float *dx, const nd_conv_geometry *g);
int nd_conv2d_backprop_filter(const float *x, const float *dy, float *dfilter, const nd_conv_geometry *g);

/*
 * Image n of x into `padded`, height x width pixels of g->channels floats:
 * x[n, r, c] at padded[r + pad_top, c + pad_left], zeros elsewhere (conv.c).
 */
void nd_pad_image(const float *x, const nd_conv_geometry *g, int n, int height, int width, float *padded);

/* The forward pass for images of one channel with stride 1 along the width, straight from padded images (conv-single-channel.c). */
int nd_single_channel_applies(const nd_conv_geometry *g);
int nd_single_channel_forward(const float *x, const float *filter, const float *bias, int relu, float *y, const nd_conv_geometry *g);

/* The filter gradient of images [first, first + count) into out [taps, cout], for at most 16 output channels, straight from padded images (conv-filter-direct.c). */
int nd_direct_filter_applies(const nd_conv_geometry *g);
int nd_direct_filter_part(const float *x, const float *dy, float *out, const nd_conv_geometry *g, int first, int count);

#endif
