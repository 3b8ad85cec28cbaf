/*
 * The GEMM of gemm.h, written once with GCC/Clang vector extensions and compiled per instruction
 * set (build-native.mjs passes -DPK_ISA_AVX512 -mavx512f -mfma, -DPK_ISA_AVX2 -mavx2 -mfma, or
 * nothing for the baseline: SSE2 on x86-64, NEON on arm64). The layout is the classic Goto/BLIS one:
 * B is packed into panels of PK_NR columns and A into panels of PK_MR rows for blocks of PK_KC along
 * k, and a register-tile micro-kernel keeps a PK_MR x PK_NR block of C in registers while it streams
 * both panels.
 */
#include <stdlib.h>
#include <string.h>
#include "gemm.h"

#if defined(PK_ISA_AVX512)
#define PK_VL 16
#ifndef PK_MR
#define PK_MR 12
#endif
#define PK_FN pk_gemm_avx512
#elif defined(PK_ISA_AVX2)
#define PK_VL 8
#define PK_MR 6
#define PK_FN pk_gemm_avx2
#else
#define PK_VL 4
#define PK_MR 4
#define PK_FN pk_gemm_generic
#endif

#define PK_NV 2
#define PK_NR (PK_VL * PK_NV)
#define PK_KC 256
#define PK_MC (PK_MR * 12)
#define PK_NC 2048
/* Below this k a tile's C traffic outweighs its arithmetic. */
#define PK_SHORT_K 32

typedef float vf __attribute__((vector_size(PK_VL * 4)));
/* Unaligned, alias-safe view for C rows (the packed panels are aligned and use vf). */
typedef float vfu __attribute__((vector_size(PK_VL * 4), aligned(4), may_alias));

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* C tile = cin tile + alpha * (Ap * Bp over kc); mr x nr of the tile are valid (edges use a local tile). */
static inline void micro(int64_t kc, const float *restrict ap, const float *restrict bp, const float *cin,
                         int64_t ldi, float *out, int64_t ldo, int64_t mr, int64_t nr, float alpha) {
  vf acc[PK_MR][PK_NV];
  for (int r = 0; r < PK_MR; r++)
    for (int v = 0; v < PK_NV; v++) acc[r][v] = (vf){0};
  for (int64_t k = 0; k < kc; k++) {
    const vf *bv = (const vf *)(bp + k * PK_NR);
    const float *av = ap + k * PK_MR;
    vf b0 = bv[0], b1 = bv[1];
    for (int r = 0; r < PK_MR; r++) {
      acc[r][0] += av[r] * b0;
      acc[r][1] += av[r] * b1;
    }
  }
  if (alpha != 1.0f)
    for (int r = 0; r < PK_MR; r++)
      for (int v = 0; v < PK_NV; v++) acc[r][v] *= alpha;
  if (mr == PK_MR && nr == PK_NR) {
    for (int r = 0; r < PK_MR; r++)
      for (int v = 0; v < PK_NV; v++) {
        vf c = acc[r][v];
        if (cin) c = *(const vfu *)(cin + r * ldi + v * PK_VL) + c;
        *(vfu *)(out + r * ldo + v * PK_VL) = c;
      }
    return;
  }
  float tile[PK_MR][PK_NR] __attribute__((aligned(64)));
  for (int r = 0; r < PK_MR; r++)
    for (int v = 0; v < PK_NV; v++) *(vf *)&tile[r][v * PK_VL] = acc[r][v];
  for (int64_t r = 0; r < mr; r++)
    for (int64_t j = 0; j < nr; j++) out[r * ldo + j] = (cin ? cin[r * ldi + j] : 0.0f) + tile[r][j];
}

/*
 * Packs panels of `width` along x for a block of kc along k: dst[p][k][w] = X(pc + k, x0 + p*width + w),
 * zero past xc, where X(k, x) = src[k*sk + x*sx]. B's column panels are X = B (sk, sx = its row and
 * column strides, width NR); A's row panels are X = Aᵀ (sk, sx = A's column and row strides, width MR).
 * The source is read along whichever axis is contiguous.
 */
