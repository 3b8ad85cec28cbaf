/*
 * Node-API binding of the plora native kernels (issue 21): a GEMM that works in place on
 * TensorFlow.js' WebAssembly heap, so the wasm backend's MatMul kernels can hand their operands to
 * native code without a copy.
 *
 * Why our own GEMM and not a BLAS: no npm package ships one that installs offline, a system BLAS is
 * not guaranteed (and Debian's default libblas.so.3 is the netlib reference BLAS, slower than the
 * WebAssembly kernels), and the operands must be read where they lie in the wasm heap with the
 * strides tfjs gives them. The kernel is small (gemm_kernel.c), single-threaded like the wasm
 * backend it stands in for, and deterministic.
 *
 * Exports:
 *   isas(): string[]                    instruction sets this build has and this CPU runs, best first
 *   gemm(heap: ArrayBuffer, isa: string, alpha: number, batch, m, n, k,
 *        aOff, aSb, aSr, aSc, bOff, bSb, bSr, bSc, cinOff, cinSb, cinSr, outOff, outSb, outSr): void
 *     offsets and strides in float32 elements; cinOff = -1 for no addend. Every element any operand
 *     would touch is checked against the heap's length before anything is read or written.
 * Errors are thrown as JS errors with a `code` (PLORA_NATIVE_ARG, PLORA_NATIVE_BOUNDS,
 * PLORA_NATIVE_ISA, PLORA_NATIVE_OOM) that the TypeScript side maps to a ModelError.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include "gemm.h"

typedef int (*gemm_fn)(const pk_gemm_args *);

typedef struct {
  const char *name;
  gemm_fn fn;
  int supported;
} isa_entry;

static isa_entry isa_table[3];
static int isa_count = 0;
static pthread_once_t isa_once = PTHREAD_ONCE_INIT;

/* Once per process (worker threads load the addon too, each into its own environment). */
static void detect_isas(void) {
  int n = 0;
#if defined(__x86_64__)
  __builtin_cpu_init();
  isa_table[n++] = (isa_entry){"avx512", pk_gemm_avx512, __builtin_cpu_supports("avx512f") != 0};
  isa_table[n++] = (isa_entry){"avx2", pk_gemm_avx2,
                               __builtin_cpu_supports("avx2") != 0 && __builtin_cpu_supports("fma") != 0};
#endif
  isa_table[n++] = (isa_entry){"generic", pk_gemm_generic, 1};
  isa_count = n;
}

static void init_isas(void) { pthread_once(&isa_once, detect_isas); }

static napi_value throw_code(napi_env env, const char *code, const char *msg) {
  napi_throw_error(env, code, msg);
  return NULL;
}

static napi_value Isas(napi_env env, napi_callback_info info) {
  (void)info;
  init_isas();
  napi_value arr;
  napi_create_array(env, &arr);
  uint32_t at = 0;
  for (int i = 0; i < isa_count; i++) {
    if (!isa_table[i].supported) continue;
    napi_value s;
    napi_create_string_utf8(env, isa_table[i].name, NAPI_AUTO_LENGTH, &s);
    napi_set_element(env, arr, at++, s);
  }
  return arr;
}

/* Largest element index touched: off + sum (extent - 1) * stride, all strides >= 0. */
static int in_bounds(int64_t off, int64_t batch, int64_t sb, int64_t rows, int64_t sr, int64_t cols, int64_t sc,
                     int64_t len) {
  if (off < 0 || sb < 0 || sr < 0 || sc < 0) return 0;
  /* Offsets, strides and extents are at most the heap length (< 2^31 floats), so the sum below
     cannot overflow int64. */
  if (off > len || sb > len || sr > len || sc > len) return 0;
  int64_t last = off + (batch - 1) * sb + (rows - 1) * sr + (cols - 1) * sc;
  return last < len;
}

/* True when (b, i, j) -> b*sb + i*sr + j, j < n, is one-to-one: each stride, taken in ascending
   order, steps past everything the smaller ones reach. Extents of 1 impose nothing. */
static int disjoint(int64_t n, int64_t m, int64_t sr, int64_t batch, int64_t sb) {
  int64_t s[2], e[2];
  int c = 0;
  if (m > 1) s[c] = sr, e[c++] = m;
  if (batch > 1) s[c] = sb, e[c++] = batch;
  if (c == 2 && s[1] < s[0]) {
    int64_t ts = s[0], te = e[0];
    s[0] = s[1], e[0] = e[1], s[1] = ts, e[1] = te;
  }
  int64_t span = n;
  for (int i = 0; i < c; i++) {
    if (s[i] < span) return 0;
    span += (e[i] - 1) * s[i];
  }
  return 1;
}

#define NARGS 21
#define NFIXED 3

