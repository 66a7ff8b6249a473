/* Fused inference attention, the oracle: one query row at a time, in the
 * orders kernels.h fixes (scores summed over d ascending, the context over
 * keys ascending, by fmaf) and softmax_fwd's own row function, so the result is the
 * unfused QK^T / softmax / PV up to the GEMMs' accumulation order. */
#include <math.h>
#include <stdlib.h>

#include "core/error.h"
#include "ref/ref_attention.h"
#include "ref/ref_backend.h"
#include "ref/ref_kernels.h"

/* Keys whose scores fit the range's stack row; longer rows get a heap row
 * per range (sequences over 4096 tokens: no BERT-class model here). */
enum { ROW_STACK = 4096 };

float qat_ref_attention_dot(const float *x, const float *y, int64_t n)
{
    float acc = 0.0f;
    for (int64_t c = 0; c < n; c++)
        acc = fmaf(x[c], y[c], acc);
    return acc;
}

void qat_ref_attention_probs(const qat_attention_desc *a, int64_t b, int64_t h, int64_t i, float *p)
{
    const float *q = qat_ref_attention_q(a, b, h, i);
    for (int64_t j = 0; j < a->lk; j++)
        p[j] = qat_ref_attention_dot(q, qat_ref_attention_k(a, b, h, j), a->head_dim) * a->scale;
    qat_ref_softmax_row(p, a->key_bias ? a->key_bias + b * a->lk : NULL, a->lk);
}

void qat_ref_attention_context(const qat_attention_desc *a, int64_t b, int64_t h, int64_t i, const float *p)
{
    float *o = a->out + (b * a->lq + i) * a->ldo + h * a->head_dim;
    for (int64_t c = 0; c < a->head_dim; c++)
        o[c] = 0.0f;
    for (int64_t j = 0; j < a->lk; j++) {
        const float *v = qat_ref_attention_v(a, b, h, j);
        for (int64_t c = 0; c < a->head_dim; c++)
            o[c] = fmaf(p[j], v[c], o[c]);
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
        qat_ref_attention_probs(d, bh / d->heads, bh % d->heads, i, s);
        qat_ref_attention_context(d, bh / d->heads, bh % d->heads, i, s);
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
