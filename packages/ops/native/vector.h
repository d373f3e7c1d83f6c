/*
 * Vector types for the GEMM micro-kernels (GCC/Clang vector extensions:
 * arithmetic on them is lane by lane, `a * b + c` becomes a fused
 * multiply-add with -ffp-contract=fast), loads and stores of the first
 * `lanes` floats of a vector that never touch memory past them (masked
 * instructions where the machine has them, a loop where it does not), so a
 * tile at the right edge of C does not read or write past its rows, and
 * copies of short runs of floats for the packing routines.
 */
#ifndef NDGRAPH_VECTOR_H
#define NDGRAPH_VECTOR_H

#include <stddef.h>
#include <string.h>
#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

typedef float nd_v4 __attribute__((vector_size(16)));
typedef int nd_v4_bits __attribute__((vector_size(16)));
typedef float nd_v8 __attribute__((vector_size(32)));
typedef int nd_v8_bits __attribute__((vector_size(32)));
typedef float nd_v16 __attribute__((vector_size(64)));
typedef int nd_v16_bits __attribute__((vector_size(64)));

/* The portable versions: a whole vector with memcpy (one unaligned load or store), part of one lane by lane. */
#define ND_PORTABLE_PART(type, count)                                     \
  static inline type type##_load_portable(const float *p, int lanes) {    \
    type v = {0};                                                         \
    if (lanes == count) memcpy(&v, p, sizeof v);                          \
    else                                                                  \
      for (int i = 0; i < lanes; i++) v[i] = p[i];                        \
    return v;                                                             \
  }                                                                       \
  static inline void type##_store_portable(float *p, type v, int lanes) { \
    if (lanes == count) memcpy(p, &v, sizeof v);                          \
    else                                                                  \
      for (int i = 0; i < lanes; i++) p[i] = v[i];                        \
  }
ND_PORTABLE_PART(nd_v4, 4)
ND_PORTABLE_PART(nd_v8, 8)
ND_PORTABLE_PART(nd_v16, 16)

static inline nd_v4 nd_v4_load(const float *p, int lanes) { return nd_v4_load_portable(p, lanes); }
static inline void nd_v4_store(float *p, nd_v4 v, int lanes) { nd_v4_store_portable(p, v, lanes); }

#if defined(__AVX512F__) && defined(__AVX512VL__)
static inline nd_v8 nd_v8_load(const float *p, int lanes) { return (nd_v8)_mm256_maskz_loadu_ps((__mmask8)(0xFFu >> (8 - lanes)), p); }
static inline void nd_v8_store(float *p, nd_v8 v, int lanes) { _mm256_mask_storeu_ps(p, (__mmask8)(0xFFu >> (8 - lanes)), (__m256)v); }
#elif defined(__AVX2__)
static inline __m256i nd_v8_mask(int lanes) { return _mm256_cmpgt_epi32(_mm256_set1_epi32(lanes), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)); }
static inline nd_v8 nd_v8_load(const float *p, int lanes) { return (nd_v8)_mm256_maskload_ps(p, nd_v8_mask(lanes)); }
/* Part of a vector as at most three plain stores (4, 2 and 1 floats): masked stores are slow on some AVX2 machines. */
static inline void nd_v8_store(float *p, nd_v8 v, int lanes) {
  if (lanes >= 8) {
    _mm256_storeu_ps(p, (__m256)v);
    return;
  }
  __m128 part = _mm256_castps256_ps128((__m256)v);
  if (lanes >= 4) {
    _mm_storeu_ps(p, part);
    part = _mm256_extractf128_ps((__m256)v, 1);
    p += 4;
    lanes -= 4;
  }
  if (lanes & 2) {
    _mm_storel_pi((__m64 *)(void *)p, part);
    part = _mm_movehl_ps(part, part);
    p += 2;
  }
  if (lanes & 1) _mm_store_ss(p, part);
}
#else
static inline nd_v8 nd_v8_load(const float *p, int lanes) { return nd_v8_load_portable(p, lanes); }
static inline void nd_v8_store(float *p, nd_v8 v, int lanes) { nd_v8_store_portable(p, v, lanes); }
#endif

#if defined(__AVX512F__)
static inline nd_v16 nd_v16_load(const float *p, int lanes) { return (nd_v16)_mm512_maskz_loadu_ps((__mmask16)(0xFFFFu >> (16 - lanes)), p); }
static inline void nd_v16_store(float *p, nd_v16 v, int lanes) { _mm512_mask_storeu_ps(p, (__mmask16)(0xFFFFu >> (16 - lanes)), (__m512)v); }
#else
static inline nd_v16 nd_v16_load(const float *p, int lanes) { return nd_v16_load_portable(p, lanes); }
static inline void nd_v16_store(float *p, nd_v16 v, int lanes) { nd_v16_store_portable(p, v, lanes); }
#endif

/* A vector of 8 copies of *p, broadcast straight from memory (not loaded as a scalar first, nor as part of a vector load of its neighbours). */
static inline nd_v8 nd_v8_splat(const float *p) {
#if defined(__AVX__)
  return (nd_v8)_mm256_broadcast_ss(p);
#else
  return (nd_v8){0} + *p;
#endif
}

/*
 * Copies n floats, and writes n zeros, for the short runs the packing
 * routines move (a window row of a conv is often 5 to 30 floats): whole
 * vectors, then one masked vector for the rest, rather than a loop or a
 * call to memcpy.
 */
