/* qat_packed_export: a training model's weights, quantizers and config
 * into .qatp records. Reads the model's private state (lib/model/model.h)
 * without changing it; values go through qat_model_get_parameter so any
 * backend's memory works. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/options_version.h"
#include "export/export_internal.h"
#include "model/model.h"
#include "qat/packed.h"

static qat_status get_param(const qat_model *m, size_t index, float **out)
{
    const qat_param *p = &m->params[index];
    float *v = malloc((size_t)p->numel * sizeof(float));
    if (!v)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "export: out of memory for '%s'", p->name);
    qat_status st = qat_model_get_parameter(m, p->name, v, (size_t)p->numel);
    if (st != QAT_OK) {
        free(v);
        return st;
    }
    *out = v;
    return QAT_OK;
}

static qat_status put_f32(qatp_writer *w, const char *name, const float *v, int64_t d0, int64_t d1)
{
    size_t mark;
    QAT_TRY(qatp_begin(w, QATP_F32, name, &mark));
    QAT_TRY(qatp_put_u32(w, d1 ? 2 : 1));
    QAT_TRY(qatp_put_u32(w, 0));
    QAT_TRY(qatp_put_u64(w, (uint64_t)d0));
    if (d1)
        QAT_TRY(qatp_put_u64(w, (uint64_t)d1));
    QAT_TRY(qatp_put_f32s(w, v, (size_t)(d0 * (d1 ? d1 : 1))));
    return qatp_end(w, mark);
}

static qat_status put_param(qatp_writer *w, const qat_model *m, const char *name, size_t index)
{
    float *v = NULL;
    QAT_TRY(get_param(m, index, &v));
    const qat_param *p = &m->params[index];
    qat_status st = put_f32(w, name, v, p->shape[0], p->ndim == 2 ? p->shape[1] : 0);
    free(v);
    return st;
}

qat_status pm_put_packed(qatp_writer *w, const char *name, const qat_packed_weights *pw)
{
    size_t mark;
    QAT_TRY(qatp_begin(w, QATP_PACKED, name, &mark));
    QAT_TRY(qatp_put_u32(w, (uint32_t)pw->format));
    QAT_TRY(qatp_put_u32(w, (uint32_t)pw->bits));
    QAT_TRY(qatp_put_u32(w, (uint32_t)pw->per_row));
    QAT_TRY(qatp_put_u32(w, 0));
    QAT_TRY(qatp_put_u64(w, (uint64_t)pw->out));
    QAT_TRY(qatp_put_u64(w, (uint64_t)pw->in));
    QAT_TRY(qatp_put_u64(w, (uint64_t)pw->row_bytes));
    QAT_TRY(qatp_put_f32s(w, pw->scale, pw->per_row ? (size_t)pw->out : 1));
    QAT_TRY(qatp_pad8(w));
    QAT_TRY(qatp_put(w, pw->data, (size_t)pw->out * pw->row_bytes));
    return qatp_end(w, mark);
}

/* Per-row steps: `count` of them. */
static qat_status read_steps(const qat_model *m, const qat_quantizer *q, const char *owner, float *step,
                             size_t count)
{
    if (!qat_quantizer_ready(m, q))
        return qat_fail(QAT_ERR_STATE,
                        "export: the LSQ steps of '%s' are not initialised yet: run a forward on representative "
                        "data (or train) before exporting", owner);
    QAT_TRY(qat_model_get_parameter(m, m->params[q->step_param].name, step, count));
    for (size_t i = 0; i < count; i++)
        if (!(step[i] > 0.0f) || !isfinite(step[i]))
            return qat_fail(QAT_ERR_NUMERIC, "export: LSQ step %zu of '%s' is %g (must be finite and > 0)", i, owner,
                            (double)step[i]);
    return QAT_OK;
}

