/* The forward pass: embeddings, encoder layers, heads (docs/method.md section 5),
 * with the quantizers of section 3 in the loop. Shapes in comments:
 * N = batch * seq tokens, H hidden, I intermediate, NH heads, dh = H / NH. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/encoder_walk.h"
#include "model/graph.h"
#include "model/quantize.h"

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
    qat_encoder_positions(d, ids, mask, a->B, a->L, pos, bias);
    memset(zeros, 0, (size_t)a->N * sizeof(int32_t));
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

/* y[N, out] = act(xq[N, in] W^T + b), with W fake-quantized first; for
 * GELU, pre keeps xq W^T + b for the backward (linear_fwd's epilogue). */
static qat_status linear_forward(qat_model *m, qat_linear *l, const float *xq, int64_t N, qat_activation act,
                                 float *pre, float *y)
{
    qat_context *ctx = m->ctx;
    const float *w = model_w(m, l->w);
    if (l->wq.cfg.algo != QAT_ALGO_NONE && m->wq_current)
        w = m->wq_buf + l->wq_off; /* weights unchanged since the last forward */
    else if (l->wq.cfg.algo != QAT_ALGO_NONE)
        QAT_TRY(qat_quantize_fwd(m, &l->wq, w, l->out, l->in, m->wq_buf + l->wq_off,
                                 m->gamma_buf + l->gamma_off, &w));
    const qat_linear_desc d = {.rows = N, .in = l->in, .out = l->out, .x = xq, .w = w, .bias = model_w(m, l->b),
                               .act = act, .pre = pre, .y = y};
    QAT_RUN(ctx, linear_fwd, &d);
    return QAT_OK;
}

/* The linear a LayerNorm's output feeds, with no other op between, when
 * that linear's input quantizer is BitNet per token: the LayerNorm then
 * writes the quantized input too (layernorm_bitnet_act_fwd, one kernel on a
 * device), and the linear finds it where it would have written it (*xq).
 * LN1 feeds the layer's intermediate dense; LN2 the next layer's q, k and v
 * (one shared quantized copy); the MLM head's LayerNorm the quantized
 * decoder. Not fused: the embeddings' LayerNorm (the hidden dropout comes between) and
 * the last layer's LN2 (the head reads rows copied or gathered from it).
 * NULL where the LayerNorm runs alone. */
static qat_linear *norm_quantizes_for(qat_model *m, qat_walk_norm norm, int64_t layer, float **xq)
{
    qat_acts *a = &m->acts;
    qat_linear *l = NULL;
    float *buf = NULL;
    if (norm == QAT_WALK_NORM_ATTENTION) {
        l = &m->layers[layer].inter;
        buf = a->xq_hidden;
    } else if (norm == QAT_WALK_NORM_OUTPUT && layer + 1 < m->dims.num_layers) {
        l = &m->layers[layer + 1].q;
        buf = a->xq_hidden;
    } else if (norm == QAT_WALK_NORM_MLM && qat_model_mlm_head_quantized(m)) {
        l = &m->mlm_decoder;
        buf = a->mlm_h_q;
    }
    if (!l || l->aq.cfg.algo != QAT_ALGO_BITNET158 || l->aq.cfg.granularity != QAT_GRAN_TOKEN)
        return NULL;
    if (xq)
        *xq = buf;
    return l;
}

/* Whether the linear of call c finds its quantized input already written
 * by the LayerNorm before it (norm_quantizes_for). */
static int input_quantized_by_norm(qat_model *m, const qat_walk_call *c)
{
    if (c->linear == QAT_WALK_INTER)
        return norm_quantizes_for(m, QAT_WALK_NORM_ATTENTION, c->layer, NULL) != NULL;
    if (c->linear == QAT_WALK_Q && c->layer > 0)
        return norm_quantizes_for(m, QAT_WALK_NORM_OUTPUT, c->layer - 1, NULL) != NULL;
    if (c->linear == QAT_WALK_MLM_DECODER)
        return norm_quantizes_for(m, QAT_WALK_NORM_MLM, -1, NULL) != NULL;
    return 0;
}


