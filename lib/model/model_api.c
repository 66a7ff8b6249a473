/* The public model API: creation, quant config, parameters, passes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/dispatch.h"
#include "core/options_version.h"
#include "model/checkpoint.h"
#include "model/model.h"
#include "model/quantize.h"

QAT_API qat_status qat_model_options_init(qat_model_options *o, uint32_t version)
{
    QAT_CHECK_ARG(o != NULL, "qat_model_options_init: NULL options");
    QAT_TRY(qat_options_version_check("qat_model_options_init", version, 1, QAT_MODEL_OPTIONS_VERSION));
    memset(o, 0, sizeof *o);
    o->version = version;
    o->arch = QAT_ARCH_ROBERTA;
    o->task = QAT_TASK_MLM;
    o->vocab_size = 32005;
    o->hidden_size = 768;
    o->num_layers = 12;
    o->num_heads = 12;
    o->intermediate_size = 3072;
    o->max_position_embeddings = 514;
    o->type_vocab_size = 1;
    o->pad_token_id = 1;
    o->num_labels = 2;
    o->layer_norm_eps = 1e-5;
    o->tie_word_embeddings = 1;
    o->hidden_dropout = 0.1;
    o->attention_dropout = 0.1;
    o->classifier_dropout = 0.1;
    return QAT_OK;
}

qat_status qat_model_options_check(const qat_model_options *o)
{
    QAT_TRY(qat_options_version_check("model options", o->version, 1, QAT_MODEL_OPTIONS_VERSION));
    QAT_CHECK_ARG(o->arch == QAT_ARCH_ROBERTA || o->arch == QAT_ARCH_BERT, "model options: unknown arch %d", o->arch);
    QAT_CHECK_ARG(o->task == QAT_TASK_MLM || qat_task_has_labels(o->task), "model options: unknown task %d",
                  o->task);
#define POSITIVE(f, max) \
    QAT_CHECK_ARG(o->f > 0 && o->f <= (max), "model options: " #f " must be in 1..%lld, got %lld", \
                  (long long)(max), (long long)o->f)
    POSITIVE(vocab_size, 1 << 24);
    POSITIVE(hidden_size, 1 << 16);
    POSITIVE(num_heads, 1 << 10);
    POSITIVE(intermediate_size, 1 << 18);
    POSITIVE(max_position_embeddings, 1 << 20);
    POSITIVE(type_vocab_size, 1 << 16);
#undef POSITIVE
    QAT_CHECK_ARG(o->num_layers >= 0 && o->num_layers <= 1024, "model options: num_layers must be 0..1024");
    QAT_CHECK_ARG(o->hidden_size % o->num_heads == 0,
                  "model options: hidden_size %lld is not a multiple of num_heads %lld", (long long)o->hidden_size,
                  (long long)o->num_heads);
    QAT_CHECK_ARG(o->pad_token_id >= 0 && o->pad_token_id < o->vocab_size,
                  "model options: pad_token_id %lld outside the vocabulary", (long long)o->pad_token_id);
    QAT_CHECK_ARG(o->arch != QAT_ARCH_ROBERTA || o->pad_token_id + 2 <= o->max_position_embeddings,
                  "model options: RoBERTa positions start after pad_token_id, so max_position_embeddings must "
                  "exceed pad_token_id + 1");
    QAT_CHECK_ARG(!qat_task_has_labels(o->task) || (o->num_labels > 0 && o->num_labels <= 1 << 16),
                  "model options: %s classification needs num_labels in 1..65536, got %lld",
                  o->task == QAT_TASK_SEQUENCE_CLASSIFICATION ? "sequence" : "token", (long long)o->num_labels);
    QAT_CHECK_ARG(o->task != QAT_TASK_SEQUENCE_CLASSIFICATION || o->num_labels >= 2,
                  "model options: sequence classification needs num_labels >= 2 (HF's num_labels = 1 is "
                  "regression, which libqat does not do)");
    QAT_CHECK_ARG(o->layer_norm_eps > 0 && o->layer_norm_eps < 1, "model options: layer_norm_eps must be in (0, 1)");
    QAT_CHECK_ARG(o->hidden_dropout >= 0 && o->hidden_dropout < 1 && o->attention_dropout >= 0 &&
                      o->attention_dropout < 1 && o->classifier_dropout >= 0 && o->classifier_dropout < 1,
                  "model options: dropout probabilities must be in [0, 1)");
    return QAT_OK;
}

static void dims_from_options(qat_model_dims *d, const qat_model_options *o)
{
    memset(d, 0, sizeof *d);
    d->arch = o->arch; /* validated above */
    strcpy(d->model_type, o->arch == QAT_ARCH_BERT ? "bert" : "roberta");
    d->vocab_size = o->vocab_size;
    d->hidden_size = o->hidden_size;
    d->num_layers = o->num_layers;
    d->num_heads = o->num_heads;
    d->intermediate_size = o->intermediate_size;
    d->max_position_embeddings = o->max_position_embeddings;
    d->type_vocab_size = o->type_vocab_size;
    d->pad_token_id = o->pad_token_id;
    d->bos_token_id = -1;
    d->eos_token_id = -1;
    d->layer_norm_eps = (float)o->layer_norm_eps;
    d->tie_word_embeddings = o->tie_word_embeddings != 0;
    d->hidden_dropout_prob = (float)o->hidden_dropout;
    d->attention_dropout_prob = (float)o->attention_dropout;
    d->num_labels = o->num_labels;
}

