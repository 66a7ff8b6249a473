#include "dist/buckets.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

static int by_start_descending(const void *a, const void *b)
{
    const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x < y) - (x > y);
}

qat_status qat_bucket_plan_make(const int64_t *starts, const int64_t *sizes, int64_t n_params, int64_t total,
                                int64_t cap, qat_bucket_plan *out)
{
    QAT_CHECK_ARG(out != NULL && n_params >= 0 && total >= 0 && cap > 0 && ((starts && sizes) || n_params == 0),
                  "gradient buckets: bad arguments (%lld parameters, %lld floats, cap %lld)", (long long)n_params,
                  (long long)total, (long long)cap);
    memset(out, 0, sizeof *out);
    for (int64_t p = 0; p < n_params; p++)
        QAT_CHECK_ARG(starts[p] >= 0 && sizes[p] >= 0 && starts[p] + sizes[p] <= total,
                      "gradient buckets: parameter %lld [%lld, +%lld) outside %lld floats", (long long)p,
                      (long long)starts[p], (long long)sizes[p], (long long)total);
    /* The parameters' starts, highest first (the layout's order, but the
     * plan does not rely on it). */
    int64_t *order = malloc(((size_t)n_params + 1) * sizeof *order);
    qat_bucket *b = malloc(((size_t)n_params + 1) * sizeof *b);
    if (!order || !b) {
        free(order);
        free(b);
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "gradient buckets: out of memory");
    }
    for (int64_t p = 0; p < n_params; p++)
        order[p] = starts[p];
    qsort(order, (size_t)n_params, sizeof *order, by_start_descending);
    int64_t n = 0, hi = total;
    for (int64_t p = 0; p < n_params; p++) {
        const int64_t lo = order[p];
        /* close the bucket once it holds cap floats, or at the last parameter */
        if (hi - lo >= cap || p + 1 == n_params) {
            const int64_t at = p + 1 == n_params ? 0 : lo;
            if (at < hi)
                b[n++] = (qat_bucket){at, hi};
            hi = at;
        }
    }
    if (hi > 0) /* no parameters: one bucket of everything */
        b[n++] = (qat_bucket){0, hi};
    free(order);
    out->buckets = b;
    out->count = n;
    return QAT_OK;
}

void qat_bucket_plan_release(qat_bucket_plan *plan)
{
    if (!plan)
        return;
    free(plan->buckets);
    memset(plan, 0, sizeof *plan);
}
