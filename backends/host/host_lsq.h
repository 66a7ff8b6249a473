/* The LSQ / LSQ+ slots' loops on a host-memory backend, written once for
 * ref and cpu, which differ only in their row functions (lib/math's
 * qat_lsq_fwd_row / qat_lsq_bwd_row, or their vector twins: the same bits). */
#ifndef QAT_HOST_LSQ_H
#define QAT_HOST_LSQ_H

#include "backend/kernels.h"

typedef struct qat_host_lsq_rows {
    void (*fwd)(const void *arg, const float *x, int64_t n, float s, float eps, const float *beta, float qn,
                float qp, float *y);
    void (*bwd)(const void *arg, const float *x, const float *dy, int64_t n, float div, const float *beta, float qn,
                float qp, float *dx, double *step_sum, double *offset_sum);
    const void *arg; /* the caller's, passed to both */
} qat_host_lsq_rows;

/* The lsq_fwd slot: rows through qat_host_for. */
qat_status qat_host_lsq_fwd(void *state, const qat_lsq_desc *d, const float *x, float *y, const qat_host_lsq_rows *f);
/* The lsq_bwd slot: per-row step gradients, or the rows' sums added per
 * range in row order and the ranges in order (any thread count, the same
 * bits). */
qat_status qat_host_lsq_bwd(void *state, const qat_lsq_desc *d, const float *dy, const float *x, float grad_scale,
                            float *dx, float *dstep, float *doffset, const qat_host_lsq_rows *f);

#endif
