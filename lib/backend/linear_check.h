/* qat_linear_desc validation shared by the core and by backend modules
 * (which cannot call the core's error functions): header-only, as
 * gemm_check.h. */
#ifndef QAT_LIB_LINEAR_CHECK_H
#define QAT_LIB_LINEAR_CHECK_H

#include <stdio.h>

#include "backend/backend.h"

/* Returns NULL when the descriptor is valid, else writes why into buf and
 * returns buf. */
static inline const char *qat_linear_desc_problem(const qat_linear_desc *d, char *buf, size_t cap)
{
    if (!d)
        snprintf(buf, cap, "linear_fwd: NULL descriptor");
    else if (d->rows < 0 || d->in < 0 || d->out < 0)
        snprintf(buf, cap, "linear_fwd: negative size (rows %lld, in %lld, out %lld)", (long long)d->rows,
                 (long long)d->in, (long long)d->out);
    else if (d->act != QAT_ACTIVATION_NONE && d->act != QAT_ACTIVATION_GELU)
        snprintf(buf, cap, "linear_fwd: activation %d is neither none nor GELU", (int)d->act);
    else if ((d->act == QAT_ACTIVATION_GELU) != (d->pre != NULL))
        snprintf(buf, cap, "linear_fwd: %s", d->pre ? "a pre-activation output without GELU"
                                                     : "GELU needs the pre-activation output (pre)");
    else if (d->rows > 0 && d->out > 0 && (!d->y || (d->in > 0 && (!d->x || !d->w))))
        snprintf(buf, cap, "linear_fwd: NULL x, w or y");
    else
        return NULL;
    return buf;
}

#endif
