/* Element-wise kernels: fill, copy, add, bias + GELU / tanh, dropout. Each is a
 * range function (the loop body over [begin, end)) run by qat_host_for. */
#include <math.h>
#include <string.h>

#include "host/host_dropout_add.h"
#include "math/float_math.h"
#include "ref/ref_backend.h"
#include "ref/ref_kernels.h"

/* The operands of the element-wise kernels; each uses what it needs. */
typedef struct elementwise {
    const float *a, *b;
    float *out, *y;
    float value;
    uint64_t seed;
    int64_t cols;
    const float *bias;
    qat_activation act;
} elementwise;

static int fill_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const elementwise *e = arg;
    (void)index;
    for (int64_t i = begin; i < end; i++)
        e->out[i] = e->value;
    return 0;
}

qat_status qat_ref_fill(void *st, float *x, int64_t n, float value)
{
    elementwise e = {.out = x, .value = value};
    qat_host_for(st, n, 1, fill_range, &e);
    return QAT_OK;
}

static int copy_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const elementwise *e = arg;
    (void)index;
    memcpy(e->out + begin, e->a + begin, (size_t)(end - begin) * sizeof *e->out);
    return 0;
}

qat_status qat_ref_copy(void *st, const float *src, float *dst, int64_t n)
{
    elementwise e = {.a = src, .out = dst};
    qat_host_for(st, n, 1, copy_range, &e);
    return QAT_OK;
}

static int add_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const elementwise *e = arg;
    (void)index;
    for (int64_t i = begin; i < end; i++)
        e->out[i] = e->a[i] + e->b[i];
    return 0;
}

qat_status qat_ref_add(void *st, const float *a, const float *b, float *out, int64_t n)
{
    elementwise e = {.a = a, .b = b, .out = out};
    qat_host_for(st, n, 1, add_range, &e);
    return QAT_OK;
}

static int accumulate_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const elementwise *e = arg;
    (void)index;
    for (int64_t i = begin; i < end; i++)
        e->out[i] += e->a[i];
    return 0;
}

qat_status qat_ref_accumulate(void *st, const float *x, float *y, int64_t n)
{
    elementwise e = {.a = x, .out = y};
    qat_host_for(st, n, 1, accumulate_range, &e);
    return QAT_OK;
}

/* Rows [begin, end): out += bias (in place), y = act(out). */
static int bias_act_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const elementwise *e = arg;
    const int64_t cols = e->cols;
    (void)index;
    for (int64_t r = begin; r < end; r++) {
        float *xr = e->out + r * cols;
        for (int64_t c = 0; c < cols; c++) {
            float v = e->bias ? xr[c] + e->bias[c] : xr[c];
            xr[c] = v;
            if (e->act == QAT_ACTIVATION_GELU)
                e->y[r * cols + c] = qat_gelu(v);
            else if (e->act == QAT_ACTIVATION_TANH)
                e->y[r * cols + c] = tanhf(v);
        }
    }
    return 0;
}

qat_status qat_ref_bias_act_fwd(void *st, float *x, const float *bias, int64_t rows, int64_t cols,
                                qat_activation act, float *y)
{
    elementwise e = {.out = x, .y = y, .cols = cols, .bias = bias, .act = act};
    qat_host_for(st, rows, cols, bias_act_range, &e);
    return QAT_OK;
}

static int gelu_bwd_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const elementwise *e = arg;
    (void)index;
    for (int64_t i = begin; i < end; i++)
        e->out[i] = e->a[i] * qat_gelu_grad(e->b[i]);
    return 0;
}

qat_status qat_ref_gelu_bwd(void *st, const float *dy, const float *pre, int64_t n, float *dx)
{
    elementwise e = {.a = dy, .b = pre, .out = dx};
    qat_host_for(st, n, 1, gelu_bwd_range, &e);
    return QAT_OK;
}

static int tanh_bwd_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const elementwise *e = arg;
    (void)index;
    for (int64_t i = begin; i < end; i++)
        e->out[i] = e->a[i] * (1.0f - e->b[i] * e->b[i]);
    return 0;
}

qat_status qat_ref_tanh_bwd(void *st, const float *dy, const float *y, int64_t n, float *dx)
{
    elementwise e = {.a = dy, .b = y, .out = dx};
    qat_host_for(st, n, 1, tanh_bwd_range, &e);
    return QAT_OK;
}

/* Column sums over rows: each range owns a block of columns and walks the
 * rows in order (contiguous reads, a fixed summation order: each column in
 * double, row by row, which the cpu backend's twin repeats across columns). */
#define COLUMN_BLOCK 256

typedef struct column_sums {
    const float *dy;
    int64_t rows, cols;
    float *db;
} column_sums;

static int bias_grad_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const column_sums *s = arg;
    (void)index;
    for (int64_t b = begin; b < end; b++) {
        const int64_t c0 = b * COLUMN_BLOCK, c1 = c0 + COLUMN_BLOCK < s->cols ? c0 + COLUMN_BLOCK : s->cols;
        double acc[COLUMN_BLOCK] = {0};
        for (int64_t r = 0; r < s->rows; r++) {
            const float *row = s->dy + r * s->cols;
            for (int64_t c = c0; c < c1; c++)
                acc[c - c0] += row[c];
        }
        for (int64_t c = c0; c < c1; c++)
            s->db[c] += (float)acc[c - c0];
    }
    return 0;
}

qat_status qat_ref_bias_grad(void *st, const float *dy, int64_t rows, int64_t cols, float *db)
{
    column_sums s = {dy, rows, cols, db};
    qat_host_for(st, (cols + COLUMN_BLOCK - 1) / COLUMN_BLOCK, rows * COLUMN_BLOCK, bias_grad_range, &s);
    return QAT_OK;
}

static int dropout_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const elementwise *e = arg;
    const float keep_scale = 1.0f / (1.0f - e->value);
    (void)index;
    for (int64_t i = begin; i < end; i++)
        e->out[i] = qat_dropout_keep(e->seed, (uint64_t)i, e->value) ? e->out[i] * keep_scale : 0.0f;
    return 0;
}

qat_status qat_ref_dropout(void *st, float *x, int64_t n, float p, uint64_t seed)
{
    if (p <= 0.0f)
        return QAT_OK;
    elementwise e = {.out = x, .value = p, .seed = seed};
    qat_host_for(st, n, 1, dropout_range, &e);
    return QAT_OK;
}

qat_status qat_ref_dropout_add(void *st, const float *x, const float *residual, int64_t n, float p, uint64_t seed,
                               float *y)
{
    return qat_host_dropout_add(&qat_backend_ref_ops, st, x, residual, n, p, seed, y);
}