static qat_status read_step(const qat_model *m, const qat_quantizer *q, const char *owner, float *step)
{
    if (!qat_quantizer_ready(m, q))
        return qat_fail(QAT_ERR_STATE,
                        "export: the LSQ step of '%s' is not initialised yet: run a forward on representative "
                        "data (or train) before exporting", owner);
    QAT_TRY(qat_model_get_parameter(m, m->params[q->step_param].name, step, 1));
    if (!(*step > 0.0f) || !isfinite(*step))
        return qat_fail(QAT_ERR_NUMERIC, "export: the LSQ step of '%s' is %g (must be finite and > 0)", owner,
                        (double)*step);
    return QAT_OK;
}

static qat_status put_table(qatp_writer *w, const qat_model *m, const qat_table *t, const char *name)
{
    if (t->q.cfg.algo == QAT_ALGO_NONE)
        return put_param(w, m, name, t->w);
    if (t->q.cfg.algo != QAT_ALGO_LSQ)
        return qat_fail(QAT_ERR_UNSUPPORTED, "export: embedding quantizer %d of '%s' is not supported",
                        (int)t->q.cfg.algo, name);
    float step;
    QAT_TRY(read_step(m, &t->q, name, &step));
    float *v = NULL;
    QAT_TRY(get_param(m, t->w, &v));
    qat_packed_weights pw;
    qat_status st = qat_packed_pack_lsq_eps(v, t->rows, m->dims.hidden_size, t->q.cfg.bits, &step, 0,
                                            qat_quant_step_eps(&m->quant), &pw);
    free(v);
    if (st != QAT_OK)
        return qat_fail_prefix(st, "export: '%s'", name);
    st = pm_put_packed(w, name, &pw);
    qat_packed_weights_free(&pw);
    return st;
}

static qat_status put_linear_weight(qatp_writer *w, const qat_model *m, const qat_linear *l, const char *name,
                                    qat_ternary_format ternary)
{
    const qat_class_quant *c = &l->wq.cfg;
    if (c->algo == QAT_ALGO_NONE)
        return put_param(w, m, name, l->w);
    int per_row = c->granularity == QAT_GRAN_ROW;
    float *v = NULL, *scale = NULL;
    QAT_TRY(get_param(m, l->w, &v));
    scale = malloc((size_t)(per_row ? l->out : 1) * sizeof(float));
    qat_status st = scale ? QAT_OK : qat_fail(QAT_ERR_OUT_OF_MEMORY, "export: out of memory");
    qat_packed_weights pw;
    memset(&pw, 0, sizeof pw);
    if (st == QAT_OK && c->algo == QAT_ALGO_BITNET158) {
        st = qat_packed_bitnet_gamma(v, l->out, l->in, per_row, scale);
        if (st == QAT_OK)
            st = qat_packed_pack_ternary(v, l->out, l->in, scale, per_row,
                                         ternary == QAT_TERNARY_1P6BIT ? QAT_PACKED_W_TERNARY1P6
                                                                       : QAT_PACKED_W_TERNARY2,
                                         &pw);
    } else if (st == QAT_OK) {
        st = read_steps(m, &l->wq, name, scale, (size_t)(per_row ? l->out : 1));
        if (st == QAT_OK)
            st = qat_packed_pack_lsq_eps(v, l->out, l->in, c->bits, scale, per_row, qat_quant_step_eps(&m->quant),
                                         &pw);
    }
    free(v);
    free(scale);
    if (st == QAT_OK)
        st = pm_put_packed(w, name, &pw);
    else
        st = qat_fail_prefix(st, "export: '%s'", name);
    qat_packed_weights_free(&pw);
    return st;
}

static qat_status put_act_quant(qatp_writer *w, const qat_model *m, const qat_linear *l, const char *name)
{
    const qat_class_quant *c = &l->aq.cfg;
    float step = 0.0f, offset = 0.0f;
    if (c->algo == QAT_ALGO_LSQ || c->algo == QAT_ALGO_LSQ_PLUS)
        QAT_TRY(read_step(m, &l->aq, name, &step));
    if (c->algo == QAT_ALGO_LSQ_PLUS)
        QAT_TRY(qat_model_get_parameter(m, m->params[l->aq.offset_param].name, &offset, 1));
    const int symmetric = qat_quant_symmetric_acts(&m->quant);
    size_t mark;
    QAT_TRY(qatp_begin(w, QATP_ACTQ, name, &mark));
    QAT_TRY(qatp_put_u32(w, (uint32_t)c->algo));
    QAT_TRY(qatp_put_u32(w, (uint32_t)c->bits));
    QAT_TRY(qatp_put_u32(w, (uint32_t)c->granularity));
    QAT_TRY(qatp_put_u32(w, (uint32_t)symmetric));
    QAT_TRY(qatp_put_f32s(w, &step, 1));
    QAT_TRY(qatp_put_f32s(w, &offset, 1)); /* LSQ+ offset; 0 otherwise */
    return qatp_end(w, mark);
}

