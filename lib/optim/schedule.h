/* The linear schedule with warm-up of transformers'
 * get_linear_schedule_with_warmup (LambdaLR semantics):
 *
 *   factor(s) = s / max(1, warmup)                             s < warmup
 *             = max(0, (total - s) / max(1, total - warmup))   otherwise
 *
 * where s is the number of optimizer steps already taken in the phase
 * (0 for the first update: with warm-up the first update uses lr 0,
 * exactly as Trainer + LambdaLR do). The schedule is stateless: a resumed
 * run recomputes it from the step counter. */
#ifndef QAT_LIB_OPTIM_SCHEDULE_H
#define QAT_LIB_OPTIM_SCHEDULE_H

#include <stdint.h>

#include "qat/core.h"

typedef struct qat_optim_schedule {
    double base_lr;
    int64_t warmup_steps;
    int64_t total_steps;
} qat_optim_schedule;

/* warmup = ceil(total_steps * warmup_ratio), as TrainingArguments'
 * get_warmup_steps; the docs/method.md default ratio is 0.1 (per phase). */
qat_status qat_optim_schedule_init(qat_optim_schedule *s, double base_lr, int64_t total_steps,
                                   double warmup_ratio);
/* Explicit warm-up steps (0 <= warmup_steps). */
qat_status qat_optim_schedule_init_steps(qat_optim_schedule *s, double base_lr, int64_t total_steps,
                                         int64_t warmup_steps);
/* The learning rate of the update that follows `steps_done` updates. */
double qat_optim_schedule_lr(const qat_optim_schedule *s, int64_t steps_done);

#endif
