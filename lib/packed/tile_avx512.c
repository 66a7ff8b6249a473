/* AVX-512 VNNI micro-kernel: a call takes a pair of panels (32 output
 * rows) and up to 128 tokens, in groups of 8 held in 16 zmm accumulators.
 * Per k-quad, each panel's 64 bytes (16 rows x 4 codes, unpacked from 2 or
 * 4 bits with one shift and one mask) meet a broadcast of the token's 4
 * activation codes in one vpdpbusd, which sums the four u8 x s8 products
 * straight into int32 — no intermediate saturation, so exact for every
 * code width; the offset correction u = q + offset is subtracted once at
 * the end. A group's outputs are written by the tile's finish as soon as
 * its sums are whole, while they are in L1. With one call per 8 tokens
 * and the epilogue after it, the driver's per-call work and the
 * epilogue took 9.5 % of a BERT-base forward's samples on Zen 4, 5 % this
 * way, and the forward ran 5-10 % faster (docs/benchmarks.md). */
#include <string.h>

#include "packed/packed_internal.h"

#if defined(QAT_PACKED_X86)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vnni")))

/* Tokens of a group: 2 x 8 accumulators, 2 panel registers and the
 * decoded codes fit the 32 zmm registers. */
#define GROUP 8

AVX512 static QAT_PACKED_INLINE __m512i broadcast4(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

/* Tokens [j0, j0 + NT) (NT 1..8) of the tile, codes of CB bits (2, 4 or
 * 8): both constants once inlined, so the loops unroll and the
 * accumulators live in registers. */
AVX512 static QAT_PACKED_INLINE void group(const qat_packed_tile *t, int j0, const int NT, const int CB)
{
    const qat_packed_matrix *m = t->m;
    const uint8_t *w0 = m->data + (size_t)t->panel * m->panel_bytes, *w1 = w0 + m->panel_bytes;
    const int8_t *acts = t->acts + (int64_t)j0 * t->lda;
    const int per_chunk = 8 / CB;
    const int64_t chunks = m->kpad / 4 / per_chunk;
    const __m512i mask = _mm512_set1_epi8((char)((1 << CB) - 1));
    __m512i acc0[GROUP], acc1[GROUP];
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
                const __m512i a = broadcast4(acts + j * t->lda + k);
                acc0[j] = _mm512_dpbusd_epi32(acc0[j], u0, a);
                acc1[j] = _mm512_dpbusd_epi32(acc1[j], u1, a);
            }
        }
    }
    for (int j = 0; j < NT; j++) {
        const __m512i corr = _mm512_set1_epi32(m->offset * t->row_sum[j0 + j]);
        int32_t *acc = t->acc + (j0 + j) * QAT_PACKED_TILE_ROWS;
        _mm512_store_si512((void *)acc, _mm512_sub_epi32(acc0[j], corr));
        _mm512_store_si512((void *)(acc + QAT_PACKED_PANEL), _mm512_sub_epi32(acc1[j], corr));
    }
}

/* Every group of the call, each finished as soon as it is computed. */
#define TILE_GROUPS(CB)                                                                                       \
    for (int j0 = 0; j0 < t->tokens; j0 += GROUP) {                                                           \
        const int n = t->tokens - j0 < GROUP ? t->tokens - j0 : GROUP;                                        \
        switch (n) {                                                                                          \
        case 1: group(t, j0, 1, CB); break;                                                                   \
        case 2: group(t, j0, 2, CB); break;                                                                   \
        case 3: group(t, j0, 3, CB); break;                                                                   \
        case 4: group(t, j0, 4, CB); break;                                                                   \
        case 5: group(t, j0, 5, CB); break;                                                                   \
        case 6: group(t, j0, 6, CB); break;                                                                   \
        case 7: group(t, j0, 7, CB); break;                                                                   \
        default: group(t, j0, 8, CB); break;                                                                  \
        }                                                                                                     \
        if (t->finish)                                                                                        \
            t->finish(t, j0, n);                                                                              \
    }

AVX512 static void tile_2bit(const qat_packed_tile *t) { TILE_GROUPS(2) }
AVX512 static void tile_4bit(const qat_packed_tile *t) { TILE_GROUPS(4) }
AVX512 static void tile_8bit(const qat_packed_tile *t) { TILE_GROUPS(8) }

void qat_packed_tile_avx512vnni(const qat_packed_tile *t)
{
    switch (t->m->code_bits) {
    case 2: tile_2bit(t); break;
    case 4: tile_4bit(t); break;
    default: tile_8bit(t); break;
    }
}

#endif
