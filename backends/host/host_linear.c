#include "host/host_linear.h"

#include "core/error.h"

qat_status qat_host_linear_fwd(const struct qat_backend_ops *ops, void *state, const qat_linear_desc *d)
{
    QAT_TRY(qat_linear_desc_validate(d));
    float *product = d->act == QAT_ACTIVATION_GELU ? d->pre : d->y;
    const qat_gemm_desc g = {.trans_b = 1, .m = d->rows, .n = d->out, .k = d->in, .alpha = 1.0f, .beta = 0.0f,
                             .a = d->x, .lda = d->in > 1 ? d->in : 1, .b = d->w, .ldb = d->in > 1 ? d->in : 1, .c = product, .ldc = d->out,
                             .batch = 1};
    QAT_TRY(ops->gemm(state, &g));
    return ops->bias_act_fwd(state, product, d->bias, d->rows, d->out, d->act, d->y);
}

qat_status qat_host_gelu_bias_bwd(const struct qat_backend_ops *ops, void *state, const float *dy,
                                  const float *pre, int64_t rows, int64_t cols, float *dx, float *db)
{
    QAT_CHECK_ARG(rows >= 0 && cols >= 0, "gelu_bias_bwd: negative size (rows %lld, cols %lld)", (long long)rows,
                  (long long)cols);
    if (rows == 0 || cols == 0)
        return QAT_OK;
    QAT_CHECK_ARG(dy && pre && dx && db, "gelu_bias_bwd: NULL dy, pre, dx or db");
    QAT_TRY(ops->gelu_bwd(state, dy, pre, rows * cols, dx));
    return ops->bias_grad(state, dx, rows, cols, db);
}
