/* The encoder's structure, once (encoder_walk.h): docs/method.md section 5's
 * post-LN layers and heads as a sequence of hook calls. */
#include "model/encoder_walk.h"

#include "core/error.h"

void qat_encoder_positions(const qat_model_dims *d, const int32_t *ids, const int32_t *mask, int64_t B, int64_t L,
                           int32_t *pos, float *key_bias)
{
    for (int64_t b = 0; b < B; b++) {
        int32_t count = 0;
        for (int64_t t = 0; t < L; t++) {
            const int64_t i = b * L + t;
            if (d->arch == QAT_ARCH_ROBERTA) {
                /* create_position_ids_from_input_ids: padding_idx + cumsum */
                const int not_pad = ids[i] != d->pad_token_id;
                count += not_pad;
                pos[i] = (int32_t)(not_pad ? count + d->pad_token_id : d->pad_token_id);
            } else {
                pos[i] = (int32_t)t;
            }
            key_bias[i] = (mask && mask[i] == 0) ? QAT_MASKED_SCORE : 0.0f;
        }
    }
}

static qat_status linear(const qat_walk *w, int64_t layer, qat_walk_linear which, qat_walk_epilogue epi,
                         const float *residual, const float *x, int64_t rows, float *y)
{
    const qat_walk_call call = {.layer = layer, .linear = which, .epilogue = epi, .residual = residual};
    return w->ops->linear(w->self, &call, x, rows, y);
}

/* emb = dropout(LayerNorm(E(word)[ids] + E(type)[types] + E(pos)[pos])) */
static qat_status embeddings(const qat_walk *w, int64_t N, float *out)
{
    float *sum, *dropped;
    QAT_TRY(w->ops->embed_sum(w->self, &sum));
    QAT_TRY(w->ops->layernorm(w->self, QAT_WALK_NORM_EMBEDDINGS, -1, sum, N, out));
    return w->ops->dropout(w->self, QAT_WALK_DROP_EMBEDDINGS, 1, out, N * w->dims->hidden_size, &dropped);
}

/* One post-LN encoder layer:
 *   q, k, v = A(x) Wq/k/v^T + b
 *   ctx = attention(q, k, v)
 *   res1 = x + dropout(A(ctx) Wo^T + bo);     h1 = LN1(res1)
 *   act = gelu(A(h1) Wi^T + bi)
 *   res2 = h1 + dropout(A(act) Wout^T + bout); out = LN2(res2) */
static qat_status layer(const qat_walk *w, int64_t i, const qat_walk_layer *b, int64_t N)
{
    QAT_TRY(linear(w, i, QAT_WALK_Q, QAT_WALK_PLAIN, NULL, b->x, N, b->q));
    QAT_TRY(linear(w, i, QAT_WALK_K, QAT_WALK_PLAIN, NULL, b->x, N, b->k));
    QAT_TRY(linear(w, i, QAT_WALK_V, QAT_WALK_PLAIN, NULL, b->x, N, b->v));
    QAT_TRY(w->ops->attention(w->self, i, b));
    QAT_TRY(linear(w, i, QAT_WALK_ATTN_OUT, QAT_WALK_RESIDUAL, b->x, b->ctx, N, b->res1));
    QAT_TRY(w->ops->layernorm(w->self, QAT_WALK_NORM_ATTENTION, i, b->res1, N, b->h1));
    QAT_TRY(linear(w, i, QAT_WALK_INTER, QAT_WALK_GELU, NULL, b->h1, N, b->act));
    QAT_TRY(linear(w, i, QAT_WALK_OUT, QAT_WALK_RESIDUAL, b->h1, b->act, N, b->res2));
    return w->ops->layernorm(w->self, QAT_WALK_NORM_OUTPUT, i, b->res2, N, b->out);
}

/* The head's output rows: the caller's, or the runner's sized after head_rows. */
static float *head_out(const qat_walk *w)
{
    return w->out ? w->out : w->ops->head_buffer(w->self, QAT_WALK_BUF_LOGITS);
}

