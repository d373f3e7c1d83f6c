/*
 * conv2d and its two gradients as GEMMs (NHWC images, filters [kh, kw, cin, cout]).
 *
 * Write a window's taps in the order q = (ki * kw + kj) * cin + c. Then, as
 * in packages/ops/src/kernels/js/im2col.ts,
 *
 *   im2col(x)[pixel, q] = x[n, oh * sh - pad_top + ki, ow * sw - pad_left + kj, c]   (0 in the padding)
 *
 * with one row per output pixel (n, oh, ow), and with the filter read as a
 * [taps, cout] matrix:
 *
 *   forward:      y       = im2col(x) * filter                (+ bias, relu)
 *   filter grad:  dfilter = im2col(x)^T * dy                  (a sum over the batch)
 *   input grad:   dx      = col2im(dy * filter^T)             (col2im adds each entry back where im2col took it from)
 *
 * The forward and filter-gradient GEMMs never build im2col(x): their
 * operand sources (nd_rows, nd_cols) copy the needed windows straight from
 * the image into the GEMM's packed blocks, window-major: along a window row
 * the taps are kw * cin consecutive floats of x (NHWC keeps a pixel's
 * channels together). Two cases are not GEMMs at all, but computed
 * straight from zero-padded copies of the images: the forward pass with one
 * input channel and stride 1 along the width (a first layer on grey images,
 * like LeNet's conv1; conv-single-channel.c), and the filter gradient with
 * at most 16 output channels (conv-filter-direct.c).
 *
 * Otherwise the filter gradient is computed transposed (dfilter^T = dy^T *
 * im2col(x)) so that its operands pack window-major.
 * The input gradient computes dy * filter^T for a few images at a time into
 * a scratch matrix that stays in cache, then adds it into dx with col2im.
 *
 * Threads: the forward and the input gradient split the batch (by blocks of
 * rows, and by chunks of images); the filter gradient is the sum, in a fixed
 * order, of partial sums over FILTER_PARTS fixed parts of the batch, so its
 * bits do not depend on the number of threads either.
 */
#include <stdatomic.h>
#include <string.h>

#include "ndgraph_native.h"
#include "vector.h"

/* The filter gradient adds up this many partial sums over parts of the batch (at most one per image), as the wasm kernel does. */
#define FILTER_PARTS 8
/* Input gradient: images per chunk are chosen so that one chunk's dy * filter^T has at most this many floats (256 KB). */
#define COLUMNS_BUDGET (1 << 16)

/* A 1x1 window with stride 1 and no padding: im2col(x) is x itself, read as [n * h * w, cin]. */
static int is_pointwise(const nd_conv_geometry *g) {
  return g->kernel_height == 1 && g->kernel_width == 1 && g->stride_height == 1 && g->stride_width == 1 && g->pad_top == 0 && g->pad_left == 0 &&
         g->out_height == g->in_height && g->out_width == g->in_width;
}

static int tap_count(const nd_conv_geometry *g) { return g->kernel_height * g->kernel_width * g->channels; }

/* An output pixel (image, row, column), stepped through in row-major order. */
typedef struct {
  int n, oh, ow;
} nd_pixel;

static nd_pixel pixel_at(const nd_conv_geometry *g, long index) {
  const long per_image = (long)g->out_height * g->out_width;
  nd_pixel px;
  px.n = (int)(index / per_image);
  const int rest = (int)(index - (long)px.n * per_image);
  px.oh = rest / g->out_width;
  px.ow = rest - px.oh * g->out_width;
  return px;
}

static void next_pixel(const nd_conv_geometry *g, nd_pixel *px) {
  if (++px->ow == g->out_width) {
    px->ow = 0;
    if (++px->oh == g->out_height) {
      px->oh = 0;
      px->n++;
    }
  }
}

/*
 * Taps [q0, q1) of the window of output pixel px, written to out[0],
 * out[step], out[2 * step], ...: x where the window is inside the image, 0
 * in the padding. Along one window row (fixed ki) the taps are kw * cin
 * consecutive floats of x (NHWC keeps a pixel's channels together), so each
 * window row is at most three runs: zeros, a copy, zeros.
 */
