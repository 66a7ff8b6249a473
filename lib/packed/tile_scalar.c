/* The reference micro-kernel: plain signed products (u - offset) * a in
 * int32; no offset trick, so it checks the SIMD paths' correction term.
 * The codes are decoded KC inputs at a time into rows of int16, and each
 * (token, row) pair takes a dot product over them: the integer sums are
 * exact in any order, and this order is the one compilers vectorise
 * (pmaddwd on x86-64's baseline). Decoding one quad at a time and adding
 * four products per row, it was most of the packed tests' time under
 * valgrind, where every path is checked against it. */
#include "packed/packed_internal.h"

/* Inputs decoded at a time: 16 rows x 256 x 2 bytes = 8 KiB of stack. */
#define KC 256

void qat_packed_tile_scalar(const qat_packed_tile *t)
{
    const qat_packed_matrix *m = t->m;
    const int bits = m->code_bits, per_chunk = 8 / bits;
    const unsigned mask = (1u << bits) - 1u;
    int16_t q[QAT_PACKED_PANEL][KC];
    for (int tt = 0; tt < t->tokens; tt++)
        for (int r = 0; r < QAT_PACKED_TILE_ROWS; r++)
            t->acc[tt * QAT_PACKED_TILE_ROWS + r] = 0;
    for (int p = 0; p < 2; p++) {
        const uint8_t *panel = m->data + (size_t)(t->panel + p) * m->panel_bytes;
        for (int64_t k0 = 0; k0 < m->kpad; k0 += KC) {
            const int kn = m->kpad - k0 < KC ? (int)(m->kpad - k0) : KC;
            for (int kq = 0; kq < kn / 4; kq++) {
                const int64_t kb = k0 / 4 + kq;
                const uint8_t *chunk = panel + (kb / per_chunk) * 64;
                const int shift = (int)(kb % per_chunk) * bits;
                for (int r = 0; r < QAT_PACKED_PANEL; r++)
                    for (int i = 0; i < 4; i++)
                        q[r][4 * kq + i] = (int16_t)((int)((chunk[4 * r + i] >> shift) & mask) - m->offset);
            }
            for (int tt = 0; tt < t->tokens; tt++) {
                const int8_t *a = t->acts + tt * t->lda + k0;
                int32_t *acc = t->acc + tt * QAT_PACKED_TILE_ROWS + p * QAT_PACKED_PANEL;
                for (int r = 0; r < QAT_PACKED_PANEL; r++) {
                    int32_t s = 0;
                    for (int k = 0; k < kn; k++)
                        s += (int32_t)q[r][k] * (int32_t)a[k];
                    acc[r] += s;
                }
            }
        }
    }
}
