/* The backward pass, by hand: each forward piece has its mirror here, in
 * reverse order. Parameter gradients accumulate into zeroed buffers. */
#include <math.h>
#include <stdlib.h>

#include "model/graph.h"
#include "model/quantize.h"

static float hidden_dropout(const qat_model *m)
{
    return m->training ? m->dims.hidden_dropout_prob : 0.0f;
}

/* linear_backward's options. */
enum {
    DX_ACCUMULATE = 1,  /* add dxq into dx (float/BitNet inputs only) */
    BIAS_GRAD_DONE = 2  /* db came with the GELU's backward (gelu_bias_bwd) */
};

/* Given dy [N, out] of y = xq W_hat^T + b: bias and weight gradients (the
 * latter through the weight quantizer), and dxq = dy W_hat written into dx,
 * or added to it (DX_ACCUMULATE). */
static qat_status linear_backward(qat_model *m, qat_linear *l, const float *xq, const float *dy, int64_t N,
                                  float *dx, int options)
{
    qat_context *ctx = m->ctx;
    if (!(options & BIAS_GRAD_DONE))
        QAT_RUN(ctx, bias_grad, dy, N, l->out, model_g(m, l->b));
    float *gw = model_g(m, l->w);
    if (qat_quantizer_needs_backward(m, &l->wq)) {
        float *dw_hat = m->acts.d_weight;
        QAT_TRY(graph_gemm(ctx, 1, 0, l->out, l->in, N, 1.0f, dy, l->out, xq, l->in, 0.0f, dw_hat, l->in));
        QAT_TRY(qat_quantize_bwd(m, &l->wq, dw_hat, model_w(m, l->w), l->out, l->in, l->out * l->in));
        QAT_RUN(ctx, accumulate, dw_hat, gw, l->out * l->in);
    } else {
        QAT_TRY(graph_gemm(ctx, 1, 0, l->out, l->in, N, 1.0f, dy, l->out, xq, l->in, 1.0f, gw, l->in));
    }
    return graph_gemm(ctx, 0, 0, N, l->in, l->out, 1.0f, dy, l->out, graph_linear_weight(m, l), l->in,
                      options & DX_ACCUMULATE ? 1.0f : 0.0f, dx, l->in);
}

/* d (gradient of a linear's quantized input) becomes the gradient of its
 * float input x [N, in]. */
static qat_status input_backward(qat_model *m, const qat_linear *l, float *d, const float *x, int64_t N)
{
    return qat_quantize_bwd(m, &l->aq, d, x, N, l->in, N * l->in);
}

/* The quantized MLM head runs on the R labelled rows only, but its input
 * quantizers' gradient scale counts every position (g = 1 / sqrt(N H Qp)),
 * as the seed code's head sees the whole sequence. */
static qat_status head_input_backward(qat_model *m, const qat_linear *l, float *d, const float *x, int64_t R)
{
    return qat_quantize_bwd(m, &l->aq, d, x, R, l->in, m->acts.N * l->in);
}

/* Mirror of seqcls_forward: d_logits [R, C] -> d_hidden [N, H] (zero but
 * on the first token of each sequence). Scratch: d_a, d_b [R, H]. */
