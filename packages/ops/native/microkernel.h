/*
 * The GEMM micro-kernel, written once and included by gemm.c for each tile
 * shape ("family") it uses. Before including this file, define:
 *
 *   MK_NAME    name of the function to generate
 *   MK_VEC     a GCC/Clang vector type of MK_VLEN floats
 *   MK_VLEN    floats per vector
 *   MK_NV      vectors per row of the tile: the tile is MK_NV * MK_VLEN columns wide (NR)
 *   MK_MR_MAX  the most rows a tile has (the accumulators must fit in the vector registers)
 *   MK_ROWS    how the sliver of A is laid out: 0 packed column by column,
 *              a[p * mr + r]; 1 packed row by row, a[r * ND_ROW_PITCH + p]
 *
 * The function computes one tile of C, mr rows (1 to MK_MR_MAX) by NR
 * columns, over one block of kc steps along k:
 *
 *   acc[r][j] = sum over p of a[r, p] * bp[p * NR + j]
 *
 * from a packed sliver of A (mr rows) and a packed panel of B (NR columns,
 * row by row, zero beyond the last real column), then combines the first
 * `cols` columns of acc with C as the epilogue says. Each step p loads one
 * row of B (MK_NV vectors) and, for each of the mr rows, broadcasts one
 * element of A and does MK_NV fused multiply-adds: mr * MK_NV accumulators
 * stay in registers for the whole block. In every layout a column of A is
 * read at fixed offsets from one pointer (r * ND_ROW_PITCH is a constant),
 * so the broadcasts are operands of the multiply-adds.
 *
 * The row count is a parameter of an always-inlined body, and the switch
 * below calls it with each constant from 1 to MK_MR_MAX, so the compiler
 * unrolls every loop over rows and vectors and keeps the accumulators in
 * registers; no tile is padded with rows of zeros.
 */

#define MK_NR (MK_NV * MK_VLEN)
#define MK_CAT2(a, b) a##b
#define MK_CAT(a, b) MK_CAT2(a, b)
#define MK_BODY MK_CAT(MK_NAME, _body)
/* Loads and stores of the first `lanes` floats of a vector (vector.h): never touch memory past them. */
#define MK_LOAD(p, lanes) MK_CAT(MK_VEC, _load)(p, lanes)
#define MK_STORE(p, x, lanes) MK_CAT(MK_VEC, _store)(p, x, lanes)
#define MK_STORE_TILE MK_CAT(MK_NAME, _store)

/*
 * The epilogue of a tile: the sums acc[r][v] combined with C, row by row,
 * straight into C with vector loads and stores (the last panel of B may
 * have fewer real columns than the tile). One function per tile shape, not
 * unrolled into every row count of the micro-kernel.
 */
static __attribute__((noinline)) void MK_STORE_TILE(const MK_VEC *acc, int mr, float *restrict c, ptrdiff_t ldc, int cols, const nd_epilogue *e) {
  for (int v = 0; v < MK_NV; v++) {
    const int lanes = cols - v * MK_VLEN < MK_VLEN ? cols - v * MK_VLEN : MK_VLEN;
    if (lanes <= 0) break;
    const int reads_c = !e->first || e->beta != 0.0f;
    const float scale_c = e->first ? e->beta : 1.0f;
    const MK_VEC bias = e->last && e->bias ? MK_LOAD(e->bias + v * MK_VLEN, lanes) : (MK_VEC){0};
    const int adds_bias = e->last && e->bias != NULL;
    const int relu = e->last && e->relu;
    for (int r = 0; r < mr; r++) {
      float *to = c + r * ldc + v * MK_VLEN;
      MK_VEC x = acc[r * MK_NV + v];
      if (e->alpha != 1.0f) x *= e->alpha;
      if (reads_c) x += scale_c * MK_LOAD(to, lanes);
      if (adds_bias) x += bias;
      /* relu: x < 0 ? 0 : x, lane by lane (NaN and -0 pass through, as in the JavaScript kernel). */
      if (relu) x = (MK_VEC)((MK_CAT(MK_VEC, _bits))x & ~(MK_CAT(MK_VEC, _bits))(x < 0));
      MK_STORE(to, x, lanes);
    }
  }
}

#define MK_A_PARAM const float *restrict ap
#define MK_A_ARGS ap