static void pack_panels(float *restrict dst, const float *src, int64_t sk, int64_t sx, int64_t pc, int64_t kc,
                        int64_t x0, int64_t xc, int64_t width) {
  for (int64_t p = 0; p * width < xc; p++) {
    float *d = dst + p * kc * width;
    const int64_t n = min64(width, xc - p * width);
    const float *s = src + pc * sk + (x0 + p * width) * sx;
    if (sx == 1) {
      for (int64_t k = 0; k < kc; k++) {
        int64_t w = 0;
        for (; w < n; w++) d[k * width + w] = s[k * sk + w];
        for (; w < width; w++) d[k * width + w] = 0.0f;
      }
    } else {
      for (int64_t w = 0; w < n; w++)
        for (int64_t k = 0; k < kc; k++) d[k * width + w] = s[w * sx + k * sk];
      for (int64_t w = n; w < width; w++)
        for (int64_t k = 0; k < kc; k++) d[k * width + w] = 0.0f;
    }
  }
}

int PK_FN(const pk_gemm_args *g) {
  const int64_t m = g->m, n = g->n, k = g->k;
  if (g->batch <= 0 || m <= 0 || n <= 0) return 0;
  if (k <= 0) {
    for (int64_t bi = 0; bi < g->batch; bi++)
      for (int64_t i = 0; i < m; i++) {
        float *o = g->out + bi * g->out_sb + i * g->out_sr;
        const float *c = g->cin ? g->cin + bi * g->cin_sb + i * g->cin_sr : NULL;
        for (int64_t j = 0; j < n; j++) o[j] = c ? c[j] : 0.0f;
      }
    return 0;
  }
  const int64_t kcmax = min64(k, PK_KC);
  const int64_t ncmax = (min64(n, PK_NC) + PK_NR - 1) / PK_NR * PK_NR;
  const int64_t mcmax = (min64(m, PK_MC) + PK_MR - 1) / PK_MR * PK_MR;
  float *bp = aligned_alloc(64, (size_t)(kcmax * ncmax * 4 + 63) / 64 * 64);
  float *ap = aligned_alloc(64, (size_t)(kcmax * mcmax * 4 + 63) / 64 * 64);
  if (!bp || !ap) {
    free(bp);
    free(ap);
    return -1;
  }
  for (int64_t bi = 0; bi < g->batch; bi++) {
    const float *a = g->a + bi * g->a_sb;
    const float *b = g->b + bi * g->b_sb;
    const float *cin = g->cin ? g->cin + bi * g->cin_sb : NULL;
    float *out = g->out + bi * g->out_sb;
    for (int64_t jc = 0; jc < n; jc += PK_NC) {
      const int64_t nc = min64(PK_NC, n - jc);
      for (int64_t pc = 0; pc < k; pc += PK_KC) {
        const int64_t kc = min64(PK_KC, k - pc);
        pack_panels(bp, b, g->b_sr, g->b_sc, pc, kc, jc, nc, PK_NR);
        for (int64_t ic = 0; ic < m; ic += PK_MC) {
          const int64_t mc = min64(PK_MC, m - ic);
          pack_panels(ap, a, g->a_sc, g->a_sr, pc, kc, ic, mc, PK_MR);
          /* Each tile: first k block starts from cin (or 0), later blocks from the partial sum in out. */
#define PK_TILE(ir, jr)                                                                                       \
  do {                                                                                                        \
    const int64_t nr = min64(PK_NR, nc - (jr)), mr = min64(PK_MR, mc - (ir));                                 \
    const int64_t i = ic + (ir), j = jc + (jr);                                                               \
    float *o = out + i * g->out_sr + j;                                                                       \
    const float *c = pc == 0 ? (cin ? cin + i * g->cin_sr + j : NULL) : o;                                    \
    const int64_t ldi = pc == 0 ? g->cin_sr : g->out_sr;                                                      \
    micro(kc, ap + ((ir) / PK_MR) * kc * PK_MR, bp + ((jr) / PK_NR) * kc * PK_NR, c, ldi, o, g->out_sr, mr, nr, g->alpha); \
  } while (0)
          if (kc >= PK_SHORT_K) {
            /* Compute-bound: the B panel (kc x NR) stays in L1 while the A block streams past it. */
            for (int64_t jr = 0; jr < nc; jr += PK_NR)
              for (int64_t ir = 0; ir < mc; ir += PK_MR) PK_TILE(ir, jr);
          } else {
            /* Short k (a rank-r update): C traffic dominates, so walk C row block by row block, each
               row read and written front to back (sequential streams for the prefetchers). */
            for (int64_t ir = 0; ir < mc; ir += PK_MR)
              for (int64_t jr = 0; jr < nc; jr += PK_NR) PK_TILE(ir, jr);
          }
#undef PK_TILE
        }
      }
    }
  }
  free(bp);
  free(ap);
  return 0;
}