static inline void gather_window(const float *x, const nd_conv_geometry *g, nd_pixel px, int q0, int q1, float *out, ptrdiff_t step) {
  const int C = g->channels, kw = g->kernel_width;
  const int row_taps = kw * C;
  const ptrdiff_t top = (ptrdiff_t)px.oh * g->stride_height - g->pad_top;
  const ptrdiff_t left = (ptrdiff_t)px.ow * g->stride_width - g->pad_left;
  /* Window columns kj in [kj_lo, kj_hi) fall inside the image: taps [lo, hi) of every window row. */
  ptrdiff_t kj_lo = left < 0 ? -left : 0;
  if (kj_lo > kw) kj_lo = kw;
  ptrdiff_t kj_hi = g->in_width - left;
  if (kj_hi > kw) kj_hi = kw;
  if (kj_hi < kj_lo) kj_hi = kj_lo;
  const int lo = (int)kj_lo * C, hi = (int)kj_hi * C;
  const ptrdiff_t image = (ptrdiff_t)px.n * g->in_height;
  if (step == 1 && q0 == 0 && q1 == row_taps * g->kernel_height && lo == 0 && hi == row_taps && top >= 0 && top + g->kernel_height <= g->in_height) {
    /* The whole window, inside the image: one copy per window row. */
    const float *from = x + ((image + top) * g->in_width + left) * C;
    for (int k = 0; k < g->kernel_height; k++, from += (ptrdiff_t)g->in_width * C, out += row_taps) nd_copy(out, from, row_taps);
    return;
  }
  int ki = q0 / row_taps;
  int t0 = q0 - ki * row_taps;
  for (int q = q0; q < q1; ki++, t0 = 0) {
    const int t1 = q1 - q < row_taps - t0 ? t0 + (q1 - q) : row_taps;
    const ptrdiff_t ih = top + ki;
    float *o = out + (ptrdiff_t)(q - q0) * step; /* tap t of this window row goes to o[(t - t0) * step] */
    if (ih < 0 || ih >= g->in_height) {
      if (step == 1) nd_zero(o, t1 - t0);
      else
        for (int t = t0; t < t1; t++) o[(t - t0) * step] = 0;
    } else {
      /* x[base + t] is tap t of this window row, for t in [lo, hi). */
      const ptrdiff_t base = ((image + ih) * g->in_width + left) * C;
      const int copy_from = t0 > lo ? t0 : lo;
      const int copy_to = t1 < hi ? t1 : hi;
      if (step == 1) {
        if (copy_to > copy_from) {
          nd_zero(o, copy_from - t0);
          nd_copy(o + (copy_from - t0), x + (base + copy_from), copy_to - copy_from);
          nd_zero(o + (copy_to - t0), t1 - copy_to);
        } else {
          nd_zero(o, t1 - t0);
        }
      } else {
        int t = t0;
        for (; t < copy_from && t < t1; t++) o[(t - t0) * step] = 0;
        for (; t < copy_to; t++) o[(t - t0) * step] = x[base + t];
        for (; t < t1; t++) o[(t - t0) * step] = 0;
      }
    }
    q += t1 - t0;
  }
}

void nd_pad_image(const float *x, const nd_conv_geometry *g, int n, int height, int width, float *padded) {
  const ptrdiff_t C = g->channels;
  nd_zero(padded, (ptrdiff_t)height * width * C);
  /* Columns [c_lo, c_hi) of x land inside the padded width. */
  const int c_lo = g->pad_left > 0 ? 0 : -g->pad_left;
  int c_hi = width - g->pad_left;
  if (c_hi > g->in_width) c_hi = g->in_width;
  if (c_hi <= c_lo) return;
  for (int r = 0; r < g->in_height; r++) {
    const int row = r + g->pad_top;
    if (row < 0 || row >= height) continue;
    nd_copy(padded + ((ptrdiff_t)row * width + c_lo + g->pad_left) * C, x + (((ptrdiff_t)n * g->in_height + r) * g->in_width + c_lo) * C, (c_hi - c_lo) * C);
  }
}

