/* The optimizer step on the context's backend: AdamW's moments, the
 * micro-batch gradient sum and the step's scalars live in backend memory
 * next to the model's parameters and gradients, so a step never copies a
 * tensor to the host. The host reads back one small array per step: the
 * micro-batches' losses and the gradient norm.
 *
 *   qat_optim_begin(o, n)                  once per step
 *   qat_optim_collect(o, i, grad, loss)    after each micro-batch's backward
 *   qat_optim_step(o, ...)                 averaging, clipping, AdamW
 *
 * Data-parallel (world > 1 ranks, lib/dist/reducer.h): each rank begins
 * with its own micro-batch count and its rank; the step's losses get one
 * slot per micro-batch of every rank (rank r's at r * n_micro + i, zero
 * elsewhere), so that summing the loss slots and the gradient sums over
 * the ranks before qat_optim_step gives every rank the single-rank step
 * over world * n_micro micro-batches.
 */
#ifndef QAT_LIB_OPTIM_OPTIMIZER_H
#define QAT_LIB_OPTIM_OPTIMIZER_H

#include "core/context.h"
#include "optim/adamw.h"

typedef struct qat_optim {
    qat_context *ctx;            /* borrowed: the model's */
    qat_optim_adamw_hparams hp;
    size_t floats;               /* length of the flat buffers */
    qat_segments seg;            /* the tensors, in backend memory */
    void *seg_mem;
    float *exp_avg, *exp_avg_sq; /* backend memory, floats each, zeroed */
    float *accum;                /* micro-batch gradient sum, or NULL */
    float *scalars;              /* losses[n_micro], norm, clip coefficient */
    int64_t scalars_cap, n_micro, collected;
    int world, rank;             /* of the current step */
} qat_optim;

/* The step's outcome, read back from the backend. */
typedef struct qat_optim_result {
    float loss;                  /* the micro-batches' mean loss */
    double norm;                 /* the gradient norm before clipping */
} qat_optim_result;

/* State for `n` tensors of flat buffers of `floats` floats: tensor t is
 * [bounds[2t], bounds[2t + 1]) (host arrays, copied), with flags[t] its
 * QAT_SEGMENT_* bits (weight decay, a positive quantizer step). */
qat_status qat_optim_init(qat_optim *o, qat_context *ctx, const qat_optim_adamw_hparams *hp, size_t floats,
                          const int64_t *bounds, const uint8_t *flags, int64_t n);
void qat_optim_release(qat_optim *o);

/* A step of n_micro >= 1 micro-batches begins. */
qat_status qat_optim_begin(qat_optim *o, int64_t n_micro);
/* The same on rank `rank` of `world`, each rank with n_micro micro-batches. */
qat_status qat_optim_begin_ranks(qat_optim *o, int64_t n_micro, int world, int rank);
/* Micro-batch i's (i = 0, 1, ... in order) gradients (grad, backend memory, written by its
 * backward) and loss (1 float, backend memory) are kept. */
qat_status qat_optim_collect(qat_optim *o, int64_t i, const float *grad, const float *loss);
/* Micro-batch i's loss alone: its gradients are added to the sum by the
 * caller (the data-parallel reducer, bucket by bucket). */
qat_status qat_optim_collect_loss(qat_optim *o, int64_t i, const float *loss);
/* Where the step's gradient sum is (backend memory, o->floats): the sum
 * buffer with several micro-batches, else grad itself. */
float *qat_optim_gradient_sum(qat_optim *o, float *grad);
/* The loss slots (backend memory) and their count, world * n_micro. */
float *qat_optim_loss_slots(qat_optim *o, int64_t *count);
/* grad becomes the micro-batches' mean gradient (as loss / n does; n is
 * every rank's micro-batches); then
 * clip_grad_norm_ to max_norm (0: no clipping) and one AdamW update of
 * param at learning rate lr, step `step` (after increment). A non-finite
 * loss, or a non-finite norm when clipping, fails with QAT_ERR_NUMERIC and
 * leaves parameters, moments and (for the norm) gradients unchanged; out
 * is filled either way. */
qat_status qat_optim_step(qat_optim *o, float *param, float *grad, double lr, int64_t step, double max_norm,
                          qat_optim_result *out);

#endif
