/* The reference micro-kernel: plain signed products (u - offset) * a in
 * int32, decoded from the matrix layout one quad at a time; no offset
 * trick, so it checks the SIMD paths' correction term. */
#include "packed/packed_internal.h"

void qat_packed_tile_scalar(const qat_packed_tile *t)
{
    const qat_packed_matrix *m = t->m;
    const int bits = m->code_bits, per_chunk = 8 / bits;
    const unsigned mask = (1u << bits) - 1u;
    for (int tt = 0; tt < t->tokens; tt++)
        for (int r = 0; r < QAT_PACKED_TILE_ROWS; r++)
            t->acc[tt * QAT_PACKED_TILE_ROWS + r] = 0;
    for (int p = 0; p < 2; p++) {
        const uint8_t *panel = m->data + (size_t)(t->panel + p) * m->panel_bytes;
        for (int64_t kb = 0; kb < m->kpad / 4; kb++) {
            const uint8_t *chunk = panel + (kb / per_chunk) * 64;
            const int shift = (int)(kb % per_chunk) * bits;
            int32_t q[64];
            for (int i = 0; i < 64; i++)
                q[i] = (int32_t)((chunk[i] >> shift) & mask) - m->offset;
            for (int tt = 0; tt < t->tokens; tt++) {
                const int8_t *a = t->acts + tt * t->lda + 4 * kb;
                int32_t *acc = t->acc + tt * QAT_PACKED_TILE_ROWS + p * QAT_PACKED_PANEL;
                for (int r = 0; r < QAT_PACKED_PANEL; r++)
                    acc[r] += q[4 * r] * a[0] + q[4 * r + 1] * a[1] + q[4 * r + 2] * a[2] + q[4 * r + 3] * a[3];
            }
        }
    }
}
