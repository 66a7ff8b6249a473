/* AMX-INT8 micro-kernel (QAT_ISA=amx): a tile of 32 output rows (two
 * panels) x up to 32 tokens in four 16 x 16 int32 accumulator tiles.
 *
 * tdpbssd C[M][N] += A[M][K] . B[K/4][4 N] takes signed bytes on both
 * sides, so the weights are the signed codes q themselves and the sums are
 * exact with no offset term to undo (|q|, |a| <= 128 and K <= 65536 keep
 * every int32 below 2^31). A is 16 tokens x 64 activation codes, read in
 * place (the rows are kpad bytes, zero padded; the buffer has whole 16-row
 * tiles: QAT_PACKED_TOKEN_ALIGN). B is 64 inputs x 16 outputs in groups of
 * 4 inputs, which is the panels' k-quad order at 8 bits: 16 quads x 64
 * bytes (4 codes of each of 16 rows), one 1 KiB run per 64 inputs, made
 * once by qat_packed_amx_prepare from 2- and 4-bit panels. Panels of 8-bit
 * codes (LSQ 5-8 bits) already are that layout, holding u = q + offset:
 * those run in place with tdpbsud (signed A, unsigned B) and, as on
 * avx512vnni, offset * sum(a) subtracted after, with no copy of the weights.
 *
 * Per 64 inputs: 2 A and 2 B tile loads for 4 tdpbssd (each A and B used
 * twice), the most reuse 8 tile registers allow. C tile (i, j) is tokens
 * 16 i.., rows 16 j.., stored straight into the driver's acc layout
 * (acc[t * 32 + r]). The tile configuration is per thread: the driver
 * calls qat_packed_amx_begin before a thread's first tile of a loop and
 * qat_packed_amx_end after its last, which releases the tiles so that
 * later AVX-512 code does not run with the tile state in use. */
#include <stdlib.h>

#include "core/error.h"
#include "packed/packed_internal.h"

/* Bytes of one panel in the tile layout: 16 rows x kpad codes. */
static size_t tile_panel_bytes(const qat_packed_matrix *m)
{
    return (size_t)m->kpad * QAT_PACKED_PANEL;
}

int qat_packed_amx_ready(const qat_packed_matrix *m)
{
    return m->code_bits == 8 || m->tiles;
}

qat_status qat_packed_amx_prepare(qat_packed_matrix *m)
{
    if (qat_packed_amx_ready(m))
        return QAT_OK;
    const size_t pb = tile_panel_bytes(m);
    int8_t *q = aligned_alloc(64, pb * (size_t)m->panels);
    if (!q)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "packed: amx: out of memory for [%lld, %lld] codes",
                        (long long)m->out, (long long)m->kpad);
    /* Quad kb of a panel is the same 64 bytes (byte 4 r + j: row 16 p + r,
     * input 4 kb + j) in both layouts, decoded from its chunk. Rows past
     * out hold u = offset, so q = 0; inputs past in hold u = 0 and are
     * set to q = 0. */
    const int bits = m->code_bits, per_chunk = 8 / bits;
    const unsigned mask = (1u << bits) - 1u;
    for (int64_t p = 0; p < m->panels; p++)
        for (int64_t kb = 0; kb < m->kpad / 4; kb++) {
            const uint8_t *chunk = m->data + (size_t)p * m->panel_bytes + (size_t)(kb / per_chunk) * 64;
            const int shift = (int)(kb % per_chunk) * bits;
            int8_t *dst = q + (size_t)p * pb + (size_t)kb * 64;
            for (int i = 0; i < 64; i++)
                dst[i] = (int8_t)((int)((chunk[i] >> shift) & mask) - m->offset);
            if (4 * kb + 4 > m->in)
                for (int i = 0; i < 64; i++)
                    dst[i] = 4 * kb + i % 4 < m->in ? dst[i] : 0;
        }
    m->tiles = q;
    return QAT_OK;
}

#if defined(QAT_PACKED_X86)
#include <immintrin.h>

#define AMX __attribute__((target("amx-tile,amx-int8,avx512f")))
#define INLINE inline __attribute__((always_inline))

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

/* B's codes: signed (m->tiles, tdpbssd) or UNSIGNED (the 8-bit panels,
 * tdpbsud), a constant once inlined. */
AMX static INLINE void tile(const qat_packed_tile *t, const int UNSIGNED)
{
    const qat_packed_matrix *m = t->m;
    const size_t pb = tile_panel_bytes(m);
    const int8_t *b0 = (UNSIGNED ? (const int8_t *)m->data : m->tiles) + (size_t)t->panel * pb, *b1 = b0 + pb;
    const int8_t *a0 = t->acts;
    const long lda = (long)t->lda;
    const int64_t K = m->kpad;
    int32_t *acc = t->acc;
    const long ldc = QAT_PACKED_TILE_ROWS * (long)sizeof *acc;
    /* Tokens 16.. only when the tile has them (the loop is unswitched on
     * `both`: a constant for the call). */
    const int both = t->tokens > 16;
    const int8_t *a1 = both ? a0 + 16 * t->lda : a0;
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (int64_t k = 0; k < K; k += 64) {
        _tile_loadd(4, a0 + k, lda);
        _tile_loadd(6, b0 + k * 16, 64);
        _tile_loadd(7, b1 + k * 16, 64);
        if (UNSIGNED) {
            _tile_dpbsud(0, 4, 6);
            _tile_dpbsud(1, 4, 7);
        } else {
            _tile_dpbssd(0, 4, 6);
            _tile_dpbssd(1, 4, 7);
        }
        if (both) {
            _tile_loadd(5, a1 + k, lda);
            if (UNSIGNED) {
                _tile_dpbsud(2, 5, 6);
                _tile_dpbsud(3, 5, 7);
            } else {
                _tile_dpbssd(2, 5, 6);
                _tile_dpbssd(3, 5, 7);
            }
        }
    }
    if (both) {
        _tile_stored(2, acc + 16 * QAT_PACKED_TILE_ROWS, ldc);
        _tile_stored(3, acc + 16 * QAT_PACKED_TILE_ROWS + QAT_PACKED_PANEL, ldc);
    }
    _tile_stored(0, acc, ldc);
    _tile_stored(1, acc + QAT_PACKED_PANEL, ldc);
    if (UNSIGNED)
        for (int j = 0; j < t->tokens; j++) {
            const int32_t corr = m->offset * t->row_sum[j];
            for (int r = 0; r < QAT_PACKED_TILE_ROWS; r++)
                acc[j * QAT_PACKED_TILE_ROWS + r] -= corr;
        }
}

AMX void qat_packed_tile_amx(const qat_packed_tile *t)
{
    if (t->m->tiles)
        tile(t, 0);
    else
        tile(t, 1);
}

#endif
