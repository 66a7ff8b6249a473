/* AdamW's hyper-parameters and the float constants of one update, computed
 * exactly as torch 1.13's torch.optim.AdamW (single-tensor path, amsgrad
 * off, maximize off) rounds them, so a run agrees with PyTorch to float
 * rounding. The update itself is the backends' adamw kernel (see
 * qat_adamw_desc in backend/backend.h); lib/optim/optimizer.h runs it. */
#ifndef QAT_LIB_OPTIM_ADAMW_H
#define QAT_LIB_OPTIM_ADAMW_H

#include <stdint.h>

#include "backend/backend.h"

typedef struct qat_optim_adamw_hparams {
    double beta1;        /* 0.9  */
    double beta2;        /* 0.98 (docs/method.md section 6; torch's default is 0.999) */
    double eps;          /* 1e-8 */
    double weight_decay; /* 0.01, applied only to tensors with decay on */
} qat_optim_adamw_hparams;

/* The study's defaults: 0.9, 0.98, 1e-8, 0.01. */
void qat_optim_adamw_defaults(qat_optim_adamw_hparams *hp);

/* The constants of the update at learning rate lr (the schedule's value)
 * and step, the step number after increment (1 for the first update), as
 * torch's state['step']. Sets scale and check to NULL. Fails on a bad
 * hyper-parameter, learning rate or step < 1. */
qat_status qat_optim_adamw_desc(const qat_optim_adamw_hparams *hp, double lr, int64_t step, qat_adamw_desc *d);

#endif