static qat_status upload(qat_model *m, float *dst, const float *src, size_t count)
{
    qat_model_weights_changed(m);
    return qat_context_backend_error(
        m->ctx, m->ctx->backend.ops->upload(m->ctx->backend_state, dst, src, count * sizeof(float)),
        "writing parameters");
}

static qat_status download(const qat_model *m, float *dst, const float *src, size_t count)
{
    return qat_context_backend_error(
        m->ctx, m->ctx->backend.ops->download(m->ctx->backend_state, dst, src, count * sizeof(float)),
        "reading parameters");
}

/* The matrices a checkpoint about to be loaded holds: their draws would be
 * overwritten. NULL (or no checkpoint): none. */
static unsigned char *matrices_loaded(const qat_model *m, const qat_tensor_set *loading)
{
    if (!loading)
        return NULL;
    unsigned char *held = calloc(m->n_params ? m->n_params : 1, 1);
    for (size_t i = 0; held && i < qat_tensor_set_count(loading); i++) {
        size_t index;
        if (qat_checkpoint_map_name(m, qat_tensor_set_at(loading, i)->name, &index))
            held[index] = 1;
    }
    return held;
}

qat_status qat_model_init_weights(qat_model *m, const qat_tensor_set *loading)
{
    float *host = calloc(m->total ? m->total : 1, sizeof(float));
    if (!host)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "model init: out of memory");
    /* Out of memory here only costs the shortcut below. */
    unsigned char *held = matrices_loaded(m, loading);
    qat_rng *rng = &m->ctx->rng;
    for (size_t i = 0; i < m->n_params; i++) {
        const qat_param *p = &m->params[i];
        float *v = host + p->offset;
        const char *tail = strrchr(p->name, '.');
        int is_ln_weight = !p->is_step && p->ndim == 1 && strcmp(tail, ".weight") == 0;
        if (p->ndim == 2 && held && held[i])
            /* The checkpoint overwrites it: skip the normal's log and cos
             * (half of a load's time) but leave the stream where the draws
             * would (two words per normal), so a new head gets the values
             * it gets when every matrix is drawn. */
            qat_rng_skip(rng, 2 * (uint64_t)p->numel);
        else if (p->ndim == 2)
            for (int64_t j = 0; j < p->numel; j++)
                v[j] = 0.02f * qat_rng_normal(rng);
        else if (is_ln_weight)
            for (int64_t j = 0; j < p->numel; j++)
                v[j] = 1.0f;
    }
    /* HF zeroes the padding_idx row of embedding tables. */
    const qat_table *tables[3] = {&m->word, &m->pos, &m->type};
    for (int t = 0; t < 3; t++)
        if (tables[t]->padding_idx >= 0 && tables[t]->padding_idx < tables[t]->rows)
            memset(host + m->params[tables[t]->w].offset + tables[t]->padding_idx * m->dims.hidden_size, 0,
                   (size_t)m->dims.hidden_size * sizeof(float));
    qat_status st = upload(m, m->w, host, m->total);
    free(held);
    free(host);
    return st;
}

