/* The parameter table: HF names, shapes and offsets into one allocation for
 * the weights and one for the gradients (llm.c style), rebuilt when the
 * quant config adds or removes quantizer steps. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/dispatch.h"
#include "model/model.h"

typedef struct builder {
    qat_param *params;
    size_t n, cap;
    size_t total;
    /* Per-class sharing: the class's step and offset, once created. */
    int have_shared[QAT_CLASS_COUNT];
    size_t shared_step[QAT_CLASS_COUNT], shared_offset[QAT_CLASS_COUNT];
} builder;

static qat_status add(builder *b, size_t *index, int decay, int is_step, int64_t d0, int64_t d1,
                      const char *fmt, ...) QAT_PRINTF(7, 8);

static qat_status add(builder *b, size_t *index, int decay, int is_step, int64_t d0, int64_t d1,
                      const char *fmt, ...)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        qat_param *p = realloc(b->params, cap * sizeof *p);
        if (!p)
            return qat_fail(QAT_ERR_OUT_OF_MEMORY, "model layout: out of memory");
        b->params = p;
        b->cap = cap;
    }
    qat_param *p = &b->params[b->n];
    memset(p, 0, sizeof *p);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->name, sizeof p->name, fmt, ap);
    va_end(ap);
    p->ndim = d1 > 0 ? 2 : 1;
    p->shape[0] = d0;
    p->shape[1] = d1 > 0 ? d1 : 0;
    p->numel = d1 > 0 ? d0 * d1 : d0;
    /* 16-float alignment keeps every tensor 64-byte aligned for SIMD. */
    p->offset = b->total;
    b->total += ((size_t)p->numel + 15) / 16 * 16;
    p->decay = decay;
    p->is_step = is_step;
    *index = b->n++;
    return QAT_OK;
}

static const char *base_prefix(const qat_model *m)
{
    return m->dims.arch == QAT_ARCH_BERT ? "bert." : "roberta.";
}

static const char *base_prefix(const qat_model *m);

/* A quantizer use of class `cls` on a tensor with `rows` rows: its own
 * step (and LSQ+ offset) named after its owner, or the class's shared ones
 * (named <base>.shared_quantizers.<class>.step). */
static qat_status add_quantizer(builder *b, const qat_model *m, qat_quantizer *q, qat_tensor_class cls,
                                int64_t rows, const char *owner, const char *kind)
{
    const qat_class_quant *cfg = &m->quant.cls[cls];
    q->cfg = *cfg;
    q->has_step = cfg->algo == QAT_ALGO_LSQ || cfg->algo == QAT_ALGO_LSQ_PLUS;
    q->has_offset = cfg->algo == QAT_ALGO_LSQ_PLUS;
    if (!q->has_step)
        return QAT_OK;
    const int64_t steps = cfg->granularity == QAT_GRAN_ROW ? rows : 1;
    if (qat_quant_switch_effective(&m->quant, QAT_QS_SHARING) == QAT_SHARING_PER_CLASS) {
        if (!b->have_shared[cls]) {
            const char *pre = base_prefix(m), *name = qat_quant_class_names[cls];
            QAT_TRY(add(b, &b->shared_step[cls], 0, 1, 1, 0, "%sshared_quantizers.%s.step", pre, name));
            if (q->has_offset) {
                QAT_TRY(add(b, &b->shared_offset[cls], 0, 1, 1, 0, "%sshared_quantizers.%s.offset", pre, name));
                b->params[b->shared_offset[cls]].is_offset = 1;
            }
            b->have_shared[cls] = 1;
        }
        q->step_param = b->shared_step[cls];
        q->offset_param = b->shared_offset[cls];
        return QAT_OK;
    }
    QAT_TRY(add(b, &q->step_param, 0, 1, steps, 0, "%s.%s.step", owner, kind));
    if (q->has_offset) {
        QAT_TRY(add(b, &q->offset_param, 0, 1, 1, 0, "%s.%s.offset", owner, kind));
        b->params[q->offset_param].is_offset = 1;
    }
    return QAT_OK;
}

static qat_status add_linear_quantizers(builder *b, const qat_model *m, qat_linear *l, const char *name)
{
    QAT_TRY(add_quantizer(b, m, &l->wq, QAT_CLASS_WEIGHT, l->out, name, "weight_quantizer"));
    return add_quantizer(b, m, &l->aq, QAT_CLASS_ACTIVATION, l->out, name, "input_quantizer");
}

