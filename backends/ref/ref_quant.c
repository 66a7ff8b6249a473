/* Quantizer kernels: LSQ and BitNet b1.58, forward and backward, exactly as
 * SPEC section 4 writes them (round half to even, float arithmetic in the
 * order written there). */
#include <math.h>
#include <stdlib.h>

#include "core/error.h"

#include "ref/ref_backend.h"
#include "ref/ref_kernels.h"

qat_status qat_ref_abs_mean(void *st, const float *x, int64_t rows, int64_t cols, float *out)
{
#pragma omp parallel for num_threads(qat_ref_team(st, rows * cols)) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        double acc = 0.0;
        for (int64_t c = 0; c < cols; c++)
            acc += fabsf(x[r * cols + c]);
        out[r] = (float)(acc / (double)cols);
    }
    return QAT_OK;
}

qat_status qat_ref_lsq_fwd(void *st, const qat_lsq_desc *d, const float *x, float *y)
{
    const int64_t cols = d->cols;
    const float qn = d->qn, qp = d->qp, eps = d->step_eps;
    const int has_offset = d->offset != NULL;
    const float beta = has_offset ? d->offset[0] : 0.0f;
#pragma omp parallel for num_threads(qat_ref_team(st, d->rows * cols)) schedule(static)
    for (int64_t r = 0; r < d->rows; r++) {
        const float s = d->per_row ? d->step[r] : d->step[0];
        const float div = s + eps;
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        for (int64_t c = 0; c < cols; c++) {
            float v = (has_offset ? xr[c] - beta : xr[c]) / div;
            v = v < qn ? qn : (v > qp ? qp : v);
            float q = qat_round_even_small(v) * s;
            yr[c] = has_offset ? q + beta : q;
        }
    }
    return QAT_OK;
}

qat_status qat_ref_lsq_bwd(void *st, const qat_lsq_desc *d, const float *dy, const float *x, float grad_scale,
                           float *dx, float *dstep, float *doffset)
{
    const int64_t cols = d->cols;
    const float qn = d->qn, qp = d->qp, eps = d->step_eps;
    const int has_offset = d->offset != NULL;
    const float beta = has_offset ? d->offset[0] : 0.0f;
    double acc = 0.0, acc_offset = 0.0;
#pragma omp parallel for num_threads(qat_ref_team(st, d->rows * cols)) schedule(static) \
    reduction(+ : acc, acc_offset)
    for (int64_t r = 0; r < d->rows; r++) {
        const float s = d->per_row ? d->step[r] : d->step[0];
        const float div = s + eps;
        double row_acc = 0.0, row_offset = 0.0;
        for (int64_t c = 0; c < cols; c++) {
            const int64_t i = r * cols + c;
            float v = (has_offset ? x[i] - beta : x[i]) / div;
            float g = dy[i];
            if (v < qn) {
                row_acc += (double)g * qn;
                row_offset += g;
                dx[i] = 0.0f;
            } else if (v > qp) {
                row_acc += (double)g * qp;
                row_offset += g;
                dx[i] = 0.0f;
            } else {
                row_acc += (double)g * (qat_round_even_small(v) - v);
                dx[i] = g;
            }
        }
        if (d->per_row)
            dstep[r] += (float)(row_acc * grad_scale);
        else
            acc += row_acc;
        acc_offset += row_offset;
    }
    if (!d->per_row)
        dstep[0] += (float)(acc * grad_scale);
    if (has_offset && doffset)
        doffset[0] += (float)(acc_offset * grad_scale);
    return QAT_OK;
}

qat_status qat_ref_bitnet_weight_fwd(void *st, const float *w, int64_t rows, int64_t cols, int per_row,
                                     float *gamma, float *y)
{
    if (!per_row) {
        /* Row sums in parallel, then their sum in row order: the same
         * double-precision mean whatever the thread count. */
        double *row_sums = malloc((size_t)rows * sizeof *row_sums);
        if (!row_sums)
            return qat_fail(QAT_ERR_OUT_OF_MEMORY, "bitnet_weight_fwd: out of memory");
#pragma omp parallel for num_threads(qat_ref_team(st, rows * cols)) schedule(static)
        for (int64_t r = 0; r < rows; r++) {
            double acc = 0.0;
            for (int64_t c = 0; c < cols; c++)
                acc += fabsf(w[r * cols + c]);
            row_sums[r] = acc;
        }
        double acc = 0.0;
        for (int64_t r = 0; r < rows; r++)
            acc += row_sums[r];
        free(row_sums);
        float m = (float)(acc / (double)(rows * cols));
        gamma[0] = m > 1e-5f ? m : 1e-5f;
    }
#pragma omp parallel for num_threads(qat_ref_team(st, rows * cols)) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *wr = w + r * cols;
        if (per_row) {
            double acc = 0.0;
            for (int64_t c = 0; c < cols; c++)
                acc += fabsf(wr[c]);
            float m = (float)(acc / (double)cols);
            gamma[r] = m > 1e-5f ? m : 1e-5f;
        }
        float g = per_row ? gamma[r] : gamma[0];
        for (int64_t c = 0; c < cols; c++) {
            /* clamp(round(v), -1, 1) == round(clamp(v, -1, 1)) */
            float v = wr[c] / g;
            v = v < -1.0f ? -1.0f : (v > 1.0f ? 1.0f : v);
            y[r * cols + c] = qat_round_even_small(v) * g;
        }
    }
    return QAT_OK;
}

qat_status qat_ref_bitnet_act_fwd(void *st, const float *x, int64_t rows, int64_t cols, int bits,
                                  int symmetric, float *y)
{
    const float qp = (float)((1 << (bits - 1)) - 1);
    const float lo = symmetric ? -qp : -(float)(1 << (bits - 1));
#pragma omp parallel for num_threads(qat_ref_team(st, rows * cols)) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float m = 0.0f;
        for (int64_t c = 0; c < cols; c++)
            m = fabsf(xr[c]) > m ? fabsf(xr[c]) : m;
        m = m > 1e-5f ? m : 1e-5f;
        for (int64_t c = 0; c < cols; c++) {
            float v = xr[c] * qp / m;
            v = v < lo ? lo : (v > qp ? qp : v);
            y[r * cols + c] = qat_round_even_small(v) * m / qp;
        }
    }
    return QAT_OK;
}
