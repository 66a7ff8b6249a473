/* The trainer's private state (shared by the step and the state files). */
#ifndef QAT_LIB_TRAINER_H
#define QAT_LIB_TRAINER_H

#include "dist/reducer.h"
#include "model/model.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"
#include "qat/train.h"

struct qat_trainer {
    qat_model *model;              /* a reference, dropped with the trainer */
    qat_train_options opt;
    qat_optim optim;               /* moments etc. on the model's backend */
    qat_optim_schedule schedule;
    int64_t step;
    size_t layout_floats;          /* model->total when created */
    double last_lr, last_norm, last_loss;
    /* Data-parallel (data_parallel.c): NULL or a world of one: off. */
    qat_comm *comm;              /* a reference */
    qat_reducer reducer;
    int synced;                  /* rank 0's weights and RNG broadcast */
    int64_t draws_per_forward;   /* RNG draws of one training forward; -1: not seen yet */
};

/* A step's input: the whole batch, host arrays (mask, types may be NULL). */
typedef struct qat_step_batch {
    const int32_t *ids, *mask, *types, *labels;
    int64_t batch, seq_len;
} qat_step_batch;

/* Forward of sequences [first, first + rows) of the batch, then (backward)
 * the loss and gradients, with the hook told as gradients become final. */
qat_status qat_trainer_micro_pass(qat_trainer *t, const qat_step_batch *in, int64_t first, int64_t rows,
                                  int backward, const qat_grad_hook *hook);
/* The step's gradients and losses on this rank's shard, summed over the
 * ranks (the data-parallel gradients(), data_parallel.c). */
qat_status qat_trainer_gradients_ranks(qat_trainer *t, const qat_step_batch *in);
void qat_trainer_drop_comm(qat_trainer *t);

/* qat_trainer_resume over a state file's bytes (`label` names it). */
qat_status qat_trainer_resume_memory(qat_trainer *t, const uint8_t *data, size_t size, const char *label,
                                     uint64_t data_position[2]);

/* A fingerprint of the model's parameter layout (names and sizes). */
uint64_t qat_trainer_layout_hash(const qat_model *m);

#endif
