/* Validation of the fused training attention's descriptor, shared by the
 * core (attention_validate.c) and by backend modules (which cannot call
 * the core's error functions): header-only, as gemm_check.h. */
#ifndef QAT_LIB_ATTENTION_CHECK_H
#define QAT_LIB_ATTENTION_CHECK_H

#include <stdio.h>

#include "backend/kernels.h"

/* NULL when the forward's (backward 0) or the backward's (1) descriptor is
 * valid, else why, written into buf. *empty (when valid): nothing to
 * compute; the backward of lq = 0 query rows over lk > 0 keys is not empty
 * (dk and dv are written: zeros). */
static inline const char *qat_attention_train_desc_problem(const qat_attention_train_desc *d, int backward,
                                                            char *buf, size_t cap, int *empty)
{
    const char *who = backward ? "attention_bwd" : "attention_train_fwd";
    *empty = 0;
    if (!d) {
        snprintf(buf, cap, "%s: NULL descriptor", who);
        return buf;
    }
    const qat_attention_desc *a = &d->a;
    const long long width = (long long)(a->heads * a->head_dim);
    if (a->batch < 0 || a->heads < 0 || a->lq < 0 || a->lk < 0 || a->head_dim < 0) {
        snprintf(buf, cap, "%s: negative size (batch %lld, heads %lld, lq %lld, lk %lld, head_dim %lld)", who,
                 (long long)a->batch, (long long)a->heads, (long long)a->lq, (long long)a->lk,
                 (long long)a->head_dim);
        return buf;
    }
    if (!(d->dropout >= 0.0f && d->dropout < 1.0f)) {
        snprintf(buf, cap, "%s: dropout %g outside [0, 1)", who, (double)d->dropout);
        return buf;
    }
    if (a->batch == 0 || a->heads == 0 || a->head_dim == 0 || (a->lq == 0 && (!backward || a->lk == 0))) {
        *empty = 1;
        return NULL;
    }
    if (a->lk == 0)
        snprintf(buf, cap, "%s: no keys (lk = 0) for %lld query rows", who, (long long)a->lq);
    else if (a->ldq < width || a->ldk < width || a->ldv < width || a->ldo < width)
        snprintf(buf, cap, "%s: row strides (q %lld, k %lld, v %lld, out %lld) below heads x head_dim = %lld", who,
                 (long long)a->ldq, (long long)a->ldk, (long long)a->ldv, (long long)a->ldo, width);
    else if (!a->q || !a->k || !a->v || !a->out)
        snprintf(buf, cap, "%s: NULL q, k, v or out", who);
    else if (backward && (!d->dout || !d->dq || !d->dk || !d->dv))
        snprintf(buf, cap, "%s: NULL dout, dq, dk or dv", who);
    else if (backward && (d->lddo < width || d->ldg < width))
        snprintf(buf, cap, "%s: row strides (dout %lld, dq/dk/dv %lld) below %lld", who, (long long)d->lddo,
                 (long long)d->ldg, width);
    else
        return NULL;
    return buf;
}

#endif