static qat_status add_linear(builder *b, const qat_model *m, qat_linear *l, int64_t out, int64_t in,
                             const char *name)
{
    l->out = out;
    l->in = in;
    QAT_TRY(add(b, &l->w, 1, 0, out, in, "%s.weight", name));
    QAT_TRY(add(b, &l->b, 0, 0, out, 0, "%s.bias", name));
    return add_linear_quantizers(b, m, l, name);
}

/* The MLM head's dense layer and decoder as linears over existing
 * parameters; quantized only under the mlm-head switch. */
static qat_status add_mlm_linears(builder *b, qat_model *m, const char *head, const char *transform)
{
    const int64_t H = m->dims.hidden_size;
    m->mlm_dense = (qat_linear){.w = m->mlm_dense_w, .b = m->mlm_dense_b, .out = H, .in = H};
    m->mlm_decoder = (qat_linear){.w = m->mlm_decoder_w, .b = m->mlm_bias, .out = m->dims.vocab_size, .in = H};
    if (!qat_model_mlm_head_quantized(m))
        return QAT_OK; /* zeroed quantizers: NONE */
    char name[QAT_PARAM_NAME_MAX];
    snprintf(name, sizeof name, "%s%sdense", head, transform);
    QAT_TRY(add_linear_quantizers(b, m, &m->mlm_dense, name));
    snprintf(name, sizeof name, "%sdecoder", head);
    return add_linear_quantizers(b, m, &m->mlm_decoder, name);
}

static qat_status add_table(builder *b, const qat_model *m, qat_table *t, int64_t rows, int64_t dim,
                            int64_t padding_idx, const char *prefix, const char *name)
{
    char owner[QAT_PARAM_NAME_MAX];
    snprintf(owner, sizeof owner, "%sembeddings.%s", prefix, name);
    t->rows = rows;
    t->padding_idx = padding_idx;
    QAT_TRY(add(b, &t->w, 1, 0, rows, dim, "%s.weight", owner));
    return add_quantizer(b, m, &t->q, QAT_CLASS_EMBEDDING, rows, owner, "weight_quantizer");
}