/* Forward rows: row i of op(A) is the window of output pixel i (of the whole batch), column p its tap p. */
static void pack_forward_windows(const nd_rows *self, int i0, int mr, int p0, int kc, float *dest, ptrdiff_t row_step, ptrdiff_t col_step) {
  const nd_conv_geometry *g = self->geometry;
  nd_pixel px = pixel_at(g, i0);
  for (int r = 0; r < mr; r++, next_pixel(g, &px)) gather_window(self->data, g, px, p0, p0 + kc, dest + r * row_step, col_step);
}

/* Where the next tap of a row of B goes in the panels: panel `index`, column `column`. */
typedef struct {
  float *row; /* the row in panel 0 */
  ptrdiff_t panel;
  int nr, index, column;
} nd_panel_cursor;

/* Writes n floats of a run (zeros when from is NULL) at the cursor, across panel boundaries. Always inlined: it is the inner loop of packing windows. */
static inline __attribute__((always_inline)) void put_run(nd_panel_cursor *at, const float *from, int n) {
  while (n > 0) {
    const int piece = n < at->nr - at->column ? n : at->nr - at->column;
    float *to = at->row + at->index * at->panel + at->column;
    if (from) {
      nd_copy(to, from, piece);
      from += piece;
    } else {
      nd_zero(to, piece);
    }
    n -= piece;
    if ((at->column += piece) == at->nr) {
      at->column = 0;
      at->index++;
    }
  }
}

/* im2col(x) as the B of a GEMM, into its panels: row p is the window of output pixel p (counted from image first_image), column j its tap j. */
static void pack_window_columns(const nd_cols *self, int p0, int kc, int j_begin, int j_end, int nr, float *dest) {
  const nd_conv_geometry *g = self->geometry;
  const ptrdiff_t panel = (ptrdiff_t)kc * nr;
  const int width = j_end - j_begin;
  const int C = g->channels, kw = g->kernel_width, row_taps = kw * C;
  nd_pixel px = pixel_at(g, (long)self->first_image * g->out_height * g->out_width + p0);
  for (int p = 0; p < kc; p++, next_pixel(g, &px)) {
    float *row = dest + (ptrdiff_t)p * nr;
    if (j_begin != 0 || j_end != row_taps * g->kernel_height) {
      /* Part of the windows: each panel on its own. */
      for (int j0 = 0; j0 < width; j0 += nr) {
        const int cols = width - j0 < nr ? width - j0 : nr;
        gather_window(self->data, g, px, j_begin + j0, j_begin + j0 + cols, row + (j0 / nr) * panel, 1);
        nd_zero(row + (j0 / nr) * panel + cols, nr - cols);
      }
      continue;
    }
    /* Whole windows: each window row is zeros, a run of x, zeros, which go straight into the panels. */
    const ptrdiff_t top = (ptrdiff_t)px.oh * g->stride_height - g->pad_top;
    const ptrdiff_t left = (ptrdiff_t)px.ow * g->stride_width - g->pad_left;
    ptrdiff_t kj_lo = left < 0 ? -left : 0;
    if (kj_lo > kw) kj_lo = kw;
    ptrdiff_t kj_hi = g->in_width - left;
    if (kj_hi > kw) kj_hi = kw;
    if (kj_hi < kj_lo) kj_hi = kj_lo;
    const int lo = (int)kj_lo * C, hi = (int)kj_hi * C;
    nd_panel_cursor at = {row, panel, nr, 0, 0};
    for (int ki = 0; ki < g->kernel_height; ki++) {
      const ptrdiff_t ih = top + ki;
      if (ih < 0 || ih >= g->in_height || hi == lo) {
        put_run(&at, NULL, row_taps);
        continue;
      }
      const ptrdiff_t base = (((ptrdiff_t)px.n * g->in_height + ih) * g->in_width + left) * C;
      put_run(&at, NULL, lo);
      put_run(&at, self->data + (base + lo), hi - lo);
      put_run(&at, NULL, row_taps - hi);
    }
    if (at.column > 0) put_run(&at, NULL, nr - at.column);
  }
}