void qat_model_for_each_quantizer(qat_model *m, void (*fn)(qat_model *, qat_quantizer *, void *), void *user)
{
    fn(m, &m->word.q, user);
    fn(m, &m->pos.q, user);
    fn(m, &m->type.q, user);
    for (int64_t i = 0; i < m->dims.num_layers; i++) {
        qat_linear *ls[QAT_LINEARS_PER_LAYER];
        qat_layer_linears(&m->layers[i], ls);
        for (int j = 0; j < QAT_LINEARS_PER_LAYER; j++) {
            fn(m, &ls[j]->wq, user);
            fn(m, &ls[j]->aq, user);
        }
    }
    if (qat_model_mlm_head_quantized(m)) {
        fn(m, &m->mlm_dense.wq, user);
        fn(m, &m->mlm_dense.aq, user);
        fn(m, &m->mlm_decoder.wq, user);
        fn(m, &m->mlm_decoder.aq, user);
    }
}

static void forget_step(qat_model *m, qat_quantizer *q, void *unused)
{
    (void)unused;
    if (q->has_step)
        m->params[q->step_param].ready = 0;
    if (q->has_offset)
        m->params[q->offset_param].ready = 0;
}

/* A weight (or table) quantizer's step from its tensor, unless it holds a
 * value already (loaded, or a shared step set by an earlier tensor: the
 * seed code initialises a shared quantizer on the first tensor it sees). */
static qat_status init_weight_step(qat_model *m, qat_quantizer *q, size_t weight, int64_t rows, int64_t cols)
{
    if (!q->has_step || qat_quantizer_ready(m, q))
        return QAT_OK;
    return qat_quantize_init_step(m, q, model_w(m, weight), rows, cols);
}

qat_status qat_model_init_weight_steps(qat_model *m)
{
    qat_model_weights_changed(m);
    const int64_t H = m->dims.hidden_size;
    qat_table *tables[3] = {&m->word, &m->pos, &m->type};
    for (int t = 0; t < 3; t++)
        QAT_TRY(init_weight_step(m, &tables[t]->q, tables[t]->w, tables[t]->rows, H));
    for (int64_t i = 0; i < m->dims.num_layers; i++) {
        qat_linear *ls[QAT_LINEARS_PER_LAYER];
        qat_layer_linears(&m->layers[i], ls);
        for (int j = 0; j < QAT_LINEARS_PER_LAYER; j++)
            QAT_TRY(init_weight_step(m, &ls[j]->wq, ls[j]->w, ls[j]->out, ls[j]->in));
    }
    if (qat_model_mlm_head_quantized(m)) {
        QAT_TRY(init_weight_step(m, &m->mlm_dense.wq, m->mlm_dense.w, m->mlm_dense.out, m->mlm_dense.in));
        QAT_TRY(init_weight_step(m, &m->mlm_decoder.wq, m->mlm_decoder.w, m->mlm_decoder.out, m->mlm_decoder.in));
    }
    return QAT_OK;
}

static qat_status create_from_dims(qat_context *ctx, const qat_model_dims *dims, qat_task task, int64_t num_labels,
                                   float classifier_dropout, const qat_tensor_set *loading, qat_model **out)
{
    *out = NULL;
    qat_model *m = calloc(1, sizeof *m);
    if (!m)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "qat_model_create: out of memory");
    qat_refcount_init(&m->refs);
    m->ctx = qat_context_retain(ctx);
    m->dims = *dims;
    m->task = task;
    m->num_labels = qat_task_has_labels(task) ? num_labels : 0;
    m->classifier_dropout = classifier_dropout;
    qat_quant_config_init_fp32(&m->quant);
    m->layers = calloc((size_t)(dims->num_layers ? dims->num_layers : 1), sizeof *m->layers);
    qat_status st = m->layers ? QAT_OK : qat_fail(QAT_ERR_OUT_OF_MEMORY, "qat_model_create: out of memory");
    if (st == QAT_OK)
        st = qat_model_layout(m);
    if (st == QAT_OK)
        st = qat_model_init_weights(m, loading);
    if (st != QAT_OK) {
        qat_model_free(m);
        return st;
    }
    *out = m;
    return QAT_OK;
}

qat_status qat_model_create_loading(qat_context *ctx, const qat_model_options *options, const qat_tensor_set *loading,
                                    qat_model **out)
{
    QAT_CHECK_ARG(out != NULL, "qat_model_create: NULL out");
    *out = NULL;
    QAT_CHECK_ARG(ctx != NULL && options != NULL, "qat_model_create: NULL context or options");
    QAT_TRY(qat_model_options_check(options));
    qat_model_dims dims;
    dims_from_options(&dims, options);
    return create_from_dims(ctx, &dims, options->task, options->num_labels, (float)options->classifier_dropout,
                            loading, out);
}