static qat_status build(qat_model *m, builder *b)
{
    const qat_model_dims *d = &m->dims;
    const char *pre = base_prefix(m);
    int roberta = d->arch == QAT_ARCH_ROBERTA;
    int64_t H = d->hidden_size, I = d->intermediate_size;
    QAT_TRY(add_table(b, m, &m->word, d->vocab_size, H, d->pad_token_id, pre, "word_embeddings"));
    QAT_TRY(add_table(b, m, &m->pos, d->max_position_embeddings, H, roberta ? d->pad_token_id : -1, pre,
                      "position_embeddings"));
    QAT_TRY(add_table(b, m, &m->type, d->type_vocab_size, H, -1, pre, "token_type_embeddings"));
    QAT_TRY(add(b, &m->emb_ln_w, 0, 0, H, 0, "%sembeddings.LayerNorm.weight", pre));
    QAT_TRY(add(b, &m->emb_ln_b, 0, 0, H, 0, "%sembeddings.LayerNorm.bias", pre));
    for (int64_t i = 0; i < d->num_layers; i++) {
        qat_layer *L = &m->layers[i];
        L->grad_from = b->total;
        char n[QAT_PARAM_NAME_MAX];
#define LAYER_NAME(suffix) (snprintf(n, sizeof n, "%sencoder.layer.%lld.%s", pre, (long long)i, suffix), n)
        QAT_TRY(add_linear(b, m, &L->q, H, H, LAYER_NAME("attention.self.query")));
        QAT_TRY(add_linear(b, m, &L->k, H, H, LAYER_NAME("attention.self.key")));
        QAT_TRY(add_linear(b, m, &L->v, H, H, LAYER_NAME("attention.self.value")));
        QAT_TRY(add_linear(b, m, &L->attn_out, H, H, LAYER_NAME("attention.output.dense")));
        QAT_TRY(add(b, &L->ln1_w, 0, 0, H, 0, "%s.weight", LAYER_NAME("attention.output.LayerNorm")));
        QAT_TRY(add(b, &L->ln1_b, 0, 0, H, 0, "%s.bias", LAYER_NAME("attention.output.LayerNorm")));
        QAT_TRY(add_linear(b, m, &L->inter, I, H, LAYER_NAME("intermediate.dense")));
        QAT_TRY(add_linear(b, m, &L->out, H, I, LAYER_NAME("output.dense")));
        QAT_TRY(add(b, &L->ln2_w, 0, 0, H, 0, "%s.weight", LAYER_NAME("output.LayerNorm")));
        QAT_TRY(add(b, &L->ln2_b, 0, 0, H, 0, "%s.bias", LAYER_NAME("output.LayerNorm")));
#undef LAYER_NAME
    }
    m->head_from = b->total;
    if (m->task == QAT_TASK_MLM) {
        const char *h = roberta ? "lm_head." : "cls.predictions.";
        const char *t = roberta ? "" : "transform.";
        QAT_TRY(add(b, &m->mlm_dense_w, 1, 0, H, H, "%s%sdense.weight", h, t));
        QAT_TRY(add(b, &m->mlm_dense_b, 0, 0, H, 0, "%s%sdense.bias", h, t));
        QAT_TRY(add(b, &m->mlm_ln_w, 0, 0, H, 0, "%s%s%s.weight", h, t, roberta ? "layer_norm" : "LayerNorm"));
        QAT_TRY(add(b, &m->mlm_ln_b, 0, 0, H, 0, "%s%s%s.bias", h, t, roberta ? "layer_norm" : "LayerNorm"));
        if (d->tie_word_embeddings)
            m->mlm_decoder_w = m->word.w;
        else
            QAT_TRY(add(b, &m->mlm_decoder_w, 1, 0, d->vocab_size, H, "%sdecoder.weight", h));
        QAT_TRY(add(b, &m->mlm_bias, 0, 0, d->vocab_size, 0, "%sbias", h));
        QAT_TRY(add_mlm_linears(b, m, h, t));
    } else if (m->task == QAT_TASK_SEQUENCE_CLASSIFICATION && roberta) {
        /* RobertaClassificationHead */
        QAT_TRY(add(b, &m->pool_w, 1, 0, H, H, "classifier.dense.weight"));
        QAT_TRY(add(b, &m->pool_b, 0, 0, H, 0, "classifier.dense.bias"));
        QAT_TRY(add(b, &m->cls_w, 1, 0, m->num_labels, H, "classifier.out_proj.weight"));
        QAT_TRY(add(b, &m->cls_b, 0, 0, m->num_labels, 0, "classifier.out_proj.bias"));
    } else {
        if (m->task == QAT_TASK_SEQUENCE_CLASSIFICATION) { /* BertPooler */
            QAT_TRY(add(b, &m->pool_w, 1, 0, H, H, "%spooler.dense.weight", pre));
            QAT_TRY(add(b, &m->pool_b, 0, 0, H, 0, "%spooler.dense.bias", pre));
        }
        QAT_TRY(add(b, &m->cls_w, 1, 0, m->num_labels, H, "classifier.weight"));
        QAT_TRY(add(b, &m->cls_b, 0, 0, m->num_labels, 0, "classifier.bias"));
    }
    return QAT_OK;
}

static void release_buffers(qat_model *m, float *w, float *g, float *wq, float *gamma)
{
    const struct qat_backend_ops *ops = m->ctx->backend.ops;
    void *st = m->ctx->backend_state;
    if (w) ops->free(st, w);
    if (g) ops->free(st, g);
    if (wq) ops->free(st, wq);
    if (gamma) ops->free(st, gamma);
}

/* Places every linear's quantized weight and BitNet scales. */
static size_t quantized_weight_floats(qat_model *m, size_t *gammas)
{
    size_t total = 0, rows = 0;
    for (int64_t i = 0; i < m->dims.num_layers; i++) {
        qat_linear *ls[QAT_LINEARS_PER_LAYER];
        qat_layer_linears(&m->layers[i], ls);
        for (int j = 0; j < 6; j++) {
            ls[j]->wq_off = total;
            ls[j]->gamma_off = rows;
            total += ((size_t)(ls[j]->out * ls[j]->in) + 15) / 16 * 16;
            rows += (size_t)ls[j]->out;
        }
    }
    qat_linear *head[2] = {&m->mlm_dense, &m->mlm_decoder};
    for (int j = 0; j < 2 && qat_model_mlm_head_quantized(m); j++) {
        head[j]->wq_off = total;
        head[j]->gamma_off = rows;
        total += ((size_t)(head[j]->out * head[j]->in) + 15) / 16 * 16;
        rows += (size_t)head[j]->out;
    }
    *gammas = rows;
    return total;
}

