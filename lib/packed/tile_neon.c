/* ARM64 micro-kernel (Armv8.2 dot product, sdot) over the matrix layout
 * (matrix.c). A quad's 64 bytes are four 16-byte vectors of 4 rows x 4
 * inputs, exactly sdot's lanes: vdotq_s32 adds the 4 products of a row's
 * inputs with a token's 4 codes (broadcast) into that row's int32 lane.
 * sdot is s8 x s8, so the codes go back to signed, q = u - offset (every
 * width's q fits int8), and no correction term is needed; the int32 sums
 * are exact. One panel x up to 4 tokens per pass (16 accumulators + 8
 * weight vectors of the 32 registers). */
#include "packed/packed_internal.h"

#if defined(QAT_PACKED_ARM64)
#pragma GCC push_options
#pragma GCC target("arch=armv8.2-a+dotprod")
#include <arm_neon.h>
#include <string.h>

static QAT_PACKED_INLINE void panel_sdot(const qat_packed_tile *t, const uint8_t *w, int j0, int32_t *acc, const int NT,
                                         const int CB)
{
    const qat_packed_matrix *m = t->m;
    const int per_chunk = 8 / CB;
    const int64_t chunks = m->kpad / 4 / per_chunk;
    const uint8x16_t mask = vdupq_n_u8((uint8_t)((1 << CB) - 1)), off = vdupq_n_u8((uint8_t)m->offset);
    int32x4_t s[4][4];
    for (int j = 0; j < NT; j++)
        for (int g = 0; g < 4; g++)
            s[j][g] = vdupq_n_s32(0);
    for (int64_t ch = 0; ch < chunks; ch++) {
        uint8x16_t c[4];
        for (int g = 0; g < 4; g++)
            c[g] = vld1q_u8(w + ch * 64 + 16 * g);
        for (int sh = 0; sh < per_chunk; sh++) {
            int8x16_t q[4];
            for (int g = 0; g < 4; g++) {
                uint8x16_t u = c[g];
                if (CB < 8)
                    u = vandq_u8(vshlq_u8(c[g], vdupq_n_s8((int8_t)(-sh * CB))), mask);
                q[g] = vreinterpretq_s8_u8(vsubq_u8(u, off));
            }
            const int64_t k = 4 * (ch * per_chunk + sh);
            for (int j = 0; j < NT; j++) {
                int32_t v;
                memcpy(&v, t->acts + (j0 + j) * t->lda + k, 4);
                const int8x16_t a = vreinterpretq_s8_s32(vdupq_n_s32(v));
                for (int g = 0; g < 4; g++)
                    s[j][g] = vdotq_s32(s[j][g], q[g], a);
            }
        }
    }
    for (int j = 0; j < NT; j++)
        for (int g = 0; g < 4; g++)
            vst1q_s32(acc + j * QAT_PACKED_TILE_ROWS + 4 * g, s[j][g]);
}

#define PANEL_KERNEL panel_sdot
#define TILE_ENTRY qat_packed_tile_neon
#include "packed/tile_arm_driver.h"

#pragma GCC pop_options
#endif