QAT_API qat_status qat_model_create(qat_context *ctx, const qat_model_options *options, qat_model **out)
{
    return qat_model_create_loading(ctx, options, NULL, out);
}

static void free_label_names(qat_model *m)
{
    for (size_t i = 0; i < m->n_label_names; i++)
        free(m->label_names[i]);
    free(m->label_names);
    m->label_names = NULL;
    m->n_label_names = 0;
}

QAT_API qat_status qat_model_set_label_names(qat_model *m, const char *const *names, size_t count)
{
    QAT_CHECK_ARG(m != NULL && names != NULL, "qat_model_set_label_names: NULL model or names");
    QAT_CHECK_ARG(qat_task_has_labels(m->task), "qat_model_set_label_names: not a classification model");
    QAT_CHECK_ARG(count == (size_t)m->num_labels, "qat_model_set_label_names: %zu names for %lld labels", count,
                  (long long)m->num_labels);
    char **copy = calloc(count, sizeof *copy);
    if (!copy)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "qat_model_set_label_names: out of memory");
    for (size_t i = 0; i < count; i++) {
        if (!names[i] || !(copy[i] = strdup(names[i]))) {
            for (size_t j = 0; j < i; j++)
                free(copy[j]);
            free(copy);
            return qat_fail(names[i] ? QAT_ERR_OUT_OF_MEMORY : QAT_ERR_INVALID_ARGUMENT,
                            "qat_model_set_label_names: bad name %zu", i);
        }
    }
    free_label_names(m);
    m->label_names = copy;
    m->n_label_names = count;
    return QAT_OK;
}

QAT_API qat_status qat_model_label_name(const qat_model *m, size_t index, const char **name)
{
    QAT_CHECK_ARG(m != NULL && name != NULL, "qat_model_label_name: NULL argument");
    if (!m->label_names)
        return qat_fail(QAT_ERR_NOT_FOUND, "the model has no label names");
    QAT_CHECK_ARG(index < m->n_label_names, "qat_model_label_name: index %zu >= %zu labels", index, m->n_label_names);
    *name = m->label_names[index];
    return QAT_OK;
}

qat_model *qat_model_retain(qat_model *m)
{
    qat_refcount_retain(&m->refs);
    return m;
}

/* Drops one reference; the last one frees the model's memory, then drops
 * the model's reference to its context (which may be the context's last). */
QAT_API void qat_model_free(qat_model *m)
{
    if (!m || !qat_refcount_release(&m->refs))
        return;
    free_label_names(m);
    qat_model_clear_report(m);
    qat_acts_release(m);
    const struct qat_backend_ops *ops = m->ctx->backend.ops;
    void *st = m->ctx->backend_state;
    if (m->w) ops->free(st, m->w);
    if (m->g) ops->free(st, m->g);
    if (m->wq_buf) ops->free(st, m->wq_buf);
    if (m->gamma_buf) ops->free(st, m->gamma_buf);
    free(m->params);
    free(m->layers);
    qat_context_free(m->ctx);
    free(m);
}

QAT_API qat_status qat_model_set_quant(qat_model *m, const qat_quant_config *config)
{
    QAT_CHECK_ARG(m != NULL && config != NULL, "qat_model_set_quant: NULL model or config");
    for (int c = 0; c < QAT_CLASS_COUNT; c++)
        QAT_TRY(qat_class_quant_validate((qat_tensor_class)c, &config->cls[c]));
    QAT_TRY(qat_quant_config_validate(config));
    /* Keep the quantizers' state: a refused config leaves the model as it
     * was (same layout, same values, same readiness). */
    qat_param *saved_params = malloc(m->n_params * sizeof *saved_params);
    if (!saved_params)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "qat_model_set_quant: out of memory");
    memcpy(saved_params, m->params, m->n_params * sizeof *saved_params);
    const size_t saved_count = m->n_params;
    qat_quant_config previous = m->quant;
    m->quant = *config;
    qat_status st = qat_model_layout(m);
    if (st == QAT_OK) {
        qat_acts_release(m); /* the activation layout depends on the config */
        qat_model_for_each_quantizer(m, forget_step, NULL);
        st = qat_model_init_weight_steps(m);
    }
    if (st != QAT_OK) {
        m->quant = previous;
        /* Back to the previous layout (values kept by name), same indices. */
        if (qat_model_layout(m) == QAT_OK && m->n_params == saved_count)
            for (size_t i = 0; i < saved_count; i++)
                m->params[i].ready = saved_params[i].ready;
    }
    free(saved_params);
    return st;
}

