/* The gradient reduction of one data-parallel step, bucket by bucket, as
 * the last micro-batch's backward finishes them (qat_grad_hook):
 *
 *   qat_reducer_begin(r, grad, sum)     before the last micro-batch's backward
 *   qat_reducer_ready(r, frontier)      the hook: gradients >= frontier are final
 *   qat_reducer_finish(r)               after it: the rest, then wait
 *
 * For each bucket, in the plan's order: with gradient accumulation (sum is
 * the micro-batch sum, not grad), the last micro-batch's gradients are added
 * to it first; then the bucket of sum is all-reduced over the ranks. */
#ifndef QAT_LIB_DIST_REDUCER_H
#define QAT_LIB_DIST_REDUCER_H

#include "dist/buckets.h"
#include "dist/comm.h"

typedef struct qat_reducer {
    qat_comm *comm;              /* borrowed */
    qat_bucket_plan plan;
    const float *grad;           /* the last micro-batch's gradients */
    float *sum;                  /* where the step's sum is reduced */
    int64_t next;                /* the next bucket to launch */
} qat_reducer;

void qat_reducer_begin(qat_reducer *r, const float *grad, float *sum);
qat_status qat_reducer_ready(void *reducer, size_t frontier);
qat_status qat_reducer_finish(qat_reducer *r);

#endif
