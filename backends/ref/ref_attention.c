/* Fused inference attention, the oracle: one query row at a time, in the
 * orders kernels.h fixes (scores summed over d ascending, the context over
 * keys ascending, by fmaf) and softmax_fwd's own row function, so the result is the
 * unfused QK^T / softmax / PV up to the GEMMs' accumulation order. */
#include <math.h>
#include <stdlib.h>

#include "core/error.h"
#include "ref/ref_backend.h"
#include "ref/ref_kernels.h"

/* Keys whose scores fit the range's stack row; longer rows get a heap row
 * per range (sequences over 4096 tokens: no BERT-class model here). */
enum { ROW_STACK = 4096 };

static void attention_row(const qat_attention_desc *d, int64_t b, int64_t h, int64_t i, float *s)
{
    const int64_t dh = d->head_dim;
    const float *q = d->q + (b * d->lq + i) * d->ldq + h * dh;
    for (int64_t j = 0; j < d->lk; j++) {
        const float *k = d->k + (b * d->lk + j) * d->ldk + h * dh;
        float dot = 0.0f;
        for (int64_t c = 0; c < dh; c++)
            dot = fmaf(q[c], k[c], dot);
        s[j] = dot * d->scale;
    }
    qat_ref_softmax_row(s, d->key_bias ? d->key_bias + b * d->lk : NULL, d->lk);
    float *o = d->out + (b * d->lq + i) * d->ldo + h * dh;
    for (int64_t c = 0; c < dh; c++)
        o[c] = 0.0f;
    for (int64_t j = 0; j < d->lk; j++) {
        const float *v = d->v + (b * d->lk + j) * d->ldv + h * dh;
        for (int64_t c = 0; c < dh; c++)
            o[c] = fmaf(s[j], v[c], o[c]);
    }
}

/* Rows r = (b * heads + h) * lq + i of [begin, end). */
static int attention_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const qat_attention_desc *d = arg;
    (void)index;
    float stack_row[ROW_STACK];
    float *s = d->lk <= ROW_STACK ? stack_row : malloc((size_t)d->lk * sizeof *s);
    if (!s)
        return 1;
    for (int64_t r = begin; r < end; r++) {
        const int64_t i = r % d->lq, bh = r / d->lq;
        attention_row(d, bh / d->heads, bh % d->heads, i, s);
    }
    if (s != stack_row)
        free(s);
    return 0;
}

qat_status qat_ref_attention_fwd(void *st, const qat_attention_desc *d)
{
    QAT_TRY(qat_attention_desc_validate(d));
    const int64_t rows = d->batch * d->heads * d->lq;
    if (rows == 0 || d->head_dim == 0)
        return QAT_OK;
    if (qat_host_for(st, rows, 2 * d->lk * d->head_dim, attention_range, (void *)d))
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "attention_fwd: out of memory for a row of %lld keys",
                        (long long)d->lk);
    return QAT_OK;
}
