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

qat_status qat_ref_lsq_fwd(void *st, const float *x, int64_t n, const float *step, int bits, float *y)
{
    const float s = step[0];
    const float qn = -(float)(1 << (bits - 1)), qp = (float)((1 << (bits - 1)) - 1);
#pragma omp parallel for num_threads(qat_ref_team(st, n)) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float v = x[i] / s;
        v = v < qn ? qn : (v > qp ? qp : v);
        y[i] = qat_round_even_small(v) * s;
    }
    return QAT_OK;
}

qat_status qat_ref_lsq_bwd(void *st, const float *dy, const float *x, int64_t n, const float *step,
                           int bits, float grad_scale, float *dx, float *dstep)
{
    const float s = step[0];
    const float qn = -(float)(1 << (bits - 1)), qp = (float)((1 << (bits - 1)) - 1);
    double acc = 0.0;
#pragma omp parallel for num_threads(qat_ref_team(st, n)) schedule(static) reduction(+ : acc)
    for (int64_t i = 0; i < n; i++) {
        float v = x[i] / s;
        float g = dy[i];
        if (v < qn) {
            acc += (double)g * qn;
            dx[i] = 0.0f;
        } else if (v > qp) {
            acc += (double)g * qp;
            dx[i] = 0.0f;
        } else {
            acc += (double)g * (qat_round_even_small(v) - v);
            dx[i] = g;
        }
    }
    dstep[0] += (float)(acc * grad_scale);
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