static qat_status put_config(qatp_writer *w, const qat_model *m)
{
    const qat_model_dims *d = &m->dims;
    uint32_t eps_bits;
    memcpy(&eps_bits, &d->layer_norm_eps, 4);
    int64_t cfg[QATP_CONFIG_COUNT] = {
        d->arch, m->task, d->vocab_size, d->hidden_size, d->num_layers, d->num_heads, d->intermediate_size,
        d->max_position_embeddings, d->type_vocab_size, d->pad_token_id, m->num_labels, d->tie_word_embeddings,
        eps_bits, d->bos_token_id, d->eos_token_id,
    };
    size_t mark;
    QAT_TRY(qatp_begin(w, QATP_I64, "config", &mark));
    for (int i = 0; i < QATP_CONFIG_COUNT; i++)
        QAT_TRY(qatp_put_u64(w, (uint64_t)cfg[i]));
    QAT_TRY(qatp_end(w, mark));
    QAT_TRY(qatp_begin(w, QATP_BYTES, "model_type", &mark));
    QAT_TRY(qatp_put(w, d->model_type, strlen(d->model_type)));
    QAT_TRY(qatp_end(w, mark));
    char quant[QAT_QUANT_CONFIG_MAX_STRING + 1];
    QAT_TRY(qat_quant_config_to_string(&m->quant, quant, sizeof quant, NULL));
    QAT_TRY(qatp_begin(w, QATP_BYTES, "quant", &mark));
    QAT_TRY(qatp_put(w, quant, strlen(quant)));
    return qatp_end(w, mark);
}