int nd_conv2d_forward(const float *x, const float *filter, const float *bias, int relu, float *y, const nd_conv_geometry *g) {
  if (nd_single_channel_applies(g) && !is_pointwise(g)) return nd_single_channel_forward(x, filter, bias, relu, y, g);
  nd_rows rows;
  if (is_pointwise(g)) {
    /* A 1x1, stride-1 convolution is x [n * h * w, cin] * filter [cin, cout]. */
    rows = nd_matrix_rows(x, g->channels, 0);
  } else {
    /* A window row is a run of kw * cin floats; pack slivers row by row. */
    memset(&rows, 0, sizeof rows);
    rows.pack = pack_forward_windows;
    rows.prefers_rows = 1;
    rows.data = x;
    rows.geometry = g;
  }
  nd_gemm_problem pr;
  memset(&pr, 0, sizeof pr);
  pr.m = g->batch * g->out_height * g->out_width;
  pr.n = g->out_channels;
  pr.k = tap_count(g);
  pr.alpha = 1;
  pr.beta = 0;
  pr.a = &rows;
  pr.b = filter;
  pr.b_row_stride = g->out_channels;
  pr.b_col_stride = 1;
  pr.c = y;
  pr.ldc = g->out_channels;
  pr.bias = bias;
  pr.relu = relu;
  return nd_gemm(&pr);
}

/* ---- input gradient ---- */

/* Adds each entry of cols (the rows of images [first, first + count)) back onto the cell of dx that im2col took it from. */
static void col2im(const float *cols, const nd_conv_geometry *g, int first, int count, float *dx) {
  const int C = g->channels, kw = g->kernel_width;
  const int row_taps = kw * C, taps = g->kernel_height * row_taps;
  const float *row = cols;
  nd_pixel px = pixel_at(g, (long)first * g->out_height * g->out_width);
  const long pixels = (long)count * g->out_height * g->out_width;
  for (long i = 0; i < pixels; i++, next_pixel(g, &px), row += taps) {
    const ptrdiff_t top = (ptrdiff_t)px.oh * g->stride_height - g->pad_top;
    const ptrdiff_t left = (ptrdiff_t)px.ow * g->stride_width - g->pad_left;
    ptrdiff_t kj_lo = left < 0 ? -left : 0;
    if (kj_lo > kw) kj_lo = kw;
    ptrdiff_t kj_hi = g->in_width - left;
    if (kj_hi > kw) kj_hi = kw;
    if (kj_hi <= kj_lo) continue;
    const int lo = (int)kj_lo * C, hi = (int)kj_hi * C;
    for (int ki = 0; ki < g->kernel_height; ki++) {
      const ptrdiff_t ih = top + ki;
      if (ih < 0 || ih >= g->in_height) continue;
      /* dx[base + t] is where tap t of this window row came from, for t in [lo, hi). */
      const ptrdiff_t base = (((ptrdiff_t)px.n * g->in_height + ih) * g->in_width + left) * C;
      const float *from = row + ki * row_taps;
      nd_add(dx + (base + lo), from + lo, hi - lo);
    }
  }
}

typedef struct {
  const float *dy, *filter;
  float *dx;
  const nd_conv_geometry *g;
  int images_per_chunk;
  atomic_int failed;
} nd_input_grad_job;

/* One chunk of images: dcols = dy * filter^T into scratch, then col2im into dx (each chunk has its own images of dx). */
static void input_grad_chunk(void *context, int chunk, int thread) {
  (void)thread;
  nd_input_grad_job *job = context;
  const nd_conv_geometry *g = job->g;
  const int first = chunk * job->images_per_chunk;
  const int count = g->batch - first < job->images_per_chunk ? g->batch - first : job->images_per_chunk;
  const int pixels_per_image = g->out_height * g->out_width;
  const int taps = tap_count(g);
  float *cols = nd_scratch(ND_SCRATCH_COLUMNS, (size_t)count * pixels_per_image * taps);
  if (!cols) {
    atomic_store(&job->failed, 1);
    return;
  }
  const int status = nd_gemm_strided(0, 1, count * pixels_per_image, taps, g->out_channels, 1, job->dy + (ptrdiff_t)first * pixels_per_image * g->out_channels,
                                     g->out_channels, job->filter, g->out_channels, 0, cols, taps, NULL, 0);
  if (status != ND_OK) {
    atomic_store(&job->failed, 1);
    return;
  }
  col2im(cols, g, first, count, job->dx);
}