/* The training runner of the encoder walk: fake-quant GEMMs on the
 * model's backend, every activation the backward needs kept in m->acts. */
typedef struct train_walk {
    qat_model *m;
    const int32_t *labels;   /* host, or NULL */
    int labelled_only;       /* MLM: the head on labelled rows only */
} train_walk;

static qat_status walk_embed_sum(void *self, float **sum)
{
    qat_model *m = ((train_walk *)self)->m;
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
    *sum = a->emb_sum;
    return QAT_OK;
}

static void walk_layer_buffers(void *self, int64_t i, qat_walk_layer *b)
{
    qat_model *m = ((train_walk *)self)->m;
    qat_acts *a = &m->acts;
    qat_layer_acts *la = &a->layers[i];
    *b = (qat_walk_layer){.x = la->x, .q = la->q, .k = la->k, .v = la->v, .ctx = la->ctx, .res1 = la->res1,
                          .h1 = la->h1, .act = la->act, .res2 = la->res2,
                          .out = i + 1 < m->dims.num_layers ? a->layers[i + 1].x : a->hidden};
}

static float *walk_hidden(void *self)
{
    return ((train_walk *)self)->m->acts.hidden;
}

static float *walk_head_buffer(void *self, qat_walk_head_buf which)
{
    qat_acts *a = &((train_walk *)self)->m->acts;
    switch (which) {
    case QAT_WALK_BUF_POOLED:
        return a->pool_act;
    case QAT_WALK_BUF_MLM_ACT:
        return a->mlm_act;
    case QAT_WALK_BUF_MLM_NORM:
        return a->mlm_h;
    case QAT_WALK_BUF_LOGITS: /* sized by select_head_rows */
        return a->logits;
    }
    return NULL;
}

/* The encoder layer linears. */
static qat_status layer_linear(qat_model *m, const qat_walk_call *c, const float *x, int64_t N, float *y)
{
    qat_context *ctx = m->ctx;
    qat_layer *L = &m->layers[c->layer];
    qat_layer_acts *la = &m->acts.layers[c->layer];
    qat_linear *lins[QAT_LINEARS_PER_LAYER];
    qat_layer_linears(L, lins);
    qat_linear *l = lins[c->linear];
    /* The quantized input goes to the shared scratch, x itself when
     * activations are float. k and v read q's copy unless each has its own
     * learned step (LSQ); LN1 and LN2 may have written it already. The
     * backward quantizes x again (nothing is kept). */
    float *scratch = c->linear == QAT_WALK_OUT ? m->acts.xq_wide : m->acts.xq_hidden;
    const float *xq = scratch ? scratch : x;
    const int shared = qat_layer_qkv_share_input(L);
    if ((c->linear > QAT_WALK_V || c->linear == QAT_WALK_Q || !shared) && !input_quantized_by_norm(m, c))
        QAT_TRY(qat_quantize_input(m, l, x, N, scratch, &xq));
    const int64_t H = m->dims.hidden_size;
    switch (c->epilogue) {
    case QAT_WALK_PLAIN:
        return linear_forward(m, l, xq, N, QAT_ACTIVATION_NONE, NULL, y);
    case QAT_WALK_GELU: /* the pre-activation is kept for the backward */
        return linear_forward(m, l, xq, N, QAT_ACTIVATION_GELU, la->pre, y);
    case QAT_WALK_RESIDUAL: {
        QAT_TRY(linear_forward(m, l, xq, N, QAT_ACTIVATION_NONE, NULL, y));
        const uint64_t seed = next_seed(m);
        if (c->linear == QAT_WALK_ATTN_OUT)
            la->seed_ao = seed;
        else
            la->seed_out = seed;
        QAT_RUN(ctx, dropout_add, y, c->residual, N * H, hidden_dropout(m), seed, y);
        return QAT_OK;
    }
    case QAT_WALK_TANH:
        break;
    }
    return qat_fail(QAT_ERR_INTERNAL, "forward: epilogue %d on an encoder linear", (int)c->epilogue);
}