qat_status qat_model_layout_plan(qat_model *m)
{
    builder b;
    memset(&b, 0, sizeof b);
    qat_status st = build(m, &b);
    if (st != QAT_OK) {
        free(b.params);
        return st;
    }
    free(m->params);
    m->params = b.params;
    m->n_params = b.n;
    m->total = b.total;
    return QAT_OK;
}

qat_status qat_model_layout(qat_model *m)
{
    builder b;
    memset(&b, 0, sizeof b);
    qat_status st = build(m, &b);
    if (st != QAT_OK) {
        free(b.params);
        return st;
    }
    const struct qat_backend_ops *ops = m->ctx->backend.ops;
    void *bs = m->ctx->backend_state;
    float *w = NULL, *g = NULL, *wq = NULL, *gamma = NULL;
    size_t n_gamma = 0;
    size_t n_wq = m->quant.cls[QAT_CLASS_WEIGHT].algo != QAT_ALGO_NONE ? quantized_weight_floats(m, &n_gamma) : 0;
    st = ops->alloc(bs, b.total * sizeof(float), (void **)&w);
    if (st == QAT_OK)
        st = ops->alloc(bs, b.total * sizeof(float), (void **)&g);
    if (st == QAT_OK && n_wq)
        st = ops->alloc(bs, n_wq * sizeof(float), (void **)&wq);
    if (st == QAT_OK && n_gamma)
        st = ops->alloc(bs, n_gamma * sizeof(float), (void **)&gamma);
    /* Carry values over by name from the previous layout. */
    float *host = NULL;
    if (st == QAT_OK && m->params) {
        host = malloc(m->total * sizeof(float));
        if (!host)
            st = qat_fail(QAT_ERR_OUT_OF_MEMORY, "model layout: out of memory");
        else
            st = qat_context_backend_error(m->ctx, ops->download(bs, host, m->w, m->total * sizeof(float)),
                                           "reading parameters");
        for (size_t i = 0; st == QAT_OK && i < b.n; i++)
            for (size_t j = 0; j < m->n_params; j++)
                if (strcmp(b.params[i].name, m->params[j].name) == 0 && b.params[i].numel == m->params[j].numel) {
                    b.params[i].ready = m->params[j].ready;
                    st = qat_context_backend_error(
                        m->ctx, ops->upload(bs, w + b.params[i].offset, host + m->params[j].offset,
                                            (size_t)b.params[i].numel * sizeof(float)),
                        "writing parameters");
                    break;
                }
    }
    free(host);
    if (st != QAT_OK) {
        release_buffers(m, w, g, wq, gamma);
        free(b.params);
        return st;
    }
    release_buffers(m, m->w, m->g, m->wq_buf, m->gamma_buf);
    free(m->params);
    m->params = b.params;
    m->n_params = b.n;
    m->total = b.total;
    m->w = w;
    m->g = g;
    m->wq_buf = wq;
    m->gamma_buf = gamma;
    qat_model_weights_changed(m);
    return QAT_OK;
}

qat_status qat_model_find_param(const qat_model *m, const char *name, size_t *index)
{
    QAT_CHECK_ARG(name != NULL, "NULL parameter name");
    for (size_t i = 0; i < m->n_params; i++)
        if (strcmp(m->params[i].name, name) == 0) {
            *index = i;
            return QAT_OK;
        }
    /* HF aliases: the tied decoder is the word table; decoder.bias is the
     * head's bias. */
    if (m->task == QAT_TASK_MLM) {
        const char *head = m->dims.arch == QAT_ARCH_BERT ? "cls.predictions." : "lm_head.";
        size_t n = strlen(head);
        if (strncmp(name, head, n) == 0) {
            if (strcmp(name + n, "decoder.weight") == 0 && m->dims.tie_word_embeddings) {
                *index = m->word.w;
                return QAT_OK;
            }
            if (strcmp(name + n, "decoder.bias") == 0) {
                *index = m->mlm_bias;
                return QAT_OK;
            }
        }
    }
    return qat_fail(QAT_ERR_NOT_FOUND, "no parameter named '%s' in this model", name);
}
