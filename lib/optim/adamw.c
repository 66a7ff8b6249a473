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
 * `self + value * t1 / t2` left to right in float: the constants below are
 * those floats, and the kernels keep the roundings of the element-wise
 * part. A tensor without weight decay multiplies by (float)(1 - lr * 0),
 * which is 1. */
qat_status qat_optim_adamw_desc(const qat_optim_adamw_hparams *hp, double lr, int64_t step, qat_adamw_desc *d)
{
    QAT_CHECK_ARG(hp != NULL && d != NULL, "adamw: NULL hyper-parameters or descriptor");
    QAT_CHECK_ARG(step >= 1, "adamw: step must be >= 1 (the count after increment), got %lld", (long long)step);
    QAT_CHECK_ARG(isfinite(lr) && lr >= 0.0, "adamw: learning rate must be finite and >= 0, got %g", lr);
    QAT_CHECK_ARG(hp->beta1 >= 0.0 && hp->beta1 < 1.0, "adamw: beta1 must be in [0, 1), got %g", hp->beta1);
    QAT_CHECK_ARG(hp->beta2 >= 0.0 && hp->beta2 < 1.0, "adamw: beta2 must be in [0, 1), got %g", hp->beta2);
    QAT_CHECK_ARG(hp->eps > 0.0, "adamw: eps must be > 0, got %g", hp->eps);
    QAT_CHECK_ARG(hp->weight_decay >= 0.0, "adamw: weight decay must be >= 0, got %g", hp->weight_decay);
    const double bias_correction1 = 1.0 - pow(hp->beta1, (double)step);
    const double bias_correction2 = 1.0 - pow(hp->beta2, (double)step);
    d->decay = (float)(1.0 - lr * hp->weight_decay);
    d->b1 = (float)hp->beta1;
    d->one_minus_b1 = (float)(1.0 - hp->beta1);
    d->b2 = (float)hp->beta2;
    d->one_minus_b2 = (float)(1.0 - hp->beta2);
    d->neg_step_size = (float)(-(lr / bias_correction1));
    d->bc2_sqrt = (float)sqrt(bias_correction2);
    d->eps = (float)hp->eps;
    d->scale = NULL;
    d->check = NULL;
    d->check_count = 0;
    return QAT_OK;
}
