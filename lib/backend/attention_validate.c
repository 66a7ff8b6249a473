/* The checks every host backend runs on a qat_attention_desc first. */
#include "backend/attention_check.h"
#include "backend/backend.h"
#include "core/error.h"

qat_status qat_attention_desc_validate(const qat_attention_desc *d)
{
    QAT_CHECK_ARG(d, "attention_fwd: NULL descriptor");
    QAT_CHECK_ARG(d->batch >= 0 && d->heads >= 0 && d->lq >= 0 && d->lk >= 0 && d->head_dim >= 0,
                  "attention_fwd: negative size (batch %lld, heads %lld, lq %lld, lk %lld, head_dim %lld)",
                  (long long)d->batch, (long long)d->heads, (long long)d->lq, (long long)d->lk,
                  (long long)d->head_dim);
    if (d->batch == 0 || d->heads == 0 || d->lq == 0 || d->head_dim == 0)
        return QAT_OK;
    QAT_CHECK_ARG(d->lk > 0, "attention_fwd: no keys (lk = 0) for %lld query rows", (long long)d->lq);
    const int64_t width = d->heads * d->head_dim;
    QAT_CHECK_ARG(d->ldq >= width && d->ldk >= width && d->ldv >= width && d->ldo >= width,
                  "attention_fwd: row strides (q %lld, k %lld, v %lld, out %lld) below heads x head_dim = %lld",
                  (long long)d->ldq, (long long)d->ldk, (long long)d->ldv, (long long)d->ldo, (long long)width);
    QAT_CHECK_ARG(d->q && d->k && d->v && d->out, "attention_fwd: NULL q, k, v or out");
    return QAT_OK;
}

qat_status qat_attention_train_desc_validate(const qat_attention_train_desc *d, int backward)
{
    char why[256];
    int empty;
    if (qat_attention_train_desc_problem(d, backward, why, sizeof why, &empty))
        return qat_fail(QAT_ERR_INVALID_ARGUMENT, "%s", why);
    return QAT_OK;
}