/*
 * With stride 1 the input gradient is itself a convolution: of dy (cout
 * channels) with the filter turned half a turn and its channels swapped,
 * flipped[ki, kj, co, ci] = filter[kh - 1 - ki, kw - 1 - kj, ci, co], padded
 * by kh - 1 - pad_top rows and kw - 1 - pad_left columns, giving dx at x's
 * size. It has as many multiply-adds as the GEMM + col2im route when the
 * padding keeps the size ('same'; the caller allows 25% more) and runs on the
 * forward kernels, with no col2im.
 */
static int input_grad_as_forward(const float *dy, const float *filter, float *dx, const nd_conv_geometry *g) {
  const int kh = g->kernel_height, kw = g->kernel_width, cin = g->channels, cout = g->out_channels;
  float *flipped = nd_scratch(ND_SCRATCH_FILTER, (size_t)kh * kw * cin * cout);
  if (!flipped) return ND_OUT_OF_MEMORY;
  for (int ki = 0; ki < kh; ki++)
    for (int kj = 0; kj < kw; kj++)
      for (int ci = 0; ci < cin; ci++)
        for (int co = 0; co < cout; co++)
          flipped[(((ptrdiff_t)ki * kw + kj) * cout + co) * cin + ci] = filter[(((ptrdiff_t)(kh - 1 - ki) * kw + (kw - 1 - kj)) * cin + ci) * cout + co];
  nd_conv_geometry t = *g;
  t.in_height = g->out_height;
  t.in_width = g->out_width;
  t.channels = cout;
  t.pad_top = kh - 1 - g->pad_top;
  t.pad_left = kw - 1 - g->pad_left;
  t.out_height = g->in_height;
  t.out_width = g->in_width;
  t.out_channels = cin;
  return nd_conv2d_forward(dy, flipped, NULL, 0, dx, &t);
}

int nd_conv2d_backprop_input(const float *dy, const float *filter, float *dx, const nd_conv_geometry *g) {
  const long image = (long)g->in_height * g->in_width * g->channels;
  if (g->batch == 0 || image == 0) return ND_OK;
  if (is_pointwise(g)) {
    /* 1x1, stride 1: dx [n * h * w, cin] = dy [n * h * w, cout] * filter [cin, cout]^T. */
    return nd_gemm_strided(0, 1, g->batch * g->in_height * g->in_width, g->channels, g->out_channels, 1, dy, g->out_channels, filter, g->out_channels, 0, dx,
                           g->channels, NULL, 0);
  }
  /* The convolution route pays where dx has 8 to 16 channels (bench/README.md, "Native kernels"). */
  if (g->stride_height == 1 && g->stride_width == 1 && g->pad_top < g->kernel_height && g->pad_left < g->kernel_width && g->channels >= 8 &&
      g->channels <= 16 && 4L * g->in_height * g->in_width <= 5L * g->out_height * g->out_width)
    return input_grad_as_forward(dy, filter, dx, g);
  memset(dx, 0, (size_t)(g->batch * image) * sizeof(float)); /* col2im adds */
  const long columns_per_image = (long)g->out_height * g->out_width * tap_count(g);
  if (columns_per_image == 0) return ND_OK;
  nd_input_grad_job job = {dy, filter, dx, g, 1, 0};
  if (columns_per_image < COLUMNS_BUDGET) job.images_per_chunk = (int)(COLUMNS_BUDGET / columns_per_image);
  if (job.images_per_chunk > g->batch) job.images_per_chunk = g->batch;
  nd_parallel_for((g->batch + job.images_per_chunk - 1) / job.images_per_chunk, input_grad_chunk, &job);
  return atomic_load(&job.failed) ? ND_OUT_OF_MEMORY : ND_OK;
}

/* ---- filter gradient ---- */

/*
 * dfilter = im2col(x)^T * dy, a sum over the pixels of the batch, laid out
 * transposed so that both operands pack in long runs: dfilter^T = dy^T *
 * im2col(x), cout rows, a column per tap, the pixels as the inner
 * dimension. A column of dy^T is a row of dy and a row of im2col(x) is a
 * window (runs of kw * cin floats). With at most 16 output channels it is
 * conv-filter-direct.c's instead, straight: [taps, cout].
 */
