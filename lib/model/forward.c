/* The forward pass: embeddings, encoder layers, heads (SPEC section 5),
 * with the quantizers of section 3 in the loop. Shapes in comments:
 * N = batch * seq tokens, H hidden, I intermediate, NH heads, dh = H / NH. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/graph.h"
#include "model/quantize.h"

/* torch.finfo(float32).min, what HF adds to the scores of padding keys. */
#define MASKED_SCORE (-3.4028234663852886e+38f)

static qat_status upload_ints(qat_context *ctx, int32_t *dst, const int32_t *src, int64_t n)
{
    return qat_context_backend_error(
        ctx, ctx->backend.ops->upload(ctx->backend_state, dst, src, (size_t)n * sizeof(int32_t)), "uploading inputs");
}

/* Token ids, position ids, token types and the additive key mask. */
static qat_status prepare_inputs(qat_model *m, const int32_t *ids, const int32_t *mask, const int32_t *types)
{
    qat_acts *a = &m->acts;
    const qat_model_dims *d = &m->dims;
    int32_t *host = malloc((size_t)a->N * 2 * sizeof(int32_t));
    float *bias = malloc((size_t)a->N * sizeof(float));
    if (!host || !bias) {
        free(host);
        free(bias);
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "forward: out of memory");
    }
    int32_t *pos = host, *zeros = host + a->N;
    for (int64_t b = 0; b < a->B; b++) {
        int32_t count = 0;
        for (int64_t t = 0; t < a->L; t++) {
            int64_t i = b * a->L + t;
            if (d->arch == QAT_ARCH_ROBERTA) {
                /* create_position_ids_from_input_ids: padding_idx + cumsum */
                int not_pad = ids[i] != d->pad_token_id;
                count += not_pad;
                pos[i] = (int32_t)(not_pad ? count + d->pad_token_id : d->pad_token_id);
            } else {
                pos[i] = (int32_t)t;
            }
            zeros[i] = 0;
            bias[i] = (mask && mask[i] == 0) ? MASKED_SCORE : 0.0f;
        }
    }
    qat_context *ctx = m->ctx;
    qat_status st = upload_ints(ctx, a->ids, ids, a->N);
    if (st == QAT_OK)
        st = upload_ints(ctx, a->pos, pos, a->N);
    if (st == QAT_OK)
        st = upload_ints(ctx, a->types, types ? types : zeros, a->N);
    if (st == QAT_OK)
        st = qat_context_backend_error(
            ctx, ctx->backend.ops->upload(ctx->backend_state, a->key_bias, bias, (size_t)a->N * sizeof(float)),
            "uploading the attention mask");
    free(host);
    free(bias);
    return st;
}

static uint64_t next_seed(qat_model *m)
{
    return qat_rng_next(&m->ctx->rng);
}

static float hidden_dropout(const qat_model *m)
{
    return m->training ? m->dims.hidden_dropout_prob : 0.0f;
}

/* emb = E(word)[ids] + E(type)[types] + E(pos)[pos] -> LayerNorm -> dropout */
static qat_status embeddings_forward(qat_model *m, float *out)
{
    qat_acts *a = &m->acts;
    qat_context *ctx = m->ctx;
    const int64_t N = a->N, H = m->dims.hidden_size;
    qat_table *tables[3] = {&m->word, &m->type, &m->pos};
    const int32_t *index[3] = {a->ids, a->types, a->pos};
    QAT_RUN(ctx, fill, a->emb_sum, N * H, 0.0f);
    for (int t = 0; t < 3; t++) {
        const float *rows;
        QAT_RUN(ctx, embedding_fwd, model_w(m, tables[t]->w), index[t], N, H, a->emb_raw[t], 0);
        QAT_TRY(qat_quantize_fwd(m, &tables[t]->q, a->emb_raw[t], N, H, a->emb_q, NULL, &rows));
        QAT_RUN(ctx, accumulate, rows, a->emb_sum, N * H);
    }
    QAT_RUN(ctx, layernorm_fwd, a->emb_sum, model_w(m, m->emb_ln_w), model_w(m, m->emb_ln_b),
            m->dims.layer_norm_eps, N, H, out, a->emb_mean, a->emb_rstd);
    a->seed_emb = next_seed(m);
    QAT_RUN(ctx, dropout, out, N * H, hidden_dropout(m), a->seed_emb);
    return QAT_OK;
}

