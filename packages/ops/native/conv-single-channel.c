/*
 * conv2d for images of one channel with stride 1 along the width (a first
 * layer on grey images, like LeNet-5's conv1), computed directly from a
 * zero-padded copy of each image, with no packing. (Its filter gradient is
 * conv-filter-direct.c's.)
 *
 * The output channels are the lanes of a vector: a block of 8 channels
 * (one vector) or 16 (two), and a tile is a few neighbouring output pixels
 * of one output row. With one channel, tap (ki, kj) of the pixels ow0,
 * ow0 + 1, ... is the run of padded cells that starts at row oh * sh + ki,
 * column ow0 + kj: every broadcast of x is at a fixed offset from one
 * pointer, and the filter row of a tap is one or two vector loads.
 *
 *   y[pixel, c] = relu?(sum over taps of x[tap of pixel] * filter[tap, c] + bias[c])
 *
 * A tile holds MR pixels x NV vectors of sums; MR and NV are constants of an
 * always-inlined body (the switches below call it with each value), so the
 * sums stay in registers.
 */
#include <string.h>

#include "ndgraph_native.h"
#include "vector.h"

/* Pixels per forward tile for blocks of 8 and of 16 channels (the sums plus a filter vector or two fit in 16 registers). */
enum { MR_MAX_1 = 12, MR_MAX_2 = 6 };

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
  /* Wide enough for the last tile. */
  l.width = l.tiles * l.mr + g->kernel_width - 1;
  return l;
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
  nd_pad_image(job->x, g, n, l->height, l->width, padded);
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
