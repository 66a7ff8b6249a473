#include "optim/adamw.h"

#include <math.h>

#include "core/error.h"

void qat_optim_adamw_defaults(qat_optim_adamw_hparams *hp)
{
    hp->beta1 = 0.9;
    hp->beta2 = 0.98;
    hp->eps = 1e-8;
    hp->weight_decay = 0.01;
}

/* Mirrors torch/optim/adamw.py::_single_tensor_adamw (torch 1.13):
 *
 *   param.mul_(1 - lr * weight_decay)
 *   exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
 *   exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
 *   step_size = lr / (1 - beta1 ** step)                      # Python doubles
 *   denom = (exp_avg_sq.sqrt() / sqrt(1 - beta2 ** step)).add_(eps)
 *   param.addcdiv_(exp_avg, denom, value=-step_size)
 *
 * Python scalars enter float tensor ops converted to float, and ATen's
 * kernels evaluate `a + alpha * b`, `self + value * t1 * t2` and
 * `self + value * t1 / t2` left to right in float; the code below keeps
 * those roundings. */
void qat_optim_adamw_update(const qat_optim_adamw_hparams *hp, double lr, int64_t step,
                            int weight_decay, float *param, const float *grad,
                            float *exp_avg, float *exp_avg_sq, size_t count)
{
    const double wd = weight_decay ? hp->weight_decay : 0.0;
    const float decay = (float)(1.0 - lr * wd);
    const float b1 = (float)hp->beta1;
    const float one_minus_b1 = (float)(1.0 - hp->beta1);
    const float b2 = (float)hp->beta2;
    const float one_minus_b2 = (float)(1.0 - hp->beta2);
    const double bias_correction1 = 1.0 - pow(hp->beta1, (double)step);
    const double bias_correction2 = 1.0 - pow(hp->beta2, (double)step);
    const float neg_step_size = (float)(-(lr / bias_correction1));
    const float bc2_sqrt = (float)sqrt(bias_correction2);
    const float eps = (float)hp->eps;

    for (size_t i = 0; i < count; i++) {
        float g = grad[i];
        float p = param[i] * decay;
        /* ATen's AVX2 kernels contract these into fused multiply-adds
         * (add: fmadd(grad, alpha, self); addcmul: fma(value * t1, t2, self));
         * fmaf() reproduces them bit for bit (glibc picks the FMA instruction
         * where the CPU has one). */
        float m = fmaf(g, one_minus_b1, exp_avg[i] * b1);
        float v = fmaf(one_minus_b2 * g, g, exp_avg_sq[i] * b2);
        float denom = sqrtf(v) / bc2_sqrt + eps;
        param[i] = p + neg_step_size * m / denom;
        exp_avg[i] = m;
        exp_avg_sq[i] = v;
    }
}

qat_status qat_optim_adamw_step(const qat_optim_adamw_hparams *hp, double lr, int64_t step,
                                const qat_optim_group *groups, size_t n_groups)
{
    QAT_CHECK_ARG(hp != NULL, "adamw: hyper-parameters are NULL");
    QAT_CHECK_ARG(groups != NULL || n_groups == 0, "adamw: groups are NULL");
    QAT_CHECK_ARG(step >= 1, "adamw: step must be >= 1 (the count after increment), got %lld",
                  (long long)step);
    QAT_CHECK_ARG(isfinite(lr) && lr >= 0.0, "adamw: learning rate must be finite and >= 0, got %g", lr);
    QAT_CHECK_ARG(hp->beta1 >= 0.0 && hp->beta1 < 1.0, "adamw: beta1 must be in [0, 1), got %g", hp->beta1);
    QAT_CHECK_ARG(hp->beta2 >= 0.0 && hp->beta2 < 1.0, "adamw: beta2 must be in [0, 1), got %g", hp->beta2);
    QAT_CHECK_ARG(hp->eps > 0.0, "adamw: eps must be > 0, got %g", hp->eps);
    QAT_CHECK_ARG(hp->weight_decay >= 0.0, "adamw: weight decay must be >= 0, got %g", hp->weight_decay);
    for (size_t i = 0; i < n_groups; i++) {
        const qat_optim_group *g = &groups[i];
        QAT_CHECK_ARG(g->count == 0 || (g->param && g->grad && g->exp_avg && g->exp_avg_sq),
                      "adamw: group %zu has a NULL array", i);
    }
    for (size_t i = 0; i < n_groups; i++) {
        const qat_optim_group *g = &groups[i];
        qat_optim_adamw_update(hp, lr, step, g->weight_decay, g->param, g->grad,
                               g->exp_avg, g->exp_avg_sq, g->count);
    }
    return QAT_OK;
}