/* y[N, out] = xq[N, in] W^T + b, with W fake-quantized first. */
static qat_status linear_forward(qat_model *m, qat_linear *l, const float *xq, int64_t N, float *y)
{
    qat_context *ctx = m->ctx;
    const float *w = model_w(m, l->w);
    if (l->wq.cfg.algo != QAT_ALGO_NONE && m->wq_current)
        w = m->wq_buf + l->wq_off; /* weights unchanged since the last forward */
    else if (l->wq.cfg.algo != QAT_ALGO_NONE)
        QAT_TRY(qat_quantize_fwd(m, &l->wq, w, l->out, l->in, m->wq_buf + l->wq_off,
                                 m->gamma_buf + l->gamma_off, &w));
    QAT_TRY(graph_gemm(ctx, 0, 1, N, l->out, l->in, 1.0f, xq, l->in, w, l->in, 0.0f, y, l->out));
    QAT_RUN(ctx, bias_act_fwd, y, model_w(m, l->b), N, l->out, QAT_ACTIVATION_NONE, NULL);
    return QAT_OK;
}

/* The input of a linear through its activation quantizer. */
static qat_status quantize_input(qat_model *m, qat_linear *l, const float *x, int64_t N, float *scratch,
                                 const float **xq)
{
    return qat_quantize_fwd(m, &l->aq, x, N, l->in, scratch, NULL, xq);
}

static qat_status attention_forward(qat_model *m, qat_layer *L, qat_layer_acts *la)
{
    qat_acts *a = &m->acts;
    qat_context *ctx = m->ctx;
    const int64_t B = a->B, S = a->L, N = a->N, H = m->dims.hidden_size, NH = m->dims.num_heads, dh = H / NH;
    qat_linear *qkv[3] = {&L->q, &L->k, &L->v};
    float *outs[3] = {la->q, la->k, la->v};
    const int shared = !qat_algo_learned(L->q.aq.cfg.algo); /* BitNet/none: one quantized copy */
    for (int j = 0; j < 3; j++) {
        /* la->xq[j] is the quantized input, or x itself when A is float
         * (the activation layout makes those buffers alias). */
        const float *unused;
        if (j == 0 || !shared)
            QAT_TRY(quantize_input(m, qkv[j], la->x, N, la->xq[j], &unused));
        QAT_TRY(linear_forward(m, qkv[j], la->xq[j], N, outs[j]));
    }
    /* scores[b, h] = q[b, :, h] k[b, :, h]^T / sqrt(dh)  [S, S] */
    const float scale = 1.0f / sqrtf((float)dh);
    for (int64_t b = 0; b < B; b++)
        QAT_TRY(graph_gemm_batched(ctx, 0, 1, S, S, dh, scale, la->q + b * S * H, H, dh, la->k + b * S * H, H, dh,
                                   0.0f, la->probs + b * NH * S * S, S, S * S, NH));
    QAT_RUN(ctx, softmax_fwd, la->probs, a->key_bias, B, NH, S, S);
    la->seed_attn = next_seed(m);
    if (la->probs_drop != la->probs) {
        QAT_RUN(ctx, fill, la->probs_drop, B * NH * S * S, 0.0f);
        QAT_RUN(ctx, accumulate, la->probs, la->probs_drop, B * NH * S * S);
        QAT_RUN(ctx, dropout, la->probs_drop, B * NH * S * S, m->dims.attention_dropout_prob, la->seed_attn);
    }
    /* ctx[b, :, h] = probs[b, h] v[b, :, h]  [S, dh] */
    for (int64_t b = 0; b < B; b++)
        QAT_TRY(graph_gemm_batched(ctx, 0, 0, S, dh, S, 1.0f, la->probs_drop + b * NH * S * S, S, S * S,
                                   la->v + b * S * H, H, dh, 0.0f, la->ctx + b * S * H, H, dh, NH));
    /* res1 = x + dropout(ctx Wo^T + bo) */
    const float *unused;
    QAT_TRY(quantize_input(m, &L->attn_out, la->ctx, N, la->ctxq, &unused));
    QAT_TRY(linear_forward(m, &L->attn_out, la->ctxq, N, la->res1));
    la->seed_ao = next_seed(m);
    QAT_RUN(ctx, dropout, la->res1, N * H, hidden_dropout(m), la->seed_ao);
    QAT_RUN(ctx, add, la->res1, la->x, la->res1, N * H);
    return QAT_OK;
}