QAT_API qat_status qat_model_reset_quantizers(qat_model *m)
{
    QAT_CHECK_ARG(m != NULL, "qat_model_reset_quantizers: NULL model");
    qat_model_for_each_quantizer(m, forget_step, NULL);
    return qat_model_init_weight_steps(m);
}

QAT_API qat_status qat_model_set_training(qat_model *m, int training)
{
    QAT_CHECK_ARG(m != NULL, "qat_model_set_training: NULL model");
    QAT_CHECK_ARG(training == 0 || training == 1, "qat_model_set_training: training must be 0 or 1");
    m->training = training;
    return QAT_OK;
}

QAT_API qat_status qat_model_parameter_count(const qat_model *m, size_t *count)
{
    QAT_CHECK_ARG(m != NULL && count != NULL, "qat_model_parameter_count: NULL argument");
    *count = m->n_params;
    return QAT_OK;
}

QAT_API qat_status qat_model_parameter_info(const qat_model *m, size_t index, const char **name, int *ndim,
                                            int64_t shape[4])
{
    QAT_CHECK_ARG(m != NULL, "qat_model_parameter_info: NULL model");
    QAT_CHECK_ARG(index < m->n_params, "qat_model_parameter_info: index %zu >= %zu parameters", index, m->n_params);
    const qat_param *p = &m->params[index];
    if (name)
        *name = p->name;
    if (ndim)
        *ndim = p->ndim;
    if (shape)
        for (int i = 0; i < 4; i++)
            shape[i] = i < p->ndim ? p->shape[i] : 0;
    return QAT_OK;
}

QAT_API qat_status qat_model_parameter_size(const qat_model *m, const char *name, size_t *count)
{
    QAT_CHECK_ARG(m != NULL && count != NULL, "qat_model_parameter_size: NULL argument");
    size_t i;
    QAT_TRY(qat_model_find_param(m, name, &i));
    *count = (size_t)m->params[i].numel;
    return QAT_OK;
}

static qat_status checked_param(const qat_model *m, const char *name, const void *values, size_t count,
                                const char *fn, size_t *index)
{
    QAT_CHECK_ARG(m != NULL && values != NULL, "%s: NULL model or buffer", fn);
    QAT_TRY(qat_model_find_param(m, name, index));
    QAT_CHECK_ARG(count == (size_t)m->params[*index].numel, "%s('%s'): %zu values given, the parameter has %lld", fn,
                  name, count, (long long)m->params[*index].numel);
    return QAT_OK;
}

QAT_API qat_status qat_model_get_parameter(const qat_model *m, const char *name, float *values, size_t count)
{
    size_t i;
    QAT_TRY(checked_param(m, name, values, count, "qat_model_get_parameter", &i));
    return download(m, values, model_w(m, i), count);
}

void qat_model_mark_step_initialized(qat_model *m, size_t i)
{
    if (i < m->n_params && m->params[i].is_step)
        m->params[i].ready = 1;
}

QAT_API qat_status qat_model_set_parameter(qat_model *m, const char *name, const float *values, size_t count)
{
    size_t i;
    QAT_TRY(checked_param(m, name, values, count, "qat_model_set_parameter", &i));
    if (m->params[i].is_step) {
        for (size_t k = 0; k < count; k++)
            QAT_CHECK_ARG(isfinite(values[k]) && (m->params[i].is_offset || values[k] > 0.0f),
                          "qat_model_set_parameter('%s'): %s", name,
                          m->params[i].is_offset ? "an offset must be finite" : "a step must be finite and > 0");
        qat_model_mark_step_initialized(m, i);
    }
    return upload(m, model_w(m, i), values, count);
}

QAT_API qat_status qat_model_get_gradient(const qat_model *m, const char *name, float *values, size_t count)
{
    size_t i;
    QAT_TRY(checked_param(m, name, values, count, "qat_model_get_gradient", &i));
    return download(m, values, model_g(m, i), count);
}

