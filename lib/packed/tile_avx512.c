/* AVX-512 VNNI micro-kernel: a tile of 32 output rows (two panels) x up to
 * 8 tokens held in 16 zmm accumulators. Per k-quad, each panel's 64 bytes
 * (16 rows x 4 codes, unpacked from 2 or 4 bits with one shift and one
 * mask) meet a broadcast of the token's 4 activation codes in one
 * vpdpbusd, which sums the four u8 x s8 products straight into int32 — no
 * intermediate saturation, so exact for every code width; the offset
 * correction u = q + offset is subtracted once at the end. */
#include <string.h>

#include "packed/packed_internal.h"

#if defined(QAT_PACKED_X86)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vnni")))
#define INLINE inline __attribute__((always_inline))

AVX512 static INLINE __m512i broadcast4(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

/* NT tokens (1..8), codes of CB bits (2, 4 or 8): both constants once
 * inlined, so the loops unroll and the accumulators live in registers. */
AVX512 static INLINE void tile(const qat_packed_tile *t, const int NT, const int CB)
{
    const qat_packed_matrix *m = t->m;
    const uint8_t *w0 = m->data + (size_t)t->panel * m->panel_bytes, *w1 = w0 + m->panel_bytes;
    const int per_chunk = 8 / CB;
    const int64_t chunks = m->kpad / 4 / per_chunk;
    const __m512i mask = _mm512_set1_epi8((char)((1 << CB) - 1));
    __m512i acc0[QAT_PACKED_TILE_TOKENS], acc1[QAT_PACKED_TILE_TOKENS];
    for (int j = 0; j < NT; j++)
        acc0[j] = acc1[j] = _mm512_setzero_si512();
    for (int64_t ch = 0; ch < chunks; ch++) {
        const __m512i c0 = _mm512_load_si512((const void *)(w0 + ch * 64));
        const __m512i c1 = _mm512_load_si512((const void *)(w1 + ch * 64));
        for (int s = 0; s < per_chunk; s++) {
            __m512i u0 = c0, u1 = c1;
            if (CB < 8) {
                u0 = _mm512_and_si512(_mm512_srli_epi16(c0, s * CB), mask);
                u1 = _mm512_and_si512(_mm512_srli_epi16(c1, s * CB), mask);
            }
            const int64_t k = 4 * (ch * per_chunk + s);
            for (int j = 0; j < NT; j++) {
                const __m512i a = broadcast4(t->acts + j * t->lda + k);
                acc0[j] = _mm512_dpbusd_epi32(acc0[j], u0, a);
                acc1[j] = _mm512_dpbusd_epi32(acc1[j], u1, a);
            }
        }
    }
    for (int j = 0; j < NT; j++) {
        const __m512i corr = _mm512_set1_epi32(m->offset * t->row_sum[j]);
        int32_t *acc = t->acc + j * QAT_PACKED_TILE_ROWS;
        _mm512_storeu_si512((void *)acc, _mm512_sub_epi32(acc0[j], corr));
        _mm512_storeu_si512((void *)(acc + QAT_PACKED_PANEL), _mm512_sub_epi32(acc1[j], corr));
    }
}

#define TILE_CASES(CB)                                                                                        \
    switch (t->tokens) {                                                                                      \
    case 1: tile(t, 1, CB); break;                                                                            \
    case 2: tile(t, 2, CB); break;                                                                            \
    case 3: tile(t, 3, CB); break;                                                                            \
    case 4: tile(t, 4, CB); break;                                                                            \
    case 5: tile(t, 5, CB); break;                                                                            \
    case 6: tile(t, 6, CB); break;                                                                            \
    case 7: tile(t, 7, CB); break;                                                                            \
    default: tile(t, 8, CB); break;                                                                           \
    }

AVX512 static void tile_2bit(const qat_packed_tile *t) { TILE_CASES(2) }
AVX512 static void tile_4bit(const qat_packed_tile *t) { TILE_CASES(4) }
AVX512 static void tile_8bit(const qat_packed_tile *t) { TILE_CASES(8) }

void qat_packed_tile_avx512vnni(const qat_packed_tile *t)
{
    switch (t->m->code_bits) {
    case 2: tile_2bit(t); break;
    case 4: tile_4bit(t); break;
    default: tile_8bit(t); break;
    }
}

#endif
