/* Row-wise kernels: LayerNorm, masked softmax, embeddings, cross-entropy. */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "ref/ref_backend.h"
#include "ref/ref_kernels.h"

qat_status qat_ref_layernorm_fwd(void *st, const float *x, const float *w, const float *b, float eps,
                                 int64_t rows, int64_t cols, float *y, float *mean, float *rstd)
{
#pragma omp parallel for num_threads(qat_ref_team(st, rows * cols)) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        double sum = 0.0;
        for (int64_t c = 0; c < cols; c++)
            sum += xr[c];
        double mu = sum / (double)cols;
        double var = 0.0;
        for (int64_t c = 0; c < cols; c++)
            var += ((double)xr[c] - mu) * ((double)xr[c] - mu);
        var /= (double)cols;
        float m = (float)mu, rs = (float)(1.0 / sqrt(var + (double)eps));
        mean[r] = m;
        rstd[r] = rs;
        float *yr = y + r * cols;
        for (int64_t c = 0; c < cols; c++)
            yr[c] = (xr[c] - m) * rs * w[c] + b[c];
    }
    return QAT_OK;
}

qat_status qat_ref_layernorm_bwd(void *st, const float *dy, const float *x, const float *w,
                                 const float *mean, const float *rstd, int64_t rows, int64_t cols,
                                 float *dx, float *dw, float *db)
{
    /* Parameter gradients: each thread owns a block of columns and walks
     * the rows in order (contiguous reads, a fixed summation order). */
    enum { BLOCK = 128 };
    const int64_t blocks = (cols + BLOCK - 1) / BLOCK;
#pragma omp parallel for num_threads(qat_ref_team(st, rows * cols)) schedule(static)
    for (int64_t b = 0; b < blocks; b++) {
        const int64_t c0 = b * BLOCK, c1 = c0 + BLOCK < cols ? c0 + BLOCK : cols;
        double gw[BLOCK] = {0}, gb[BLOCK] = {0};
        for (int64_t r = 0; r < rows; r++) {
            const float *xr = x + r * cols, *dyr = dy + r * cols;
            for (int64_t c = c0; c < c1; c++) {
                float xhat = (xr[c] - mean[r]) * rstd[r];
                gw[c - c0] += (double)dyr[c] * xhat;
                gb[c - c0] += dyr[c];
            }
        }
        for (int64_t c = c0; c < c1; c++) {
            dw[c] += (float)gw[c - c0];
            db[c] += (float)gb[c - c0];
        }
    }
#pragma omp parallel for num_threads(qat_ref_team(st, rows * cols)) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *dyr = dy + r * cols, *xr = x + r * cols;
        double sum_g = 0.0, sum_gx = 0.0;
        for (int64_t c = 0; c < cols; c++) {
            float xhat = (xr[c] - mean[r]) * rstd[r];
            float g = dyr[c] * w[c];
            sum_g += g;
            sum_gx += (double)g * xhat;
        }
        float mg = (float)(sum_g / (double)cols), mgx = (float)(sum_gx / (double)cols);
        float *dxr = dx + r * cols;
        for (int64_t c = 0; c < cols; c++) {
            float xhat = (xr[c] - mean[r]) * rstd[r];
            dxr[c] = rstd[r] * (dyr[c] * w[c] - mg - xhat * mgx);
        }
    }
    return QAT_OK;
}

qat_status qat_ref_softmax_fwd(void *st, float *scores, const float *key_bias, int64_t batch,
                               int64_t heads, int64_t lq, int64_t lk)
{
    const int64_t rows = batch * heads * lq;
#pragma omp parallel for num_threads(qat_ref_team(st, batch * heads * lq * lk)) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        float *s = scores + r * lk;
        const float *kb = key_bias ? key_bias + (r / (heads * lq)) * lk : NULL;
        float mx = -INFINITY;
        for (int64_t j = 0; j < lk; j++) {
            if (kb)
                s[j] += kb[j];
            mx = s[j] > mx ? s[j] : mx;
        }
        double sum = 0.0;
        for (int64_t j = 0; j < lk; j++) {
            s[j] = expf(s[j] - mx);
            sum += s[j];
        }
        float inv = (float)(1.0 / sum);
        for (int64_t j = 0; j < lk; j++)
            s[j] *= inv;
    }
    return QAT_OK;
}

