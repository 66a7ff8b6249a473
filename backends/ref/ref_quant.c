/* Quantizer kernels: LSQ and BitNet b1.58, forward and backward, exactly as
 * docs/method.md section 4 writes them (round half to even, float arithmetic in the
 * order written there). Each loop is a range function run by qat_host_for;
 * sums over a whole tensor are summed per range, then over the ranges in
 * order, so they do not depend on the thread count. */
#include <math.h>
#include <stdlib.h>

#include "core/error.h"
#include "math/quant_math.h"
#include "math/row_math.h"

#include "ref/ref_backend.h"
#include "ref/ref_kernels.h"

typedef struct rows_of {
    const float *x;
    int64_t cols;
    float *out;
    double *sums;
} rows_of;

/* Each row's sum of |x| in double (lib/math's lane order): kept as the sum (`sums`, BitNet's
 * per-tensor absmean adds the rows) or as the row's mean (`out`). */
static int abs_sum_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const rows_of *a = arg;
    (void)index;
    for (int64_t r = begin; r < end; r++) {
        const double acc = qat_abs_sum_row(a->x + r * a->cols, a->cols);
        if (a->sums)
            a->sums[r] = acc;
        else
            a->out[r] = (float)(acc / (double)a->cols);
    }
    return 0;
}

qat_status qat_ref_abs_mean(void *st, const float *x, int64_t rows, int64_t cols, float *out)
{
    rows_of a = {.x = x, .cols = cols, .out = out};
    qat_host_for(st, rows, cols, abs_sum_range, &a);
    return QAT_OK;
}

typedef struct lsq {
    const qat_lsq_desc *d;
    const float *x, *dy;
    float *y, *dx, *dstep;
    float beta, grad_scale;
    double *partial;   /* per range: step sum, offset sum */
} lsq;

static int lsq_fwd_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const lsq *l = arg;
    const qat_lsq_desc *d = l->d;
    const int64_t cols = d->cols;
    const float qn = d->qn, qp = d->qp, eps = d->step_eps, beta = l->beta;
    const int has_offset = d->offset != NULL;
    (void)index;
    for (int64_t r = begin; r < end; r++) {
        const float s = d->per_row ? d->step[r] : d->step[0];
        const float div = s + eps;
        const float *xr = l->x + r * cols;
        float *yr = l->y + r * cols;
        for (int64_t c = 0; c < cols; c++) {
            float v = (has_offset ? xr[c] - beta : xr[c]) / div;
            v = v < qn ? qn : (v > qp ? qp : v);
            float q = qat_round_even_small(v) * s;
            yr[c] = has_offset ? q + beta : q;
        }
    }
    return 0;
}

qat_status qat_ref_lsq_fwd(void *st, const qat_lsq_desc *d, const float *x, float *y)
{
    lsq l = {.d = d, .x = x, .y = y, .beta = d->offset ? d->offset[0] : 0.0f};
    qat_host_for(st, d->rows, d->cols, lsq_fwd_range, &l);
    return QAT_OK;
}

static int lsq_bwd_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const lsq *l = arg;
    const qat_lsq_desc *d = l->d;
    const int64_t cols = d->cols;
    const float qn = d->qn, qp = d->qp, eps = d->step_eps, beta = l->beta;
    const int has_offset = d->offset != NULL;
    double acc = 0.0, acc_offset = 0.0;
    for (int64_t r = begin; r < end; r++) {
        const float s = d->per_row ? d->step[r] : d->step[0];
        const float div = s + eps;
        double row_acc = 0.0, row_offset = 0.0;
        for (int64_t c = 0; c < cols; c++) {
            const int64_t i = r * cols + c;
            float v = (has_offset ? l->x[i] - beta : l->x[i]) / div;
            float g = l->dy[i];
            if (v < qn) {
                row_acc += (double)g * qn;
                row_offset += g;
                l->dx[i] = 0.0f;
            } else if (v > qp) {
                row_acc += (double)g * qp;
                row_offset += g;
                l->dx[i] = 0.0f;
            } else {
                row_acc += (double)g * (qat_round_even_small(v) - v);
                l->dx[i] = g;
            }
        }
        if (d->per_row)
            l->dstep[r] += (float)(row_acc * l->grad_scale);
        else
            acc += row_acc;
        acc_offset += row_offset;
    }
    l->partial[2 * index] = acc;
    l->partial[2 * index + 1] = acc_offset;
    return 0;
}