QAT_API qat_status qat_model_logits_size(const qat_model *m, int64_t batch, int64_t seq_len, size_t *count)
{
    QAT_CHECK_ARG(m != NULL && count != NULL, "qat_model_logits_size: NULL argument");
    QAT_CHECK_ARG(batch > 0 && seq_len > 0, "qat_model_logits_size: batch and seq_len must be > 0");
    int64_t classes = m->task == QAT_TASK_MLM ? m->dims.vocab_size : m->num_labels;
    int64_t rows = m->task == QAT_TASK_SEQUENCE_CLASSIFICATION ? batch : batch * seq_len;
    *count = (size_t)(rows * classes);
    return QAT_OK;
}

qat_status qat_model_validate_batch(const qat_model *m, const int32_t *ids, const int32_t *mask, const int32_t *types,
                                   const int32_t *labels, int64_t batch, int64_t seq_len, const char *fn)
{
    const qat_model_dims *d = &m->dims;
    QAT_CHECK_ARG(ids != NULL, "%s: NULL input_ids", fn);
    QAT_CHECK_ARG(batch > 0 && seq_len > 0 && batch <= (1 << 20) && seq_len <= (1 << 20) &&
                      batch * seq_len <= (1 << 26),
                  "%s: batch %lld x seq_len %lld out of range", fn, (long long)batch, (long long)seq_len);
    int64_t max_len = d->arch == QAT_ARCH_ROBERTA ? d->max_position_embeddings - d->pad_token_id - 1
                                                       : d->max_position_embeddings;
    QAT_CHECK_ARG(seq_len <= max_len, "%s: seq_len %lld exceeds the model's %lld positions", fn, (long long)seq_len,
                  (long long)max_len);
    int64_t classes = m->task == QAT_TASK_MLM ? d->vocab_size : m->num_labels;
    for (int64_t i = 0; i < batch * seq_len; i++) {
        QAT_CHECK_ARG(ids[i] >= 0 && ids[i] < d->vocab_size, "%s: input_ids[%lld] = %d outside the vocabulary (%lld)",
                      fn, (long long)i, ids[i], (long long)d->vocab_size);
        QAT_CHECK_ARG(!mask || mask[i] == 0 || mask[i] == 1, "%s: attention_mask[%lld] = %d is not 0 or 1", fn,
                      (long long)i, mask[i]);
        QAT_CHECK_ARG(!types || (types[i] >= 0 && types[i] < d->type_vocab_size),
                      "%s: token_type_ids[%lld] = %d outside 0..%lld", fn, (long long)i, types ? types[i] : 0,
                      (long long)d->type_vocab_size - 1);
    }
    /* one label per token, or per sequence for sequence classification */
    const int64_t n_labels = m->task == QAT_TASK_SEQUENCE_CLASSIFICATION ? batch : batch * seq_len;
    for (int64_t i = 0; labels && i < n_labels; i++)
        QAT_CHECK_ARG(labels[i] == -100 || (labels[i] >= 0 && labels[i] < classes),
                      "%s: labels[%lld] = %d is neither -100 nor a class in 0..%lld", fn, (long long)i, labels[i],
                      (long long)classes - 1);
    return QAT_OK;
}

QAT_API qat_status qat_model_forward(qat_model *m, const int32_t *ids, const int32_t *mask, const int32_t *types,
                                     int64_t batch, int64_t seq_len, float *logits, size_t logits_count)
{
    QAT_CHECK_ARG(m != NULL && logits != NULL, "qat_model_forward: NULL model or logits");
    QAT_TRY(qat_model_validate_batch(m, ids, mask, types, NULL, batch, seq_len, "qat_model_forward"));
    size_t need;
    QAT_TRY(qat_model_logits_size(m, batch, seq_len, &need));
    QAT_CHECK_ARG(logits_count >= need, "qat_model_forward: logits holds %zu floats, %zu needed", logits_count, need);
    QAT_TRY(qat_model_forward_pass(m, ids, mask, types, NULL, batch, seq_len, 0));
    return download(m, logits, m->acts.logits, need);
}

QAT_API qat_status qat_model_backward(qat_model *m, const int32_t *ids, const int32_t *mask, const int32_t *types,
                                      const int32_t *labels, int64_t batch, int64_t seq_len, float *loss)
{
    QAT_CHECK_ARG(m != NULL && loss != NULL && labels != NULL, "qat_model_backward: NULL model, labels or loss");
    QAT_TRY(qat_model_validate_batch(m, ids, mask, types, labels, batch, seq_len, "qat_model_backward"));
    QAT_TRY(qat_model_forward_pass(m, ids, mask, types, labels, batch, seq_len, 1));
    return qat_model_loss_backward(m, labels, 1, loss);
}
