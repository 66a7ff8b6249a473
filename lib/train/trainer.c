/* One optimizer step: micro-batched forward/backward, gradient averaging,
 * global-norm clipping, AdamW at the scheduled learning rate. */
#include "train/trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/options_version.h"

QAT_API qat_status qat_train_options_init(qat_train_options *o, uint32_t version)
{
    QAT_CHECK_ARG(o != NULL, "qat_train_options_init: NULL options");
    QAT_TRY(qat_options_version_check("qat_train_options_init", version, 1, QAT_TRAIN_OPTIONS_VERSION));
    memset(o, 0, sizeof *o);
    o->version = version;
    o->learning_rate = 5e-6;
    o->beta1 = 0.9;
    o->beta2 = 0.98;
    o->eps = 1e-8;
    o->weight_decay = 0.01;
    o->warmup_ratio = 0.1;
    o->max_grad_norm = 1.0;
    o->batch_size = 96;
    o->micro_batch_size = 0;
    return QAT_OK;
}

static qat_status validate(const qat_train_options *o)
{
    QAT_TRY(qat_options_version_check("train options", o->version, 1, QAT_TRAIN_OPTIONS_VERSION));
    QAT_CHECK_ARG(o->learning_rate >= 0 && isfinite(o->learning_rate), "train options: learning_rate must be >= 0");
    QAT_CHECK_ARG(o->beta1 >= 0 && o->beta1 < 1 && o->beta2 >= 0 && o->beta2 < 1,
                  "train options: betas must be in [0, 1)");
    QAT_CHECK_ARG(o->eps > 0, "train options: eps must be > 0");
    QAT_CHECK_ARG(o->weight_decay >= 0, "train options: weight_decay must be >= 0");
    QAT_CHECK_ARG(o->warmup_ratio >= 0 && o->warmup_ratio <= 1, "train options: warmup_ratio must be in [0, 1]");
    QAT_CHECK_ARG(o->max_grad_norm >= 0, "train options: max_grad_norm must be >= 0");
    QAT_CHECK_ARG(o->batch_size > 0, "train options: batch_size must be > 0");
    QAT_CHECK_ARG(o->micro_batch_size >= 0, "train options: micro_batch_size must be >= 0");
    return QAT_OK;
}

uint64_t qat_trainer_layout_hash(const qat_model *m)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < m->n_params; i++) {
        for (const char *c = m->params[i].name; *c; c++)
            h = (h ^ (uint8_t)*c) * 1099511628211ull;
        h = (h ^ (uint64_t)m->params[i].numel) * 1099511628211ull;
    }
    return h;
}

QAT_API qat_status qat_trainer_create(qat_model *model, const qat_train_options *options, int64_t total_steps,
                                      qat_trainer **out)
{
    QAT_CHECK_ARG(out != NULL, "qat_trainer_create: NULL out");
    *out = NULL;
    QAT_CHECK_ARG(model != NULL && options != NULL, "qat_trainer_create: NULL model or options");
    QAT_TRY(validate(options));
    QAT_CHECK_ARG(total_steps > 0, "qat_trainer_create: total_steps must be > 0, got %lld", (long long)total_steps);
    qat_trainer *t = calloc(1, sizeof *t);
    int64_t *bounds = malloc((model->n_params ? model->n_params : 1) * 2 * sizeof *bounds);
    uint8_t *flags = malloc(model->n_params ? model->n_params : 1);
    if (!t || !bounds || !flags) {
        free(t);
        free(bounds);
        free(flags);
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "qat_trainer_create: out of memory");
    }
    for (size_t i = 0; i < model->n_params; i++) {
        bounds[2 * i] = (int64_t)model->params[i].offset;
        bounds[2 * i + 1] = (int64_t)model->params[i].offset + model->params[i].numel;
        flags[i] = (uint8_t)((model->params[i].decay ? QAT_SEGMENT_DECAY : 0) |
                             (model->params[i].is_step && !model->params[i].is_offset ? QAT_SEGMENT_POSITIVE : 0));
    }
    t->model = qat_model_retain(model);
    t->opt = *options;
    t->layout_floats = model->total;
    t->draws_per_forward = -1;
    qat_optim_adamw_hparams hp = {options->beta1, options->beta2, options->eps, options->weight_decay};
    qat_status st = qat_optim_init(&t->optim, model->ctx, &hp, model->total, bounds, flags, (int64_t)model->n_params);
    free(bounds);
    free(flags);
    if (st == QAT_OK)
        st = qat_optim_schedule_init(&t->schedule, options->learning_rate, total_steps, options->warmup_ratio);
    if (st == QAT_OK)
        st = qat_model_set_training(model, 1);
    if (st != QAT_OK) {
        qat_trainer_free(t);
        return st;
    }
    *out = t;
    return QAT_OK;
}

