/* AVX-512 rows of the activation quantizer, which the avx512vnni, amx and
 * onednn paths use on CPUs with AVX-512 DQ too: the absmax as quantize_avx2.c's
 * on 16 lanes, the codes by a multiply where that gives the exact row's
 * code (below), the row's tail in the same vectors under a mask. Every
 * code and sum is the scalar row's; the max and the integer sum are
 * reordered, and both are exact. */
#include <float.h>

#include "packed/packed_internal.h"

#if defined(QAT_PACKED_X86)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512dq")))

/* The first n - c lanes of the vector at c (all of them from 16). */
#define LANES(n, c) ((n) - (c) >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << ((n) - (c))) - 1u))

/* Four running maxima, as the AVX2 row (max's latency); a lane is bad when
 * it is NaN or infinite (not <= FLT_MAX). Masked-off lanes load +0. */
AVX512 int qat_packed_absmax_avx512(const float *x, int64_t n, float *m)
{
    const __m512 big = _mm512_set1_ps(FLT_MAX);
    __m512 mx[4];
    __mmask16 ok = 0xffff;
    for (int u = 0; u < 4; u++)
        mx[u] = _mm512_setzero_ps();
    int64_t c = 0;
    for (; c + 64 <= n; c += 64)
        for (int u = 0; u < 4; u++) {
            const __m512 v = _mm512_abs_ps(_mm512_loadu_ps(x + c + 16 * u));
            ok &= _mm512_cmp_ps_mask(v, big, _CMP_LE_OQ);
            mx[u] = _mm512_max_ps(mx[u], v);
        }
    for (; c < n; c += 16) {
        const __m512 v = _mm512_abs_ps(_mm512_maskz_loadu_ps(LANES(n, c), x + c));
        ok &= _mm512_cmp_ps_mask(v, big, _CMP_LE_OQ);
        mx[0] = _mm512_max_ps(mx[0], v);
    }
    *m = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(mx[0], mx[1]), _mm512_max_ps(mx[2], mx[3])));
    return ok != 0xffff;
}

/* The division without a divide: vdivps is the rows' bound (as on AVX2,
 * 16 lanes take twice 8 lanes' time). A code is rne(clamp(a * mul / div,
 * lo, hi)) with a the numerator (x, or x - sub with mul = 1), the product
 * and the quotient each rounded, and lo, hi integers, so only the
 * quotient's integer matters, not its bits. r = a * s with s = mul * (1 /
 * div) rounds three times: |r - a * mul / div| and the exact row's error
 * are together within 5.0001 u |a * mul / div| (u = 2^-24), under 2^-13
 * wherever the clamped r can give a code (|r| <= 256). So where the clamped
 * r is more than 2^-13 from a half-integer, rne(r) is the exact row's code
 * (and past a bound both clamp to it); a vector with a lane nearer (about
 * 1 in 250 vectors, ties included) runs the exact row's operations. When
 * 1 / div is not a normal float the threshold is -1: every vector does.
 * vreducps (AVX-512 DQ) gives r - rne(r) in one instruction. */
typedef struct quotient {
    __m512 mul, div, scale, lo, hi, near;
} quotient;

AVX512 static inline quotient quotient_of(float mul, float div, float lo, float hi)
{
    const int normal = div >= 0x1p-125f && div <= 0x1p125f;
    return (quotient){.mul = _mm512_set1_ps(mul), .div = _mm512_set1_ps(div),
                      .scale = _mm512_set1_ps(mul * (1.0f / div)), .lo = _mm512_set1_ps(lo),
                      .hi = _mm512_set1_ps(hi), .near = _mm512_set1_ps(normal ? 0.5f - 0x1p-13f : -1.0f)};
}

/* Round half to even (an immediate operand, also at -O0). */
#define NEAREST (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

/* The codes of numerators a, as int32. */
AVX512 static inline __m512i codes_of(__m512 a, const quotient *d)
{
    __m512 v = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(a, d->scale), d->lo), d->hi);
    if (_mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_reduce_ps(v, NEAREST)), d->near, _CMP_GE_OQ))
        v = _mm512_min_ps(_mm512_max_ps(_mm512_div_ps(_mm512_mul_ps(a, d->mul), d->div), d->lo), d->hi);
    return _mm512_cvt_roundps_epi32(v, NEAREST);
}

/* The codes of x (x - sub, minus shift, when `offset`). */
AVX512 static inline __m512i codes_at(__m512 x, __m512 sub, const quotient *d, __m512i shift, const int offset)
{
    return _mm512_sub_epi32(codes_of(offset ? _mm512_sub_ps(x, sub) : x, d), shift);
}

/* The codes of the n elements at x: x * mul / div, or (x - sub) / div
 * minus shift when `offset`, stored as int8 (they fit); returns their sum.
 * Whole vectors without masks (the masked load, add and narrowing store
 * made a row a quarter slower on Zen 4), the tail under one. */
AVX512 static inline int32_t quant_row(const float *x, int64_t n, float sub, const quotient *d, int shift, int8_t *q,
                                       const int offset)
{
    const __m512 vsub = _mm512_set1_ps(sub);
    const __m512i vshift = _mm512_set1_epi32(shift);
    __m512i sum = _mm512_setzero_si512();
    int64_t c = 0;
    for (; c + 16 <= n; c += 16) {
        const __m512i code = codes_at(_mm512_loadu_ps(x + c), vsub, d, vshift, offset);
        _mm_storeu_si128((__m128i *)(q + c), _mm512_cvtepi32_epi8(code));
        sum = _mm512_add_epi32(sum, code);
    }
    if (c < n) {
        const __mmask16 k = LANES(n, c);
        const __m512i code = codes_at(_mm512_maskz_loadu_ps(k, x + c), vsub, d, vshift, offset);
        _mm512_mask_cvtepi32_storeu_epi8(q + c, k, code);
        sum = _mm512_mask_add_epi32(sum, k, sum, code);
    }
    return _mm512_reduce_add_epi32(sum);
}

AVX512 int32_t qat_packed_quant_row_avx512(const float *x, int64_t n, float mul, float div, float qn, float qp,
                                           int8_t *q)
{
    const quotient d = quotient_of(mul, div, qn, qp);
    return quant_row(x, n, 0.0f, &d, 0, q, 0);
}

AVX512 int32_t qat_packed_quant_row_offset_avx512(const float *x, int64_t n, float sub, float div, float qp,
                                                  int shift, int8_t *q)
{
    const quotient d = quotient_of(1.0f, div, 0.0f, qp);
    return quant_row(x, n, sub, &d, shift, q, 1);
}

#endif
