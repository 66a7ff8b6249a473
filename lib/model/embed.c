/* Feature extraction on any model: the encoder's last hidden state pooled
 * per sequence (the [CLS] token or the mean over attended tokens, as
 * sentence-transformers' Pooling module), optionally L2-normalised, and the
 * backward from a caller's gradient of those embeddings, so a user can train
 * (QAT) an embedding model with a loss of their own. The pooling itself is
 * model/pooling.c, shared with packed inference. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/graph.h"
#include "model/pooling.h"
#include "qat/model.h"

static qat_status check_args(const qat_model *m, const int32_t *ids, const int32_t *mask, const int32_t *types,
                             int64_t batch, int64_t seq_len, qat_pooling pooling, uint32_t flags, size_t count,
                             const char *fn)
{
    QAT_CHECK_ARG(m != NULL, "%s: NULL model", fn);
    QAT_TRY(qat_pooling_check_args(pooling, flags, fn));
    QAT_TRY(qat_model_validate_batch(m, ids, mask, types, NULL, batch, seq_len, fn));
    const size_t need = (size_t)batch * (size_t)m->dims.hidden_size;
    QAT_CHECK_ARG(count >= need, "%s: the embeddings buffer holds %zu floats, %zu needed", fn, count, need);
    return QAT_OK;
}

/* The forward pass, with the MLM head on no row (every label ignored): the
 * embeddings need only the encoder. Other heads are small and run. */
static qat_status encoder_forward(qat_model *m, const int32_t *ids, const int32_t *mask, const int32_t *types,
                                  int64_t batch, int64_t seq_len)
{
    const int64_t n = batch * seq_len;
    int32_t *none = NULL;
    if (m->task == QAT_TASK_MLM) {
        none = malloc((size_t)n * sizeof *none);
        if (!none)
            return qat_fail(QAT_ERR_OUT_OF_MEMORY, "embeddings: %lld labels", (long long)n);
        for (int64_t i = 0; i < n; i++)
            none[i] = -100;
    }
    qat_status st = qat_model_forward_pass(m, ids, mask, types, none, batch, seq_len, none != NULL);
    free(none);
    return st;
}

/* Pooled embeddings of the last forward into out [B, H] (host). */
static qat_status pooled_embeddings(qat_model *m, const int32_t *mask, int64_t B, int64_t L, qat_pooling pooling,
                                    uint32_t flags, float *out)
{
    const int64_t H = m->dims.hidden_size;
    float *hidden = malloc((size_t)(B * L * H) * sizeof *hidden);
    if (!hidden)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "embeddings: hidden state of %lld tokens", (long long)(B * L));
    qat_status st = qat_context_backend_error(
        m->ctx,
        m->ctx->backend.ops->download(m->ctx->backend_state, hidden, m->acts.hidden, (size_t)(B * L * H) * sizeof(float)),
        "reading the hidden state");
    if (st == QAT_OK)
        qat_pool_hidden(hidden, mask, B, L, H, pooling, flags, out);
    free(hidden);
    return st;
}

QAT_API qat_status qat_model_embed(qat_model *m, const int32_t *ids, const int32_t *mask, const int32_t *types,
                                   int64_t batch, int64_t seq_len, qat_pooling pooling, uint32_t flags,
                                   float *embeddings, size_t count)
{
    QAT_CHECK_ARG(embeddings != NULL, "qat_model_embed: NULL embeddings");
    QAT_TRY(check_args(m, ids, mask, types, batch, seq_len, pooling, flags, count, "qat_model_embed"));
    QAT_TRY(qat_pooling_resolve(&m->pooling_cfg, &pooling, &flags, "qat_model_embed"));
    QAT_TRY(encoder_forward(m, ids, mask, types, batch, seq_len));
    return pooled_embeddings(m, mask, batch, seq_len, pooling, flags, embeddings);
}

/* d_pooled [B, H] (the caller's gradient, after normalisation when asked)
 * -> d_hidden [B, L, H]. y = p / max(|p|, eps): dp = (dy - y (y . dy)) / |p|
 * where |p| > eps, else dy / eps. */
