#include "model/quantize.h"

#include <math.h>

#include "backend/dispatch.h"

static float lsq_qp(int bits)
{
    return (float)((1 << (bits - 1)) - 1);
}

qat_status qat_quantize_init_step(qat_model *m, qat_quantizer *q, const float *x, int64_t n)
{
    qat_context *ctx = m->ctx;
    float *step = model_w(m, q->step_param);
    QAT_RUN(ctx, abs_mean, x, 1, n, step);
    float mean = 0.0f;
    QAT_TRY(qat_context_backend_error(ctx, ctx->backend.ops->download(ctx->backend_state, &mean, step, sizeof mean),
                                      "reading a quantizer step"));
    /* In float, as torch evaluates 2 * x.abs().mean() / math.sqrt(Qp). */
    float s = (2.0f * mean) / (float)sqrt((double)lsq_qp(q->cfg.bits));
    if (!(s > 0.0f) || !isfinite(s))
        s = 1e-8f; /* an all-zero tensor: any positive step quantizes it exactly */
    QAT_TRY(qat_context_backend_error(ctx, ctx->backend.ops->upload(ctx->backend_state, step, &s, sizeof s),
                                      "writing a quantizer step"));
    q->initialized = 1;
    return QAT_OK;
}

qat_status qat_quantize_fwd(qat_model *m, qat_quantizer *q, const float *x, int64_t rows, int64_t cols,
                            float *y, float *gamma, const float **out)
{
    qat_context *ctx = m->ctx;
    switch (q->cfg.algo) {
    case QAT_ALGO_NONE:
        *out = x;
        return QAT_OK;
    case QAT_ALGO_LSQ:
        if (!q->initialized)
            QAT_TRY(qat_quantize_init_step(m, q, x, rows * cols));
        QAT_RUN(ctx, lsq_fwd, x, rows * cols, model_w(m, q->step_param), q->cfg.bits, y);
        *out = y;
        return QAT_OK;
    case QAT_ALGO_BITNET158:
        if (q->cfg.granularity == QAT_GRAN_TOKEN)
            QAT_RUN(ctx, bitnet_act_fwd, x, rows, cols, q->cfg.bits, 0, y);
        else
            QAT_RUN(ctx, bitnet_weight_fwd, x, rows, cols, q->cfg.granularity == QAT_GRAN_ROW, gamma, y);
        *out = y;
        return QAT_OK;
    }
    return qat_fail(QAT_ERR_INTERNAL, "unknown quantizer algorithm %d", (int)q->cfg.algo);
}

qat_status qat_quantize_bwd(qat_model *m, const qat_quantizer *q, float *d, const float *x, int64_t n,
                            int64_t g_numel)
{
    if (q->cfg.algo != QAT_ALGO_LSQ)
        return QAT_OK; /* straight-through estimator */
    float g = (float)(1.0 / sqrt((double)g_numel * lsq_qp(q->cfg.bits)));
    QAT_RUN(m->ctx, lsq_bwd, d, x, n, model_w(m, q->step_param), q->cfg.bits, g, d, model_g(m, q->step_param));
    return QAT_OK;
}
