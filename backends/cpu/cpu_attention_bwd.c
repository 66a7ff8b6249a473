/* The fused training attention's backward on the cpu backend (kernels.h
 * qat_attention_train_desc): one (sequence, head) at a time, its q, k, v
 * and dout slices copied side by side, the head's probabilities and their
 * gradient as [lq, lk] scratch of the range (never [batch, heads, lq, lk]),
 * through the attention tiles (cpu_attention.h):
 *   P  = softmax rows of scores(q, k) * scale      (the forward's, again)
 *   G  = scores(dout, v), dropped, softmax_bwd's rows with P, times scale
 *   dq = context(G, k); dk = context(G^T, q); dv = context(dropped P^T, dout)
 * Every element is summed in ref's order (qat_ref_attention_bwd: over keys
 * for dq, over query rows ascending for dk and dv, one fused multiply-add a
 * step), so every path and thread count gives ref's bits. */
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "core/error.h"
#include "cpu/cpu_attention.h"
#include "host/host_attention.h"
#include "math/row_math.h"

enum { ROWS_MAX = 16 }; /* rows of a scores call, at most (every path's srows is below) */

typedef struct bwd_plan {
    const qat_attention_train_desc *d;
    qat_cpu_att_kernels k;
    qat_cpu_float_isa isa;
} bwd_plan;

/* s[r * lds + j] = (x_r . y_j) * scale for r < n, j < ny; rows of dh floats. */
static void all_scores(const qat_cpu_att_kernels *k, const float *x, int64_t n, const float *y, int64_t ny,
                       int64_t dh, float scale, float *s, int64_t lds, float *panel)
{
    for (int64_t j0 = 0; j0 < ny; j0 += k->keys) {
        const int nk = (int)(ny - j0 < k->keys ? ny - j0 : k->keys);
        k->panel(y + j0 * dh, dh, nk, dh, panel);
        for (int64_t r = 0; r < n; r += k->srows) {
            const int R = (int)(n - r < k->srows ? n - r : k->srows);
            const float *rows[ROWS_MAX];
            for (int i = 0; i < R; i++)
                rows[i] = x + (r + i) * dh;
            k->scores(rows, R, panel, dh, scale, s + r * lds + j0, lds, nk);
        }
    }
}

/* o_r = sum_j p_r[j] y_j for r < n (p rows of ny, y rows of dh floats). */
static void all_context(const qat_cpu_att_kernels *k, const float *p, int64_t n, const float *y, int64_t ny,
                        int64_t dh, float *o, int64_t ldo)
{
    for (int64_t r = 0; r < n; r += k->crows)
        k->context(p + r * ny, ny, (int)(n - r < k->crows ? n - r : k->crows), y, dh, ny, dh, o + r * ldo, ldo);
}

/* dst[j * rows + i] = src[i * cols + j], in 32 x 32 blocks: element by
 * element, a row of dst is a column of src, a cache line each (the step's
 * largest cost outside the tiles before the blocks, under perf). */
static void transpose(const float *src, int64_t rows, int64_t cols, float *dst)
{
    enum { BLOCK = 32 };
    for (int64_t i0 = 0; i0 < rows; i0 += BLOCK)
        for (int64_t j0 = 0; j0 < cols; j0 += BLOCK) {
            const int64_t i1 = i0 + BLOCK < rows ? i0 + BLOCK : rows, j1 = j0 + BLOCK < cols ? j0 + BLOCK : cols;
            for (int64_t j = j0; j < j1; j++)
                for (int64_t i = i0; i < i1; i++)
                    dst[j * rows + i] = src[i * cols + j];
        }
}

/* rows of dh floats from ld-strided memory, side by side. */
static void gather(const float *src, int64_t ld, int64_t rows, int64_t dh, float *dst)
{
    for (int64_t r = 0; r < rows; r++)
        memcpy(dst + r * dh, src + r * ld, (size_t)dh * sizeof *dst);
}

