/* AVX2 unpacking of ternary panels (the layouts of pack_ternary.c): one
 * 32-byte load gives 4 (2-bit) or 5 (1.6-bit) vectors of consecutive
 * codes. The panel is unpacked once per GEMM call and reused for every
 * token, but with few tokens this pass is a visible part of the call. */
#include <string.h>

#include "packed/packed_internal.h"

#if defined(QAT_PACKED_X86)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2")))

/* Decodes one group's 32 bytes into 4 vectors of 32 codes (2-bit). */
AVX2 static inline void decode_t2(const uint8_t *src, uint8_t *out)
{
    const __m256i three = _mm256_set1_epi8(3);
    __m256i b = _mm256_loadu_si256((const __m256i *)src);
    for (int k = 0; k < 4; k++)
        _mm256_storeu_si256((__m256i *)(out + 32 * k), _mm256_and_si256(_mm256_srli_epi16(b, 2 * k), three));
}

/* Decodes one group's 32 bytes into 5 vectors of 32 trits (1.6-bit). */
AVX2 static inline void decode_t1p6(const uint8_t *src, uint8_t *out)
{
    const __m256i c86 = _mm256_set1_epi8((char)86), c171 = _mm256_set1_epi8((char)171);
    __m256i t = _mm256_loadu_si256((const __m256i *)src);
    for (int k = 0; k < 5; k++) {
        if (k) /* t = byte * 3^k mod 256, one factor 3 at a time */
            t = _mm256_add_epi8(t, _mm256_add_epi8(t, t));
        /* floor(3 t / 256) is (t >= 86) + (t >= 171). */
        __m256i ge86 = _mm256_cmpeq_epi8(_mm256_max_epu8(t, c86), t);
        __m256i ge171 = _mm256_cmpeq_epi8(_mm256_max_epu8(t, c171), t);
        _mm256_storeu_si256((__m256i *)(out + 32 * k),
                            _mm256_sub_epi8(_mm256_sub_epi8(_mm256_setzero_si256(), ge86), ge171));
    }
}

/* The short last group (n elements in nb = ceil(n / per_byte) bytes, byte
 * j holding elements j + nb k): decoded through a zeroed 32-byte copy, then
 * lane j of vector k goes to element j + nb k. */
AVX2 static void decode_tail(const uint8_t *src, int64_t n, int per_byte, uint8_t *dst)
{
    uint8_t in[32] = {0}, out[160];
    int64_t nb = (n + per_byte - 1) / per_byte;
    memcpy(in, src, (size_t)nb);
    if (per_byte == 4)
        decode_t2(in, out);
    else
        decode_t1p6(in, out);
    for (int k = 0; k < per_byte && nb * k < n; k++) {
        int64_t len = n - nb * k < nb ? n - nb * k : nb;
        memcpy(dst + nb * k, out + 32 * k, (size_t)len);
    }
}

AVX2 void qat_packed_unpack_ternary2_avx2(const qat_packed_weights *w, int64_t row0, int64_t rows,
                                          uint8_t *panel, int64_t kpad)
{
    const int64_t in = w->in;
    for (int64_t r = 0; r < rows; r++) {
        const uint8_t *src = w->data + (size_t)(row0 + r) * w->row_bytes;
        uint8_t *dst = panel + r * kpad;
        int64_t e0 = 0;
        for (; e0 + QAT_PACKED_T2_GROUP <= in; e0 += QAT_PACKED_T2_GROUP, src += 32)
            decode_t2(src, dst + e0);
        if (e0 < in)
            decode_tail(src, in - e0, 4, dst + e0);
        memset(dst + in, 0, (size_t)(kpad - in));
    }
}

AVX2 void qat_packed_unpack_ternary1p6_avx2(const qat_packed_weights *w, int64_t row0, int64_t rows,
                                            uint8_t *panel, int64_t kpad)
{
    const int64_t in = w->in;
    for (int64_t r = 0; r < rows; r++) {
        const uint8_t *src = w->data + (size_t)(row0 + r) * w->row_bytes;
        uint8_t *dst = panel + r * kpad;
        int64_t e0 = 0;
        for (; e0 + QAT_PACKED_T1P6_GROUP <= in; e0 += QAT_PACKED_T1P6_GROUP, src += 32)
            decode_t1p6(src, dst + e0);
        if (e0 < in)
            decode_tail(src, in - e0, 5, dst + e0);
        memset(dst + in, 0, (size_t)(kpad - in));
    }
}

#endif