static qat_status seqcls_backward(qat_model *m, float *d_hidden)
{
    qat_acts *a = &m->acts;
    qat_context *ctx = m->ctx;
    const int64_t R = a->head_rows, H = m->dims.hidden_size, N = a->N, C = m->num_labels;
    const float p = m->training ? m->classifier_dropout : 0.0f;
    QAT_RUN(ctx, bias_grad, a->d_logits, R, C, model_g(m, m->cls_b));
    QAT_TRY(graph_gemm(ctx, 1, 0, C, H, R, 1.0f, a->d_logits, C, a->pool_drop, H, 1.0f, model_g(m, m->cls_w), H));
    QAT_TRY(graph_gemm(ctx, 0, 0, R, H, C, 1.0f, a->d_logits, C, model_w(m, m->cls_w), H, 0.0f, a->d_a, H));
    QAT_RUN(ctx, dropout, a->d_a, R * H, p, a->seed_pool);
    QAT_RUN(ctx, tanh_bwd, a->d_a, a->pool_act, R * H, a->d_a); /* d_a = dL/d pool_pre */
    QAT_RUN(ctx, bias_grad, a->d_a, R, H, model_g(m, m->pool_b));
    QAT_TRY(graph_gemm(ctx, 1, 0, H, H, R, 1.0f, a->d_a, H, a->head_in, H, 1.0f, model_g(m, m->pool_w), H));
    QAT_TRY(graph_gemm(ctx, 0, 0, R, H, H, 1.0f, a->d_a, H, model_w(m, m->pool_w), H, 0.0f, a->d_b, H));
    if (m->dims.arch == QAT_ARCH_ROBERTA)
        QAT_RUN(ctx, dropout, a->d_b, R * H, p, a->seed_cls);
    QAT_RUN(ctx, fill, d_hidden, N * H, 0.0f);
    QAT_RUN(ctx, embedding_bwd, a->d_b, a->rows, R, H, N, d_hidden);
    return QAT_OK;
}

static qat_status head_backward(qat_model *m, float *d_hidden)
{
    qat_acts *a = &m->acts;
    qat_context *ctx = m->ctx;
    const int64_t R = a->head_rows, H = m->dims.hidden_size, N = a->N;
    if (m->task == QAT_TASK_SEQUENCE_CLASSIFICATION)
        return seqcls_backward(m, d_hidden);
    if (m->task == QAT_TASK_TOKEN_CLASSIFICATION) {
        const int64_t C = m->num_labels;
        QAT_RUN(ctx, bias_grad, a->d_logits, R, C, model_g(m, m->cls_b));
        QAT_TRY(graph_gemm(ctx, 1, 0, C, H, R, 1.0f, a->d_logits, C, a->head_in, H, 1.0f, model_g(m, m->cls_w), H));
        QAT_TRY(graph_gemm(ctx, 0, 0, R, H, C, 1.0f, a->d_logits, C, model_w(m, m->cls_w), H, 0.0f, d_hidden, H));
        QAT_RUN(ctx, dropout, d_hidden, N * H, m->training ? m->classifier_dropout : 0.0f, a->seed_cls);
        return QAT_OK;
    }
    const int64_t V = m->dims.vocab_size;
    QAT_RUN(ctx, fill, d_hidden, N * H, 0.0f);
    if (R == 0)
        return QAT_OK;
    if (qat_model_mlm_head_quantized(m)) {
        /* The seed code's quantized head: decoder and dense as linears. */
        QAT_TRY(linear_backward(m, &m->mlm_decoder, a->mlm_h_q, a->d_logits, R, a->d_a, 0));
        QAT_TRY(head_input_backward(m, &m->mlm_decoder, a->d_a, a->mlm_h, R));
    } else {
        QAT_RUN(ctx, bias_grad, a->d_logits, R, V, model_g(m, m->mlm_bias));
        QAT_TRY(graph_gemm(ctx, 1, 0, V, H, R, 1.0f, a->d_logits, V, a->mlm_h, H, 1.0f,
                           model_g(m, m->mlm_decoder_w), H));
        QAT_TRY(graph_gemm(ctx, 0, 0, R, H, V, 1.0f, a->d_logits, V, model_w(m, m->mlm_decoder_w), H, 0.0f, a->d_a, H));
    }
    QAT_RUN(ctx, layernorm_bwd, a->d_a, a->mlm_act, model_w(m, m->mlm_ln_w), a->mlm_mean, a->mlm_rstd, R, H, a->d_b,
            model_g(m, m->mlm_ln_w), model_g(m, m->mlm_ln_b));
    const int quantized = qat_model_mlm_head_quantized(m);
    QAT_RUN(ctx, gelu_bias_bwd, a->d_b, a->mlm_pre, R, H, a->d_b,
            model_g(m, quantized ? m->mlm_dense.b : m->mlm_dense_b));
    if (quantized) {
        QAT_TRY(linear_backward(m, &m->mlm_dense, a->mlm_in_q, a->d_b, R, a->d_a, BIAS_GRAD_DONE));
        QAT_TRY(head_input_backward(m, &m->mlm_dense, a->d_a, a->head_in, R));
    } else {
        QAT_TRY(graph_gemm(ctx, 1, 0, H, H, R, 1.0f, a->d_b, H, a->head_in, H, 1.0f, model_g(m, m->mlm_dense_w), H));
        QAT_TRY(graph_gemm(ctx, 0, 0, R, H, H, 1.0f, a->d_b, H, model_w(m, m->mlm_dense_w), H, 0.0f, a->d_a, H));
    }
    QAT_RUN(ctx, embedding_bwd, a->d_a, a->rows, R, H, N, d_hidden);
    return QAT_OK;
}

