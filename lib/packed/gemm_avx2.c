/* AVX2 panel kernel: u8 x s8 products with vpmaddubsw.
 *
 * maddubs adds two u*a products into an int16 with saturation, so it is
 * exact only while |pair| <= 32767: with a in [-128, 127] and u <= umax
 * that holds for umax <= 127 (LSQ up to 7 bits, ternary). Partial sums are
 * then kept in int16 for nblk = 128 / umax steps (64 for ternary), the
 * most that cannot wrap, before widening to int32 — the bitnet.cpp trick
 * that halves the instruction count. 8-bit LSQ weights (umax = 255) are
 * split into nibbles (see dot4_nibbles), exact for any codes.
 * Both subtract offset * sum(a) at the end. */
#include "packed/packed_internal.h"

#if defined(QAT_PACKED_X86)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2")))

AVX2 static inline int32_t hsum_epi32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

/* Four rows against one token, maddubs with int16 blocks. */
AVX2 static void dot4_maddubs(const uint8_t *w0, int64_t kpad, const int8_t *a, int64_t nblk,
                              int32_t out[4])
{
    const __m256i ones = _mm256_set1_epi16(1);
    const uint8_t *w1 = w0 + kpad, *w2 = w1 + kpad, *w3 = w2 + kpad;
    __m256i c0 = _mm256_setzero_si256(), c1 = c0, c2 = c0, c3 = c0;
    for (int64_t i = 0; i < kpad;) {
        int64_t end = i + nblk * 32;
        if (end > kpad)
            end = kpad;
        __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
        for (; i < end; i += 32) {
            __m256i av = _mm256_load_si256((const __m256i *)(a + i));
            s0 = _mm256_add_epi16(s0, _mm256_maddubs_epi16(_mm256_loadu_si256((const __m256i *)(w0 + i)), av));
            s1 = _mm256_add_epi16(s1, _mm256_maddubs_epi16(_mm256_loadu_si256((const __m256i *)(w1 + i)), av));
            s2 = _mm256_add_epi16(s2, _mm256_maddubs_epi16(_mm256_loadu_si256((const __m256i *)(w2 + i)), av));
            s3 = _mm256_add_epi16(s3, _mm256_maddubs_epi16(_mm256_loadu_si256((const __m256i *)(w3 + i)), av));
        }
        c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(s0, ones));
        c1 = _mm256_add_epi32(c1, _mm256_madd_epi16(s1, ones));
        c2 = _mm256_add_epi32(c2, _mm256_madd_epi16(s2, ones));
        c3 = _mm256_add_epi32(c3, _mm256_madd_epi16(s3, ones));
    }
    out[0] = hsum_epi32(c0);
    out[1] = hsum_epi32(c1);
    out[2] = hsum_epi32(c2);
    out[3] = hsum_epi32(c3);
}

AVX2 static int32_t dot1_maddubs(const uint8_t *w, int64_t kpad, const int8_t *a, int64_t nblk)
{
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i c = _mm256_setzero_si256();
    for (int64_t i = 0; i < kpad;) {
        int64_t end = i + nblk * 32;
        if (end > kpad)
            end = kpad;
        __m256i s = _mm256_setzero_si256();
        for (; i < end; i += 32)
            s = _mm256_add_epi16(s, _mm256_maddubs_epi16(_mm256_loadu_si256((const __m256i *)(w + i)),
                                                         _mm256_load_si256((const __m256i *)(a + i))));
        c = _mm256_add_epi32(c, _mm256_madd_epi16(s, ones));
    }
    return hsum_epi32(c);
}

/* Four rows against one token for codes up to 255 (8-bit LSQ): each code
 * is split into nibbles, u = 16 h + l, and both halves go through maddubs
 * (pairs stay within 2 * 15 * 128, so 8 steps fit in int16); the halves
 * recombine exactly in int32 as 16 * dot(h) + dot(l). Cheaper than
 * widening both operands to int16 for vpmaddwd. */
AVX2 static void dot4_nibbles(const uint8_t *w0, int64_t kpad, const int8_t *a, int32_t out[4])
{
    enum { NIBBLE_BLOCK = 8 };
    const __m256i ones = _mm256_set1_epi16(1), sixteen = _mm256_set1_epi16(16);
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    __m256i c[4];
    for (int j = 0; j < 4; j++)
        c[j] = _mm256_setzero_si256();
    for (int64_t i = 0; i < kpad;) {
        int64_t end = i + NIBBLE_BLOCK * 32;
        if (end > kpad)
            end = kpad;
        __m256i hs[4], ls[4];
        for (int j = 0; j < 4; j++)
            hs[j] = ls[j] = _mm256_setzero_si256();
        for (; i < end; i += 32) {
            __m256i av = _mm256_load_si256((const __m256i *)(a + i));
            for (int j = 0; j < 4; j++) {
                __m256i wv = _mm256_loadu_si256((const __m256i *)(w0 + j * kpad + i));
                __m256i hi = _mm256_and_si256(_mm256_srli_epi16(wv, 4), low4);
                __m256i lo = _mm256_and_si256(wv, low4);
                hs[j] = _mm256_add_epi16(hs[j], _mm256_maddubs_epi16(hi, av));
                ls[j] = _mm256_add_epi16(ls[j], _mm256_maddubs_epi16(lo, av));
            }
        }
        for (int j = 0; j < 4; j++)
            c[j] = _mm256_add_epi32(c[j], _mm256_add_epi32(_mm256_madd_epi16(hs[j], sixteen),
                                                           _mm256_madd_epi16(ls[j], ones)));
    }
    for (int j = 0; j < 4; j++)
        out[j] = hsum_epi32(c[j]);
}

/* One row against one token, 16-bit widening (any u8 code): the tail rows
 * of the 8-bit case. */
AVX2 static int32_t dot1_madd16(const uint8_t *w, int64_t kpad, const int8_t *a)
{
    __m256i c = _mm256_setzero_si256();
    for (int64_t i = 0; i < kpad; i += 16) {
        __m256i wv = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(w + i)));
        __m256i av = _mm256_cvtepi8_epi16(_mm_load_si128((const __m128i *)(a + i)));
        c = _mm256_add_epi32(c, _mm256_madd_epi16(wv, av));
    }
    return hsum_epi32(c);
}

AVX2 void qat_packed_panel_avx2(const qat_packed_panel_args *p)
{
    const int64_t nblk = 128 / p->umax; /* 0 when umax > 128: widen */
    for (int64_t t = 0; t < p->tokens; t++) {
        const int8_t *a = p->acts + t * p->lda;
        int32_t *acc = p->acc + t * p->ldacc;
        const int32_t corr = p->offset * p->row_sum[t];
        int64_t r = 0;
        if (nblk > 0) {
            for (; r + 4 <= p->rows; r += 4) {
                int32_t d[4];
                dot4_maddubs(p->panel + r * p->kpad, p->kpad, a, nblk, d);
                for (int j = 0; j < 4; j++)
                    acc[r + j] = d[j] - corr;
            }
            for (; r < p->rows; r++)
                acc[r] = dot1_maddubs(p->panel + r * p->kpad, p->kpad, a, nblk) - corr;
        } else {
            for (; r + 4 <= p->rows; r += 4) {
                int32_t d[4];
                dot4_nibbles(p->panel + r * p->kpad, p->kpad, a, d);
                for (int j = 0; j < 4; j++)
                    acc[r + j] = d[j] - corr;
            }
            for (; r < p->rows; r++)
                acc[r] = dot1_madd16(p->panel + r * p->kpad, p->kpad, a) - corr;
        }
    }
}

#endif
