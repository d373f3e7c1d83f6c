/*
 * conv2d and its filter gradient for images of one channel with stride 1
 * along the width (a first layer on grey images, like LeNet-5's conv1),
 * computed directly from a zero-padded copy of each image, with no packing.
 *
 * The output channels are the lanes of a vector: a block of 8 channels
 * (one vector) or 16 (two), and a tile is a few neighbouring output pixels
 * of one output row. With one channel, tap (ki, kj) of the pixels ow0,
 * ow0 + 1, ... is the run of padded cells that starts at row oh * sh + ki,
 * column ow0 + kj: every broadcast of x is at a fixed offset from one
 * pointer, and the filter row of a tap is one or two vector loads.
 *
 *   forward:      y[pixel, c]  = relu?(sum over taps of x[tap of pixel] * filter[tap, c] + bias[c])
 *                 a tile holds MR pixels x NV vectors of sums
 *   filter grad:  dfilter[t, c] = sum over pixels of x[tap t of pixel] * dy[pixel, c]
 *                 a tile holds the sums of a group of taps (one or two
 *                 window rows, J consecutive columns of each) x NV vectors,
 *                 over every pixel of a part of the batch
 *
 * MR, NV, R and J are constants of always-inlined bodies (switches below
 * call them with each value), so the sums stay in registers. The filter
 * gradient's sums over each part of the batch go pixel by pixel in a fixed
 * order, and conv.c adds the parts up in order: the bits do not depend on
 * the number of threads.
 */
#include <string.h>

#include "ndgraph_native.h"
#include "vector.h"

/* Pixels per forward tile for blocks of 8 and of 16 channels (the sums plus a filter vector or two fit in 16 registers). */
enum { MR_MAX_1 = 12, MR_MAX_2 = 6 };
/* The filter gradient: taps per tile (R window rows x J columns) are at most 12 (one vector) or 6 (two). */
enum { J_MAX_1 = 6, J_MAX_2 = 3 };

int nd_single_channel_applies(const nd_conv_geometry *g) { return g->channels == 1 && g->stride_width == 1; }

static int vectors_per_block(const nd_conv_geometry *g) { return g->out_channels <= 8 ? 1 : 2; }

/* The forward tiles of an output row: `tiles` tiles of `mr` pixels (the last one computes past the row, and stores only the row). */
typedef struct {
  int mr, tiles;
  int height, width; /* of a padded image */
} nd_padded_layout;

static nd_padded_layout padded_layout(const nd_conv_geometry *g) {
  const int mr_max = vectors_per_block(g) == 1 ? MR_MAX_1 : MR_MAX_2;
  nd_padded_layout l;
  l.tiles = (g->out_width + mr_max - 1) / mr_max;
  l.mr = (g->out_width + l.tiles - 1) / l.tiles;
  l.height = (g->out_height - 1) * g->stride_height + g->kernel_height;
  /* Wide enough for the last tile and, in the filter gradient, for the longest run of taps. */
  l.width = l.tiles * l.mr + g->kernel_width - 1;
  return l;
}

/* Image n of x into `padded` (height x width floats): x[r, c] at padded[r + pad_top, c + pad_left], zeros elsewhere. */
static void pad_image(const float *x, const nd_conv_geometry *g, int n, const nd_padded_layout *l, float *padded) {
  nd_zero(padded, (ptrdiff_t)l->height * l->width);
  const int c_lo = g->pad_left > 0 ? 0 : -g->pad_left; /* first column of x inside the padded width */
  int c_hi = l->width - g->pad_left;
  if (c_hi > g->in_width) c_hi = g->in_width;
  if (c_hi <= c_lo) return;
  for (int r = 0; r < g->in_height; r++) {
    const int row = r + g->pad_top;
    if (row < 0 || row >= l->height) continue;
    nd_copy(padded + (ptrdiff_t)row * l->width + c_lo + g->pad_left, x + ((ptrdiff_t)n * g->in_height + r) * g->in_width + c_lo, c_hi - c_lo);
  }
}

/* ---- forward ---- */

/*
 * The filter for the forward tiles: block b (channels 8 * NV * b on) of tap
 * t at packed[(b * taps + t) * 8 * NV], zeros past the last channel.
 */