static inline __attribute__((always_inline)) void MK_BODY(const int mr, int kc, MK_A_PARAM, const float *restrict bp, float *restrict c, ptrdiff_t ldc,
                                                          int cols, const nd_epilogue *e) {
  MK_VEC acc[MK_MR_MAX][MK_NV];
  _Pragma("GCC unroll 32") for (int r = 0; r < mr; r++) {
    _Pragma("GCC unroll 8") for (int v = 0; v < MK_NV; v++) acc[r][v] = (MK_VEC){0};
  }
  for (int p = 0; p < kc; p++, bp += MK_NR) {
#if MK_ROWS == 1
    const float *column = ap + p;
#else
    const float *column = ap + p * mr;
#endif
    MK_VEC b[MK_NV];
    _Pragma("GCC unroll 8") for (int v = 0; v < MK_NV; v++) memcpy(&b[v], bp + v * MK_VLEN, sizeof b[v]);
    _Pragma("GCC unroll 32") for (int r = 0; r < mr; r++) {
      const float a = column[MK_ROWS == 1 ? r * ND_ROW_PITCH : r];
      _Pragma("GCC unroll 8") for (int v = 0; v < MK_NV; v++) acc[r][v] += a * b[v];
    }
  }

  if (cols == MK_NR && e->alpha == 1.0f && (!e->first || e->beta == 0.0f) && !(e->last && (e->bias || e->relu))) {
    /* The common cases inline: a whole tile stored (C = acc) or added on (C += acc, a later block along k). */
    _Pragma("GCC unroll 32") for (int r = 0; r < mr; r++) {
      _Pragma("GCC unroll 8") for (int v = 0; v < MK_NV; v++) {
        float *to = c + r * ldc + v * MK_VLEN;
        MK_VEC x = acc[r][v];
        if (!e->first) {
          MK_VEC old;
          memcpy(&old, to, sizeof old);
          x += old;
        }
        memcpy(to, &x, sizeof x);
      }
    }
    return;
  }
  MK_STORE_TILE(acc[0], mr, c, ldc, cols, e);
}

/* The tile function: mr rows by MK_NR columns. */
static void MK_NAME(int mr, int kc, MK_A_PARAM, const float *restrict bp, float *restrict c, ptrdiff_t ldc, int cols, const nd_epilogue *e) {
#define MK_CASE(rows) \
  case rows:          \
    MK_BODY(rows, kc, MK_A_ARGS, bp, c, ldc, cols, e); \
    break;
  switch (mr) {
    MK_CASE(1)
    MK_CASE(2)
    MK_CASE(3)
#if MK_MR_MAX >= 4
    MK_CASE(4)
#endif
#if MK_MR_MAX >= 5
    MK_CASE(5)
#endif
#if MK_MR_MAX >= 6
    MK_CASE(6)
#endif
#if MK_MR_MAX >= 7
    MK_CASE(7)
#endif
#if MK_MR_MAX >= 8
    MK_CASE(8)
#endif
#if MK_MR_MAX >= 9
    MK_CASE(9)
#endif
#if MK_MR_MAX >= 10
    MK_CASE(10)
#endif
#if MK_MR_MAX >= 11
    MK_CASE(11)
#endif
#if MK_MR_MAX >= 12
    MK_CASE(12)
#endif
#if MK_MR_MAX >= 13
    MK_CASE(13)
#endif
#if MK_MR_MAX >= 14
    MK_CASE(14)
#endif
#if MK_MR_MAX >= 15
    MK_CASE(15)
#endif
#if MK_MR_MAX >= 16
    MK_CASE(16)
#endif
#if MK_MR_MAX >= 17
    MK_CASE(17)
#endif
#if MK_MR_MAX >= 18
    MK_CASE(18)
#endif
#if MK_MR_MAX >= 19
    MK_CASE(19)
#endif
#if MK_MR_MAX >= 20
    MK_CASE(20)
#endif
#if MK_MR_MAX >= 21
    MK_CASE(21)
#endif
#if MK_MR_MAX >= 22
    MK_CASE(22)
#endif
#if MK_MR_MAX >= 23
    MK_CASE(23)
#endif
#if MK_MR_MAX >= 24
    MK_CASE(24)
#endif
#if MK_MR_MAX > 24
#error "microkernel.h: MK_MR_MAX above 24 needs more cases"
#endif
  default:
    break;
  }
#undef MK_CASE
}

#undef MK_BODY
#undef MK_LOAD
#undef MK_STORE
#undef MK_STORE_TILE
#undef MK_CAT
#undef MK_CAT2
#undef MK_NR
#undef MK_NAME
#undef MK_VEC
#undef MK_VLEN
#undef MK_NV
#undef MK_MR_MAX
#undef MK_ROWS
#undef MK_A_PARAM
#undef MK_A_ARGS
