/*
 * The filter gradient of a convolution with few output channels (at most
 * 16, as in LeNet-5 and small CNNs), computed straight from zero-padded
 * copies of the images, with no packing:
 *
 *   dfilter[q, c] = sum over the pixels of a part of the batch of x[tap q of the pixel's window] * dy[pixel, c]
 *
 * The output channels are the lanes of one vector (up to 8 channels) or two
 * (up to 16). Along one window row the taps are kw * cin consecutive floats
 * of the padded image (NHWC keeps a pixel's channels together), so a tile of
 * taps, J consecutive taps of R = 1 or 2 window rows, is read at fixed
 * offsets from one or two pointers that step stride_w * cin floats from
 * pixel to pixel. The tile's R * J * NV vectors of sums stay in registers
 * over every pixel of the part: each pixel costs NV loads of dy and R * J
 * broadcasts of x for R * J * NV multiply-adds.
 *
 * R, J and NV are constants of an always-inlined body (the switches below
 * call it with each value). The sums go pixel by pixel in a fixed order and
 * conv.c adds the parts up in order, so the bits do not depend on the
 * number of threads.
 */
#include <string.h>

#include "ndgraph_native.h"
#include "vector.h"

/* Taps per window row in a tile: R * J * NV sums, at most 12 of the 16 vector registers. */
enum { J_MAX_1 = 6, J_MAX_2 = 3 };

int nd_direct_filter_applies(const nd_conv_geometry *g) { return g->out_channels <= 16; }

/* The padded images: just the pixels the windows read. */
static int padded_height(const nd_conv_geometry *g) { return (g->out_height - 1) * g->stride_height + g->kernel_height; }
static int padded_width(const nd_conv_geometry *g) { return (g->out_width - 1) * g->stride_width + g->kernel_width; }

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
 * The sums of one tile over images [first, first + count) of the padded
 * images: window rows ki0 to ki0 + R - 1, taps q0 to q0 + J - 1 of each
 * (counted along the window row), written to out[(ki * kw * cin + q) * cout + c].
 */
static inline __attribute__((always_inline)) void filter_tile(const int R, const int J, const int NV, const nd_conv_geometry *g, const float *padded,
                                                               const float *dy, int first, int count, int ki0, int q0, float *out) {
  const ptrdiff_t cout = g->out_channels, C = g->channels;
  const ptrdiff_t row_pitch = (ptrdiff_t)padded_width(g) * C, image_pitch = padded_height(g) * row_pitch, pixel_step = g->stride_width * C;
  const int lanes = (int)cout, lanes0 = lanes < 8 ? lanes : 8, lanes1 = lanes - 8;
  nd_v8 acc[2][J_MAX_1][2];
#pragma GCC unroll 2
  for (int i = 0; i < R; i++)
#pragma GCC unroll 6
    for (int j = 0; j < J; j++)
#pragma GCC unroll 2
      for (int v = 0; v < NV; v++) acc[i][j][v] = (nd_v8){0};
  for (int n = 0; n < count; n++) {
    const float *image = padded + n * image_pitch;
    for (int oh = 0; oh < g->out_height; oh++) {
      const float *p0 = image + (ptrdiff_t)(oh * g->stride_height + ki0) * row_pitch + q0;
      const float *p1 = p0 + row_pitch;
      const float *d = dy + ((ptrdiff_t)(first + n) * g->out_height + oh) * g->out_width * cout;
      for (int ow = 0; ow < g->out_width; ow++, p0 += pixel_step, p1 += pixel_step, d += cout) {
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
  const ptrdiff_t row_taps = (ptrdiff_t)g->kernel_width * C;
#pragma GCC unroll 2
  for (int i = 0; i < R; i++)
#pragma GCC unroll 6
    for (int j = 0; j < J; j++)
#pragma GCC unroll 2
      for (int v = 0; v < NV; v++) {
        const int n = lanes - 8 * v < 8 ? lanes - 8 * v : 8;
        if (n > 0) nd_v8_store(out + ((ki0 + i) * row_taps + q0 + j) * cout + 8 * v, acc[i][j][v], n);
      }
}

#define FILTER_CASE(R, J, NV) \
  case J:                     \
    filter_tile(R, J, NV, g, padded, dy, first, count, ki0, q0, out); \
    return;

#define FILTER_TILES(NAME, CASES)                                                                                                  \
  static void NAME(int j, const nd_conv_geometry *g, const float *padded, const float *dy, int first, int count, int ki0, int q0, \
                   float *out) {                                                                                                  \
    switch (j) { CASES }                                                                                                          \
  }

FILTER_TILES(filter_tile_r1_v1, FILTER_CASE(1, 1, 1) FILTER_CASE(1, 2, 1) FILTER_CASE(1, 3, 1) FILTER_CASE(1, 4, 1) FILTER_CASE(1, 5, 1) FILTER_CASE(1, 6, 1))
FILTER_TILES(filter_tile_r2_v1, FILTER_CASE(2, 1, 1) FILTER_CASE(2, 2, 1) FILTER_CASE(2, 3, 1) FILTER_CASE(2, 4, 1) FILTER_CASE(2, 5, 1) FILTER_CASE(2, 6, 1))
FILTER_TILES(filter_tile_r1_v2, FILTER_CASE(1, 1, 2) FILTER_CASE(1, 2, 2) FILTER_CASE(1, 3, 2))
FILTER_TILES(filter_tile_r2_v2, FILTER_CASE(2, 1, 2) FILTER_CASE(2, 2, 2) FILTER_CASE(2, 3, 2))

int nd_direct_filter_part(const float *x, const float *dy, float *out, const nd_conv_geometry *g, int first, int count) {
  const int nv = g->out_channels <= 8 ? 1 : 2;
  const int j_max = nv == 1 ? J_MAX_1 : J_MAX_2;
  const int row_taps = g->kernel_width * g->channels;
  /* The part's images, padded once for every tile. */
  const int height = padded_height(g), width = padded_width(g);
  const size_t image = (size_t)height * width * g->channels;
  float *padded = nd_scratch(ND_SCRATCH_COLUMNS, (size_t)count * image);
  if (!padded) return ND_OUT_OF_MEMORY;
  for (int n = 0; n < count; n++) nd_pad_image(x, g, first + n, height, width, padded + n * image);
  for (int ki0 = 0; ki0 < g->kernel_height; ki0 += 2) {
    const int two_rows = ki0 + 1 < g->kernel_height;
    for (int q0 = 0; q0 < row_taps; q0 += j_max) {
      const int j = row_taps - q0 < j_max ? row_taps - q0 : j_max;
      if (nv == 1) (two_rows ? filter_tile_r2_v1 : filter_tile_r1_v1)(j, g, padded, dy, first, count, ki0, q0, out);
      else (two_rows ? filter_tile_r2_v2 : filter_tile_r1_v2)(j, g, padded, dy, first, count, ki0, q0, out);
    }
  }
  return ND_OK;
}
