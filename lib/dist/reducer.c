#include "dist/reducer.h"

#include "backend/dispatch.h"

void qat_reducer_begin(qat_reducer *r, const float *grad, float *sum)
{
    r->grad = grad;
    r->sum = sum;
    r->next = 0;
}

qat_status qat_reducer_ready(void *reducer, size_t frontier)
{
    qat_reducer *r = reducer;
    qat_context *ctx = r->comm->ctx;
    for (; r->next < r->plan.count && r->plan.buckets[r->next].lo >= (int64_t)frontier; r->next++) {
        const qat_bucket b = r->plan.buckets[r->next];
        if (r->sum != r->grad)
            QAT_RUN(ctx, accumulate, r->grad + b.lo, r->sum + b.lo, b.hi - b.lo);
        QAT_TRY(qat_comm_all_reduce_sum(r->comm, r->sum + b.lo, b.hi - b.lo));
    }
    return QAT_OK;
}

qat_status qat_reducer_finish(qat_reducer *r)
{
    QAT_TRY(qat_reducer_ready(r, 0));
    return qat_comm_wait(r->comm);
}