/* The attention core's backward through the kept probabilities: d_probs,
 * then dq, dk, dv from d_ctx (the gradient of the context). */
static qat_status attention_core_backward(qat_model *m, const qat_layer_acts *la, const float *d_ctx_rows, float *dq,
                                          float *dk, float *dv)
{
    qat_acts *a = &m->acts;
    qat_context *ctx = m->ctx;
    const int64_t B = a->B, S = a->L, H = m->dims.hidden_size, NH = m->dims.num_heads, dh = H / NH;
    const int64_t P = B * NH * S * S;
    const float scale = 1.0f / sqrtf((float)dh);
    const graph_heads_operand d_ctx = {d_ctx_rows, H, S * H, dh}, q = {la->q, H, S * H, dh}, k = {la->k, H, S * H, dh},
                              v = {la->v, H, S * H, dh}, probs_drop = {la->probs_drop, S, NH * S * S, S * S},
                              d_scores = {a->d_probs, S, NH * S * S, S * S};
    QAT_TRY(graph_gemm_heads(ctx, 0, 1, S, S, dh, 1.0f, d_ctx, v, 0.0f, a->d_probs, S, NH * S * S, S * S, B, NH));
    QAT_TRY(graph_gemm_heads(ctx, 1, 0, S, dh, S, 1.0f, probs_drop, d_ctx, 0.0f, dv, H, S * H, dh, B, NH));
    if (la->probs_drop != la->probs)
        QAT_RUN(ctx, dropout, a->d_probs, P, m->dims.attention_dropout_prob, la->seed_attn);
    QAT_RUN(ctx, softmax_bwd, a->d_probs, la->probs, P / S, S, a->d_probs);
    QAT_TRY(graph_gemm_heads(ctx, 0, 0, S, dh, S, scale, d_scores, k, 0.0f, dq, H, S * H, dh, B, NH));
    QAT_TRY(graph_gemm_heads(ctx, 1, 0, S, dh, S, scale, d_scores, q, 0.0f, dk, H, S * H, dh, B, NH));
    return QAT_OK;
}

/* dy: gradient of the layer output (consumed); dx: receives the gradient
 * of the layer input. Scratch: d_a, d_b, d_c [N, H], d_wide, d_wide2. */
