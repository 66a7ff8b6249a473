/* float_gemm.c's block on ARM64 NEON: 8 lanes as two q registers (lanes
 * 0-3, 4-7), vfmaq_f32 (fused) in the scalar block's order, 3 tokens x 4
 * outputs a pass (24 of the 32 registers); the last partial vector goes
 * through a zero-filled copy, its missing lanes contributing fma(0, 0, p) = p. */
#include <string.h>

#include "packed/packed_internal.h"

#if defined(QAT_PACKED_ARM64)
#include <arm_neon.h>

/* ((p0 + p4) + (p2 + p6)) + ((p1 + p5) + (p3 + p7)), as qat_packed_fdot_reduce. */
static QAT_PACKED_INLINE float reduce(float32x4_t lo, float32x4_t hi)
{
    const float32x4_t h = vaddq_f32(lo, hi);
    const float32x2_t q = vadd_f32(vget_low_f32(h), vget_high_f32(h));
    return vget_lane_f32(q, 0) + vget_lane_f32(q, 1);
}

static QAT_PACKED_INLINE void micro(const qat_packed_fgemm *g, int64_t r0, int64_t o0, const int NT, const int NO)
{
    const int64_t K = g->in;
    const float *x = g->x + r0 * g->ldx, *w = g->w + o0 * g->ldw;
    float32x4_t p[3][4][2];
    for (int t = 0; t < NT; t++)
        for (int o = 0; o < NO; o++)
            p[t][o][0] = p[t][o][1] = vdupq_n_f32(0.0f);
    int64_t i = 0;
    for (; i + 8 <= K; i += 8) {
        float32x4_t xv[3][2];
        for (int t = 0; t < NT; t++) {
            xv[t][0] = vld1q_f32(x + t * g->ldx + i);
            xv[t][1] = vld1q_f32(x + t * g->ldx + i + 4);
        }
        for (int o = 0; o < NO; o++) {
            const float32x4_t w0 = vld1q_f32(w + o * g->ldw + i), w1 = vld1q_f32(w + o * g->ldw + i + 4);
            for (int t = 0; t < NT; t++) {
                p[t][o][0] = vfmaq_f32(p[t][o][0], xv[t][0], w0);
                p[t][o][1] = vfmaq_f32(p[t][o][1], xv[t][1], w1);
            }
        }
    }
    if (i < K) {
        float xt[3][8], wt[8];
        memset(xt, 0, sizeof xt);
        for (int t = 0; t < NT; t++)
            memcpy(xt[t], x + t * g->ldx + i, (size_t)(K - i) * sizeof(float));
        for (int o = 0; o < NO; o++) {
            memset(wt, 0, sizeof wt);
            memcpy(wt, w + o * g->ldw + i, (size_t)(K - i) * sizeof(float));
            const float32x4_t w0 = vld1q_f32(wt), w1 = vld1q_f32(wt + 4);
            for (int t = 0; t < NT; t++) {
                p[t][o][0] = vfmaq_f32(p[t][o][0], vld1q_f32(xt[t]), w0);
                p[t][o][1] = vfmaq_f32(p[t][o][1], vld1q_f32(xt[t] + 4), w1);
            }
        }
    }
    for (int t = 0; t < NT; t++)
        for (int o = 0; o < NO; o++)
            g->y[(r0 + t) * g->ldy + o0 + o] = reduce(p[t][o][0], p[t][o][1]);
}

void qat_packed_fdot_block_neon(const qat_packed_fgemm *g, int64_t r0, int64_t rows, int64_t o0, int64_t outs)
{
    for (int64_t o = o0; o < o0 + outs; o += 4) {
        const int no = o0 + outs - o < 4 ? (int)(o0 + outs - o) : 4;
        for (int64_t r = r0; r < r0 + rows; r += 3) {
            const int nt = r0 + rows - r < 3 ? (int)(r0 + rows - r) : 3;
            if (no == 4 && nt == 3)
                micro(g, r, o, 3, 4);
            else if (no == 4 && nt == 2)
                micro(g, r, o, 2, 4);
            else if (no == 4)
                micro(g, r, o, 1, 4);
            else
                for (int t = 0; t < nt; t++)
                    for (int j = 0; j < no; j++)
                        micro(g, r + t, o + j, 1, 1);
        }
    }
}

#endif
