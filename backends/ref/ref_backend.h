/* The ref backend: plain C, the numerical oracle of every other backend. */
#ifndef QAT_REF_BACKEND_H
#define QAT_REF_BACKEND_H

#include "backend/backend.h"
#include "core/thread_pool.h"
#include "host/host_memory.h"

/* The ref kernels run on the state of any host-memory backend. */
typedef qat_host_state qat_ref_state;

/* Scalar operations per range of a kernel's loop: below this, waking a
 * thread costs more than it saves. */
#define QAT_REF_RANGE_WORK 32768

/* A kernel's loop over `items` items of `work` scalar operations each, on
 * the backend's threads, in ranges of at least QAT_REF_RANGE_WORK
 * operations. The ranges depend on the sizes alone, never on the thread
 * count: kernels write each output from one range, and combine per-range
 * partial sums in range order, so results are the same with any number
 * of threads. Nonzero when a range failed. */
static inline int qat_ref_for(void *state, int64_t items, int64_t work, qat_pool_range_fn fn, void *arg)
{
    int64_t grain = work >= QAT_REF_RANGE_WORK ? 1 : QAT_REF_RANGE_WORK / (work > 0 ? work : 1);
    return qat_pool_for(((qat_ref_state *)state)->pool, items, grain, fn, arg);
}

/* The ranges qat_ref_for cuts `items` into (for per-range partial sums). */
static inline int64_t qat_ref_ranges(int64_t items, int64_t work)
{
    int64_t grain = work >= QAT_REF_RANGE_WORK ? 1 : QAT_REF_RANGE_WORK / (work > 0 ? work : 1);
    return qat_pool_ranges(items, grain);
}

#endif
