/* float_gemm.c's block on AVX2 + FMA: 3 tokens x 4 outputs of 8-lane sums
 * in 12 registers (BT x BO), lane l taking the inputs i = l mod 8 in order (the
 * scalar block's order, so its bits); the last partial vector is read
 * with a mask, its missing lanes contributing fma(0, 0, p) = p. */
#include "packed/packed_internal.h"

#if defined(QAT_PACKED_X86)
#include <immintrin.h>

#define FMA __attribute__((target("avx2,fma")))

int qat_packed_fdot_avx2_ok(void)
{
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/* ((p0 + p4) + (p2 + p6)) + ((p1 + p5) + (p3 + p7)), as qat_packed_fdot_reduce. */
FMA static QAT_PACKED_INLINE float reduce(__m256 p)
{
    const __m128 h = _mm_add_ps(_mm256_castps256_ps128(p), _mm256_extractf128_ps(p, 1));
    const __m128 q = _mm_add_ps(h, _mm_movehl_ps(h, h));
    return _mm_cvtss_f32(_mm_add_ss(q, _mm_movehdup_ps(q)));
}

/* Register block: BT tokens x BO outputs of 8-lane sums in 12 of the 16
 * registers (measured on Zen 3: 2x4, 2x6, 4x3, 5x2, 6x2 and 1x12 all
 * 1.3-2x slower; fewer than 12 sums leave FMA latency exposed, more
 * spill). */
enum { BT = 3, BO = 4 };

FMA static QAT_PACKED_INLINE void micro(const qat_packed_fgemm *g, int64_t r0, int64_t o0, const int NT, const int NO)
{
    const int64_t K = g->in;
    const float *x = g->x + r0 * g->ldx, *w = g->w + o0 * g->ldw;
    __m256 p[BT][BO];
    for (int t = 0; t < NT; t++)
        for (int o = 0; o < NO; o++)
            p[t][o] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= K; i += 8) {
        __m256 xv[BT];
        for (int t = 0; t < NT; t++)
            xv[t] = _mm256_loadu_ps(x + t * g->ldx + i);
        for (int o = 0; o < NO; o++) {
            const __m256 wv = _mm256_loadu_ps(w + o * g->ldw + i);
            for (int t = 0; t < NT; t++)
                p[t][o] = _mm256_fmadd_ps(xv[t], wv, p[t][o]);
        }
    }
    if (i < K) {
        const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(K - i)), lane);
        __m256 xv[BT];
        for (int t = 0; t < NT; t++)
            xv[t] = _mm256_maskload_ps(x + t * g->ldx + i, mask);
        for (int o = 0; o < NO; o++) {
            const __m256 wv = _mm256_maskload_ps(w + o * g->ldw + i, mask);
            for (int t = 0; t < NT; t++)
                p[t][o] = _mm256_fmadd_ps(xv[t], wv, p[t][o]);
        }
    }
    for (int t = 0; t < NT; t++)
        for (int o = 0; o < NO; o++)
            g->y[(r0 + t) * g->ldy + o0 + o] = reduce(p[t][o]);
}

FMA void qat_packed_fdot_block_avx2(const qat_packed_fgemm *g, int64_t r0, int64_t rows, int64_t o0, int64_t outs)
{
    /* Outputs outer: a group's rows of w stay in L1 while the block's
     * tokens stream from L2. */
    for (int64_t o = o0; o < o0 + outs; o += BO) {
        const int no = o0 + outs - o < BO ? (int)(o0 + outs - o) : BO;
        for (int64_t r = r0; r < r0 + rows; r += BT) {
            const int nt = r0 + rows - r < BT ? (int)(r0 + rows - r) : BT;
            if (no == BO && nt == BT)
                micro(g, r, o, BT, BO);
            else if (no == BO)
                for (int t = 0; t < nt; t++)
                    micro(g, r + t, o, 1, BO);
            else
                for (int t = 0; t < nt; t++)
                    for (int j = 0; j < no; j++)
                        micro(g, r + t, o + j, 1, 1);
        }
    }
}

#endif
