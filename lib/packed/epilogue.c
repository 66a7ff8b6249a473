/* The GEMM epilogue, y = ((float)acc * sa[t]) * sw[o] + bias[o]: the
 * scalar reference and an AVX-512 one (16 outputs per vector, the row tail
 * masked), which the avx512vnni and amx paths use. Both round the same
 * three operations in the same order (vcvtdq2ps is cvtsi2ss lane by lane;
 * no contraction into FMA), so they give the same bits. */
#include "packed/packed_internal.h"

void qat_packed_epilogue_scalar(const qat_packed_acts *a, const qat_packed_matrix *m, int64_t t0, int64_t tokens,
                                int64_t o0, int64_t rows, const int32_t *acc, int64_t ldacc, const float *bias,
                                float *y, int64_t ldy)
{
    for (int64_t t = t0; t < t0 + tokens; t++) {
        const float sa = a->scale[t];
        for (int64_t r = 0; r < rows; r++) {
            const int64_t o = o0 + r;
            const float v = ((float)acc[(t - t0) * ldacc + r] * sa) * m->scale[m->per_row ? o : 0];
            y[t * ldy + o] = bias ? v + bias[o] : v;
        }
    }
}

#if defined(QAT_PACKED_X86)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512bw")))

AVX512 void qat_packed_epilogue_avx512(const qat_packed_acts *a, const qat_packed_matrix *m, int64_t t0,
                                       int64_t tokens, int64_t o0, int64_t rows, const int32_t *acc, int64_t ldacc,
                                       const float *bias, float *y, int64_t ldy)
{
    const __m512 sw_all = _mm512_set1_ps(m->scale[0]);
    for (int64_t t = t0; t < t0 + tokens; t++) {
        const __m512 sa = _mm512_set1_ps(a->scale[t]);
        const int32_t *arow = acc + (t - t0) * ldacc;
        float *yrow = y + t * ldy + o0;
        for (int64_t r = 0; r < rows; r += 16) {
            const __mmask16 k = rows - r >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (rows - r)) - 1u);
            const __m512 sw = m->per_row ? _mm512_maskz_loadu_ps(k, m->scale + o0 + r) : sw_all;
            __m512 v = _mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(k, arow + r));
            v = _mm512_mul_ps(_mm512_mul_ps(v, sa), sw);
            if (bias)
                v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, bias + o0 + r));
            _mm512_mask_storeu_ps(yrow + r, k, v);
        }
    }
}

#endif
