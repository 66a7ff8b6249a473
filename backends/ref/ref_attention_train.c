/* Fused training attention, the oracle (kernels.h qat_attention_train_desc):
 * no [batch, heads, lq, lk] tensor, one row of scores at a time. The
 * forward runs a query row through attention_fwd's own row functions
 * (ref_attention.h), with the dropout slot's mask and scale on the
 * probabilities between them. The backward runs
 * one (sequence, head) at a time, its query rows in ascending order: each
 * row's probabilities recomputed exactly as the forward made them, then
 * softmax_bwd's row, dq's row, and dk, dv accumulated over the rows in that
 * order. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "host/host_attention.h"
#include "math/row_math.h" /* qat_softmax_bwd_row */
#include "ref/ref_attention.h"
#include "ref/ref_backend.h"
#include "ref/ref_kernels.h"

/* Rows of keys that fit the stack; longer ones get heap rows per range. */
enum { ROW_STACK = 2048 };

/* A range's rows of scratch (n rows of lk floats), on the stack or heap. */
typedef struct scratch {
    float stack[2 * ROW_STACK];
    float *rows;
} scratch;

static int scratch_open(scratch *s, int64_t lk, int n)
{
    s->rows = lk * n <= 2 * ROW_STACK ? s->stack : malloc((size_t)(lk * n) * sizeof(float));
    return s->rows != NULL;
}

static void scratch_close(scratch *s)
{
    if (s->rows != s->stack)
        free(s->rows);
}

/* Rows r = (b * heads + h) * lq + i of [begin, end). */
static int forward_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const qat_attention_train_desc *d = arg;
    const qat_attention_desc *a = &d->a;
    (void)index;
    scratch s;
    if (!scratch_open(&s, a->lk, 1))
        return 1;
    float *p = s.rows;
    for (int64_t r = begin; r < end; r++) {
        const int64_t i = r % a->lq, bh = r / a->lq, b = bh / a->heads, h = bh % a->heads;
        qat_ref_attention_probs(a, b, h, i, p);
        qat_host_attention_drop_row(d, b, h, i, p);
        qat_ref_attention_context(a, b, h, i, p);
    }
    scratch_close(&s);
    return 0;
}

/* (sequence, head) pairs bh = b * heads + h of [begin, end): each owns
 * its dk, dv rows' head slice, so no two ranges write the same float. */
static int backward_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const qat_attention_train_desc *d = arg;
    const qat_attention_desc *a = &d->a;
    const int64_t dh = a->head_dim;
    (void)index;
    scratch s;
    if (!scratch_open(&s, a->lk, 2))
        return 1;
    float *p = s.rows, *dp = s.rows + a->lk;
    for (int64_t bh = begin; bh < end; bh++) {
        const int64_t b = bh / a->heads, h = bh % a->heads;
        for (int64_t j = 0; j < a->lk; j++) {
            memset(d->dk + (b * a->lk + j) * d->ldg + h * dh, 0, (size_t)dh * sizeof(float));
            memset(d->dv + (b * a->lk + j) * d->ldg + h * dh, 0, (size_t)dh * sizeof(float));
        }
        for (int64_t i = 0; i < a->lq; i++) {
            const float *q = qat_ref_attention_q(a, b, h, i), *dout = d->dout + (b * a->lq + i) * d->lddo + h * dh;
            qat_ref_attention_probs(a, b, h, i, p);
            for (int64_t j = 0; j < a->lk; j++)
                dp[j] = qat_ref_attention_dot(dout, qat_ref_attention_v(a, b, h, j), dh);
            qat_host_attention_drop_row(d, b, h, i, dp);
            /* dv[j] += p'[j] dout: p' = p with the same mask, in dp's
             * place once ds is made from p and dp. */
            qat_softmax_bwd_row(dp, p, a->lk, dp);
            qat_host_attention_drop_row(d, b, h, i, p);
            float *dq = d->dq + (b * a->lq + i) * d->ldg + h * dh;
            for (int64_t c = 0; c < dh; c++)
                dq[c] = 0.0f;
            for (int64_t j = 0; j < a->lk; j++) {
                const float *k = qat_ref_attention_k(a, b, h, j);
                float *dk = d->dk + (b * a->lk + j) * d->ldg + h * dh, *dv = d->dv + (b * a->lk + j) * d->ldg + h * dh;
                const float ds = dp[j] * a->scale;
                for (int64_t c = 0; c < dh; c++) {
                    dq[c] = fmaf(ds, k[c], dq[c]);
                    dk[c] = fmaf(ds, q[c], dk[c]);
                    dv[c] = fmaf(p[j], dout[c], dv[c]);
                }
            }
        }
    }
    scratch_close(&s);
    return 0;
}

qat_status qat_ref_attention_train_fwd(void *st, const qat_attention_train_desc *d)
{
    QAT_TRY(qat_attention_train_desc_validate(d, 0));
    const qat_attention_desc *a = &d->a;
    const int64_t rows = a->batch * a->heads * a->lq;
    if (rows == 0 || a->head_dim == 0)
        return QAT_OK;
    if (qat_host_for(st, rows, 2 * a->lk * a->head_dim, forward_range, (void *)d))
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "attention_train_fwd: out of memory for a row of %lld keys",
                        (long long)a->lk);
    return QAT_OK;
}

qat_status qat_ref_attention_bwd(void *st, const qat_attention_train_desc *d)
{
    QAT_TRY(qat_attention_train_desc_validate(d, 1));
    const qat_attention_desc *a = &d->a;
    if (a->batch * a->heads == 0 || a->head_dim == 0)
        return QAT_OK; /* (lq = 0 still writes dk, dv: zeros) */
    if (qat_host_for(st, a->batch * a->heads, 4 * a->lq * a->lk * a->head_dim, backward_range, (void *)d))
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "attention_bwd: out of memory for rows of %lld keys",
                        (long long)a->lk);
    return QAT_OK;
}
