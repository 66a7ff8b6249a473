/* AVX2 rows of the activation quantizer. Same operations as the scalar
 * rows in the same order per element (multiply, divide, clamp, round half
 * to even), each exactly rounded by IEEE 754, so the codes are identical;
 * only the max and the integer sum are reordered, and both are exact. */
#include <float.h>
#include <math.h>

#include "packed/packed_internal.h"

#if defined(QAT_PACKED_X86)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2")))

/* Four running maxima (and finiteness flags) side by side: one would make
 * the loop wait on max's latency at every vector. max is exact, so any
 * grouping gives the scalar row's m. */
AVX2 int qat_packed_absmax_avx2(const float *x, int64_t n, float *m)
{
    const __m256 sign = _mm256_set1_ps(-0.0f), big = _mm256_set1_ps(FLT_MAX);
    __m256 mx4[4], ok4[4];
    for (int u = 0; u < 4; u++) {
        mx4[u] = _mm256_setzero_ps();
        ok4[u] = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
    }
    int64_t c = 0;
    for (; c + 32 <= n; c += 32)
        for (int u = 0; u < 4; u++) {
            __m256 v = _mm256_andnot_ps(sign, _mm256_loadu_ps(x + c + 8 * u));
            ok4[u] = _mm256_and_ps(ok4[u], _mm256_cmp_ps(v, big, _CMP_LE_OQ)); /* false for NaN, inf */
            mx4[u] = _mm256_max_ps(mx4[u], v);
        }
    for (; c + 8 <= n; c += 8) {
        __m256 v = _mm256_andnot_ps(sign, _mm256_loadu_ps(x + c));
        ok4[0] = _mm256_and_ps(ok4[0], _mm256_cmp_ps(v, big, _CMP_LE_OQ));
        mx4[0] = _mm256_max_ps(mx4[0], v);
    }
    const __m256 mx = _mm256_max_ps(_mm256_max_ps(mx4[0], mx4[1]), _mm256_max_ps(mx4[2], mx4[3]));
    const __m256 ok = _mm256_and_ps(_mm256_and_ps(ok4[0], ok4[1]), _mm256_and_ps(ok4[2], ok4[3]));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
    float tail_m;
    int bad = _mm256_movemask_ps(ok) != 0xFF;
    bad |= qat_packed_absmax_scalar(x + c, n - c, &tail_m);
    float vm = _mm_cvtss_f32(h);
    *m = tail_m > vm ? tail_m : vm;
    return bad;
}

/* 32 codes (4 x 8 int32 in [-128, 127]: the packs do not saturate) as
 * int8 at q, the packs' per-lane interleave undone. */
AVX2 static inline void store_codes(const __m256i qi[4], int8_t *q)
{
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    const __m256i p8 = _mm256_packs_epi16(_mm256_packs_epi32(qi[0], qi[1]), _mm256_packs_epi32(qi[2], qi[3]));
    _mm256_storeu_si256((__m256i *)q, _mm256_permutevar8x32_epi32(p8, order));
}

AVX2 static inline int32_t sum_lanes(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

AVX2 int32_t qat_packed_quant_row_avx2(const float *x, int64_t n, float mul, float div, float qn, float qp,
                                       int8_t *q)
{
    const __m256 vmul = _mm256_set1_ps(mul), vdiv = _mm256_set1_ps(div);
    const __m256 vqn = _mm256_set1_ps(qn), vqp = _mm256_set1_ps(qp);
    __m256i sum = _mm256_setzero_si256();
    int64_t c = 0;
    for (; c + 32 <= n; c += 32) {
        __m256i qi[4];
        for (int j = 0; j < 4; j++) {
            __m256 v = _mm256_div_ps(_mm256_mul_ps(_mm256_loadu_ps(x + c + 8 * j), vmul), vdiv);
            v = _mm256_min_ps(_mm256_max_ps(v, vqn), vqp);
            qi[j] = _mm256_cvtps_epi32(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
            sum = _mm256_add_epi32(sum, qi[j]);
        }
        store_codes(qi, q + c);
    }
    return sum_lanes(sum) + qat_packed_quant_row_scalar(x + c, n - c, mul, div, qn, qp, q + c);
}

/* LSQ+ rows: (x - sub) / div, clamp to [0, qp], round half to even, then the
 * integer shift to the signed range (exact), each step as the scalar row. */
AVX2 int32_t qat_packed_quant_row_offset_avx2(const float *x, int64_t n, float sub, float div, float qp, int shift,
                                              int8_t *q)
{
    const __m256 vsub = _mm256_set1_ps(sub), vdiv = _mm256_set1_ps(div);
    const __m256 vzero = _mm256_setzero_ps(), vqp = _mm256_set1_ps(qp);
    const __m256i vshift = _mm256_set1_epi32(shift);
    __m256i sum = _mm256_setzero_si256();
    int64_t c = 0;
    for (; c + 32 <= n; c += 32) {
        __m256i qi[4];
        for (int j = 0; j < 4; j++) {
            __m256 v = _mm256_div_ps(_mm256_sub_ps(_mm256_loadu_ps(x + c + 8 * j), vsub), vdiv);
            v = _mm256_min_ps(_mm256_max_ps(v, vzero), vqp);
            __m256i u = _mm256_cvtps_epi32(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
            qi[j] = _mm256_sub_epi32(u, vshift);
            sum = _mm256_add_epi32(sum, qi[j]);
        }
        store_codes(qi, q + c);
    }
    return sum_lanes(sum) + qat_packed_quant_row_offset_scalar(x + c, n - c, sub, div, qp, shift, q + c);
}

#endif
