#include "optim/grad.h"

#include <math.h>

#include "core/error.h"

double qat_optim_grad_norm(const qat_optim_grad_view *views, size_t n_views)
{
    double total = 0.0;
    for (size_t v = 0; v < n_views; v++) {
        double sq = 0.0;
        const float *g = views[v].grad;
        for (size_t i = 0; i < views[v].count; i++)
            sq += (double)g[i] * (double)g[i];
        /* torch stacks per-tensor float norms; rounding each to float keeps
         * the same intermediate precision. */
        float norm = (float)sqrt(sq);
        total += (double)norm * (double)norm;
    }
    return (double)(float)sqrt(total);
}

qat_status qat_optim_clip_grad_norm(const qat_optim_grad_view *views, size_t n_views, double max_norm,
                                    int error_if_nonfinite, double *total_norm)
{
    QAT_CHECK_ARG(views != NULL || n_views == 0, "clip_grad_norm: NULL gradient views");
    QAT_CHECK_ARG(max_norm > 0.0 && isfinite(max_norm), "clip_grad_norm: max_norm must be finite and > 0, got %g",
                  max_norm);
    for (size_t v = 0; v < n_views; v++)
        QAT_CHECK_ARG(views[v].grad != NULL || views[v].count == 0, "clip_grad_norm: view %zu is NULL", v);
    double norm = qat_optim_grad_norm(views, n_views);
    if (total_norm)
        *total_norm = norm;
    if (!isfinite(norm) && error_if_nonfinite)
        return qat_fail(QAT_ERR_NUMERIC,
                        "clip_grad_norm: the total norm of the gradients is %g (non-finite); "
                        "gradients left unchanged", norm);
    float coef = qat_optim_clip_coef(norm, max_norm);
    if (coef != 1.0f) {
        for (size_t v = 0; v < n_views; v++)
            qat_optim_scale(views[v].grad, views[v].count, coef);
    }
    return QAT_OK;
}

float qat_optim_clip_coef(double total_norm, double max_norm)
{
    /* torch: clip_coef = max_norm / (total_norm + 1e-6) on a float tensor,
     * clamped to 1 and always multiplied in (multiplying by 1 changes
     * nothing, so callers may skip that case). `number / tensor` is
     * Tensor.__rtruediv__, which torch evaluates as reciprocal() * number:
     * two roundings, kept here. */
    float coef = (1.0f / ((float)total_norm + 1e-6f)) * (float)max_norm;
    return coef < 1.0f || isnan(coef) ? coef : 1.0f;
}

void qat_optim_scale(float *dst, size_t count, float scale)
{
    for (size_t i = 0; i < count; i++)
        dst[i] *= scale;
}

void qat_optim_accumulate(float *dst, const float *src, size_t count)
{
    for (size_t i = 0; i < count; i++)
        dst[i] += src[i];
}

void qat_optim_accumulate_scaled(float *dst, const float *src, size_t count, float scale)
{
    for (size_t i = 0; i < count; i++)
        dst[i] += scale * src[i];
}
