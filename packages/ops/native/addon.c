/*
 * The Node-API binding of the native kernels (loaded by
 * packages/ops/src/kernels/native/native-kernels.ts).
 *
 * Every kernel takes Float32Arrays with an element offset each, plus integer
 * sizes. The arrays may be views of any buffer: an ArrayBuffer, a
 * SharedArrayBuffer, or a WebAssembly.Memory (where the wasm backend keeps
 * its tensors, so the kernels read and write them in place). Before a
 * kernel runs, every argument is checked and every array's length compared
 * with what the kernel will read or write; a bad argument throws a
 * TypeError or RangeError that names the function and the argument, what
 * was expected and what was found. Nothing is written out of bounds.
 *
 *   gemm(transA, transB, M, N, K, alpha, A, aOffset, lda, B, bOffset, ldb, beta, C, cOffset, ldc, bias, biasOffset, relu)
 *   conv2dForward(x, xOffset, filter, filterOffset, bias, biasOffset, relu, y, yOffset, ...geometry)
 *   conv2dBackpropInput(dy, dyOffset, filter, filterOffset, dx, dxOffset, ...geometry)
 *   conv2dBackpropFilter(x, xOffset, dy, dyOffset, dfilter, dfilterOffset, ...geometry)
 *   setThreads(n) -> threads now used;  threads() -> threads used
 *   abi, simd: the binding's version number and the vector instructions it was compiled for
 *
 * where geometry is the 13 integers batch, inHeight, inWidth, channels,
 * kernelHeight, kernelWidth, strideHeight, strideWidth, padTop, padLeft,
 * outHeight, outWidth, outChannels (ConvGeometry of geometry.ts, then the
 * filter's output channels), and bias may be null.
 */
#define NAPI_VERSION 8
#include <node_api.h>

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include "ndgraph_native.h"

/* Changes whenever a function's arguments change, so that the loader refuses a stale build. */
#define ND_ABI 1
#define MAX_ARGS 24
/* Sizes, offsets and element counts must stay below 2^31 (a WebAssembly memory holds fewer floats than that). */
#define ND_MAX_SIZE INT32_MAX

/* The arguments of one call, read one by one; after the first bad one an exception is pending and the rest are skipped. */
typedef struct {
  napi_env env;
  const char *fn;
  napi_value argv[MAX_ARGS];
  size_t argc;
  int failed;
} nd_args;

typedef struct {
  float *data; /* may be NULL for an empty array */
  int64_t length;
  int present; /* 0 for a null argument */
} nd_f32;

enum { TYPE_ERROR, RANGE_ERROR, PLAIN_ERROR };

static void fail(nd_args *a, int kind, const char *format, ...) {
  if (a->failed) return;
  a->failed = 1;
  char message[512];
  int at = snprintf(message, sizeof message, "%s: ", a->fn);
  va_list list;
  va_start(list, format);
  vsnprintf(message + at, sizeof message - (size_t)at, format, list);
  va_end(list);
  if (kind == TYPE_ERROR) napi_throw_type_error(a->env, NULL, message);
  else if (kind == RANGE_ERROR) napi_throw_range_error(a->env, NULL, message);
  else napi_throw_error(a->env, NULL, message);
}

static int start(napi_env env, napi_callback_info info, const char *fn, size_t expected, nd_args *a) {
  a->env = env;
  a->fn = fn;
  a->failed = 0;
  a->argc = MAX_ARGS;
  if (napi_get_cb_info(env, info, &a->argc, a->argv, NULL, NULL) != napi_ok) {
    fail(a, PLAIN_ERROR, "could not read the arguments");
    return 0;
  }
  if (a->argc != expected) fail(a, TYPE_ERROR, "expected %zu arguments, found %zu", expected, a->argc);
  return !a->failed;
}

static const char *type_name(napi_env env, napi_value value) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok) return "something else";
  switch (type) {
  case napi_undefined: return "undefined";
  case napi_null: return "null";
  case napi_boolean: return "a boolean";
  case napi_number: return "a number";
  case napi_string: return "a string";
  case napi_symbol: return "a symbol";
  case napi_function: return "a function";
  case napi_bigint: return "a bigint";
  default: break;
  }
  bool is_typed;
  if (napi_is_typedarray(env, value, &is_typed) == napi_ok && is_typed) return "another typed array";
  return "an object";
}