static qat_status put_model(qatp_writer *w, const qat_model *m, const qat_export_options *o)
{
    if (qat_model_mlm_head_quantized(m))
        return qat_fail(QAT_ERR_UNSUPPORTED,
                        "export: this MLM model's head is quantized (the mlm-head switch of @seed-code), and packed "
                        "MLM heads run in float; export the fine-tuned model, or an MLM model trained without it");
    QAT_TRY(put_config(w, m));
    QAT_TRY(pm_put_labels(w, m));
    QAT_TRY(pm_put_pooling(w, m));
    QAT_TRY(pm_put_tokenizer(w, o->tokenizer_path));
    QAT_TRY(put_table(w, m, &m->word, "embeddings.word_embeddings.weight"));
    QAT_TRY(put_table(w, m, &m->pos, "embeddings.position_embeddings.weight"));
    QAT_TRY(put_table(w, m, &m->type, "embeddings.token_type_embeddings.weight"));
    QAT_TRY(put_param(w, m, "embeddings.LayerNorm.weight", m->emb_ln_w));
    QAT_TRY(put_param(w, m, "embeddings.LayerNorm.bias", m->emb_ln_b));
    char n[QATP_NAME_MAX + 1];
    for (int64_t i = 0; i < m->dims.num_layers; i++) {
        const qat_layer *L = &m->layers[i];
        const qat_linear *ls[QATP_LINEARS] = {&L->q, &L->k, &L->v, &L->attn_out, &L->inter, &L->out};
        for (int j = 0; j < QATP_LINEARS; j++) {
            snprintf(n, sizeof n, "encoder.layer.%lld.%s.weight", (long long)i, qatp_linear_names[j]);
            QAT_TRY(put_linear_weight(w, m, ls[j], n, o->ternary));
            snprintf(n, sizeof n, "encoder.layer.%lld.%s.bias", (long long)i, qatp_linear_names[j]);
            QAT_TRY(put_param(w, m, n, ls[j]->b));
            snprintf(n, sizeof n, "encoder.layer.%lld.%s.input_quantizer", (long long)i, qatp_linear_names[j]);
            QAT_TRY(put_act_quant(w, m, ls[j], n));
        }
        size_t ln[4] = {L->ln1_w, L->ln1_b, L->ln2_w, L->ln2_b};
        const char *ln_names[4] = {"attention.output.LayerNorm.weight", "attention.output.LayerNorm.bias",
                                   "output.LayerNorm.weight", "output.LayerNorm.bias"};
        for (int j = 0; j < 4; j++) {
            snprintf(n, sizeof n, "encoder.layer.%lld.%s", (long long)i, ln_names[j]);
            QAT_TRY(put_param(w, m, n, ln[j]));
        }
    }
    if (m->task == QAT_TASK_MLM) {
        QAT_TRY(put_param(w, m, "mlm.dense.weight", m->mlm_dense_w));
        QAT_TRY(put_param(w, m, "mlm.dense.bias", m->mlm_dense_b));
        QAT_TRY(put_param(w, m, "mlm.layer_norm.weight", m->mlm_ln_w));
        QAT_TRY(put_param(w, m, "mlm.layer_norm.bias", m->mlm_ln_b));
        QAT_TRY(put_param(w, m, "mlm.decoder.weight", m->mlm_decoder_w));
        QAT_TRY(put_param(w, m, "mlm.bias", m->mlm_bias));
    } else {
        /* Sequence classification: BERT's pooler and RoBERTa's
         * classifier.dense are the same dense + tanh over the first token. */
        if (m->task == QAT_TASK_SEQUENCE_CLASSIFICATION) {
            QAT_TRY(put_param(w, m, "pooler.dense.weight", m->pool_w));
            QAT_TRY(put_param(w, m, "pooler.dense.bias", m->pool_b));
        }
        QAT_TRY(put_param(w, m, "classifier.weight", m->cls_w));
        QAT_TRY(put_param(w, m, "classifier.bias", m->cls_b));
    }
    return QAT_OK;
}

QAT_API qat_status qat_export_options_init(qat_export_options *options, uint32_t version)
{
    QAT_CHECK_ARG(options != NULL, "qat_export_options_init: NULL options");
    QAT_TRY(qat_options_version_check("qat_export_options_init", version, 1, QAT_EXPORT_OPTIONS_VERSION));
    memset(options, 0, sizeof *options);
    options->version = version;
    options->ternary = QAT_TERNARY_2BIT;
    return QAT_OK;
}

QAT_API qat_status qat_packed_export(const qat_model *model, const char *path, const qat_export_options *options)
{
    QAT_CHECK_ARG(model != NULL, "qat_packed_export: NULL model");
    QAT_CHECK_ARG(path != NULL && path[0], "qat_packed_export: NULL or empty path");
    qat_export_options o;
    qat_export_options_init(&o, QAT_EXPORT_OPTIONS_VERSION);
    if (options) {
        QAT_TRY(qat_options_version_check("qat_packed_export", options->version, 1, QAT_EXPORT_OPTIONS_VERSION));
        o = *options; /* version 1 is the only one; a version 2 copies only what options->version holds */
    }
    if (model->task != QAT_TASK_MLM && model->task != QAT_TASK_TOKEN_CLASSIFICATION &&
        model->task != QAT_TASK_SEQUENCE_CLASSIFICATION)
        return qat_fail(QAT_ERR_UNSUPPORTED, "qat_packed_export: unknown task %d", (int)model->task);
    QAT_CHECK_ARG(o.ternary == QAT_TERNARY_2BIT || o.ternary == QAT_TERNARY_1P6BIT,
                  "qat_packed_export: unknown ternary format %d", (int)o.ternary);
    qatp_writer w;
    QAT_TRY(qatp_writer_init(&w));
    qat_status st = put_model(&w, model, &o);
    if (st == QAT_OK)
        st = qatp_writer_commit(&w, path);
    qatp_writer_free(&w);
    return st;
}
