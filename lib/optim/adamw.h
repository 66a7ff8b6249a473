/* AdamW on flat float arrays, computing exactly what torch 1.13's
 * torch.optim.AdamW (single-tensor path, amsgrad off, maximize off) does,
 * operation by operation, so a run agrees with PyTorch to float rounding.
 *
 * The trainer owns the memory: parameters, gradients and the two moment
 * buffers are plain arrays (views into its arenas); the only other state
 * is the step counter, which it stores in checkpoints. */
#ifndef QAT_LIB_OPTIM_ADAMW_H
#define QAT_LIB_OPTIM_ADAMW_H

#include <stddef.h>
#include <stdint.h>

#include "qat/core.h"

typedef struct qat_optim_adamw_hparams {
    double beta1;        /* 0.9  */
    double beta2;        /* 0.98 (docs/method.md section 6; torch's default is 0.999) */
    double eps;          /* 1e-8 */
    double weight_decay; /* 0.01, applied only to groups with decay on */
} qat_optim_adamw_hparams;

/* One parameter tensor (or any run of parameters sharing a setting).
 * exp_avg and exp_avg_sq start zeroed, like torch's lazily created state. */
typedef struct qat_optim_group {
    float *param;
    const float *grad;
    float *exp_avg;
    float *exp_avg_sq;
    size_t count;
    int weight_decay; /* 0 for biases, LayerNorm parameters, quantizer steps */
} qat_optim_group;

/* The study's defaults: 0.9, 0.98, 1e-8, 0.01. */
void qat_optim_adamw_defaults(qat_optim_adamw_hparams *hp);

/* One AdamW update of every group at learning rate lr. step is the step
 * number after increment (1 for the first update), as torch's state['step'].
 * Fails (nothing modified) on a bad hyper-parameter, step < 1, or a group
 * with NULL arrays. */
qat_status qat_optim_adamw_step(const qat_optim_adamw_hparams *hp, double lr, int64_t step,
                                const qat_optim_group *groups, size_t n_groups);

/* The same update for one array (the kernel a backend may replace). */
void qat_optim_adamw_update(const qat_optim_adamw_hparams *hp, double lr, int64_t step,
                            int weight_decay, float *param, const float *grad,
                            float *exp_avg, float *exp_avg_sq, size_t count);

#endif