static void pack_filter(const float *filter, const nd_conv_geometry *g, int nv, float *packed) {
  const int taps = g->kernel_height * g->kernel_width, cout = g->out_channels, width = 8 * nv;
  const int blocks = (cout + width - 1) / width;
  for (int b = 0; b < blocks; b++) {
    const int c0 = b * width, lanes = cout - c0 < width ? cout - c0 : width;
    for (int t = 0; t < taps; t++) nd_copy_padded(packed + ((ptrdiff_t)b * taps + t) * width, filter + (ptrdiff_t)t * cout + c0, lanes, width);
  }
}

/*
 * One forward tile: pixels ow0 to ow0 + MR - 1 of an output row (the first
 * `rows` of them stored), channels c0 to c0 + 8 * NV - 1 (the first `lanes`
 * stored). `xp` is the padded cell of the tile's first window's corner.
 */
static inline __attribute__((always_inline)) void forward_tile(const int MR, const int NV, const float *restrict xp, ptrdiff_t wp, int kh, int kw,
                                                                const float *restrict f, float *restrict y, ptrdiff_t cout, int rows, int lanes,
                                                                const float *bias, int relu) {
  nd_v8 acc[MR_MAX_1][2];
#pragma GCC unroll 12
  for (int r = 0; r < MR; r++)
#pragma GCC unroll 2
    for (int v = 0; v < NV; v++) acc[r][v] = (nd_v8){0};
  for (int ki = 0; ki < kh; ki++, xp += wp) {
    for (int kj = 0; kj < kw; kj++, f += 8 * NV) {
      nd_v8 w[2];
#pragma GCC unroll 2
      for (int v = 0; v < NV; v++) memcpy(&w[v], f + 8 * v, sizeof w[v]);
#pragma GCC unroll 12
      for (int r = 0; r < MR; r++) {
        const nd_v8 s = nd_v8_splat(xp + kj + r);
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++) acc[r][v] += s * w[v];
      }
    }
  }
  /* Loops over constants only (the rows past `rows` are skipped, not looped short), so the sums never go through memory. */
#pragma GCC unroll 2
  for (int v = 0; v < NV; v++) {
    const int n = lanes - 8 * v < 8 ? lanes - 8 * v : 8;
    if (n <= 0) break;
    const nd_v8 b = bias ? nd_v8_load(bias + 8 * v, n) : (nd_v8){0};
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++) {
      if (r >= rows) break;
      nd_v8 s = acc[r][v] + b;
      /* relu: x < 0 ? 0 : x, lane by lane (NaN and -0 pass through, as in the JavaScript kernel). */
      if (relu) s = (nd_v8)((nd_v8_bits)s & ~(nd_v8_bits)(s < 0));
      nd_v8_store(y + r * cout + 8 * v, s, n);
    }
  }
}

#define FORWARD_CASE(MR, NV) \
  case MR:                   \
    forward_tile(MR, NV, xp, wp, kh, kw, f, y, cout, rows, lanes, bias, relu); \
    return;

static void forward_tile_1(int mr, const float *xp, ptrdiff_t wp, int kh, int kw, const float *f, float *y, ptrdiff_t cout, int rows, int lanes,
                           const float *bias, int relu) {
  switch (mr) {
    FORWARD_CASE(1, 1) FORWARD_CASE(2, 1) FORWARD_CASE(3, 1) FORWARD_CASE(4, 1) FORWARD_CASE(5, 1) FORWARD_CASE(6, 1)
    FORWARD_CASE(7, 1) FORWARD_CASE(8, 1) FORWARD_CASE(9, 1) FORWARD_CASE(10, 1) FORWARD_CASE(11, 1) FORWARD_CASE(12, 1)
  }
}

static void forward_tile_2(int mr, const float *xp, ptrdiff_t wp, int kh, int kw, const float *f, float *y, ptrdiff_t cout, int rows, int lanes,
                           const float *bias, int relu) {
  switch (mr) {
    FORWARD_CASE(1, 2) FORWARD_CASE(2, 2) FORWARD_CASE(3, 2) FORWARD_CASE(4, 2) FORWARD_CASE(5, 2) FORWARD_CASE(6, 2)
  }
}

typedef struct {
  const float *x, *filter, *bias;
  int relu;
  float *y;
  const nd_conv_geometry *g;
  nd_padded_layout layout;
  int nv;
  int failed;
} nd_single_forward_job;

