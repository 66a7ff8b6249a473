/* Element-wise kernels: fill, add, bias + GELU / tanh, dropout. */
#include <math.h>

#include "ref/ref_backend.h"
#include "ref/ref_kernels.h"

qat_status qat_ref_fill(void *st, float *x, int64_t n, float value)
{
#pragma omp parallel for num_threads(qat_ref_team(st, n)) schedule(static)
    for (int64_t i = 0; i < n; i++)
        x[i] = value;
    return QAT_OK;
}

qat_status qat_ref_add(void *st, const float *a, const float *b, float *out, int64_t n)
{
#pragma omp parallel for num_threads(qat_ref_team(st, n)) schedule(static)
    for (int64_t i = 0; i < n; i++)
        out[i] = a[i] + b[i];
    return QAT_OK;
}

qat_status qat_ref_accumulate(void *st, const float *x, float *y, int64_t n)
{
#pragma omp parallel for num_threads(qat_ref_team(st, n)) schedule(static)
    for (int64_t i = 0; i < n; i++)
        y[i] += x[i];
    return QAT_OK;
}

static float gelu(float x)
{
    return 0.5f * x * (1.0f + erff(x * (float)M_SQRT1_2));
}

qat_status qat_ref_bias_act_fwd(void *st, float *x, const float *bias, int64_t rows, int64_t cols,
                                qat_activation act, float *y)
{
#pragma omp parallel for num_threads(qat_ref_team(st, rows * cols)) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        float *xr = x + r * cols;
        for (int64_t c = 0; c < cols; c++) {
            float v = bias ? xr[c] + bias[c] : xr[c];
            xr[c] = v;
            if (act == QAT_ACTIVATION_GELU)
                y[r * cols + c] = gelu(v);
            else if (act == QAT_ACTIVATION_TANH)
                y[r * cols + c] = tanhf(v);
        }
    }
    return QAT_OK;
}

qat_status qat_ref_gelu_bwd(void *st, const float *dy, const float *pre, int64_t n, float *dx)
{
    const float inv_sqrt_2pi = 0.3989422804014327f;
#pragma omp parallel for num_threads(qat_ref_team(st, n)) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float x = pre[i];
        float cdf = 0.5f * (1.0f + erff(x * (float)M_SQRT1_2));
        float pdf = inv_sqrt_2pi * expf(-0.5f * x * x);
        dx[i] = dy[i] * (cdf + x * pdf);
    }
    return QAT_OK;
}

qat_status qat_ref_tanh_bwd(void *st, const float *dy, const float *y, int64_t n, float *dx)
{
#pragma omp parallel for num_threads(qat_ref_team(st, n)) schedule(static)
    for (int64_t i = 0; i < n; i++)
        dx[i] = dy[i] * (1.0f - y[i] * y[i]);
    return QAT_OK;
}

/* Column sums over rows: each thread owns a block of columns and walks the
 * rows in order (contiguous reads, a fixed summation order). */
#define COLUMN_BLOCK 256

qat_status qat_ref_bias_grad(void *st, const float *dy, int64_t rows, int64_t cols, float *db)
{
    const int64_t blocks = (cols + COLUMN_BLOCK - 1) / COLUMN_BLOCK;
#pragma omp parallel for num_threads(qat_ref_team(st, rows * cols)) schedule(static)
    for (int64_t b = 0; b < blocks; b++) {
        const int64_t c0 = b * COLUMN_BLOCK, c1 = c0 + COLUMN_BLOCK < cols ? c0 + COLUMN_BLOCK : cols;
        double acc[COLUMN_BLOCK] = {0};
        for (int64_t r = 0; r < rows; r++) {
            const float *row = dy + r * cols;
            for (int64_t c = c0; c < c1; c++)
                acc[c - c0] += row[c];
        }
        for (int64_t c = c0; c < c1; c++)
            db[c] += (float)acc[c - c0];
    }
    return QAT_OK;
}

qat_status qat_ref_dropout(void *st, float *x, int64_t n, float p, uint64_t seed)
{
    if (p <= 0.0f)
        return QAT_OK;
    const float keep_scale = 1.0f / (1.0f - p);
#pragma omp parallel for num_threads(qat_ref_team(st, n)) schedule(static)
    for (int64_t i = 0; i < n; i++)
        x[i] = qat_dropout_keep(seed, (uint64_t)i, p) ? x[i] * keep_scale : 0.0f;
    return QAT_OK;
}