typedef struct {
  const float *x, *dy;
  float *partials; /* one filter-sized sum per part: [cout, taps] when transposed, else [taps, cout] */
  const nd_conv_geometry *g;
  int images_per_part;
  int transposed;
  atomic_int failed;
} nd_filter_grad_job;

/* One part of the batch: partials[part] = the filter gradient over its images. */
static void filter_grad_part(void *context, int part, int thread) {
  (void)thread;
  nd_filter_grad_job *job = context;
  const nd_conv_geometry *g = job->g;
  const int first = part * job->images_per_part;
  const int count = g->batch - first < job->images_per_part ? g->batch - first : job->images_per_part;
  const int pixels_per_image = g->out_height * g->out_width;
  const int taps = tap_count(g), cout = g->out_channels;
  const float *dy = job->dy + (ptrdiff_t)first * pixels_per_image * cout;
  nd_gemm_problem pr;
  memset(&pr, 0, sizeof pr);
  pr.k = count * pixels_per_image;
  pr.alpha = 1;
  pr.beta = 0;
  pr.c = job->partials + (ptrdiff_t)part * taps * cout;
  nd_rows rows = nd_matrix_rows(dy, cout, 1);
  pr.m = cout;
  pr.n = taps;
  pr.a = &rows;
  nd_cols windows;
  if (is_pointwise(g)) {
    /* 1x1, stride 1: im2col(x) is x itself, [n * h * w, cin]. */
    pr.b = job->x + (ptrdiff_t)first * g->in_height * g->in_width * g->channels;
    pr.b_row_stride = g->channels;
    pr.b_col_stride = 1;
  } else {
    memset(&windows, 0, sizeof windows);
    windows.pack = pack_window_columns;
    windows.data = job->x;
    windows.geometry = g;
    windows.first_image = first;
    pr.b_source = &windows;
  }
  pr.ldc = taps;
  if (nd_gemm(&pr) != ND_OK) atomic_store(&job->failed, 1);
}

/* The same part of the batch for at most 16 output channels, straight from padded copies of the images (conv-filter-direct.c). */
static void direct_filter_grad_part(void *context, int part, int thread) {
  (void)thread;
  nd_filter_grad_job *job = context;
  const nd_conv_geometry *g = job->g;
  const int first = part * job->images_per_part;
  const int count = g->batch - first < job->images_per_part ? g->batch - first : job->images_per_part;
  float *out = job->partials + (ptrdiff_t)part * tap_count(g) * g->out_channels;
  if (nd_direct_filter_part(job->x, job->dy, out, g, first, count) != ND_OK) atomic_store(&job->failed, 1);
}

int nd_conv2d_backprop_filter(const float *x, const float *dy, float *dfilter, const nd_conv_geometry *g) {
  const int taps = tap_count(g), cout = g->out_channels;
  const size_t size = (size_t)taps * cout;
  if (size == 0) return ND_OK;
  if (g->batch == 0) {
    memset(dfilter, 0, size * sizeof(float));
    return ND_OK;
  }
  /* Fixed parts of the batch, whatever the number of threads. */
  const int per_part = (g->batch + FILTER_PARTS - 1) / FILTER_PARTS;
  const int parts = (g->batch + per_part - 1) / per_part;
  float *partials = nd_scratch(ND_SCRATCH_PARTIALS, (size_t)parts * size);
  if (!partials) return ND_OUT_OF_MEMORY;
  nd_filter_grad_job job = {x, dy, partials, g, per_part, !nd_direct_filter_applies(g), 0};
  nd_parallel_for(parts, job.transposed ? filter_grad_part : direct_filter_grad_part, &job);
  if (atomic_load(&job.failed)) return ND_OUT_OF_MEMORY;
  /* dfilter[q, co]: the parts' sums added up in order. */
  for (int q = 0; q < taps; q++) {
    for (int co = 0; co < cout; co++) {
      const size_t at = job.transposed ? (size_t)co * taps + q : (size_t)q * cout + co;
      float sum = partials[at];
      for (int part = 1; part < parts; part++) sum += partials[(size_t)part * size + at];
      dfilter[(size_t)q * cout + co] = sum;
    }
  }
  return ND_OK;
}