static qat_status layer_backward(qat_model *m, qat_layer *L, qat_layer_acts *la, float *dy, float *dx)
{
    qat_acts *a = &m->acts;
    qat_context *ctx = m->ctx;
    const int64_t N = a->N, H = m->dims.hidden_size, I = m->dims.intermediate_size;
    float *d_a = a->d_a, *d_b = a->d_b, *d_c = a->d_c;

    /* LN2: d_a = dL/d res2; feeds h1 (residual) and the output dense. */
    QAT_RUN(ctx, layernorm_bwd, dy, la->res2, model_w(m, L->ln2_w), la->ln2_mean, la->ln2_rstd, N, H, d_a,
            model_g(m, L->ln2_w), model_g(m, L->ln2_b));
    QAT_RUN(ctx, dropout_add, d_a, NULL, N * H, hidden_dropout(m), la->seed_out, d_b);
    /* Each linear's quantized input again, from its kept float input into
     * the shared scratch (the forward kept no copy: codes are recomputed,
     * not stored); the float input itself when activations are float. */
    const float *xq;
    QAT_TRY(qat_quantize_input(m, &L->out, la->act, N, a->xq_wide, &xq));
    QAT_TRY(linear_backward(m, &L->out, xq, d_b, N, a->d_wide, 0));
    QAT_TRY(input_backward(m, &L->out, a->d_wide, la->act, N));
    QAT_RUN(ctx, gelu_bias_bwd, a->d_wide, la->pre, N, I, a->d_wide, model_g(m, L->inter.b));
    QAT_TRY(qat_quantize_input(m, &L->inter, la->h1, N, a->xq_hidden, &xq));
    QAT_TRY(linear_backward(m, &L->inter, xq, a->d_wide, N, d_c, BIAS_GRAD_DONE));
    QAT_TRY(input_backward(m, &L->inter, d_c, la->h1, N));
    QAT_RUN(ctx, accumulate, d_c, d_a, N * H); /* d_a = dL/d h1 */

    /* LN1: d_b = dL/d res1; feeds x (residual) and the attention output. */
    QAT_RUN(ctx, layernorm_bwd, d_a, la->res1, model_w(m, L->ln1_w), la->ln1_mean, la->ln1_rstd, N, H, d_b,
            model_g(m, L->ln1_w), model_g(m, L->ln1_b));
    QAT_RUN(ctx, dropout_add, d_b, NULL, N * H, hidden_dropout(m), la->seed_ao, d_c);
    QAT_TRY(qat_quantize_input(m, &L->attn_out, la->ctx, N, a->xq_hidden, &xq));
    QAT_TRY(linear_backward(m, &L->attn_out, xq, d_c, N, d_a, 0));
    QAT_TRY(input_backward(m, &L->attn_out, d_a, la->ctx, N)); /* d_a = dL/d ctx */

    /* Attention core: dq (d_c), dk (d_wide2), dv (d_wide) from d_a. */
    float *dq = d_c, *dk = a->d_wide2, *dv = a->d_wide;
    if (a->fused_attention) {
        qat_attention_train_desc d = qat_acts_attention_desc(m, la, la->q, la->k, la->v);
        d.a.out = la->ctx, d.dout = d_a, d.dq = dq, d.dk = dk, d.dv = dv;
        QAT_RUN(ctx, attention_bwd, &d);
    } else {
        QAT_TRY(attention_core_backward(m, la, d_a, dq, dk, dv));
    }

    /* q, k, v projections: dx = dL/d res1 (residual, in d_b) + their inputs' gradients. */
    QAT_RUN(ctx, copy, d_b, dx, N * H);
    qat_linear *qkv[3] = {&L->q, &L->k, &L->v};
    float *dys[3] = {dq, dk, dv};
    const int shared = qat_layer_qkv_share_input(L);
    for (int j = 0; j < 3; j++) {
        if (j == 0 || !shared)
            QAT_TRY(qat_quantize_input(m, qkv[j], la->x, N, a->xq_hidden, &xq));
        if (qat_quantizer_needs_backward(m, &qkv[j]->aq)) {
            QAT_TRY(linear_backward(m, qkv[j], xq, dys[j], N, d_a, 0));
            QAT_TRY(input_backward(m, qkv[j], d_a, la->x, N));
            QAT_RUN(ctx, accumulate, d_a, dx, N * H);
        } else {
            QAT_TRY(linear_backward(m, qkv[j], xq, dys[j], N, dx, DX_ACCUMULATE));
        }
    }
    return QAT_OK;
}

static qat_status embeddings_backward(qat_model *m, float *d_out)
{
    qat_acts *a = &m->acts;
    qat_context *ctx = m->ctx;
    const int64_t N = a->N, H = m->dims.hidden_size;
    QAT_RUN(ctx, dropout, d_out, N * H, hidden_dropout(m), a->seed_emb);
    QAT_RUN(ctx, layernorm_bwd, d_out, a->emb_sum, model_w(m, m->emb_ln_w), a->emb_mean, a->emb_rstd, N, H, a->d_a,
            model_g(m, m->emb_ln_w), model_g(m, m->emb_ln_b));
    qat_table *tables[3] = {&m->word, &m->type, &m->pos};
    const int32_t *index[3] = {a->ids, a->types, a->pos};
    for (int t = 0; t < 3; t++) {
        qat_table *tb = tables[t];
        QAT_RUN(ctx, copy, a->d_a, a->d_b, N * H);
        /* torch gives the padding_idx row no gradient, before any quantizer. */
        if (tb->padding_idx >= 0)
            QAT_RUN(ctx, zero_rows_where, a->d_b, index[t], N, H, (int32_t)tb->padding_idx);
        QAT_TRY(qat_quantize_bwd(m, &tb->q, a->d_b, a->emb_raw[t], N, H, tb->rows * H));
        QAT_RUN(ctx, embedding_bwd, a->d_b, index[t], N, H, tb->rows, model_g(m, tb->w));
    }
    return QAT_OK;
}

