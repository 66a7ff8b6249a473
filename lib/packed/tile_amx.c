/* AMX-INT8 micro-kernel (QAT_ISA=amx): a tile of 32 output rows (two
 * panels) x up to QAT_PACKED_AMX_TOKENS tokens, 32 tokens at a time in four
 * 16 x 16 int32 accumulator tiles.
 *
 * tdpbsud C[M][N] += A[M][K] . B[K/4][4 N] takes signed bytes in A (the
 * activation codes, read in place: rows kpad bytes apart, zero padded, the
 * buffer holding whole 16-row tiles: QAT_PACKED_TOKEN_ALIGN) and unsigned
 * bytes in B, 64 inputs x 16 outputs in groups of 4 inputs: exactly one
 * 8-bit panel's k-quad order (16 quads x 64 bytes, 4 codes of each of 16
 * rows). B is u = q + offset, so as on avx512vnni offset * sum(a) is
 * subtracted after; every sum is an exact int32 (|a| <= 128, u < 256,
 * K <= 65536).
 *
 * 8-bit panels (LSQ 5-8 bits) are B tiles as they are. Narrower ones
 * (ternary 2-bit, LSQ 2-4 bits; matrix.c stores quad s of a 64-byte chunk
 * in bits s * code_bits of each byte) are decoded here, one shift and one
 * mask per 64 bytes, into an L1 buffer of KC inputs for both panels, which
 * then serves every token of the tile. Decoding once per 128 tokens costs
 * less than streaming a stored 8-bit copy: at 1x128 the 8-bit copy of
 * ternary BERT-base (85 MB) took longer to read than the GEMMs' arithmetic
 * (docs/benchmarks.md, "amx: 2-bit panels decoded in the kernel"), and
 * the 2-bit panels are a quarter of it.
 *
 * Per 64 inputs and 32 tokens: 2 A and 2 B tile loads for 4 tdpbsud (each
 * A and B used twice, the most reuse 8 tile registers allow). Across the KC
 * blocks of a long input, the accumulators go to the driver's acc layout
 * (acc[t * 32 + r]) and come back. The tile configuration is per thread:
 * the driver calls qat_packed_amx_begin before a thread's first tile of a
 * loop and qat_packed_amx_end after its last, which releases the tiles so
 * that later AVX-512 code does not run with the tile state in use. */
#include "packed/packed_internal.h"

#if defined(QAT_PACKED_X86)
#include <immintrin.h>

#define AMX __attribute__((target("amx-tile,amx-int8,avx512f,avx512bw")))

/* The LDTILECFG operand: palette 1, eight tiles of 16 rows x 64 bytes
 * (tmm0..3 the accumulators, tmm4, 5 activations, tmm6, 7 weights). A
 * constant, so all 64 bytes are in memory whatever the compiler assumes
 * the instruction reads. */
typedef struct amx_config {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} amx_config;
_Static_assert(sizeof(amx_config) == 64, "LDTILECFG takes 64 bytes");

static const amx_config config = {
    .palette = 1,
    .colsb = {64, 64, 64, 64, 64, 64, 64, 64},
    .rows = {16, 16, 16, 16, 16, 16, 16, 16},
};

AMX void qat_packed_amx_begin(void)
{
    _tile_loadconfig(&config);
}

AMX void qat_packed_amx_end(void)
{
    _tile_release();
}

/* Inputs decoded at a time: 2 panels x 16 rows x KC codes = 16 KiB, which
 * stays in L1 beside the activation tiles streaming past. */
#define KC 512

/* Quads [q0, q0 + n) of panel bytes `src` (BITS-bit codes, quads
 * 8 / BITS to a chunk; q0 a multiple of that) as 8-bit codes at dst. */
AMX static QAT_PACKED_INLINE void decode(const uint8_t *src, int64_t q0, int64_t n, uint8_t *dst, const int BITS)
{
    const int per_chunk = 8 / BITS;
    const __m512i mask = _mm512_set1_epi8((char)((1u << BITS) - 1u));
    const uint8_t *chunk = src + q0 / per_chunk * 64;
    for (int64_t q = 0; q < n; q += per_chunk, chunk += 64) {
        const __m512i v = _mm512_load_si512((const void *)chunk);
        for (int s = 0; s < per_chunk; s++)
            _mm512_store_si512((void *)(dst + (q + s) * 64), _mm512_and_si512(_mm512_srli_epi16(v, s * BITS), mask));
    }
}

