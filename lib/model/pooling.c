/* The pooling arithmetic of sentence-transformers' Pooling (CLS, masked
 * mean) and Normalize modules, on host memory: it is [B, H] work next to
 * the encoder's. */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "model/pooling.h"

/* sentence-transformers: sum(mask) clamped at 1e-9. */
#define MEAN_MIN_COUNT 1e-9f

qat_status qat_pooling_check_args(qat_pooling pooling, uint32_t flags, const char *fn)
{
    QAT_CHECK_ARG(pooling == QAT_POOLING_CLS || pooling == QAT_POOLING_MEAN || pooling == QAT_POOLING_MODEL,
                  "%s: pooling %d is not QAT_POOLING_CLS, QAT_POOLING_MEAN or QAT_POOLING_MODEL", fn, (int)pooling);
    QAT_CHECK_ARG((flags & ~QAT_EMBED_NORMALIZE) == 0, "%s: unknown flags 0x%x", fn, (unsigned)flags);
    return QAT_OK;
}

qat_status qat_pooling_resolve(const qat_pooling_config *cfg, qat_pooling *pooling, uint32_t *flags,
                               const char *what)
{
    if (*pooling != QAT_POOLING_MODEL)
        return QAT_OK;
    if (cfg->unsupported[0])
        return qat_fail(QAT_ERR_UNSUPPORTED, "%s: the model's own pooling: %s; pass QAT_POOLING_CLS or "
                        "QAT_POOLING_MEAN", what, cfg->unsupported);
    *pooling = cfg->known ? cfg->pooling : QAT_POOLING_MEAN;
    *flags |= cfg->known ? cfg->flags : 0u;
    return QAT_OK;
}

float qat_pool_token_weight(const int32_t *mask, int64_t i)
{
    return mask ? (float)mask[i] : 1.0f;
}

float qat_pool_mean_denominator(const int32_t *mask, int64_t b, int64_t L)
{
    float count = 0.0f;
    for (int64_t t = 0; t < L; t++)
        count += qat_pool_token_weight(mask, b * L + t);
    return count > MEAN_MIN_COUNT ? count : MEAN_MIN_COUNT;
}

float qat_pool_norm(const float *p, int64_t H)
{
    double s = 0.0;
    for (int64_t k = 0; k < H; k++)
        s += (double)p[k] * p[k];
    const float n = (float)sqrt(s);
    return n > QAT_POOL_NORM_MIN ? n : QAT_POOL_NORM_MIN;
}

void qat_pool_hidden(const float *hidden, const int32_t *mask, int64_t B, int64_t L, int64_t H, qat_pooling pooling,
                     uint32_t flags, float *out)
{
    for (int64_t b = 0; b < B; b++) {
        float *p = out + b * H;
        const float *h = hidden + b * L * H;
        if (pooling == QAT_POOLING_CLS) {
            memcpy(p, h, (size_t)H * sizeof *p);
        } else {
            memset(p, 0, (size_t)H * sizeof *p);
            for (int64_t t = 0; t < L; t++) {
                const float w = qat_pool_token_weight(mask, b * L + t);
                for (int64_t k = 0; k < H; k++)
                    p[k] += h[t * H + k] * w;
            }
            const float denom = qat_pool_mean_denominator(mask, b, L);
            for (int64_t k = 0; k < H; k++)
                p[k] /= denom;
        }
        if (flags & QAT_EMBED_NORMALIZE) {
            const float n = qat_pool_norm(p, H);
            for (int64_t k = 0; k < H; k++)
                p[k] /= n;
        }
    }
}