/* An integer argument in [min, max]. */
static int64_t get_int(nd_args *a, size_t i, const char *name, int64_t min, int64_t max) {
  if (a->failed) return 0;
  double value;
  if (napi_get_value_double(a->env, a->argv[i], &value) != napi_ok) {
    fail(a, TYPE_ERROR, "%s must be a number, found %s", name, type_name(a->env, a->argv[i]));
    return 0;
  }
  if (!(value >= (double)min && value <= (double)max) || floor(value) != value) {
    fail(a, RANGE_ERROR, "%s must be an integer from %lld to %lld, found %g", name, (long long)min, (long long)max, value);
    return 0;
  }
  return (int64_t)value;
}

static float get_float(nd_args *a, size_t i, const char *name) {
  if (a->failed) return 0;
  double value;
  if (napi_get_value_double(a->env, a->argv[i], &value) != napi_ok) {
    fail(a, TYPE_ERROR, "%s must be a number, found %s", name, type_name(a->env, a->argv[i]));
    return 0;
  }
  return (float)value;
}

static int get_bool(nd_args *a, size_t i, const char *name) {
  if (a->failed) return 0;
  bool value;
  if (napi_get_value_bool(a->env, a->argv[i], &value) != napi_ok) {
    fail(a, TYPE_ERROR, "%s must be a boolean, found %s", name, type_name(a->env, a->argv[i]));
    return 0;
  }
  return value;
}

