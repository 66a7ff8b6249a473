/* Quantizer kernels: LSQ and BitNet b1.58, forward and backward, exactly as
 * docs/method.md section 4 writes them (round half to even, float arithmetic in the
 * order written there; rows in lib/math/quant_math.h). Each loop is a range
 * function run by qat_host_for (LSQ's: backends/host/host_lsq.c); sums over
 * a whole tensor are summed per range, then over the ranges in order, so
 * they do not depend on the thread count. */
#include <math.h>
#include <stdlib.h>

#include "core/error.h"
#include "host/host_lsq.h"
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

static void lsq_fwd_row(const void *arg, const float *x, int64_t n, float s, float eps, const float *beta, float qn,
                        float qp, float *y)
{
    (void)arg;
    qat_lsq_fwd_row(x, n, s, eps, beta, qn, qp, y);
}

static void lsq_bwd_row(const void *arg, const float *x, const float *dy, int64_t n, float div, const float *beta,
                        float qn, float qp, float *dx, double *step_sum, double *offset_sum)
{
    (void)arg;
    qat_lsq_bwd_row(x, dy, n, div, beta, qn, qp, dx, step_sum, offset_sum);
}

static const qat_host_lsq_rows lsq_rows = {lsq_fwd_row, lsq_bwd_row, NULL};

qat_status qat_ref_lsq_fwd(void *st, const qat_lsq_desc *d, const float *x, float *y)
{
    return qat_host_lsq_fwd(st, d, x, y, &lsq_rows);
}

qat_status qat_ref_lsq_bwd(void *st, const qat_lsq_desc *d, const float *dy, const float *x, float grad_scale,
                           float *dx, float *dstep, float *doffset)
{
    return qat_host_lsq_bwd(st, d, dy, x, grad_scale, dx, dstep, doffset, &lsq_rows);
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