/* A float head linear y = act(x W^T + b); pre keeps x W^T + b for GELU and
 * tanh (the pooler's, which linear_fwd's epilogue lacks: gemm, then
 * bias_act_fwd). */
static qat_status float_linear(qat_model *m, size_t w, size_t b, int64_t out, const float *x, int64_t R,
                               qat_activation act, float *pre, float *y)
{
    const int64_t H = m->dims.hidden_size;
    if (act == QAT_ACTIVATION_TANH) {
        QAT_TRY(graph_gemm(m->ctx, 0, 1, R, out, H, 1.0f, x, H, model_w(m, w), H, 0.0f, pre, out));
        QAT_RUN(m->ctx, bias_act_fwd, pre, model_w(m, b), R, out, act, y);
        return QAT_OK;
    }
    const qat_linear_desc d = {.rows = R, .in = H, .out = out, .x = x, .w = model_w(m, w), .bias = model_w(m, b),
                               .act = act, .pre = pre, .y = y};
    QAT_RUN(m->ctx, linear_fwd, &d);
    return QAT_OK;
}

/* The heads' linears: float, but for the seed code's quantized MLM head
 * (dense and decoder through the W and A quantizers, as the encoder's). */
static qat_status head_linear(qat_model *m, const qat_walk_call *c, const float *x, int64_t R, float *y)
{
    qat_acts *a = &m->acts;
    const int64_t H = m->dims.hidden_size;
    const float *xq;
    switch (c->linear) {
    case QAT_WALK_POOLER:
        return float_linear(m, m->pool_w, m->pool_b, H, x, R, QAT_ACTIVATION_TANH, a->pool_pre, y);
    case QAT_WALK_CLASSIFIER:
        return float_linear(m, m->cls_w, m->cls_b, m->num_labels, x, R, QAT_ACTIVATION_NONE, NULL, y);
    case QAT_WALK_MLM_DENSE:
        if (!qat_model_mlm_head_quantized(m))
            return float_linear(m, m->mlm_dense_w, m->mlm_dense_b, H, x, R, QAT_ACTIVATION_GELU, a->mlm_pre, y);
        QAT_TRY(qat_quantize_input(m, &m->mlm_dense, x, R, a->mlm_in_q, &xq));
        return linear_forward(m, &m->mlm_dense, xq, R, QAT_ACTIVATION_GELU, a->mlm_pre, y);
    case QAT_WALK_MLM_DECODER:
        if (!qat_model_mlm_head_quantized(m))
            return float_linear(m, m->mlm_decoder_w, m->mlm_bias, m->dims.vocab_size, x, R, QAT_ACTIVATION_NONE,
                                NULL, y);
        xq = a->mlm_h_q;
        if (!input_quantized_by_norm(m, c))
            QAT_TRY(qat_quantize_input(m, &m->mlm_decoder, x, R, a->mlm_h_q, &xq));
        return linear_forward(m, &m->mlm_decoder, xq, R, QAT_ACTIVATION_NONE, NULL, y);
    default:
        return qat_fail(QAT_ERR_INTERNAL, "forward: linear %d is not a head's", (int)c->linear);
    }
}

static qat_status walk_linear(void *self, const qat_walk_call *c, const float *x, int64_t rows, float *y)
{
    qat_model *m = ((train_walk *)self)->m;
    return c->layer >= 0 ? layer_linear(m, c, x, rows, y) : head_linear(m, c, x, rows, y);
}

