/* ARM64 micro-kernel with the Armv8.6 int8 matrix multiply (i8mm, smmla)
 * over the matrix layout (matrix.c). vmmlaq_s32(r, a, b) adds the 2 x 2
 * products of a's two rows of 8 signed bytes with b's two rows: 32
 * multiply-adds in one instruction, twice sdot's 16 (tile_neon.c). Here
 * a's rows are two tokens' 8 codes and b's two weight rows' 8 codes.
 *
 * A quad's 64 bytes are four 16-byte vectors of 4 rows x 4 inputs. Two
 * consecutive quads, zipped by 32-bit lanes (vzip1q_u32 / vzip2q_u32),
 * give rows (4g, 4g + 1) and (4g + 2, 4g + 3) with 8 inputs each: exactly
 * b's layout. As in the sdot kernel the codes go back to signed, q = u -
 * offset (every width's q fits int8), so no correction term is needed; the
 * int32 sums are exact. One panel x up to 4 tokens (two pairs) per pass:
 * 16 accumulators, 8 weight vectors, 2 token vectors of the 32 registers.
 * An odd last token runs paired with itself and only its own lanes are
 * stored. */
#include "packed/packed_internal.h"

#if defined(QAT_PACKED_ARM64)
#pragma GCC push_options
#pragma GCC target("arch=armv8.2-a+i8mm")
#include <arm_neon.h>

/* Rows 4g..4g+3 x the 4 inputs of quad q of a panel of CB-bit codes, signed. */
static QAT_PACKED_INLINE int8x16_t quad_rows(const uint8_t *w, int64_t q, int g, const int CB, uint8x16_t mask,
                                             uint8x16_t off)
{
    const int per_chunk = 8 / CB;
    uint8x16_t u = vld1q_u8(w + q / per_chunk * 64 + 16 * g);
    if (CB < 8)
        u = vandq_u8(vshlq_u8(u, vdupq_n_s8((int8_t)(-(int)(q % per_chunk) * CB))), mask);
    return vreinterpretq_s8_u8(vsubq_u8(u, off));
}

/* Panel w's 16 rows x tokens j0 .. j0 + NT - 1 (NT 1..4) into acc
 * (acc[j * QAT_PACKED_TILE_ROWS + r], j from j0). */
static QAT_PACKED_INLINE void panel_mmla(const qat_packed_tile *t, const uint8_t *w, int j0, int32_t *acc, const int NT,
                                         const int CB)
{
    const qat_packed_matrix *m = t->m;
    const int NP = (NT + 1) / 2;
    const int64_t quads = m->kpad / 4;
    const uint8x16_t mask = vdupq_n_u8((uint8_t)((1 << CB) - 1)), off = vdupq_n_u8((uint8_t)m->offset);
    const int8_t *tok[4];
    for (int i = 0; i < 4; i++)
        tok[i] = t->acts + (j0 + (i < NT ? i : NT - 1)) * t->lda;
    int32x4_t s[2][8];
    for (int p = 0; p < NP; p++)
        for (int rp = 0; rp < 8; rp++)
            s[p][rp] = vdupq_n_s32(0);
    /* kpad is a multiple of QAT_PACKED_K_ALIGN: quads come in pairs. */
    for (int64_t q = 0; q < quads; q += 2) {
        int8x16_t b[8];
        for (int g = 0; g < 4; g++) {
            const uint32x4_t lo = vreinterpretq_u32_s8(quad_rows(w, q, g, CB, mask, off));
            const uint32x4_t hi = vreinterpretq_u32_s8(quad_rows(w, q + 1, g, CB, mask, off));
            b[2 * g] = vreinterpretq_s8_u32(vzip1q_u32(lo, hi));
            b[2 * g + 1] = vreinterpretq_s8_u32(vzip2q_u32(lo, hi));
        }
        const int64_t k = 4 * q;
        for (int p = 0; p < NP; p++) {
            const int8x16_t a = vcombine_s8(vld1_s8(tok[2 * p] + k), vld1_s8(tok[2 * p + 1] + k));
            for (int rp = 0; rp < 8; rp++)
                s[p][rp] = vmmlaq_s32(s[p][rp], a, b[rp]);
        }
    }
    /* s[p][rp] = [t.r, t.(r + 1), (t + 1).r, (t + 1).(r + 1)], r = 2 rp: a
     * token's rows 4g..4g+3 are the low (t) or high (t + 1) halves of row
     * pairs 2g and 2g + 1. */
    for (int p = 0; p < NP; p++)
        for (int g = 0; g < 4; g++) {
            const int64x2_t x = vreinterpretq_s64_s32(s[p][2 * g]), y = vreinterpretq_s64_s32(s[p][2 * g + 1]);
            vst1q_s32(acc + (2 * p) * QAT_PACKED_TILE_ROWS + 4 * g, vreinterpretq_s32_s64(vzip1q_s64(x, y)));
            if (2 * p + 1 < NT)
                vst1q_s32(acc + (2 * p + 1) * QAT_PACKED_TILE_ROWS + 4 * g,
                          vreinterpretq_s32_s64(vzip2q_s64(x, y)));
        }
}

#define PANEL_KERNEL panel_mmla
#define TILE_ENTRY qat_packed_tile_i8mm
#include "packed/tile_arm_driver.h"

#pragma GCC pop_options
#endif