static void pool_backward(const float *pooled, const float *d_out, const int32_t *mask, int64_t B, int64_t L,
                          int64_t H, qat_pooling pooling, uint32_t flags, float *d_pooled, float *d_hidden)
{
    memcpy(d_pooled, d_out, (size_t)(B * H) * sizeof *d_pooled);
    for (int64_t b = 0; (flags & QAT_EMBED_NORMALIZE) && b < B; b++) {
        const float *p = pooled + b * H;
        float *d = d_pooled + b * H;
        const float n = qat_pool_norm(p, H);
        double dot = 0.0;
        for (int64_t k = 0; k < H; k++)
            dot += (double)(p[k] / n) * d[k];
        const int clamped = n <= QAT_POOL_NORM_MIN;
        for (int64_t k = 0; k < H; k++)
            d[k] = clamped ? d[k] / n : (d[k] - (p[k] / n) * (float)dot) / n;
    }
    memset(d_hidden, 0, (size_t)(B * L * H) * sizeof *d_hidden);
    for (int64_t b = 0; b < B; b++) {
        const float *d = d_pooled + b * H;
        if (pooling == QAT_POOLING_CLS) {
            memcpy(d_hidden + b * L * H, d, (size_t)H * sizeof *d);
            continue;
        }
        const float denom = qat_pool_mean_denominator(mask, b, L);
        for (int64_t t = 0; t < L; t++) {
            const float w = qat_pool_token_weight(mask, b * L + t) / denom;
            for (int64_t k = 0; k < H; k++)
                d_hidden[(b * L + t) * H + k] = d[k] * w;
        }
    }
}

QAT_API qat_status qat_model_embed_backward(qat_model *m, const int32_t *ids, const int32_t *mask,
                                            const int32_t *types, int64_t batch, int64_t seq_len,
                                            qat_pooling pooling, uint32_t flags, const float *d_embeddings,
                                            size_t count)
{
    QAT_CHECK_ARG(d_embeddings != NULL, "qat_model_embed_backward: NULL d_embeddings");
    QAT_TRY(check_args(m, ids, mask, types, batch, seq_len, pooling, flags, count, "qat_model_embed_backward"));
    QAT_TRY(qat_pooling_resolve(&m->pooling_cfg, &pooling, &flags, "qat_model_embed_backward"));
    for (size_t i = 0; i < (size_t)batch * (size_t)m->dims.hidden_size; i++)
        QAT_CHECK_ARG(isfinite(d_embeddings[i]), "qat_model_embed_backward: d_embeddings[%zu] is not finite", i);
    QAT_TRY(encoder_forward(m, ids, mask, types, batch, seq_len));
    const int64_t B = batch, L = seq_len, H = m->dims.hidden_size;
    float *pooled = malloc((size_t)(2 * B * H + B * L * H) * sizeof *pooled);
    if (!pooled)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "embeddings backward: %lld tokens", (long long)(B * L));
    float *d_pooled = pooled + B * H, *d_hidden = d_pooled + B * H;
    qat_status st = pooled_embeddings(m, mask, B, L, pooling, 0, pooled);
    if (st == QAT_OK) {
        pool_backward(pooled, d_embeddings, mask, B, L, H, pooling, flags, d_pooled, d_hidden);
        st = qat_context_backend_error(m->ctx,
                                       m->ctx->backend.ops->upload(m->ctx->backend_state, m->acts.d_hidden, d_hidden,
                                                                   (size_t)(B * L * H) * sizeof(float)),
                                       "writing the hidden state's gradient");
    }
    free(pooled);
    QAT_TRY(st);
    QAT_RUN(m->ctx, fill, m->g, (int64_t)m->total, 0.0f);
    return qat_model_encoder_backward(m, NULL);
}

QAT_API qat_status qat_model_pooling(const qat_model *m, qat_pooling *pooling, uint32_t *flags)
{
    QAT_CHECK_ARG(m != NULL && pooling != NULL && flags != NULL, "qat_model_pooling: NULL argument");
    qat_pooling p = QAT_POOLING_MODEL;
    uint32_t f = 0;
    QAT_TRY(qat_pooling_resolve(&m->pooling_cfg, &p, &f, "qat_model_pooling"));
    *pooling = p;
    *flags = f;
    return QAT_OK;
}

QAT_API qat_status qat_model_set_pooling(qat_model *m, qat_pooling pooling, uint32_t flags)
{
    QAT_CHECK_ARG(m != NULL, "qat_model_set_pooling: NULL model");
    QAT_CHECK_ARG(pooling == QAT_POOLING_CLS || pooling == QAT_POOLING_MEAN,
                  "qat_model_set_pooling: pooling %d is neither QAT_POOLING_CLS nor QAT_POOLING_MEAN", (int)pooling);
    QAT_CHECK_ARG((flags & ~QAT_EMBED_NORMALIZE) == 0, "qat_model_set_pooling: unknown flags 0x%x", (unsigned)flags);
    m->pooling_cfg = (qat_pooling_config){
        .known = 1, .pooling = pooling, .flags = flags, .max_seq_length = m->pooling_cfg.max_seq_length};
    return QAT_OK;
}

QAT_API qat_status qat_model_max_seq_length(const qat_model *m, int64_t *max_seq_length)
{
    QAT_CHECK_ARG(m != NULL && max_seq_length != NULL, "qat_model_max_seq_length: NULL argument");
    *max_seq_length = m->pooling_cfg.max_seq_length;
    return QAT_OK;
}
