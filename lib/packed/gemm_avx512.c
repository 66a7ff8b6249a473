/* AVX-512 VNNI panel kernel: vpdpbusd sums four u8 x s8 products straight
 * into int32 lanes with no int16 intermediate, so it is exact for every
 * code width (u up to 255) and needs no blocking; offset * sum(a) is
 * subtracted at the end. */
#include "packed/packed_internal.h"

#if defined(QAT_PACKED_X86)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vnni")))

AVX512 static void dot4(const uint8_t *w0, int64_t kpad, const int8_t *a, int32_t out[4])
{
    const uint8_t *w1 = w0 + kpad, *w2 = w1 + kpad, *w3 = w2 + kpad;
    __m512i c0 = _mm512_setzero_si512(), c1 = c0, c2 = c0, c3 = c0;
    for (int64_t i = 0; i < kpad; i += 64) {
        __m512i av = _mm512_load_si512((const void *)(a + i));
        c0 = _mm512_dpbusd_epi32(c0, _mm512_loadu_si512((const void *)(w0 + i)), av);
        c1 = _mm512_dpbusd_epi32(c1, _mm512_loadu_si512((const void *)(w1 + i)), av);
        c2 = _mm512_dpbusd_epi32(c2, _mm512_loadu_si512((const void *)(w2 + i)), av);
        c3 = _mm512_dpbusd_epi32(c3, _mm512_loadu_si512((const void *)(w3 + i)), av);
    }
    out[0] = _mm512_reduce_add_epi32(c0);
    out[1] = _mm512_reduce_add_epi32(c1);
    out[2] = _mm512_reduce_add_epi32(c2);
    out[3] = _mm512_reduce_add_epi32(c3);
}

AVX512 static int32_t dot1(const uint8_t *w, int64_t kpad, const int8_t *a)
{
    __m512i c = _mm512_setzero_si512();
    for (int64_t i = 0; i < kpad; i += 64)
        c = _mm512_dpbusd_epi32(c, _mm512_loadu_si512((const void *)(w + i)),
                                _mm512_load_si512((const void *)(a + i)));
    return _mm512_reduce_add_epi32(c);
}

AVX512 void qat_packed_panel_avx512vnni(const qat_packed_panel_args *p)
{
    for (int64_t t = 0; t < p->tokens; t++) {
        const int8_t *a = p->acts + t * p->lda;
        int32_t *acc = p->acc + t * p->ldacc;
        const int32_t corr = p->offset * p->row_sum[t];
        int64_t r = 0;
        for (; r + 4 <= p->rows; r += 4) {
            int32_t d[4];
            dot4(p->panel + r * p->kpad, p->kpad, a, d);
            for (int j = 0; j < 4; j++)
                acc[r + j] = d[j] - corr;
        }
        for (; r < p->rows; r++)
            acc[r] = dot1(p->panel + r * p->kpad, p->kpad, a) - corr;
    }
}

#endif
