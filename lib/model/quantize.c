#include "model/quantize.h"

#include <math.h>
#include <stdlib.h>

#include "backend/dispatch.h"
#include "quant/lsq_plus_init.h"

static qat_lsq_desc lsq_desc(const qat_model *m, const qat_quantizer *q, int64_t rows, int64_t cols)
{
    qat_lsq_desc d;
    d.step = model_w(m, q->step_param);
    d.offset = q->has_offset ? model_w(m, q->offset_param) : NULL;
    d.rows = rows;
    d.cols = cols;
    d.per_row = q->cfg.granularity == QAT_GRAN_ROW;
    qat_class_quant_range(&q->cfg, &d.qn, &d.qp);
    d.step_eps = qat_quant_step_eps(&m->quant);
    return d;
}

static qat_status transfer(qat_context *ctx, int up, void *dst, const void *src, size_t bytes, const char *what)
{
    const struct qat_backend_ops *ops = ctx->backend.ops;
    return qat_context_backend_error(
        ctx, up ? ops->upload(ctx->backend_state, dst, src, bytes) : ops->download(ctx->backend_state, dst, src, bytes),
        what);
}

/* s = 2 mean|x| / sqrt(Qp), in float as torch evaluates it, per row or per
 * tensor; an all-zero row gets 1e-8 (any positive step quantizes it exactly). */
static qat_status init_lsq(qat_model *m, qat_quantizer *q, const float *x, int64_t rows, int64_t cols)
{
    qat_context *ctx = m->ctx;
    const int per_row = q->cfg.granularity == QAT_GRAN_ROW;
    const int64_t n_steps = per_row ? rows : 1;
    float *step = model_w(m, q->step_param);
    float *host = malloc((size_t)n_steps * sizeof *host);
    if (!host)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "initialising a quantizer step: out of memory");
    qat_status st = QAT_KERNEL(ctx, abs_mean, x, per_row ? rows : 1, per_row ? cols : rows * cols, step);
    if (st == QAT_OK)
        st = transfer(ctx, 0, host, step, (size_t)n_steps * sizeof *host, "reading a quantizer step");
    const float qp = (float)((1 << (q->cfg.bits - 1)) - 1);
    for (int64_t r = 0; st == QAT_OK && r < n_steps; r++) {
        float s = (2.0f * host[r]) / (float)sqrt((double)qp);
        host[r] = s > 0.0f && isfinite(s) ? s : 1e-8f;
    }
    if (st == QAT_OK)
        st = transfer(ctx, 1, step, host, (size_t)n_steps * sizeof *host, "writing a quantizer step");
    free(host);
    return st;
}

/* LSQ+: the MSE search runs on the host (once per quantizer). */
static qat_status init_lsq_plus(qat_model *m, qat_quantizer *q, const float *x, int64_t n)
{
    qat_context *ctx = m->ctx;
    const int host_memory = (ctx->backend.ops->caps & QAT_BACKEND_CAP_HOST_MEMORY) != 0;
    float *copy = NULL;
    if (!host_memory) {
        copy = malloc((size_t)n * sizeof *copy);
        if (!copy)
            return qat_fail(QAT_ERR_OUT_OF_MEMORY, "initialising an LSQ+ quantizer: out of memory");
        qat_status st = transfer(ctx, 0, copy, x, (size_t)n * sizeof *copy, "reading an LSQ+ quantizer's input");
        if (st != QAT_OK) {
            free(copy);
            return st;
        }
    }
    float step, offset;
    qat_status st = qat_lsq_plus_init(host_memory ? x : copy, n, q->cfg.bits, &step, &offset);
    free(copy);
    if (st == QAT_OK)
        st = transfer(ctx, 1, model_w(m, q->step_param), &step, sizeof step, "writing a quantizer step");
    if (st == QAT_OK)
        st = transfer(ctx, 1, model_w(m, q->offset_param), &offset, sizeof offset, "writing a quantizer offset");
    return st;
}

qat_status qat_quantize_init_step(qat_model *m, qat_quantizer *q, const float *x, int64_t rows, int64_t cols)
{
    if (!q->has_step)
        return QAT_OK;
    QAT_TRY(q->cfg.algo == QAT_ALGO_LSQ_PLUS ? init_lsq_plus(m, q, x, rows * cols) : init_lsq(m, q, x, rows, cols));
    m->params[q->step_param].ready = 1;
    if (q->has_offset)
        m->params[q->offset_param].ready = 1;
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
    case QAT_ALGO_LSQ_PLUS: {
        if (!qat_quantizer_ready(m, q))
            QAT_TRY(qat_quantize_init_step(m, q, x, rows, cols));
        qat_lsq_desc d = lsq_desc(m, q, rows, cols);
        QAT_RUN(ctx, lsq_fwd, &d, x, y);
        *out = y;
        return QAT_OK;
    }
    case QAT_ALGO_BITNET158:
        if (q->cfg.granularity == QAT_GRAN_TOKEN)
            QAT_RUN(ctx, bitnet_act_fwd, x, rows, cols, q->cfg.bits, qat_quant_symmetric_acts(&m->quant), y);
        else
            QAT_RUN(ctx, bitnet_weight_fwd, x, rows, cols, q->cfg.granularity == QAT_GRAN_ROW, gamma, y);
        *out = y;
        return QAT_OK;
    }
    return qat_fail(QAT_ERR_INTERNAL, "unknown quantizer algorithm %d", (int)q->cfg.algo);
}

qat_status qat_quantize_bwd(qat_model *m, const qat_quantizer *q, float *d, const float *x, int64_t rows,
                            int64_t cols, int64_t g_numel)
{
    if (!qat_quantizer_needs_backward(m, q))
        return QAT_OK; /* straight-through estimator */
    qat_lsq_desc desc = lsq_desc(m, q, rows, cols);
    const double per_step = desc.per_row ? (double)cols : (double)g_numel;
    const float g = (float)(1.0 / sqrt(per_step * desc.qp));
    QAT_RUN(m->ctx, lsq_bwd, &desc, d, x, g, d, model_g(m, q->step_param),
            q->has_offset ? model_g(m, q->offset_param) : NULL);
    return QAT_OK;
}
