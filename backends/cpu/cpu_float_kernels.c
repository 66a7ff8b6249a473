/* The cpu backend's float kernel slots: the ref kernels' loops (same
 * ranges through qat_host_for, so the same results with any thread count)
 * over the row functions of the state's ISA (cpu_float.c). */
#include "backend/backend.h"
#include "cpu/cpu_float.h"
#include "cpu/cpu_kernels.h"
#include "host/host_memory.h"

typedef struct float_rows {
    qat_cpu_float_isa isa;
    float *x, *y, *mean, *rstd;
    const float *a, *w, *b;
    float eps;
    int64_t cols, rows_per_bias;
    int gelu;
} float_rows;

static int bias_act_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const float_rows *f = arg;
    (void)index;
    for (int64_t r = begin; r < end; r++)
        qat_cpu_bias_act_row(f->isa, f->x + r * f->cols, f->b, f->cols, f->gelu, f->y ? f->y + r * f->cols : NULL);
    return 0;
}

qat_status qat_cpu_bias_act_fwd(void *state, float *x, const float *bias, int64_t rows, int64_t cols,
                                qat_activation act, float *y)
{
    if (act == QAT_ACTIVATION_TANH) /* the pooler's one row: libm's tanhf, as ref */
        return qat_backend_ref_ops.bias_act_fwd(state, x, bias, rows, cols, act, y);
    if (act == QAT_ACTIVATION_NONE && !bias)
        return QAT_OK;
    float_rows f = {.isa = ((qat_cpu_state *)state)->isa, .x = x, .y = y, .b = bias, .cols = cols,
                    .gelu = act == QAT_ACTIVATION_GELU};
    qat_host_for(state, rows, cols, bias_act_range, &f);
    return QAT_OK;
}

static int gelu_bwd_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const float_rows *f = arg;
    (void)index;
    qat_cpu_gelu_bwd_run(f->isa, f->a + begin, f->w + begin, end - begin, f->x + begin);
    return 0;
}

qat_status qat_cpu_gelu_bwd(void *state, const float *dy, const float *pre, int64_t n, float *dx)
{
    float_rows f = {.isa = ((qat_cpu_state *)state)->isa, .a = dy, .w = pre, .x = dx};
    qat_host_for(state, n, 1, gelu_bwd_range, &f);
    return QAT_OK;
}

static int softmax_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const float_rows *f = arg;
    (void)index;
    for (int64_t r = begin; r < end; r++)
        qat_cpu_softmax_row(f->isa, f->x + r * f->cols, f->b ? f->b + (r / f->rows_per_bias) * f->cols : NULL,
                            f->cols);
    return 0;
}

qat_status qat_cpu_softmax_fwd(void *state, float *scores, const float *key_bias, int64_t batch, int64_t heads,
                               int64_t lq, int64_t lk)
{
    float_rows f = {.isa = ((qat_cpu_state *)state)->isa, .x = scores, .b = key_bias, .cols = lk,
                    .rows_per_bias = heads * lq};
    qat_host_for(state, batch * heads * lq, lk, softmax_range, &f);
    return QAT_OK;
}

static int layernorm_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const float_rows *f = arg;
    (void)index;
    for (int64_t r = begin; r < end; r++)
        qat_cpu_layernorm_row(f->isa, f->a + r * f->cols, f->w, f->b, f->eps, f->cols, f->y + r * f->cols,
                              &f->mean[r], &f->rstd[r]);
    return 0;
}

qat_status qat_cpu_layernorm_fwd(void *state, const float *x, const float *w, const float *b, float eps,
                                 int64_t rows, int64_t cols, float *y, float *mean, float *rstd)
{
    float_rows f = {.isa = ((qat_cpu_state *)state)->isa, .a = x, .w = w, .b = b, .eps = eps, .cols = cols,
                    .y = y, .mean = mean, .rstd = rstd};
    qat_host_for(state, rows, cols, layernorm_range, &f);
    return QAT_OK;
}

static int add_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const float_rows *f = arg;
    (void)index;
    qat_cpu_add_run(f->isa, f->a + begin, f->w + begin, f->x + begin, end - begin);
    return 0;
}

/* ref's ranges (n items of one operation). */
qat_status qat_cpu_add(void *state, const float *a, const float *b, float *out, int64_t n)
{
    float_rows f = {.isa = ((qat_cpu_state *)state)->isa, .a = a, .w = b, .x = out};
    qat_host_for(state, n, 1, add_range, &f);
    return QAT_OK;
}

typedef struct dropout_args {
    qat_cpu_float_isa isa;
    float *x;
    float p, keep_scale;
    uint64_t seed;
} dropout_args;

#ifdef QAT_CPU_TWINS
static int dropout_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const dropout_args *d = arg;
    (void)index;
    QAT_CPU_VECTOR(d->isa, qat_cpu_dropout_run)(d->x, begin, end - begin, d->p, d->keep_scale, d->seed);
    return 0;
}
#endif

/* ref's mask and scale (element i kept iff qat_dropout_keep(seed, i, p)),
 * the hash on 64-bit vector lanes; the scalar path runs ref's kernel. */
qat_status qat_cpu_dropout(void *state, float *x, int64_t n, float p, uint64_t seed)
{
    dropout_args d = {((qat_cpu_state *)state)->isa, x, p, 1.0f / (1.0f - p), seed};
#ifdef QAT_CPU_TWINS
    if (d.isa != QAT_CPU_FLOAT_SCALAR && p > 0.0f) {
        qat_host_for(state, n, 1, dropout_range, &d);
        return QAT_OK;
    }
#endif
    return qat_backend_ref_ops.dropout(state, x, n, p, seed);
}