/* A Float32Array argument (any buffer: ArrayBuffer, SharedArrayBuffer, WebAssembly.Memory), or null when `nullable`. */
static nd_f32 get_f32(nd_args *a, size_t i, const char *name, int nullable) {
  nd_f32 view = {NULL, 0, 0};
  if (a->failed) return view;
  napi_valuetype type;
  if (nullable && napi_typeof(a->env, a->argv[i], &type) == napi_ok && (type == napi_null || type == napi_undefined)) return view;
  bool is_typed = false;
  napi_typedarray_type array_type;
  size_t length = 0;
  void *data = NULL;
  if (napi_is_typedarray(a->env, a->argv[i], &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(a->env, a->argv[i], &array_type, &length, &data, NULL, NULL) != napi_ok || array_type != napi_float32_array) {
    fail(a, TYPE_ERROR, "%s must be a Float32Array%s, found %s", name, nullable ? " or null" : "", type_name(a->env, a->argv[i]));
    return view;
  }
  view.data = data;
  view.length = (int64_t)length;
  view.present = 1;
  return view;
}

/* Checks that `need` elements from `offset` fit in the array; `what` says what they are. */
static void need(nd_args *a, const char *name, nd_f32 view, int64_t offset, int64_t count, const char *what) {
  if (a->failed || count == 0) return;
  if (view.data == NULL || offset + count > view.length) {
    fail(a, RANGE_ERROR, "%s needs %lld float32 elements from offset %lld (%s), but its Float32Array has %lld", name, (long long)count, (long long)offset, what,
         (long long)view.length);
  }
}

/* x * y, failing when it is not below 2^31. */
static int64_t product(nd_args *a, int64_t x, int64_t y, const char *what) {
  if (a->failed) return 0;
  const int64_t p = x * y; /* both are below 2^31 */
  if (p > ND_MAX_SIZE) fail(a, RANGE_ERROR, "%s is %lld, more than the kernels handle (2^31 - 1)", what, (long long)p);
  return p;
}

static napi_value undefined(napi_env env) {
  napi_value value;
  napi_get_undefined(env, &value);
  return value;
}

static napi_value finish(nd_args *a, int status) {
  if (status == ND_OUT_OF_MEMORY) fail(a, PLAIN_ERROR, "out of memory for the kernel's scratch buffers");
  return undefined(a->env);
}

/* ---- gemm ---- */

/* Elements from the first to the last of a stored rows x cols matrix with row stride ld. */
static int64_t stored_span(int64_t rows, int64_t cols, int64_t ld) { return rows == 0 || cols == 0 ? 0 : (rows - 1) * ld + cols; }

static void check_matrix(nd_args *a, const char *name, nd_f32 view, int64_t offset, int64_t rows, int64_t cols, int64_t ld, const char *ld_name) {
  if (a->failed) return;
  if (rows > 1 && ld < cols) {
    fail(a, RANGE_ERROR, "%s must be at least %lld (the width of stored %s, %lld x %lld), found %lld", ld_name, (long long)cols, name, (long long)rows,
         (long long)cols, (long long)ld);
    return;
  }
  char what[128];
  snprintf(what, sizeof what, "stored %s, %lld x %lld with row stride %lld", name, (long long)rows, (long long)cols, (long long)ld);
  need(a, name, view, offset, stored_span(rows, cols, ld), what);
}

static napi_value js_gemm(napi_env env, napi_callback_info info) {
  nd_args a;
  if (!start(env, info, "gemm", 19, &a)) return NULL;
  const int trans_a = get_bool(&a, 0, "transA"), trans_b = get_bool(&a, 1, "transB");
  const int64_t m = get_int(&a, 2, "M", 0, ND_MAX_SIZE), n = get_int(&a, 3, "N", 0, ND_MAX_SIZE), k = get_int(&a, 4, "K", 0, ND_MAX_SIZE);
  const float alpha = get_float(&a, 5, "alpha");
  const nd_f32 A = get_f32(&a, 6, "A", 0);
  const int64_t a_offset = get_int(&a, 7, "aOffset", 0, ND_MAX_SIZE), lda = get_int(&a, 8, "lda", 0, ND_MAX_SIZE);
  const nd_f32 B = get_f32(&a, 9, "B", 0);
  const int64_t b_offset = get_int(&a, 10, "bOffset", 0, ND_MAX_SIZE), ldb = get_int(&a, 11, "ldb", 0, ND_MAX_SIZE);
  const float beta = get_float(&a, 12, "beta");
  const nd_f32 C = get_f32(&a, 13, "C", 0);
  const int64_t c_offset = get_int(&a, 14, "cOffset", 0, ND_MAX_SIZE), ldc = get_int(&a, 15, "ldc", 0, ND_MAX_SIZE);
  const nd_f32 bias = get_f32(&a, 16, "bias", 1);
  const int64_t bias_offset = get_int(&a, 17, "biasOffset", 0, ND_MAX_SIZE);
  const int relu = get_bool(&a, 18, "relu");
  if (m > 0 && n > 0) {
    if (k > 0 && alpha != 0) {
      check_matrix(&a, "A", A, a_offset, trans_a ? k : m, trans_a ? m : k, lda, "lda");
      check_matrix(&a, "B", B, b_offset, trans_b ? n : k, trans_b ? k : n, ldb, "ldb");
    }
    check_matrix(&a, "C", C, c_offset, m, n, ldc, "ldc");
    if (bias.present) need(&a, "bias", bias, bias_offset, n, "one per column of C");
  }
  if (a.failed) return NULL;
  const int status = nd_gemm_strided(trans_a, trans_b, (int)m, (int)n, (int)k, alpha, A.data + a_offset, (long)lda, B.data + b_offset, (long)ldb, beta,
                                     C.data + c_offset, (long)ldc, bias.present ? bias.data + bias_offset : NULL, relu);
  return finish(&a, status);
}

/* ---- conv2d ---- */

/* The 13 geometry integers from argument `first` on; also checks that every size the kernels compute stays below 2^31. */
static nd_conv_geometry get_geometry(nd_args *a, size_t first) {
  static const char *names[13] = {"batch",       "inHeight",     "inWidth", "channels", "kernelHeight", "kernelWidth", "strideHeight",
                                  "strideWidth", "padTop",       "padLeft", "outHeight", "outWidth",    "outChannels"};
  int64_t v[13];
  for (int i = 0; i < 13; i++) {
    const int positive = i >= 4 && i <= 7; /* window sizes and strides */
    v[i] = get_int(a, first + i, names[i], positive ? 1 : 0, ND_MAX_SIZE);
  }
  nd_conv_geometry g = {(int)v[0], (int)v[1], (int)v[2], (int)v[3], (int)v[4], (int)v[5], (int)v[6],
                        (int)v[7], (int)v[8], (int)v[9], (int)v[10], (int)v[11], (int)v[12]};
  const int64_t image = product(a, product(a, v[1], v[2], "inHeight * inWidth"), v[3], "an input image's size");
  const int64_t out_pixels = product(a, v[10], v[11], "outHeight * outWidth");
  const int64_t taps = product(a, product(a, v[4], v[5], "kernelHeight * kernelWidth"), v[3], "a window's size");
  product(a, image, v[0], "the input's size");
  product(a, product(a, out_pixels, v[0], "the output's pixels"), v[12] > 0 ? v[12] : 1, "the output's size");
  product(a, taps, v[12] > 0 ? v[12] : 1, "the filter's size");
  return g;
}

static int64_t image_size(const nd_conv_geometry *g) { return (int64_t)g->batch * g->in_height * g->in_width * g->channels; }
static int64_t output_size(const nd_conv_geometry *g) { return (int64_t)g->batch * g->out_height * g->out_width * g->out_channels; }
static int64_t filter_size(const nd_conv_geometry *g) { return (int64_t)g->kernel_height * g->kernel_width * g->channels * g->out_channels; }

static napi_value js_conv2d_forward(napi_env env, napi_callback_info info) {
  nd_args a;
  if (!start(env, info, "conv2dForward", 22, &a)) return NULL;
  const nd_f32 x = get_f32(&a, 0, "x", 0);
  const int64_t x_offset = get_int(&a, 1, "xOffset", 0, ND_MAX_SIZE);
  const nd_f32 filter = get_f32(&a, 2, "filter", 0);
  const int64_t filter_offset = get_int(&a, 3, "filterOffset", 0, ND_MAX_SIZE);
  const nd_f32 bias = get_f32(&a, 4, "bias", 1);
  const int64_t bias_offset = get_int(&a, 5, "biasOffset", 0, ND_MAX_SIZE);
  const int relu = get_bool(&a, 6, "relu");
  const nd_f32 y = get_f32(&a, 7, "y", 0);
  const int64_t y_offset = get_int(&a, 8, "yOffset", 0, ND_MAX_SIZE);
  const nd_conv_geometry g = get_geometry(&a, 9);
  if (output_size(&g) > 0) {
    need(&a, "x", x, x_offset, image_size(&g), "batch * inHeight * inWidth * channels");
    need(&a, "filter", filter, filter_offset, filter_size(&g), "kernelHeight * kernelWidth * channels * outChannels");
    if (bias.present) need(&a, "bias", bias, bias_offset, g.out_channels, "outChannels");
    need(&a, "y", y, y_offset, output_size(&g), "batch * outHeight * outWidth * outChannels");
  }
  if (a.failed) return NULL;
  if (output_size(&g) == 0) return undefined(env);
  const int status = nd_conv2d_forward(x.data + x_offset, filter.data + filter_offset, bias.present ? bias.data + bias_offset : NULL, relu, y.data + y_offset, &g);
  return finish(&a, status);
}

static napi_value js_conv2d_backprop_input(napi_env env, napi_callback_info info) {
  nd_args a;
  if (!start(env, info, "conv2dBackpropInput", 19, &a)) return NULL;
  const nd_f32 dy = get_f32(&a, 0, "dy", 0);
  const int64_t dy_offset = get_int(&a, 1, "dyOffset", 0, ND_MAX_SIZE);
  const nd_f32 filter = get_f32(&a, 2, "filter", 0);
  const int64_t filter_offset = get_int(&a, 3, "filterOffset", 0, ND_MAX_SIZE);
  const nd_f32 dx = get_f32(&a, 4, "dx", 0);
  const int64_t dx_offset = get_int(&a, 5, "dxOffset", 0, ND_MAX_SIZE);
  const nd_conv_geometry g = get_geometry(&a, 6);
  if (image_size(&g) > 0) {
    need(&a, "dy", dy, dy_offset, output_size(&g), "batch * outHeight * outWidth * outChannels");
    need(&a, "filter", filter, filter_offset, filter_size(&g), "kernelHeight * kernelWidth * channels * outChannels");
    need(&a, "dx", dx, dx_offset, image_size(&g), "batch * inHeight * inWidth * channels");
  }
  if (a.failed) return NULL;
  if (image_size(&g) == 0) return undefined(env);
  return finish(&a, nd_conv2d_backprop_input(dy.data + dy_offset, filter.data + filter_offset, dx.data + dx_offset, &g));
}

static napi_value js_conv2d_backprop_filter(napi_env env, napi_callback_info info) {
  nd_args a;
  if (!start(env, info, "conv2dBackpropFilter", 19, &a)) return NULL;
  const nd_f32 x = get_f32(&a, 0, "x", 0);
  const int64_t x_offset = get_int(&a, 1, "xOffset", 0, ND_MAX_SIZE);
  const nd_f32 dy = get_f32(&a, 2, "dy", 0);
  const int64_t dy_offset = get_int(&a, 3, "dyOffset", 0, ND_MAX_SIZE);
  const nd_f32 dfilter = get_f32(&a, 4, "dfilter", 0);
  const int64_t dfilter_offset = get_int(&a, 5, "dfilterOffset", 0, ND_MAX_SIZE);
  const nd_conv_geometry g = get_geometry(&a, 6);
  if (filter_size(&g) > 0) {
    need(&a, "x", x, x_offset, image_size(&g), "batch * inHeight * inWidth * channels");
    need(&a, "dy", dy, dy_offset, output_size(&g), "batch * outHeight * outWidth * outChannels");
    need(&a, "dfilter", dfilter, dfilter_offset, filter_size(&g), "kernelHeight * kernelWidth * channels * outChannels");
  }
  if (a.failed) return NULL;
  if (filter_size(&g) == 0) return undefined(env);
  return finish(&a, nd_conv2d_backprop_filter(x.data + x_offset, dy.data + dy_offset, dfilter.data + dfilter_offset, &g));
}

/* ---- threads ---- */

static napi_value number(napi_env env, double value) {
  napi_value result;
  napi_create_double(env, value, &result);
  return result;
}

static napi_value js_set_threads(napi_env env, napi_callback_info info) {
  nd_args a;
  if (!start(env, info, "setThreads", 1, &a)) return NULL;
  const int64_t n = get_int(&a, 0, "n", 1, 1 << 20);
  if (a.failed) return NULL;
  return number(env, nd_set_threads((int)n));
}

static napi_value js_threads(napi_env env, napi_callback_info info) {
  (void)info;
  return number(env, nd_threads());
}

/* ---- the module ---- */

static void export_function(napi_env env, napi_value exports, const char *name, napi_callback callback) {
  napi_value fn;
  if (napi_create_function(env, name, NAPI_AUTO_LENGTH, callback, NULL, &fn) == napi_ok) napi_set_named_property(env, exports, name, fn);
}

/*
 * The addon is compiled with -march=native for the machine that built it.
 * Copied to a machine without those instructions it would crash at the
 * first kernel; refuse to load instead (the loader then reports why).
 */
static const char *missing_instructions(void) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  __builtin_cpu_init();
#if defined(__AVX512F__)
  if (!__builtin_cpu_supports("avx512f")) return "AVX-512";
#endif
#if defined(__AVX2__)
  if (!__builtin_cpu_supports("avx2")) return "AVX2";
#endif
#if defined(__FMA__)
  if (!__builtin_cpu_supports("fma")) return "FMA";
#endif
#endif
  return NULL;
}

NAPI_MODULE_INIT() {
  const char *missing = missing_instructions();
  if (missing) {
    char message[200];
    snprintf(message, sizeof message, "ndgraph native kernels: this addon was compiled for %s, which this CPU lacks; rebuild it on this machine", missing);
    napi_throw_error(env, NULL, message);
    return NULL;
  }
  export_function(env, exports, "gemm", js_gemm);
  export_function(env, exports, "conv2dForward", js_conv2d_forward);
  export_function(env, exports, "conv2dBackpropInput", js_conv2d_backprop_input);
  export_function(env, exports, "conv2dBackpropFilter", js_conv2d_backprop_filter);
  export_function(env, exports, "setThreads", js_set_threads);
  export_function(env, exports, "threads", js_threads);
  napi_value simd;
  napi_create_string_utf8(env, nd_simd_name(), NAPI_AUTO_LENGTH, &simd);
  napi_set_named_property(env, exports, "simd", simd);
  napi_set_named_property(env, exports, "abi", number(env, ND_ABI));
  return exports;
}