/* One post-LN encoder layer: x -> out (the next layer's x). */
static qat_status layer_forward(qat_model *m, qat_layer *L, qat_layer_acts *la, float *out)
{
    qat_context *ctx = m->ctx;
    const int64_t N = m->acts.N, H = m->dims.hidden_size, I = m->dims.intermediate_size;
    const float eps = m->dims.layer_norm_eps;
    QAT_TRY(attention_forward(m, L, la));
    QAT_RUN(ctx, layernorm_fwd, la->res1, model_w(m, L->ln1_w), model_w(m, L->ln1_b), eps, N, H, la->h1,
            la->ln1_mean, la->ln1_rstd);
    const float *unused;
    QAT_TRY(quantize_input(m, &L->inter, la->h1, N, la->h1q, &unused));
    QAT_TRY(linear_forward(m, &L->inter, la->h1q, N, la->pre));
    QAT_RUN(ctx, bias_act_fwd, la->pre, NULL, N, I, QAT_ACTIVATION_GELU, la->act);
    QAT_TRY(quantize_input(m, &L->out, la->act, N, la->actq, &unused));
    QAT_TRY(linear_forward(m, &L->out, la->actq, N, la->res2));
    la->seed_out = next_seed(m);
    QAT_RUN(ctx, dropout, la->res2, N * H, hidden_dropout(m), la->seed_out);
    QAT_RUN(ctx, add, la->res2, la->h1, la->res2, N * H);
    QAT_RUN(ctx, layernorm_fwd, la->res2, model_w(m, L->ln2_w), model_w(m, L->ln2_b), eps, N, H, out,
            la->ln2_mean, la->ln2_rstd);
    return QAT_OK;
}

/* Which rows the head runs on: all tokens, or (MLM training) only the
 * labelled ones — same loss and gradients, a fraction of the head's FLOPs;
 * sequence classification: the first token of each sequence (row b * L),
 * with labels [B]. */
static qat_status select_head_rows(qat_model *m, const int32_t *labels, int labelled_only)
{
    qat_acts *a = &m->acts;
    int32_t *rows = malloc((size_t)a->N * 2 * sizeof(int32_t));
    if (!rows)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "forward: out of memory");
    int32_t *row_labels = rows + a->N;
    int64_t n = 0;
    if (m->task == QAT_TASK_SEQUENCE_CLASSIFICATION) {
        for (int64_t b = 0; b < a->B; b++) {
            row_labels[n] = labels ? labels[b] : -100;
            rows[n++] = (int32_t)(b * a->L);
        }
        for (int64_t i = n; i < a->N; i++) /* keep the uploads defined */
            row_labels[i] = -100, rows[i] = 0;
    }
    for (int64_t i = 0; m->task != QAT_TASK_SEQUENCE_CLASSIFICATION && i < a->N; i++)
        if (!labelled_only || labels[i] != -100) {
            row_labels[n] = labels ? labels[i] : -100;
            rows[n++] = (int32_t)i;
        }
    a->head_rows = n;
    qat_status st = upload_ints(m->ctx, a->rows, rows, a->N);
    if (st == QAT_OK)
        st = upload_ints(m->ctx, a->labels, row_labels, a->N);
    free(rows);
    return st;
}

/* Sequence classification on the first token of each sequence, R = B rows:
 *   first [R, H] = hidden[b * L]                       (embedding_fwd gather)
 *   RoBERTa: first = dropout(first)      (RobertaClassificationHead)
 *   pool_pre [R, H] = first Wd^T + bd;  pool_act = tanh(pool_pre)
 *   pool_drop = dropout(pool_act)
 *   logits [R, C] = pool_drop Wc^T + bc
 * BERT: Wd/bd are bert.pooler.dense (no dropout before it). */
static qat_status seqcls_forward(qat_model *m)
{
    qat_acts *a = &m->acts;
    qat_context *ctx = m->ctx;
    const int64_t R = a->head_rows, H = m->dims.hidden_size, C = m->num_labels;
    const float p = m->training ? m->classifier_dropout : 0.0f;
    QAT_RUN(ctx, embedding_fwd, a->hidden, a->rows, R, H, a->head_in, 0);
    a->seed_cls = next_seed(m);
    if (m->dims.arch == QAT_ARCH_ROBERTA)
        QAT_RUN(ctx, dropout, a->head_in, R * H, p, a->seed_cls);
    QAT_TRY(graph_gemm(ctx, 0, 1, R, H, H, 1.0f, a->head_in, H, model_w(m, m->pool_w), H, 0.0f, a->pool_pre, H));
    QAT_RUN(ctx, bias_act_fwd, a->pool_pre, model_w(m, m->pool_b), R, H, QAT_ACTIVATION_TANH, a->pool_act);
    QAT_RUN(ctx, fill, a->pool_drop, R * H, 0.0f);
    QAT_RUN(ctx, accumulate, a->pool_act, a->pool_drop, R * H);
    a->seed_pool = next_seed(m);
    QAT_RUN(ctx, dropout, a->pool_drop, R * H, p, a->seed_pool);
    QAT_TRY(graph_gemm(ctx, 0, 1, R, C, H, 1.0f, a->pool_drop, H, model_w(m, m->cls_w), H, 0.0f, a->logits, C));
    QAT_RUN(ctx, bias_act_fwd, a->logits, model_w(m, m->cls_b), R, C, QAT_ACTIVATION_NONE, NULL);
    return QAT_OK;
}

