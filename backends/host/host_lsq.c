#include "host/host_lsq.h"

#include <stdlib.h>

#include "core/error.h"
#include "host/host_memory.h"

typedef struct lsq {
    const qat_lsq_desc *d;
    const qat_host_lsq_rows *f;
    const float *x, *dy;
    float *y, *dx, *dstep;
    float grad_scale;
    double *partial; /* per range: step sum, offset sum */
} lsq;

static int fwd_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const lsq *l = arg;
    const qat_lsq_desc *d = l->d;
    (void)index;
    for (int64_t r = begin; r < end; r++)
        l->f->fwd(l->f->arg, l->x + r * d->cols, d->cols, d->per_row ? d->step[r] : d->step[0], d->step_eps,
                  d->offset, d->qn, d->qp, l->y + r * d->cols);
    return 0;
}

qat_status qat_host_lsq_fwd(void *state, const qat_lsq_desc *d, const float *x, float *y, const qat_host_lsq_rows *f)
{
    lsq l = {.d = d, .f = f, .x = x, .y = y};
    qat_host_for(state, d->rows, d->cols, fwd_range, &l);
    return QAT_OK;
}

static int bwd_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const lsq *l = arg;
    const qat_lsq_desc *d = l->d;
    double acc = 0.0, acc_offset = 0.0;
    for (int64_t r = begin; r < end; r++) {
        const float div = (d->per_row ? d->step[r] : d->step[0]) + d->step_eps;
        double row_acc, row_offset;
        l->f->bwd(l->f->arg, l->x + r * d->cols, l->dy + r * d->cols, d->cols, div, d->offset, d->qn, d->qp,
                  l->dx + r * d->cols, &row_acc, &row_offset);
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

qat_status qat_host_lsq_bwd(void *state, const qat_lsq_desc *d, const float *dy, const float *x, float grad_scale,
                            float *dx, float *dstep, float *doffset, const qat_host_lsq_rows *f)
{
    const int64_t ranges = qat_host_ranges(d->rows, d->cols);
    double *partial = malloc((size_t)(ranges ? 2 * ranges : 1) * sizeof *partial);
    if (!partial)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "lsq_bwd: out of memory");
    lsq l = {.d = d, .f = f, .x = x, .dy = dy, .dx = dx, .dstep = dstep, .grad_scale = grad_scale, .partial = partial};
    qat_host_for(state, d->rows, d->cols, bwd_range, &l);
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
