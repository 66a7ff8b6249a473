#include "optim/schedule.h"

#include <math.h>

#include "core/error.h"

qat_status qat_optim_schedule_init_steps(qat_optim_schedule *s, double base_lr, int64_t total_steps,
                                         int64_t warmup_steps)
{
    QAT_CHECK_ARG(s != NULL, "schedule: NULL schedule");
    QAT_CHECK_ARG(isfinite(base_lr) && base_lr >= 0.0, "schedule: learning rate must be finite and >= 0, got %g",
                  base_lr);
    QAT_CHECK_ARG(total_steps >= 0, "schedule: total steps must be >= 0, got %lld", (long long)total_steps);
    QAT_CHECK_ARG(warmup_steps >= 0, "schedule: warm-up steps must be >= 0, got %lld", (long long)warmup_steps);
    s->base_lr = base_lr;
    s->total_steps = total_steps;
    s->warmup_steps = warmup_steps;
    return QAT_OK;
}

qat_status qat_optim_schedule_init(qat_optim_schedule *s, double base_lr, int64_t total_steps,
                                   double warmup_ratio)
{
    QAT_CHECK_ARG(warmup_ratio >= 0.0 && warmup_ratio <= 1.0, "schedule: warm-up ratio must be in [0, 1], got %g",
                  warmup_ratio);
    QAT_CHECK_ARG(total_steps >= 0, "schedule: total steps must be >= 0, got %lld", (long long)total_steps);
    /* Same double expression as transformers: math.ceil(steps * ratio). */
    int64_t warmup = (int64_t)ceil((double)total_steps * warmup_ratio);
    return qat_optim_schedule_init_steps(s, base_lr, total_steps, warmup);
}

double qat_optim_schedule_lr(const qat_optim_schedule *s, int64_t steps_done)
{
    double factor;
    if (steps_done < s->warmup_steps) {
        int64_t w = s->warmup_steps > 1 ? s->warmup_steps : 1;
        factor = (double)steps_done / (double)w;
    } else {
        int64_t d = s->total_steps - s->warmup_steps;
        if (d < 1)
            d = 1;
        factor = (double)(s->total_steps - steps_done) / (double)d;
        if (factor < 0.0)
            factor = 0.0;
    }
    return s->base_lr * factor;
}
