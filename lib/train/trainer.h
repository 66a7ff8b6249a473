/* The trainer's private state (shared by the step and the state files). */
#ifndef QAT_LIB_TRAINER_H
#define QAT_LIB_TRAINER_H

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
};

/* qat_trainer_resume over a state file's bytes (`label` names it). */
qat_status qat_trainer_resume_memory(qat_trainer *t, const uint8_t *data, size_t size, const char *label,
                                     uint64_t data_position[2]);

/* A fingerprint of the model's parameter layout (names and sizes). */
uint64_t qat_trainer_layout_hash(const qat_model *m);

#endif
