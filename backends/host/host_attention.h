/* What the host backends' fused training attention (ref, cpu) share: the
 * attention dropout of one row of probabilities (or of their gradient),
 * the mask and arithmetic of the dropout slot over the unfused
 * [batch, heads, lq, lk] tensor (kernels.h qat_attention_train_desc). */
#ifndef QAT_HOST_ATTENTION_H
#define QAT_HOST_ATTENTION_H

#include "backend/kernels.h"

/* x[j] = x[j] * keep_scale where dropout keeps element j of row (b, h, i),
 * else 0; nothing when d->dropout <= 0. */
static inline void qat_host_attention_drop_row(const qat_attention_train_desc *d, int64_t b, int64_t h, int64_t i,
                                               float *x)
{
    if (d->dropout <= 0.0f)
        return;
    const float keep_scale = 1.0f / (1.0f - d->dropout);
    const uint64_t first = (uint64_t)(((b * d->a.heads + h) * d->a.lq + i) * d->a.lk);
    for (int64_t j = 0; j < d->a.lk; j++)
        x[j] = qat_dropout_keep(d->seed, first + (uint64_t)j, d->dropout) ? x[j] * keep_scale : 0.0f;
}

#endif
