/* The reference panel kernel: plain signed products (u - offset) * a, no
 * offset trick, so it checks the SIMD paths' correction term. */
#include "packed/packed_internal.h"

void qat_packed_panel_scalar(const qat_packed_panel_args *p)
{
    for (int64_t t = 0; t < p->tokens; t++) {
        const int8_t *a = p->acts + t * p->lda;
        for (int64_t r = 0; r < p->rows; r++) {
            const uint8_t *u = p->panel + r * p->kpad;
            int32_t acc = 0;
            for (int64_t i = 0; i < p->kpad; i++)
                acc += ((int32_t)u[i] - p->offset) * (int32_t)a[i];
            p->acc[t * p->ldacc + r] = acc;
        }
    }
}