qat_status qat_ref_softmax_bwd(void *st, const float *dp, const float *p, int64_t rows, int64_t cols,
                               float *ds)
{
#pragma omp parallel for num_threads(qat_ref_team(st, rows * cols)) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *dpr = dp + r * cols, *pr = p + r * cols;
        double dot = 0.0;
        for (int64_t j = 0; j < cols; j++)
            dot += (double)dpr[j] * pr[j];
        float d = (float)dot;
        float *dsr = ds + r * cols;
        for (int64_t j = 0; j < cols; j++)
            dsr[j] = pr[j] * (dpr[j] - d);
    }
    return QAT_OK;
}

qat_status qat_ref_embedding_fwd(void *st, const float *table, const int32_t *ids, int64_t n,
                                 int64_t dim, float *out, int accumulate)
{
#pragma omp parallel for num_threads(qat_ref_team(st, n * dim)) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        const float *row = table + (int64_t)ids[i] * dim;
        float *o = out + i * dim;
        if (accumulate)
            for (int64_t c = 0; c < dim; c++)
                o[c] += row[c];
        else
            memcpy(o, row, (size_t)dim * sizeof(float));
    }
    return QAT_OK;
}

qat_status qat_ref_embedding_bwd(void *st, const float *dy, const int32_t *ids, int64_t n, int64_t dim,
                                 int64_t vocab, float *dtable)
{
    (void)vocab;
    /* Split by column so each table entry is summed by one thread, in
     * token order: deterministic whatever the thread count. */
#pragma omp parallel for num_threads(qat_ref_team(st, n * dim)) schedule(static)
    for (int64_t c = 0; c < dim; c++)
        for (int64_t i = 0; i < n; i++)
            dtable[(int64_t)ids[i] * dim + c] += dy[i * dim + c];
    return QAT_OK;
}

qat_status qat_ref_zero_rows_where(void *st, float *x, const int32_t *ids, int64_t n, int64_t dim,
                                   int32_t id)
{
    (void)st;
    for (int64_t i = 0; i < n; i++)
        if (ids[i] == id)
            memset(x + i * dim, 0, (size_t)dim * sizeof(float));
    return QAT_OK;
}

qat_status qat_ref_cross_entropy(void *st, const float *logits, const int32_t *labels, int64_t rows,
                                 int64_t classes, float scale, float *loss, float *dlogits)
{
    double total = 0.0;
#pragma omp parallel for num_threads(qat_ref_team(st, rows * classes)) schedule(static) reduction(+ : total)
    for (int64_t r = 0; r < rows; r++) {
        const float *z = logits + r * classes;
        float *dz = dlogits ? dlogits + r * classes : NULL;
        int32_t label = labels[r];
        if (label < 0) {
            if (dz)
                memset(dz, 0, (size_t)classes * sizeof(float));
            continue;
        }
        float mx = -INFINITY;
        for (int64_t j = 0; j < classes; j++)
            mx = z[j] > mx ? z[j] : mx;
        double sum = 0.0;
        for (int64_t j = 0; j < classes; j++)
            sum += exp((double)z[j] - mx);
        double log_sum = log(sum) + mx;
        total += log_sum - z[label];
        if (dz) {
            for (int64_t j = 0; j < classes; j++)
                dz[j] = scale * (float)exp((double)z[j] - log_sum);
            dz[label] -= scale;
        }
    }
    /* A fixed-order final sum would need per-row storage; the reduction
     * tree of OpenMP's static schedule is fixed for a given thread count. */
    *loss = (float)(total * scale);
    return QAT_OK;
}