static napi_value Gemm(napi_env env, napi_callback_info info) {
  size_t argc = NARGS;
  napi_value argv[NARGS];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != NARGS)
    return throw_code(env, "PLORA_NATIVE_ARG", "gemm: expected 21 arguments");
  void *data = NULL;
  size_t bytes = 0;
  bool is_ab = false;
  napi_is_arraybuffer(env, argv[0], &is_ab);
  if (!is_ab || napi_get_arraybuffer_info(env, argv[0], &data, &bytes) != napi_ok || data == NULL)
    return throw_code(env, "PLORA_NATIVE_ARG", "gemm: argument 0 must be a non-empty ArrayBuffer (the wasm heap)");
  if (((uintptr_t)data & 3) != 0)
    return throw_code(env, "PLORA_NATIVE_ARG", "gemm: heap is not 4-byte aligned");
  char isa[16] = {0};
  size_t isa_len = 0;
  if (napi_get_value_string_utf8(env, argv[1], isa, sizeof isa, &isa_len) != napi_ok)
    return throw_code(env, "PLORA_NATIVE_ARG", "gemm: argument 1 must be an instruction-set name");
  double alpha = 0;
  napi_valuetype at;
  napi_typeof(env, argv[2], &at);
  if (at != napi_number || napi_get_value_double(env, argv[2], &alpha) != napi_ok || !(alpha == alpha) ||
      alpha > 3.4e38 || alpha < -3.4e38)
    return throw_code(env, "PLORA_NATIVE_ARG", "gemm: argument 2 (alpha) must be a finite number");
  int64_t v[NARGS - NFIXED];
  for (int i = NFIXED; i < NARGS; i++) {
    napi_valuetype t;
    napi_typeof(env, argv[i], &t);
    if (t != napi_number || napi_get_value_int64(env, argv[i], &v[i - NFIXED]) != napi_ok)
      return throw_code(env, "PLORA_NATIVE_ARG", "gemm: arguments 3..20 must be integers");
    double d;
    napi_get_value_double(env, argv[i], &d);
    if ((double)v[i - NFIXED] != d) return throw_code(env, "PLORA_NATIVE_ARG", "gemm: arguments 3..20 must be integers");
  }
  const int64_t batch = v[0], m = v[1], n = v[2], k = v[3];
  const int64_t len = (int64_t)(bytes / 4);
  if (batch < 0 || m < 0 || n < 0 || k < 0 || batch > len || m > len || n > len || k > len)
    return throw_code(env, "PLORA_NATIVE_ARG", "gemm: batch, m, n, k must be in [0, heap length]");
  init_isas();
  gemm_fn fn = NULL;
  for (int i = 0; i < isa_count && !fn; i++)
    if (isa_table[i].supported && (strcmp(isa, "auto") == 0 || strcmp(isa, isa_table[i].name) == 0))
      fn = isa_table[i].fn;
  if (!fn) return throw_code(env, "PLORA_NATIVE_ISA", "gemm: instruction set not available in this build or CPU");
  if (batch == 0 || m == 0 || n == 0) return NULL;
  const int64_t aOff = v[4], aSb = v[5], aSr = v[6], aSc = v[7];
  const int64_t bOff = v[8], bSb = v[9], bSr = v[10], bSc = v[11];
  const int64_t cinOff = v[12], cinSb = v[13], cinSr = v[14];
  const int64_t outOff = v[15], outSb = v[16], outSr = v[17];
  if (k > 0 && (!in_bounds(aOff, batch, aSb, m, aSr, k, aSc, len) || !in_bounds(bOff, batch, bSb, k, bSr, n, bSc, len)))
    return throw_code(env, "PLORA_NATIVE_BOUNDS", "gemm: an input operand reaches past the heap");
  if (cinOff != -1 && !in_bounds(cinOff, batch, cinSb, m, cinSr, n, 1, len))
    return throw_code(env, "PLORA_NATIVE_BOUNDS", "gemm: the addend reaches past the heap");
  if (!in_bounds(outOff, batch, outSb, m, outSr, n, 1, len))
    return throw_code(env, "PLORA_NATIVE_BOUNDS", "gemm: the output reaches past the heap");
  /* No two output elements may share memory (the result would depend on the write order). */
  if (!disjoint(n, m, outSr, batch, outSb))
    return throw_code(env, "PLORA_NATIVE_ARG", "gemm: output rows or batches overlap");
  float *heap = (float *)data;
  pk_gemm_args g = {
      .batch = batch, .m = m, .n = n, .k = k, .alpha = (float)alpha,
      .a = heap + aOff, .a_sb = aSb, .a_sr = aSr, .a_sc = aSc,
      .b = heap + bOff, .b_sb = bSb, .b_sr = bSr, .b_sc = bSc,
      .cin = cinOff == -1 ? NULL : heap + cinOff, .cin_sb = cinSb, .cin_sr = cinSr,
      .out = heap + outOff, .out_sb = outSb, .out_sr = outSr,
  };
  if (fn(&g) != 0) return throw_code(env, "PLORA_NATIVE_OOM", "gemm: could not allocate the packing workspace");
  return NULL;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_value f;
  napi_create_function(env, "isas", NAPI_AUTO_LENGTH, Isas, NULL, &f);
  napi_set_named_property(env, exports, "isas", f);
  napi_create_function(env, "gemm", NAPI_AUTO_LENGTH, Gemm, NULL, &f);
  napi_set_named_property(env, exports, "gemm", f);
  return exports;
}