/* Token classification: logits = dropout(hidden) Wc^T + bc. */
static qat_status token_head(const qat_walk *w, const float *hidden)
{
    float *x;
    int64_t R;
    QAT_TRY(w->ops->head_rows(w->self, hidden, &x, &R));
    QAT_TRY(w->ops->dropout(w->self, QAT_WALK_DROP_HEAD, 1, x, R * w->dims->hidden_size, &x));
    return linear(w, -1, QAT_WALK_CLASSIFIER, QAT_WALK_PLAIN, NULL, x, R, head_out(w));
}

/* Sequence classification on the first token of each sequence:
 *   RoBERTa (RobertaClassificationHead): dropout -> dense -> tanh -> dropout -> out_proj
 *   BERT: pooler.dense -> tanh -> dropout -> classifier */
static qat_status sequence_head(const qat_walk *w, const float *hidden)
{
    float *x;
    int64_t R;
    QAT_TRY(w->ops->head_rows(w->self, hidden, &x, &R));
    const int64_t H = w->dims->hidden_size;
    QAT_TRY(w->ops->dropout(w->self, QAT_WALK_DROP_HEAD, w->dims->arch == QAT_ARCH_ROBERTA, x, R * H, &x));
    float *pooled = w->ops->head_buffer(w->self, QAT_WALK_BUF_POOLED);
    QAT_TRY(linear(w, -1, QAT_WALK_POOLER, QAT_WALK_TANH, NULL, x, R, pooled));
    QAT_TRY(w->ops->dropout(w->self, QAT_WALK_DROP_POOLED, 1, pooled, R * H, &x));
    return linear(w, -1, QAT_WALK_CLASSIFIER, QAT_WALK_PLAIN, NULL, x, R, head_out(w));
}

/* MLM: logits = LN(gelu(x Wd^T + bd)) Wdec^T + bias, on the head's rows. */
static qat_status mlm_head(const qat_walk *w, const float *hidden)
{
    float *x;
    int64_t R;
    QAT_TRY(w->ops->head_rows(w->self, hidden, &x, &R));
    if (R == 0)
        return QAT_OK;
    float *act = w->ops->head_buffer(w->self, QAT_WALK_BUF_MLM_ACT);
    float *h = w->ops->head_buffer(w->self, QAT_WALK_BUF_MLM_NORM);
    QAT_TRY(linear(w, -1, QAT_WALK_MLM_DENSE, QAT_WALK_GELU, NULL, x, R, act));
    QAT_TRY(w->ops->layernorm(w->self, QAT_WALK_NORM_MLM, -1, act, R, h));
    return linear(w, -1, QAT_WALK_MLM_DECODER, QAT_WALK_PLAIN, NULL, h, R, head_out(w));
}

qat_status qat_encoder_walk(const qat_walk *w)
{
    const qat_walk_ops *ops = w->ops;
    const int64_t layers = w->dims->num_layers, N = w->B * w->L;
    qat_walk_layer b;
    if (layers)
        ops->layer_buffers(w->self, 0, &b);
    QAT_TRY(embeddings(w, N, layers ? b.x : ops->hidden(w->self)));
    for (int64_t i = 0; i < layers; i++) {
        ops->layer_buffers(w->self, i, &b);
        QAT_TRY(layer(w, i, &b, N));
    }
    if (w->encoder_only)
        return QAT_OK;
    const float *hidden = ops->hidden(w->self);
    switch (w->task) {
    case QAT_TASK_TOKEN_CLASSIFICATION:
        return token_head(w, hidden);
    case QAT_TASK_SEQUENCE_CLASSIFICATION:
        return sequence_head(w, hidden);
    case QAT_TASK_MLM:
        return mlm_head(w, hidden);
    }
    return qat_fail(QAT_ERR_INTERNAL, "encoder walk: unknown task %d", (int)w->task);
}
