/* Gradient buckets: the flat gradient buffer cut into contiguous ranges of
 * about `cap` floats, from its end (the head, whose gradients the backward
 * finishes first) to its start (the embeddings, finished last), never
 * through a parameter. Bucket 0 is [lo_0, total), bucket k+1 ends where
 * bucket k begins, the last begins at 0; a parameter larger than cap is a
 * bucket of its own. */
#ifndef QAT_LIB_DIST_BUCKETS_H
#define QAT_LIB_DIST_BUCKETS_H

#include <stddef.h>
#include <stdint.h>

#include "qat/core.h"

typedef struct qat_bucket {
    int64_t lo, hi;             /* floats [lo, hi) of the gradient buffer */
} qat_bucket;

typedef struct qat_bucket_plan {
    qat_bucket *buckets;        /* in launch order: highest offsets first */
    int64_t count;
} qat_bucket_plan;

/* Parameter p spans [starts[p], starts[p] + sizes[p]); total floats in all
 * (gaps between parameters go with the parameter above them). */
qat_status qat_bucket_plan_make(const int64_t *starts, const int64_t *sizes, int64_t n_params, int64_t total,
                                int64_t cap, qat_bucket_plan *out);
void qat_bucket_plan_release(qat_bucket_plan *plan);

#endif