static qat_status walk_attention(void *self, int64_t layer, const qat_walk_layer *b)
{
    qat_model *m = ((train_walk *)self)->m;
    qat_acts *a = &m->acts;
    qat_layer_acts *la = &a->layers[layer];
    qat_context *ctx = m->ctx;
    const int64_t B = a->B, S = a->L, H = m->dims.hidden_size, NH = m->dims.num_heads, dh = H / NH;
    /* scores[b, h] = q[b, :, h] k[b, :, h]^T / sqrt(dh)  [S, S] */
    const float scale = 1.0f / sqrtf((float)dh);
    if (a->fused_attention) {
        la->seed_attn = next_seed(m);
        qat_attention_train_desc d = qat_acts_attention_desc(m, la, b->q, b->k, b->v);
        d.a.out = b->ctx;
        QAT_RUN(ctx, attention_train_fwd, &d);
        return QAT_OK;
    }
    const graph_heads_operand q = {b->q, H, S * H, dh}, k = {b->k, H, S * H, dh}, v = {b->v, H, S * H, dh},
                              probs_drop = {la->probs_drop, S, NH * S * S, S * S};
    QAT_TRY(graph_gemm_heads(ctx, 0, 1, S, S, dh, scale, q, k, 0.0f, la->probs, S, NH * S * S, S * S, B, NH));
    QAT_RUN(ctx, softmax_fwd, la->probs, a->key_bias, B, NH, S, S);
    la->seed_attn = next_seed(m);
    if (la->probs_drop != la->probs) /* the softmax backward needs the probabilities */
        QAT_RUN(ctx, dropout_add, la->probs, NULL, B * NH * S * S, m->dims.attention_dropout_prob, la->seed_attn,
                la->probs_drop);
    /* ctx[b, :, h] = probs[b, h] v[b, :, h]  [S, dh] */
    return graph_gemm_heads(ctx, 0, 0, S, dh, S, 1.0f, probs_drop, v, 0.0f, b->ctx, H, S * H, dh, B, NH);
}

static qat_status walk_layernorm(void *self, qat_walk_norm norm, int64_t layer, const float *x, int64_t rows,
                                 float *y)
{
    qat_model *m = ((train_walk *)self)->m;
    qat_acts *a = &m->acts;
    size_t w, b;
    float *mean, *rstd;
    switch (norm) {
    case QAT_WALK_NORM_EMBEDDINGS:
        w = m->emb_ln_w, b = m->emb_ln_b, mean = a->emb_mean, rstd = a->emb_rstd;
        break;
    case QAT_WALK_NORM_ATTENTION:
        w = m->layers[layer].ln1_w, b = m->layers[layer].ln1_b;
        mean = a->layers[layer].ln1_mean, rstd = a->layers[layer].ln1_rstd;
        break;
    case QAT_WALK_NORM_OUTPUT:
        w = m->layers[layer].ln2_w, b = m->layers[layer].ln2_b;
        mean = a->layers[layer].ln2_mean, rstd = a->layers[layer].ln2_rstd;
        break;
    default:
        w = m->mlm_ln_w, b = m->mlm_ln_b, mean = a->mlm_mean, rstd = a->mlm_rstd;
        break;
    }
    float *yq;
    const qat_linear *l = norm_quantizes_for(m, norm, layer, &yq);
    if (l)
        QAT_RUN(m->ctx, layernorm_bitnet_act_fwd, x, model_w(m, w), model_w(m, b), m->dims.layer_norm_eps, rows,
                m->dims.hidden_size, l->aq.cfg.bits, qat_quant_symmetric_acts(&m->quant), y, yq, mean, rstd);
    else
        QAT_RUN(m->ctx, layernorm_fwd, x, model_w(m, w), model_w(m, b), m->dims.layer_norm_eps, rows,
                m->dims.hidden_size, y, mean, rstd);
    return QAT_OK;
}