/* 32 rows x `tokens` (<= 32) tokens over inputs [0, kn) of the B tiles at
 * b0, b1 (1 KiB per 64 inputs) and the activations at a0; the accumulators
 * start at 0 (first) or at acc's values. */
AMX static QAT_PACKED_INLINE void block(const int8_t *a0, long lda, int tokens, const uint8_t *b0, const uint8_t *b1,
                                        int64_t kn, int first, int32_t *acc)
{
    const long ldc = QAT_PACKED_TILE_ROWS * (long)sizeof *acc;
    int32_t *acc1 = acc + 16 * QAT_PACKED_TILE_ROWS;
    /* Tokens 16.. only when the tile has them (the loop is unswitched on
     * `both`: a constant for the call). */
    const int both = tokens > 16;
    const int8_t *a1 = both ? a0 + 16 * lda : a0;
    if (first) {
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
    } else {
        _tile_loadd(0, acc, ldc);
        _tile_loadd(1, acc + QAT_PACKED_PANEL, ldc);
        if (both) {
            _tile_loadd(2, acc1, ldc);
            _tile_loadd(3, acc1 + QAT_PACKED_PANEL, ldc);
        }
    }
    for (int64_t k = 0; k < kn; k += 64) {
        _tile_loadd(4, a0 + k, lda);
        _tile_loadd(6, b0 + k * 16, 64);
        _tile_loadd(7, b1 + k * 16, 64);
        _tile_dpbsud(0, 4, 6);
        _tile_dpbsud(1, 4, 7);
        if (both) {
            _tile_loadd(5, a1 + k, lda);
            _tile_dpbsud(2, 5, 6);
            _tile_dpbsud(3, 5, 7);
        }
    }
    if (both) {
        _tile_stored(2, acc1, ldc);
        _tile_stored(3, acc1 + QAT_PACKED_PANEL, ldc);
    }
    _tile_stored(0, acc, ldc);
    _tile_stored(1, acc + QAT_PACKED_PANEL, ldc);
}

/* The tile with BITS-bit panels (a constant once inlined), KC inputs at a
 * time: narrow panels decoded into buf, 8-bit ones read in place. */
AMX static QAT_PACKED_INLINE void tile(const qat_packed_tile *t, const int BITS)
{
    const qat_packed_matrix *m = t->m;
    const int64_t K = m->kpad;
    _Alignas(64) uint8_t buf[BITS == 8 ? 1 : 2 * KC * QAT_PACKED_PANEL];
    for (int64_t k0 = 0; k0 < K; k0 += KC) {
        const int64_t kn = K - k0 < KC ? K - k0 : KC;
        const uint8_t *b0 = m->data + (size_t)t->panel * m->panel_bytes, *b1 = b0 + m->panel_bytes;
        if (BITS == 8) {
            b0 += k0 * QAT_PACKED_PANEL;
            b1 += k0 * QAT_PACKED_PANEL;
        } else {
            decode(b0, k0 / 4, kn / 4, buf, BITS);
            decode(b1, k0 / 4, kn / 4, buf + KC * QAT_PACKED_PANEL, BITS);
            b0 = buf;
            b1 = buf + KC * QAT_PACKED_PANEL;
        }
        for (int s0 = 0; s0 < t->tokens; s0 += 32) {
            const int n = t->tokens - s0 < 32 ? t->tokens - s0 : 32;
            block(t->acts + s0 * t->lda + k0, (long)t->lda, n, b0, b1, kn, k0 == 0,
                  t->acc + s0 * QAT_PACKED_TILE_ROWS);
        }
    }
    for (int j = 0; j < t->tokens; j++) {
        const int32_t corr = m->offset * t->row_sum[j];
        for (int r = 0; r < QAT_PACKED_TILE_ROWS; r++)
            t->acc[j * QAT_PACKED_TILE_ROWS + r] -= corr;
    }
}

AMX void qat_packed_tile_amx(const qat_packed_tile *t)
{
    switch (t->m->code_bits) {
    case 2:
        tile(t, 2);
        break;
    case 4:
        tile(t, 4);
        break;
    default:
        tile(t, 8);
        break;
    }
}

#endif
