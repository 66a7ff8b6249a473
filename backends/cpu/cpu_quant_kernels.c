/* The cpu backend's quantizer slots: ref's loops (same ranges through
 * qat_host_for, the per-tensor absmean summed over rows in row order; LSQ's
 * the shared backends/host/host_lsq.c) over the row functions of the
 * state's ISA (cpu_float.c), so the scales, codes and step gradients are
 * ref's bit for bit with any thread count. */
#include <stdlib.h>

#include "core/error.h"
#include "cpu/cpu_float.h"
#include "cpu/cpu_kernels.h"
#include "host/host_lsq.h"

typedef struct quant_rows {
    qat_cpu_float_isa isa;
    const float *x;
    int64_t cols;
    int per_row;
    float qp, lo;
    float *gamma, *y;
    double *sums;
} quant_rows;

static int abs_sum_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const quant_rows *q = arg;
    (void)index;
    for (int64_t r = begin; r < end; r++)
        q->sums[r] = qat_cpu_abs_sum_row(q->isa, q->x + r * q->cols, q->cols);
    return 0;
}

static int weight_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const quant_rows *q = arg;
    const int64_t cols = q->cols;
    (void)index;
    for (int64_t r = begin; r < end; r++) {
        const float *wr = q->x + r * cols;
        if (q->per_row) {
            const float m = (float)(qat_cpu_abs_sum_row(q->isa, wr, cols) / (double)cols);
            q->gamma[r] = m > 1e-5f ? m : 1e-5f;
        }
        qat_cpu_bitnet_weight_row(q->isa, wr, cols, q->per_row ? q->gamma[r] : q->gamma[0], q->y + r * cols);
    }
    return 0;
}

qat_status qat_cpu_bitnet_weight_fwd(void *state, const float *w, int64_t rows, int64_t cols, int per_row,
                                     float *gamma, float *y)
{
    quant_rows q = {.isa = ((qat_cpu_state *)state)->isa, .x = w, .cols = cols, .per_row = per_row,
                    .gamma = gamma, .y = y};
    if (!per_row) {
        q.sums = malloc((size_t)(rows ? rows : 1) * sizeof *q.sums);
        if (!q.sums)
            return qat_fail(QAT_ERR_OUT_OF_MEMORY, "bitnet_weight_fwd: out of memory");
        qat_host_for(state, rows, cols, abs_sum_range, &q);
        double acc = 0.0;
        for (int64_t r = 0; r < rows; r++)
            acc += q.sums[r];
        free(q.sums);
        const float m = (float)(acc / (double)(rows * cols));
        gamma[0] = m > 1e-5f ? m : 1e-5f;
    }
    qat_host_for(state, rows, cols, weight_range, &q);
    return QAT_OK;
}

static int act_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const quant_rows *q = arg;
    (void)index;
    for (int64_t r = begin; r < end; r++)
        qat_cpu_bitnet_act_row(q->isa, q->x + r * q->cols, q->cols, q->qp, q->lo, q->y + r * q->cols);
    return 0;
}

qat_status qat_cpu_bitnet_act_fwd(void *state, const float *x, int64_t rows, int64_t cols, int bits,
                                  int symmetric, float *y)
{
    const float qp = (float)((1 << (bits - 1)) - 1);
    quant_rows q = {.isa = ((qat_cpu_state *)state)->isa, .x = x, .cols = cols, .qp = qp,
                    .lo = symmetric ? -qp : -(float)(1 << (bits - 1)), .y = y};
    qat_host_for(state, rows, cols, act_range, &q);
    return QAT_OK;
}

static void lsq_fwd_row(const void *isa, const float *x, int64_t n, float s, float eps, const float *beta, float qn,
                        float qp, float *y)
{
    qat_cpu_lsq_fwd_row(*(const qat_cpu_float_isa *)isa, x, n, s, eps, beta, qn, qp, y);
}

static void lsq_bwd_row(const void *isa, const float *x, const float *dy, int64_t n, float div, const float *beta,
                        float qn, float qp, float *dx, double *step_sum, double *offset_sum)
{
    qat_cpu_lsq_bwd_row(*(const qat_cpu_float_isa *)isa, x, dy, n, div, beta, qn, qp, dx, step_sum, offset_sum);
}

qat_status qat_cpu_lsq_fwd(void *state, const qat_lsq_desc *d, const float *x, float *y)
{
    const qat_host_lsq_rows rows = {lsq_fwd_row, lsq_bwd_row, &((qat_cpu_state *)state)->isa};
    return qat_host_lsq_fwd(state, d, x, y, &rows);
}

qat_status qat_cpu_lsq_bwd(void *state, const qat_lsq_desc *d, const float *dy, const float *x, float grad_scale,
                           float *dx, float *dstep, float *doffset)
{
    const qat_host_lsq_rows rows = {lsq_fwd_row, lsq_bwd_row, &((qat_cpu_state *)state)->isa};
    return qat_host_lsq_bwd(state, d, dy, x, grad_scale, dx, dstep, doffset, &rows);
}