static qat_status walk_dropout(void *self, qat_walk_drop place, int active, float *x, int64_t n, float **out)
{
    qat_model *m = ((train_walk *)self)->m;
    qat_acts *a = &m->acts;
    qat_context *ctx = m->ctx;
    const float p_cls = m->training ? m->classifier_dropout : 0.0f;
    *out = x;
    switch (place) {
    case QAT_WALK_DROP_EMBEDDINGS:
        a->seed_emb = next_seed(m);
        QAT_RUN(ctx, dropout, x, n, hidden_dropout(m), a->seed_emb);
        return QAT_OK;
    case QAT_WALK_DROP_HEAD:
        a->seed_cls = next_seed(m);
        if (active)
            QAT_RUN(ctx, dropout, x, n, p_cls, a->seed_cls);
        return QAT_OK;
    case QAT_WALK_DROP_POOLED: /* on a copy: the tanh backward needs its output */
        a->seed_pool = next_seed(m);
        QAT_RUN(ctx, dropout_add, x, NULL, n, p_cls, a->seed_pool, a->pool_drop);
        *out = a->pool_drop;
        return QAT_OK;
    }
    return qat_fail(QAT_ERR_INTERNAL, "forward: unknown dropout place %d", (int)place);
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
    qat_status st = qat_acts_prepare_head(m, n);
    if (st == QAT_OK)
        st = upload_ints(m->ctx, a->rows, rows, a->N);
    if (st == QAT_OK)
        st = upload_ints(m->ctx, a->labels, row_labels, a->N);
    free(rows);
    return st;
}

/* The head's input rows in a->head_in: a copy of every token (token
 * classification: its dropout must not touch the hidden state), or the
 * selected rows gathered. */
static qat_status walk_head_rows(void *self, const float *hidden, float **x, int64_t *rows)
{
    train_walk *t = self;
    qat_model *m = t->m;
    qat_acts *a = &m->acts;
    qat_context *ctx = m->ctx;
    const int64_t H = m->dims.hidden_size;
    /* A quantized MLM head's activation quantizers see every position, as
     * in the seed code: the first batch initialises them from all rows
     * (known only now: shared quantizers may have been initialised by the
     * encoder's). */
    const int head_init = qat_model_mlm_head_quantized(m) && !qat_quantizer_ready(m, &m->mlm_dense.aq);
    QAT_TRY(select_head_rows(m, t->labels, t->labelled_only && t->labels && m->task == QAT_TASK_MLM && !head_init));
    if (m->task == QAT_TASK_TOKEN_CLASSIFICATION) {
        QAT_RUN(ctx, copy, hidden, a->head_in, a->N * H);
    } else if (a->head_rows > 0) {
        QAT_RUN(ctx, embedding_fwd, hidden, a->rows, a->head_rows, H, a->head_in, 0);
    }
    *x = a->head_in;
    *rows = a->head_rows;
    return QAT_OK;
}

static const qat_walk_ops train_walk_ops = {
    .embed_sum = walk_embed_sum,
    .layer_buffers = walk_layer_buffers,
    .hidden = walk_hidden,
    .head_buffer = walk_head_buffer,
    .linear = walk_linear,
    .attention = walk_attention,
    .layernorm = walk_layernorm,
    .dropout = walk_dropout,
    .head_rows = walk_head_rows,
};

qat_status qat_model_forward_pass(qat_model *m, const int32_t *ids, const int32_t *mask, const int32_t *types,
                                  const int32_t *labels, int64_t batch, int64_t seq_len, int head_on_labelled_rows)
{
    QAT_TRY(qat_acts_prepare(m, batch, seq_len));
    QAT_TRY(prepare_inputs(m, ids, mask, types));
    train_walk t = {.m = m, .labels = labels, .labelled_only = head_on_labelled_rows};
    const qat_walk w = {.dims = &m->dims, .task = m->task, .B = batch, .L = seq_len, .ops = &train_walk_ops,
                        .self = &t, .out = NULL};
    QAT_TRY(qat_encoder_walk(&w));
    /* Every quantized weight is now current, unless a quantized MLM head
     * ran on no rows (its weights were not quantized this time). */
    if (!m->wq_current)
        m->wq_current = !qat_model_mlm_head_quantized(m) || m->acts.head_rows > 0;
    return QAT_OK;
}