static qat_status head_forward(qat_model *m)
{
    qat_acts *a = &m->acts;
    qat_context *ctx = m->ctx;
    const int64_t R = a->head_rows, H = m->dims.hidden_size;
    if (m->task == QAT_TASK_SEQUENCE_CLASSIFICATION)
        return seqcls_forward(m);
    if (m->task == QAT_TASK_TOKEN_CLASSIFICATION) {
        QAT_RUN(ctx, fill, a->head_in, a->N * H, 0.0f);
        QAT_RUN(ctx, accumulate, a->hidden, a->head_in, a->N * H);
        a->seed_cls = next_seed(m);
        QAT_RUN(ctx, dropout, a->head_in, a->N * H, m->training ? m->classifier_dropout : 0.0f, a->seed_cls);
        QAT_TRY(graph_gemm(ctx, 0, 1, R, m->num_labels, H, 1.0f, a->head_in, H, model_w(m, m->cls_w), H, 0.0f,
                           a->logits, m->num_labels));
        QAT_RUN(ctx, bias_act_fwd, a->logits, model_w(m, m->cls_b), R, m->num_labels, QAT_ACTIVATION_NONE, NULL);
        return QAT_OK;
    }
    if (R == 0)
        return QAT_OK;
    const int64_t V = m->dims.vocab_size;
    QAT_RUN(ctx, embedding_fwd, a->hidden, a->rows, R, H, a->head_in, 0);
    if (qat_model_mlm_head_quantized(m)) {
        /* The seed code's quantized head: dense and decoder through the W
         * and A quantizers, as the encoder's linears. */
        const float *xq;
        QAT_TRY(quantize_input(m, &m->mlm_dense, a->head_in, R, a->mlm_in_q, &xq));
        QAT_TRY(linear_forward(m, &m->mlm_dense, xq, R, a->mlm_pre));
        QAT_RUN(ctx, bias_act_fwd, a->mlm_pre, NULL, R, H, QAT_ACTIVATION_GELU, a->mlm_act);
    } else {
        QAT_TRY(graph_gemm(ctx, 0, 1, R, H, H, 1.0f, a->head_in, H, model_w(m, m->mlm_dense_w), H, 0.0f, a->mlm_pre,
                           H));
        QAT_RUN(ctx, bias_act_fwd, a->mlm_pre, model_w(m, m->mlm_dense_b), R, H, QAT_ACTIVATION_GELU, a->mlm_act);
    }
    QAT_RUN(ctx, layernorm_fwd, a->mlm_act, model_w(m, m->mlm_ln_w), model_w(m, m->mlm_ln_b),
            m->dims.layer_norm_eps, R, H, a->mlm_h, a->mlm_mean, a->mlm_rstd);
    if (qat_model_mlm_head_quantized(m)) {
        const float *xq;
        QAT_TRY(quantize_input(m, &m->mlm_decoder, a->mlm_h, R, a->mlm_h_q, &xq));
        return linear_forward(m, &m->mlm_decoder, xq, R, a->logits);
    }
    QAT_TRY(graph_gemm(ctx, 0, 1, R, V, H, 1.0f, a->mlm_h, H, model_w(m, m->mlm_decoder_w), H, 0.0f, a->logits, V));
    QAT_RUN(ctx, bias_act_fwd, a->logits, model_w(m, m->mlm_bias), R, V, QAT_ACTIVATION_NONE, NULL);
    return QAT_OK;
}

qat_status qat_model_forward_pass(qat_model *m, const int32_t *ids, const int32_t *mask, const int32_t *types,
                                  const int32_t *labels, int64_t batch, int64_t seq_len, int head_on_labelled_rows)
{
    QAT_TRY(qat_acts_prepare(m, batch, seq_len));
    QAT_TRY(prepare_inputs(m, ids, mask, types));
    qat_acts *a = &m->acts;
    const int64_t n_layers = m->dims.num_layers;
    QAT_TRY(embeddings_forward(m, n_layers ? a->layers[0].x : a->hidden));
    for (int64_t i = 0; i < n_layers; i++)
        QAT_TRY(layer_forward(m, &m->layers[i], &a->layers[i], i + 1 < n_layers ? a->layers[i + 1].x : a->hidden));
    /* A quantized MLM head's activation quantizers see every position, as
     * in the seed code: the first batch initialises them from all rows. */
    const int head_init = qat_model_mlm_head_quantized(m) && !qat_quantizer_ready(m, &m->mlm_dense.aq);
    QAT_TRY(select_head_rows(m, labels, head_on_labelled_rows && labels && m->task == QAT_TASK_MLM && !head_init));
    QAT_TRY(head_forward(m));
    /* Every quantized weight is now current, unless a quantized MLM head
     * ran on no rows (its weights were not quantized this time). */
    if (!m->wq_current)
        m->wq_current = !qat_model_mlm_head_quantized(m) || a->head_rows > 0;
    return QAT_OK;
}