qat_status qat_ref_lsq_bwd(void *st, const qat_lsq_desc *d, const float *dy, const float *x, float grad_scale,
                           float *dx, float *dstep, float *doffset)
{
    const int64_t ranges = qat_host_ranges(d->rows, d->cols);
    double *partial = malloc((size_t)(ranges ? 2 * ranges : 1) * sizeof *partial);
    if (!partial)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "lsq_bwd: out of memory");
    lsq l = {.d = d, .x = x, .dy = dy, .dx = dx, .dstep = dstep, .beta = d->offset ? d->offset[0] : 0.0f,
             .grad_scale = grad_scale, .partial = partial};
    qat_host_for(st, d->rows, d->cols, lsq_bwd_range, &l);
    double acc = 0.0, acc_offset = 0.0;
    for (int64_t i = 0; i < ranges; i++) {
        acc += partial[2 * i];
        acc_offset += partial[2 * i + 1];
    }
    free(partial);
    if (!d->per_row)
        dstep[0] += (float)(acc * grad_scale);
    if (d->offset && doffset)
        doffset[0] += (float)(acc_offset * grad_scale);
    return QAT_OK;
}


typedef struct ternary {
    const float *w;
    int64_t cols;
    int per_row;
    float *gamma, *y;
} ternary;

static int bitnet_weight_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const ternary *t = arg;
    const int64_t cols = t->cols;
    (void)index;
    for (int64_t r = begin; r < end; r++) {
        const float *wr = t->w + r * cols;
        if (t->per_row) {
            float m = (float)(qat_abs_sum_row(wr, cols) / (double)cols);
            t->gamma[r] = m > 1e-5f ? m : 1e-5f;
        }
        qat_bitnet_weight_row(wr, cols, t->per_row ? t->gamma[r] : t->gamma[0], t->y + r * cols);
    }
    return 0;
}

qat_status qat_ref_bitnet_weight_fwd(void *st, const float *w, int64_t rows, int64_t cols, int per_row,
                                     float *gamma, float *y)
{
    if (!per_row) {
        /* Row sums in parallel, then their sum in row order: the same
         * double-precision mean whatever the thread count. */
        double *row_sums = malloc((size_t)(rows ? rows : 1) * sizeof *row_sums);
        if (!row_sums)
            return qat_fail(QAT_ERR_OUT_OF_MEMORY, "bitnet_weight_fwd: out of memory");
        rows_of a = {.x = w, .cols = cols, .sums = row_sums};
        qat_host_for(st, rows, cols, abs_sum_range, &a);
        double acc = 0.0;
        for (int64_t r = 0; r < rows; r++)
            acc += row_sums[r];
        free(row_sums);
        float m = (float)(acc / (double)(rows * cols));
        gamma[0] = m > 1e-5f ? m : 1e-5f;
    }
    ternary t = {w, cols, per_row, gamma, y};
    qat_host_for(st, rows, cols, bitnet_weight_range, &t);
    return QAT_OK;
}

typedef struct bitnet_act {
    const float *x;
    int64_t cols;
    float qp, lo;
    float *y;
} bitnet_act;

static int bitnet_act_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const bitnet_act *b = arg;
    const int64_t cols = b->cols;
    const float qp = b->qp, lo = b->lo;
    (void)index;
    for (int64_t r = begin; r < end; r++)
        qat_bitnet_act_row(b->x + r * cols, cols, qp, lo, b->y + r * cols);
    return 0;
}

qat_status qat_ref_bitnet_act_fwd(void *st, const float *x, int64_t rows, int64_t cols, int bits,
                                  int symmetric, float *y)
{
    const float qp = (float)((1 << (bits - 1)) - 1);
    bitnet_act b = {x, cols, qp, symmetric ? -qp : -(float)(1 << (bits - 1)), y};
    qat_host_for(st, rows, cols, bitnet_act_range, &b);
    return QAT_OK;
}