QAT_API void qat_trainer_free(qat_trainer *t)
{
    if (!t)
        return;
    qat_trainer_drop_comm(t);
    qat_optim_release(&t->optim);
    qat_model_free(t->model); /* the trainer's reference */
    free(t);
}

qat_status qat_trainer_micro_pass(qat_trainer *t, const qat_step_batch *in, int64_t first, int64_t rows,
                                  int backward, const qat_grad_hook *hook)
{
    qat_model *m = t->model;
    const size_t at = (size_t)(first * in->seq_len);
    /* sequence classification has one label per sequence */
    const int32_t *labels = in->labels + (m->task == QAT_TASK_SEQUENCE_CLASSIFICATION ? (size_t)first : at);
    const int32_t *mask = in->mask ? in->mask + at : NULL, *types = in->types ? in->types + at : NULL;
    QAT_TRY(qat_model_validate_batch(m, in->ids + at, mask, types, labels, rows, in->seq_len, "qat_trainer_step"));
    QAT_TRY(qat_model_forward_pass(m, in->ids + at, mask, types, labels, rows, in->seq_len, 1));
    return backward ? qat_model_loss_backward_device(m, labels, hook) : QAT_OK;
}

/* Forward + backward over micro-batches, each one's gradients and loss
 * handed to the optimizer (which averages them, as loss / accumulation
 * steps does). Nothing is read back here. */
static qat_status gradients(qat_trainer *t, const qat_step_batch *in)
{
    QAT_CHECK_ARG(in->ids != NULL && in->batch > 0 && in->seq_len > 0, "qat_trainer_step: NULL input_ids or an "
                  "empty batch (%lld x %lld)", (long long)in->batch, (long long)in->seq_len);
    if (t->comm && t->comm->world > 1)
        return qat_trainer_gradients_ranks(t, in);
    const int64_t batch = in->batch;
    int64_t micro = t->opt.micro_batch_size > 0 && t->opt.micro_batch_size < batch ? t->opt.micro_batch_size : batch;
    int64_t n_micro = (batch + micro - 1) / micro;
    QAT_TRY(qat_optim_begin(&t->optim, n_micro));
    for (int64_t i = 0; i < n_micro; i++) {
        QAT_TRY(qat_trainer_micro_pass(t, in, i * micro, i + 1 < n_micro ? micro : batch - i * micro, 1, NULL));
        QAT_TRY(qat_optim_collect(&t->optim, i, t->model->g, t->model->acts.loss));
    }
    return QAT_OK;
}

QAT_API qat_status qat_trainer_step(qat_trainer *t, const int32_t *ids, const int32_t *mask, const int32_t *labels,
                                    int64_t batch, int64_t seq_len, float *loss)
{
    return qat_trainer_step_typed(t, ids, mask, NULL, labels, batch, seq_len, loss);
}

QAT_API qat_status qat_trainer_step_typed(qat_trainer *t, const int32_t *ids, const int32_t *mask,
                                          const int32_t *token_type_ids, const int32_t *labels, int64_t batch,
                                          int64_t seq_len, float *loss)
{
    QAT_CHECK_ARG(t != NULL && loss != NULL && labels != NULL, "qat_trainer_step: NULL trainer, labels or loss");
    qat_model *m = t->model;
    QAT_CHECK_ARG(m->total == t->layout_floats,
                  "qat_trainer_step: the model's parameters changed (a new quant config?) since the trainer was made");
    const qat_step_batch in = {ids, mask, token_type_ids, labels, batch, seq_len};
    QAT_TRY(gradients(t, &in));
    const double lr = qat_optim_schedule_lr(&t->schedule, t->step);
    qat_optim_result r;
    qat_status st = qat_optim_step(&t->optim, m->w, m->g, lr, t->step + 1, t->opt.max_grad_norm, &r);
    qat_model_weights_changed(m);
    if (st != QAT_OK)
        return st;
    *loss = r.loss;
    t->step++;
    t->last_lr = lr;
    t->last_norm = r.norm;
    t->last_loss = r.loss;
    return QAT_OK;
}

QAT_API qat_status qat_trainer_get(const qat_trainer *t, qat_trainer_stat stat, double *value)
{
    QAT_CHECK_ARG(t != NULL && value != NULL, "qat_trainer_get: NULL argument");
    switch (stat) {
    case QAT_TRAINER_STEP: *value = (double)t->step; return QAT_OK;
    case QAT_TRAINER_TOTAL_STEPS: *value = (double)t->schedule.total_steps; return QAT_OK;
    case QAT_TRAINER_LR: *value = t->last_lr; return QAT_OK;
    case QAT_TRAINER_GRAD_NORM: *value = t->last_norm; return QAT_OK;
    case QAT_TRAINER_LOSS: *value = t->last_loss; return QAT_OK;
    }
    return qat_fail(QAT_ERR_INVALID_ARGUMENT, "qat_trainer_get: unknown statistic %d", (int)stat);
}
