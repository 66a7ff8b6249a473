/* Carving the activation memory of a batch shape out of one allocation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/dispatch.h"
#include "model/model.h"

typedef struct carver {
    char *base;      /* NULL while counting */
    size_t used;     /* bytes */
} carver;

static void *take(carver *c, size_t count)
{
    size_t bytes = (count * sizeof(float) + 63) / 64 * 64;
    void *p = c->base ? c->base + c->used : NULL;
    c->used += bytes ? bytes : 64;
    return p;
}

static int64_t head_classes(const qat_model *m)
{
    return m->task == QAT_TASK_MLM ? m->dims.vocab_size : m->num_labels;
}

static void carve(qat_model *m, carver *c)
{
    qat_acts *a = &m->acts;
    const qat_model_dims *d = &m->dims;
    const int64_t N = a->N, H = d->hidden_size, I = d->intermediate_size, NH = d->num_heads;
    const size_t NHf = (size_t)(N * H), NIf = (size_t)(N * I), P = (size_t)(a->B * NH * a->L * a->L);
    const int act_q = m->quant.cls[QAT_CLASS_ACTIVATION].algo != QAT_ALGO_NONE;
    const int attn_drop = m->training && d->attention_dropout_prob > 0.0f;

    a->ids = take(c, (size_t)N);
    a->pos = take(c, (size_t)N);
    a->types = take(c, (size_t)N);
    a->labels = take(c, (size_t)N);
    a->rows = take(c, (size_t)N);
    a->key_bias = take(c, (size_t)N);
    for (int t = 0; t < 3; t++)
        a->emb_raw[t] = take(c, NHf);
    a->emb_q = take(c, NHf);
    a->emb_sum = take(c, NHf);
    a->emb_mean = take(c, (size_t)N);
    a->emb_rstd = take(c, (size_t)N);
    for (int64_t i = 0; i < d->num_layers; i++) {
        qat_layer_acts *la = &a->layers[i];
        la->x = take(c, NHf);
        la->q = take(c, NHf);
        la->k = take(c, NHf);
        la->v = take(c, NHf);
        la->probs = a->fused_attention ? NULL : take(c, P);
        la->probs_drop = attn_drop && !a->fused_attention ? take(c, P) : la->probs;
        la->ctx = take(c, NHf);
        la->res1 = take(c, NHf);
        la->h1 = take(c, NHf);
        la->ln1_mean = take(c, (size_t)N);
        la->ln1_rstd = take(c, (size_t)N);
        la->pre = take(c, NIf);
        la->act = take(c, NIf);
        la->res2 = take(c, NHf);
        la->ln2_mean = take(c, (size_t)N);
        la->ln2_rstd = take(c, (size_t)N);
    }
    a->xq_hidden = act_q ? take(c, NHf) : NULL;
    a->xq_wide = act_q ? take(c, NIf) : NULL;
    a->hidden = take(c, NHf);
    a->head_in = take(c, NHf);
    if (m->task == QAT_TASK_MLM) {
        a->mlm_pre = take(c, NHf);
        a->mlm_act = take(c, NHf);
        a->mlm_h = take(c, NHf);
        a->mlm_mean = take(c, (size_t)N);
        a->mlm_rstd = take(c, (size_t)N);
        a->mlm_in_q = act_q && qat_model_mlm_head_quantized(m) ? take(c, NHf) : a->head_in;
        a->mlm_h_q = act_q && qat_model_mlm_head_quantized(m) ? take(c, NHf) : a->mlm_h;
    }
    if (m->task == QAT_TASK_SEQUENCE_CLASSIFICATION) {
        const size_t BHf = (size_t)(a->B * H);
        a->pool_pre = take(c, BHf);
        a->pool_act = take(c, BHf);
        a->pool_drop = take(c, BHf);
    }
    a->loss = take(c, 1);
    a->d_hidden = take(c, NHf);
    a->d_hidden2 = take(c, NHf);
    a->d_a = take(c, NHf);
    a->d_b = take(c, NHf);
    a->d_c = take(c, NHf);
    a->d_wide = take(c, NIf);
    a->d_wide2 = take(c, NIf);
    a->d_probs = a->fused_attention ? NULL : take(c, P);
    /* dL/dW_hat of the largest linear with a learned weight quantizer (the
     * quantized MLM decoder is [V, H]). */
    int64_t widest = I > H ? I : H;
    if (qat_model_mlm_head_quantized(m) && d->vocab_size > widest)
        widest = d->vocab_size;
    a->d_weight = take(c, (size_t)(H * widest));
}