static inline void nd_copy(float *to, const float *from, ptrdiff_t n) {
#if defined(__AVX512F__)
  for (; n >= 16; n -= 16, to += 16, from += 16) _mm512_storeu_ps(to, _mm512_loadu_ps(from));
  if (n > 0) {
    const __mmask16 mask = (__mmask16)(0xFFFFu >> (16 - n));
    _mm512_mask_storeu_ps(to, mask, _mm512_maskz_loadu_ps(mask, from));
  }
#elif defined(__AVX2__)
  /* No masked stores (slow on some AVX2 machines): the last vector overlaps the one before it, which writes the same floats again. */
  if (n >= 8) {
    for (ptrdiff_t i = 0; i + 8 < n; i += 8) _mm256_storeu_ps(to + i, _mm256_loadu_ps(from + i));
    _mm256_storeu_ps(to + n - 8, _mm256_loadu_ps(from + n - 8));
  } else if (n >= 4) {
    _mm_storeu_ps(to, _mm_loadu_ps(from));
    _mm_storeu_ps(to + n - 4, _mm_loadu_ps(from + n - 4));
  } else {
    for (ptrdiff_t i = 0; i < n; i++) to[i] = from[i];
  }
#else
  for (ptrdiff_t i = 0; i < n; i++) to[i] = from[i];
#endif
}

/* Copies n floats and zeros after them up to `width` (n <= width): a row of a packed panel, written with whole vectors. */
static inline void nd_copy_padded(float *to, const float *from, ptrdiff_t n, ptrdiff_t width) {
#if defined(__AVX512F__)
  if (width == 8) {
    /* A panel 8 columns wide: one masked load, one store. */
    nd_v8_store(to, nd_v8_load(from, (int)n), 8);
    return;
  }
  for (ptrdiff_t w = 0; w < width; w += 16, n -= 16) {
    const __m512 v = n >= 16 ? _mm512_loadu_ps(from + w) : n > 0 ? _mm512_maskz_loadu_ps((__mmask16)(0xFFFFu >> (16 - n)), from + w) : _mm512_setzero_ps();
    if (width - w >= 16) _mm512_storeu_ps(to + w, v);
    else _mm512_mask_storeu_ps(to + w, (__mmask16)(0xFFFFu >> (16 - (width - w))), v);
  }
#elif defined(__AVX2__)
  /* Masked loads only (they never read past n); panels are whole vectors wide. */
  ptrdiff_t w = 0;
  for (; w + 8 <= width; w += 8, n -= 8) _mm256_storeu_ps(to + w, n >= 8 ? _mm256_loadu_ps(from + w) : (__m256)nd_v8_load(from + w, n > 0 ? (int)n : 0));
  for (; w < width; w++, n--) to[w] = n > 0 ? from[w] : 0;
#else
  for (ptrdiff_t i = 0; i < width; i++) to[i] = i < n ? from[i] : 0;
#endif
}

/* to[i] += from[i] for n floats. */
static inline void nd_add(float *to, const float *from, ptrdiff_t n) {
#if defined(__AVX512F__)
  for (; n >= 16; n -= 16, to += 16, from += 16) _mm512_storeu_ps(to, _mm512_add_ps(_mm512_loadu_ps(to), _mm512_loadu_ps(from)));
  if (n > 0) {
    const __mmask16 mask = (__mmask16)(0xFFFFu >> (16 - n));
    _mm512_mask_storeu_ps(to, mask, _mm512_add_ps(_mm512_maskz_loadu_ps(mask, to), _mm512_maskz_loadu_ps(mask, from)));
  }
#elif defined(__AVX2__)
  for (; n >= 8; n -= 8, to += 8, from += 8) _mm256_storeu_ps(to, _mm256_add_ps(_mm256_loadu_ps(to), _mm256_loadu_ps(from)));
  if (n >= 4) {
    _mm_storeu_ps(to, _mm_add_ps(_mm_loadu_ps(to), _mm_loadu_ps(from)));
    n -= 4, to += 4, from += 4;
  }
  for (ptrdiff_t i = 0; i < n; i++) to[i] += from[i];
#else
  for (ptrdiff_t i = 0; i < n; i++) to[i] += from[i];
#endif
}

static inline void nd_zero(float *to, ptrdiff_t n) {
#if defined(__AVX512F__)
  for (; n >= 16; n -= 16, to += 16) _mm512_storeu_ps(to, _mm512_setzero_ps());
  if (n > 0) _mm512_mask_storeu_ps(to, (__mmask16)(0xFFFFu >> (16 - n)), _mm512_setzero_ps());
#elif defined(__AVX2__)
  if (n >= 8) {
    for (ptrdiff_t i = 0; i + 8 < n; i += 8) _mm256_storeu_ps(to + i, _mm256_setzero_ps());
    _mm256_storeu_ps(to + n - 8, _mm256_setzero_ps());
  } else if (n >= 4) {
    _mm_storeu_ps(to, _mm_setzero_ps());
    _mm_storeu_ps(to + n - 4, _mm_setzero_ps());
  } else {
    for (ptrdiff_t i = 0; i < n; i++) to[i] = 0;
  }
#else
  for (ptrdiff_t i = 0; i < n; i++) to[i] = 0;
#endif
}

#endif
