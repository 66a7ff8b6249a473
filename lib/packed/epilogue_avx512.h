/* One vector of the shared epilogue (epilogue.c) for AVX-512 code: 16
 * outputs y = ((float)acc * sa) * sw + bias, the lanes outside k left
 * alone. The avx512 epilogue runs it over accumulators in memory; the
 * avx512vbmi GEMM (gemm_lut.c) on its tiles' sums while they are still
 * registers. Written once, so both give the scalar epilogue's bits. */
#ifndef QAT_PACKED_EPILOGUE_AVX512_H
#define QAT_PACKED_EPILOGUE_AVX512_H

#include <immintrin.h>

__attribute__((target("avx512f"), always_inline)) static inline void
qat_packed_epilogue16_avx512(__m512i acc, __m512 sa, __m512 sw, const float *bias, __mmask16 k, float *y)
{
    __m512 v = _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc), sa), sw);
    if (bias)
        v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, bias));
    _mm512_mask_storeu_ps(y, k, v);
}

#endif
