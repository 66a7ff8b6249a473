/* The GEMM epilogue, y = ((float)acc * sa[t]) * sw[o] + bias[o]: the
 * scalar reference, an AVX-512 one (16 outputs per vector, the row tail
 * masked), which the avx512vnni and amx paths use, and an AVX2 one (8 per
 * vector), the avx2 path's. All round the same three operations in the
 * same order (vcvtdq2ps is cvtsi2ss lane by lane; no contraction into
 * FMA), so they give the same bits. */
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
#include "packed/epilogue_avx512.h"

#define AVX512 __attribute__((target("avx512f,avx512bw")))
#define AVX2 __attribute__((target("avx2")))

/* Full vectors only, the row tail scalar: vmaskmovps stores are slow on
 * AMD (this epilogue with masked loads and stores took 12 % of a BERT-base
 * forward on Zen 3, the scalar one 4 %). */
AVX2 void qat_packed_epilogue_avx2(const qat_packed_acts *a, const qat_packed_matrix *m, int64_t t0, int64_t tokens,
                                   int64_t o0, int64_t rows, const int32_t *acc, int64_t ldacc, const float *bias,
                                   float *y, int64_t ldy)
{
    const __m256 sw_all = _mm256_set1_ps(m->scale[0]);
    for (int64_t t = t0; t < t0 + tokens; t++) {
        const float sa1 = a->scale[t];
        const __m256 sa = _mm256_set1_ps(sa1);
        const int32_t *arow = acc + (t - t0) * ldacc;
        float *yrow = y + t * ldy + o0;
        int64_t r = 0;
        for (; r + 8 <= rows; r += 8) {
            const __m256 sw = m->per_row ? _mm256_loadu_ps(m->scale + o0 + r) : sw_all;
            __m256 v = _mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)(arow + r)));
            v = _mm256_mul_ps(_mm256_mul_ps(v, sa), sw);
            if (bias)
                v = _mm256_add_ps(v, _mm256_loadu_ps(bias + o0 + r));
            _mm256_storeu_ps(yrow + r, v);
        }
        for (; r < rows; r++) {
            const float v = ((float)arow[r] * sa1) * m->scale[m->per_row ? o0 + r : 0];
            yrow[r] = bias ? v + bias[o0 + r] : v;
        }
    }
}

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
            qat_packed_epilogue16_avx512(_mm512_maskz_loadu_epi32(k, arow + r), sa, sw, bias ? bias + o0 + r : NULL,
                                         k, yrow + r);
        }
    }
}

#endif