/* One image: pad it, then every tile of every output row, block by block of channels. */
static void forward_image(void *context, int n, int thread) {
  (void)thread;
  nd_single_forward_job *job = context;
  const nd_conv_geometry *g = job->g;
  const nd_padded_layout *l = &job->layout;
  const int taps = g->kernel_height * g->kernel_width, cout = g->out_channels, width = 8 * job->nv;
  float *padded = nd_scratch(ND_SCRATCH_COLUMNS, (size_t)l->height * l->width);
  if (!padded) {
    job->failed = 1;
    return;
  }
  pad_image(job->x, g, n, l, padded);
  for (int oh = 0; oh < g->out_height; oh++) {
    const float *row = padded + (ptrdiff_t)oh * g->stride_height * l->width;
    float *y_row = job->y + ((ptrdiff_t)n * g->out_height + oh) * g->out_width * cout;
    for (int c0 = 0; c0 < cout; c0 += width) {
      const float *f = job->filter + (ptrdiff_t)(c0 / width) * taps * width;
      const int lanes = cout - c0 < width ? cout - c0 : width;
      const float *bias = job->bias ? job->bias + c0 : NULL;
      for (int tile = 0; tile < l->tiles; tile++) {
        const int ow0 = tile * l->mr;
        const int rows = g->out_width - ow0 < l->mr ? g->out_width - ow0 : l->mr;
        float *y = y_row + (ptrdiff_t)ow0 * cout + c0;
        if (job->nv == 1) forward_tile_1(l->mr, row + ow0, l->width, g->kernel_height, g->kernel_width, f, y, cout, rows, lanes, bias, job->relu);
        else forward_tile_2(l->mr, row + ow0, l->width, g->kernel_height, g->kernel_width, f, y, cout, rows, lanes, bias, job->relu);
      }
    }
  }
}

int nd_single_channel_forward(const float *x, const float *filter, const float *bias, int relu, float *y, const nd_conv_geometry *g) {
  if (g->batch == 0 || g->out_height == 0 || g->out_width == 0 || g->out_channels == 0) return ND_OK;
  const int nv = vectors_per_block(g), width = 8 * nv;
  const int taps = g->kernel_height * g->kernel_width;
  const int blocks = (g->out_channels + width - 1) / width;
  /* The packed filter lives in this thread's scratch, which the tasks on it do not use for anything else. */
  float *packed = nd_scratch(ND_SCRATCH_PARTIALS, (size_t)blocks * taps * width);
  if (!packed) return ND_OUT_OF_MEMORY;
  pack_filter(filter, g, nv, packed);
  nd_single_forward_job job = {x, packed, bias, relu, y, g, padded_layout(g), nv, 0};
  nd_parallel_for(g->batch, forward_image, &job);
  return job.failed ? ND_OUT_OF_MEMORY : ND_OK;
}

/* ---- filter gradient ---- */

/* The first n floats of a vector (a whole one with a plain load). */
static inline nd_v8 load_lanes(const float *p, int n) {
  if (n >= 8) {
    nd_v8 v;
    memcpy(&v, p, sizeof v);
    return v;
  }
  return nd_v8_load(p, n);
}

/*
 * The sums of one tile of taps over the pixels of images [first, first +
 * count): window rows ki0 to ki0 + R - 1, columns kj0 to kj0 + J - 1 of
 * each, channels c0 on (8 * NV lanes, `lanes` of them real), added into
 * out[t * cout + c] for t = ki * kw + kj.
 */
static inline __attribute__((always_inline)) void filter_tile(const int R, const int J, const int NV, const nd_conv_geometry *g, const nd_padded_layout *l,
                                                               const float *padded, const float *dy, int first, int count, int ki0, int kj0, int c0, int lanes,
                                                               float *out) {
  const ptrdiff_t cout = g->out_channels, wp = l->width;
  nd_v8 acc[2][J_MAX_1][2];
#pragma GCC unroll 2
  for (int i = 0; i < R; i++)
#pragma GCC unroll 6
    for (int j = 0; j < J; j++)
#pragma GCC unroll 2
      for (int v = 0; v < NV; v++) acc[i][j][v] = (nd_v8){0};
  const int lanes0 = lanes < 8 ? lanes : 8, lanes1 = lanes - 8;
  for (int n = first; n < first + count; n++) {
    const float *image = padded + (ptrdiff_t)(n - first) * l->height * wp;
    for (int oh = 0; oh < g->out_height; oh++) {
      const float *p0 = image + (ptrdiff_t)(oh * g->stride_height + ki0) * wp + kj0;
      const float *p1 = p0 + wp;
      const float *d = dy + ((ptrdiff_t)n * g->out_height + oh) * g->out_width * cout + c0;
      for (int ow = 0; ow < g->out_width; ow++, p0++, p1++, d += cout) {
        nd_v8 e[2];
        e[0] = load_lanes(d, lanes0);
        if (NV == 2) e[1] = load_lanes(d + 8, lanes1);
#pragma GCC unroll 6
        for (int j = 0; j < J; j++) {
          const nd_v8 s0 = nd_v8_splat(p0 + j);
#pragma GCC unroll 2
          for (int v = 0; v < NV; v++) acc[0][j][v] += s0 * e[v];
          if (R == 2) {
            const nd_v8 s1 = nd_v8_splat(p1 + j);
#pragma GCC unroll 2
            for (int v = 0; v < NV; v++) acc[1][j][v] += s1 * e[v];
          }
        }
      }
    }
  }
#pragma GCC unroll 2
  for (int i = 0; i < R; i++)
#pragma GCC unroll 6
    for (int j = 0; j < J; j++)
#pragma GCC unroll 2
      for (int v = 0; v < NV; v++) {
        const int n = lanes - 8 * v < 8 ? lanes - 8 * v : 8;
        if (n > 0) nd_v8_store(out + ((ptrdiff_t)(ki0 + i) * g->kernel_width + kj0 + j) * cout + c0 + 8 * v, acc[i][j][v], n);
      }
}