/* The loss of the last forward into acts.loss (0 when no label counts:
 * *counted says how many did); with backward, the gradients are zeroed. */
static qat_status loss(qat_model *m, const int32_t *labels, int backward, int64_t *counted)
{
    qat_acts *a = &m->acts;
    qat_context *ctx = m->ctx;
    const int64_t R = a->head_rows;
    const int64_t C = m->task == QAT_TASK_MLM ? m->dims.vocab_size : m->num_labels;
    const int64_t n_labels = m->task == QAT_TASK_SEQUENCE_CLASSIFICATION ? a->B : a->N;
    *counted = 0;
    for (int64_t i = 0; i < n_labels; i++)
        *counted += labels[i] != -100;
    if (backward)
        QAT_RUN(ctx, fill, m->g, (int64_t)m->total, 0.0f);
    if (*counted == 0) {
        QAT_RUN(ctx, fill, a->loss, 1, 0.0f); /* nothing to learn from: zero loss and gradients */
        return QAT_OK;
    }
    const float scale = 1.0f / (float)*counted;
    QAT_RUN(ctx, cross_entropy, a->logits, a->labels, R, C, scale, a->loss, backward ? a->d_logits : NULL);
    return QAT_OK;
}

qat_status qat_model_loss_backward(qat_model *m, const int32_t *labels, int backward, float *out)
{
    qat_context *ctx = m->ctx;
    int64_t counted;
    *out = 0.0f;
    QAT_TRY(loss(m, labels, backward, &counted));
    if (counted == 0)
        return QAT_OK;
    QAT_TRY(qat_context_backend_error(
        ctx, ctx->backend.ops->download(ctx->backend_state, out, m->acts.loss, sizeof *out), "reading the loss"));
    if (!isfinite(*out))
        return qat_fail(QAT_ERR_NUMERIC, "the loss is not finite (%g)", (double)*out);
    if (!backward)
        return QAT_OK;
    QAT_TRY(head_backward(m, m->acts.d_hidden));
    return qat_model_encoder_backward(m, NULL);
}

static qat_status announce(const qat_grad_hook *hook, size_t frontier)
{
    return hook ? hook->ready(hook->user, frontier) : QAT_OK;
}

qat_status qat_model_loss_backward_device(qat_model *m, const int32_t *labels, const qat_grad_hook *hook)
{
    int64_t counted;
    QAT_TRY(loss(m, labels, 1, &counted));
    if (counted == 0)
        return announce(hook, 0); /* zero gradients, all final */
    QAT_TRY(head_backward(m, m->acts.d_hidden));
    QAT_TRY(announce(hook, m->head_from));
    return qat_model_encoder_backward(m, hook);
}

qat_status qat_model_encoder_backward(qat_model *m, const qat_grad_hook *hook)
{
    qat_acts *a = &m->acts;
    float *dy = a->d_hidden, *spare = a->d_hidden2;
    /* Each layer reads the gradient of its output and writes that of its
     * input: the two buffers swap roles layer after layer. */
    for (int64_t i = m->dims.num_layers - 1; i >= 0; i--) {
        QAT_TRY(layer_backward(m, &m->layers[i], &a->layers[i], dy, spare));
        QAT_TRY(announce(hook, m->layers[i].grad_from));
        float *t = dy;
        dy = spare;
        spare = t;
    }
    QAT_TRY(embeddings_backward(m, dy));
    return announce(hook, 0);
}