static void softmax_bwd_row(qat_cpu_float_isa isa, float *g, const float *p, int64_t n)
{
#ifdef QAT_CPU_TWINS
    if (isa != QAT_CPU_FLOAT_SCALAR) {
        QAT_CPU_VECTOR(isa, qat_cpu_softmax_bwd_row)(g, p, n, g);
        return;
    }
#endif
    (void)isa;
    qat_softmax_bwd_row(g, p, n, g);
}

static void head_backward(const bwd_plan *pl, int64_t b, int64_t h, float *buf, float *panel)
{
    const qat_attention_train_desc *d = pl->d;
    const qat_attention_desc *a = &d->a;
    const int64_t lq = a->lq, lk = a->lk, dh = a->head_dim, col = h * dh;
    float *q = buf, *k = q + lq * dh, *v = k + lk * dh, *dout = v + lk * dh;
    float *p = dout + lq * dh, *g = p + lq * lk, *t = g + lq * lk;
    gather(a->q + b * lq * a->ldq + col, a->ldq, lq, dh, q);
    gather(a->k + b * lk * a->ldk + col, a->ldk, lk, dh, k);
    gather(a->v + b * lk * a->ldv + col, a->ldv, lk, dh, v);
    gather(d->dout + b * lq * d->lddo + col, d->lddo, lq, dh, dout);
    all_scores(&pl->k, q, lq, k, lk, dh, a->scale, p, lk, panel);
    qat_cpu_softmax_rows(pl->isa, p, lk, lq, a->key_bias ? a->key_bias + b * lk : NULL, lk);
    all_scores(&pl->k, dout, lq, v, lk, dh, 1.0f, g, lk, panel);
    for (int64_t i = 0; i < lq; i++) {
        float *gi = g + i * lk, *pi = p + i * lk;
        qat_host_attention_drop_row(d, b, h, i, gi);
        softmax_bwd_row(pl->isa, gi, pi, lk);
        for (int64_t j = 0; j < lk; j++)
            gi[j] = gi[j] * a->scale;
        qat_host_attention_drop_row(d, b, h, i, pi);
    }
    all_context(&pl->k, g, lq, k, lk, dh, d->dq + b * lq * d->ldg + col, d->ldg);
    transpose(g, lq, lk, t);
    all_context(&pl->k, t, lk, q, lq, dh, d->dk + b * lk * d->ldg + col, d->ldg);
    transpose(p, lq, lk, t);
    all_context(&pl->k, t, lk, dout, lq, dh, d->dv + b * lk * d->ldg + col, d->ldg);
}

/* (sequence, head) pairs bh of [begin, end), with the range's scratch. */
static int head_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const bwd_plan *pl = arg;
    const qat_attention_desc *a = &pl->d->a;
    (void)index;
    _Alignas(64) float panel[QAT_CPU_ATT_PANEL_FLOATS];
    const size_t floats = (size_t)((2 * a->lq + 2 * a->lk) * a->head_dim + 3 * a->lq * a->lk);
    float *buf = malloc(floats * sizeof *buf);
    if (!buf)
        return 1;
    for (int64_t bh = begin; bh < end; bh++)
        head_backward(pl, bh / a->heads, bh % a->heads, buf, panel);
    free(buf);
    return 0;
}

qat_status qat_cpu_attention_bwd(void *state, const qat_attention_train_desc *d)
{
    QAT_TRY(qat_attention_train_desc_validate(d, 1));
    const qat_attention_desc *a = &d->a;
    /* No query rows (dk, dv are zeros) or heads past the panel: ref's loop. */
    if (a->lq == 0 || a->head_dim > QAT_CPU_ATT_PANEL_DH)
        return qat_backend_ref_ops.attention_bwd(state, d);
    if (a->batch == 0 || a->heads == 0 || a->head_dim == 0)
        return QAT_OK;
    bwd_plan pl = {.d = d, .isa = ((qat_cpu_state *)state)->isa};
    qat_cpu_att_kernels_for(pl.isa, a->head_dim, &pl.k);
    if (qat_pool_for(((qat_host_state *)state)->pool, a->batch * a->heads, 1, head_range, &pl))
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "attention_bwd: out of memory for a head's %lld x %lld scratch",
                        (long long)a->lq, (long long)a->lk);
    return QAT_OK;
}
