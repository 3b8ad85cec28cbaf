/*
 * plora native kernels: one single-precision GEMM, compiled once per instruction set.
 *
 *   out[b](i, j) = cin[b](i, j) + alpha * sum_k A[b](i, k) * B[b](k, j)      (cin absent: 0)
 *
 * Every operand is addressed by an element offset and (batch, row, column) strides in floats, so
 * transposes, broadcast batches (stride 0) and a broadcast bias row (cin with row stride 0) need no
 * copies. The output's column stride is 1. Summation is float32 in a fixed order (k ascending within
 * blocks of PK_KC, each block's sum scaled by alpha and added to the running result, which
 * starts at cin), so a given build on a given machine gives the
 * same bits on every call.
 */
#ifndef PLORA_GEMM_H
#define PLORA_GEMM_H

#include <stdint.h>

typedef struct {
  int64_t batch, m, n, k;
  float alpha;
  const float *a;
  int64_t a_sb, a_sr, a_sc;
  const float *b;
  int64_t b_sb, b_sr, b_sc;
  const float *cin; /* may be NULL; may equal out (then with the same strides) */
  int64_t cin_sb, cin_sr;
  float *out;
  int64_t out_sb, out_sr;
} pk_gemm_args;

/* Returns 0, or -1 when the workspace could not be allocated (nothing written then). */
int pk_gemm_generic(const pk_gemm_args *g);
#if defined(__x86_64__)
int pk_gemm_avx2(const pk_gemm_args *g);
int pk_gemm_avx512(const pk_gemm_args *g);
#endif

#endif