#define FILTER_CASE(R, J, NV) \
  case J:                     \
    filter_tile(R, J, NV, g, l, padded, dy, first, count, ki0, kj0, c0, lanes, out); \
    return;

#define FILTER_TILES(NAME, R, NV, CASES)                                                                                            \
  static void NAME(int j, const nd_conv_geometry *g, const nd_padded_layout *l, const float *padded, const float *dy, int first, int count, \
                   int ki0, int kj0, int c0, int lanes, float *out) {                                                                \
    switch (j) { CASES }                                                                                                           \
  }

FILTER_TILES(filter_tile_r1_v1, 1, 1, FILTER_CASE(1, 1, 1) FILTER_CASE(1, 2, 1) FILTER_CASE(1, 3, 1) FILTER_CASE(1, 4, 1) FILTER_CASE(1, 5, 1) FILTER_CASE(1, 6, 1))
FILTER_TILES(filter_tile_r2_v1, 2, 1, FILTER_CASE(2, 1, 1) FILTER_CASE(2, 2, 1) FILTER_CASE(2, 3, 1) FILTER_CASE(2, 4, 1) FILTER_CASE(2, 5, 1) FILTER_CASE(2, 6, 1))
FILTER_TILES(filter_tile_r1_v2, 1, 2, FILTER_CASE(1, 1, 2) FILTER_CASE(1, 2, 2) FILTER_CASE(1, 3, 2))
FILTER_TILES(filter_tile_r2_v2, 2, 2, FILTER_CASE(2, 1, 2) FILTER_CASE(2, 2, 2) FILTER_CASE(2, 3, 2))

int nd_single_channel_filter_part(const float *x, const float *dy, float *out, const nd_conv_geometry *g, int first, int count) {
  const nd_padded_layout l = padded_layout(g);
  const int nv = vectors_per_block(g), width = 8 * nv, cout = g->out_channels;
  const int j_max = nv == 1 ? J_MAX_1 : J_MAX_2;
  /* The part's images, padded once for every tile. */
  const size_t image = (size_t)l.height * l.width;
  float *padded = nd_scratch(ND_SCRATCH_COLUMNS, (size_t)count * image);
  if (!padded) return ND_OUT_OF_MEMORY;
  for (int n = 0; n < count; n++) pad_image(x, g, first + n, &l, padded + n * image);
  for (int c0 = 0; c0 < cout; c0 += width) {
    const int lanes = cout - c0 < width ? cout - c0 : width;
    for (int ki0 = 0; ki0 < g->kernel_height; ki0 += 2) {
      const int two_rows = ki0 + 1 < g->kernel_height;
      for (int kj0 = 0; kj0 < g->kernel_width; kj0 += j_max) {
        const int j = g->kernel_width - kj0 < j_max ? g->kernel_width - kj0 : j_max;
        if (nv == 1) (two_rows ? filter_tile_r2_v1 : filter_tile_r1_v1)(j, g, &l, padded, dy, first, count, ki0, kj0, c0, lanes, out);
        else (two_rows ? filter_tile_r2_v2 : filter_tile_r1_v2)(j, g, &l, padded, dy, first, count, ki0, kj0, c0, lanes, out);
      }
    }
  }
  return ND_OK;
}