qat_status qat_acts_prepare(qat_model *m, int64_t batch, int64_t seq_len)
{
    qat_acts *a = &m->acts;
    const int fused = m->ctx->fused_attention;
    if (a->mem && a->B == batch && a->L == seq_len && a->prepared_training == m->training &&
        a->fused_attention == fused)
        return QAT_OK;
    if (!a->layers) {
        a->layers = calloc((size_t)m->dims.num_layers, sizeof *a->layers);
        if (!a->layers)
            return qat_fail(QAT_ERR_OUT_OF_MEMORY, "activations: out of memory");
    }
    a->B = batch;
    a->L = seq_len;
    a->N = batch * seq_len;
    a->prepared_training = m->training;
    a->fused_attention = fused;
    carver count = {NULL, 0};
    carve(m, &count);
    if (count.used > a->mem_bytes) {
        const struct qat_backend_ops *ops = m->ctx->backend.ops;
        if (a->mem)
            ops->free(m->ctx->backend_state, a->mem);
        a->mem = NULL;
        a->mem_bytes = 0;
        qat_status st = ops->alloc(m->ctx->backend_state, count.used, &a->mem);
        if (st != QAT_OK) {
            a->B = a->L = a->N = 0;
            return qat_context_backend_error(m->ctx, st, "allocating activations");
        }
        a->mem_bytes = count.used;
    }
    carver real = {a->mem, 0};
    carve(m, &real);
    return QAT_OK;
}

qat_status qat_acts_prepare_head(qat_model *m, int64_t rows)
{
    qat_acts *a = &m->acts;
    carver count = {NULL, 0};
    take(&count, (size_t)(rows * head_classes(m)));
    take(&count, (size_t)(rows * head_classes(m)));
    if (count.used > a->head_mem_bytes) {
        const struct qat_backend_ops *ops = m->ctx->backend.ops;
        if (a->head_mem)
            ops->free(m->ctx->backend_state, a->head_mem);
        a->head_mem = NULL;
        a->head_mem_bytes = 0;
        a->logits = a->d_logits = NULL;
        qat_status st = ops->alloc(m->ctx->backend_state, count.used, &a->head_mem);
        if (st != QAT_OK)
            return qat_context_backend_error(m->ctx, st, "allocating the head's logits");
        a->head_mem_bytes = count.used;
    }
    carver real = {a->head_mem, 0};
    a->logits = take(&real, (size_t)(rows * head_classes(m)));
    a->d_logits = take(&real, (size_t)(rows * head_classes(m)));
    return QAT_OK;
}

void qat_acts_release(qat_model *m)
{
    qat_acts *a = &m->acts;
    if (a->mem)
        m->ctx->backend.ops->free(m->ctx->backend_state, a->mem);
    if (a->head_mem)
        m->ctx->backend.ops->free(m->ctx->backend_state, a->head_mem);
    free(a->layers);
    memset(a, 0, sizeof *a);
}

qat_attention_train_desc qat_acts_attention_desc(const qat_model *m, const qat_layer_acts *la, const float *q,
                                                 const float *k, const float *v)
{
    const qat_acts *a = &m->acts;
    const int64_t H = m->dims.hidden_size, NH = m->dims.num_heads, dh = H / NH;
    return (qat_attention_train_desc){
        .a = {.batch = a->B, .heads = NH, .lq = a->L, .lk = a->L, .head_dim = dh, .scale = 1.0f / sqrtf((float)dh),
              .q = q, .ldq = H, .k = k, .ldk = H, .v = v, .ldv = H, .key_bias = a->key_bias, .ldo = H},
        .dropout = a->prepared_training ? m->dims.attention_dropout_prob : 0.0f, .seed = la->seed_attn,
        .lddo = H, .ldg = H};
}
