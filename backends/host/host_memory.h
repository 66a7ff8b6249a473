/* Buffer slots shared by the backends whose memory is ordinary host memory
 * (ref, cpu): 64-byte aligned, zeroed allocations and memcpy transfers. */
#ifndef QAT_HOST_MEMORY_H
#define QAT_HOST_MEMORY_H

#include <stddef.h>

#include "core/thread_pool.h"
#include "qat/core.h"

/* The state of every host-memory backend (ref, cpu): the dispatcher runs
 * the ref kernels on it for the slots a host backend leaves NULL, so it is
 * one type: the backend instance's threads. */
typedef struct qat_host_state {
    int threads;
    qat_pool *pool;
} qat_host_state;

/* Scalar operations per range of a kernel's loop: below this, waking a
 * thread costs more than it saves. */
#define QAT_HOST_RANGE_WORK 32768

/* A host kernel's loop (ref's, and the cpu backend's, whose twins must
 * give ref's bits) over `items` items of `work` scalar operations each, on
 * the backend's threads, in ranges of at least QAT_HOST_RANGE_WORK
 * operations. The ranges depend on the sizes alone, never on the thread
 * count: kernels write each output from one range, and combine per-range
 * partial sums in range order, so results are the same with any number
 * of threads. Nonzero when a range failed. */
static inline int qat_host_for(void *state, int64_t items, int64_t work, qat_pool_range_fn fn, void *arg)
{
    int64_t grain = work >= QAT_HOST_RANGE_WORK ? 1 : QAT_HOST_RANGE_WORK / (work > 0 ? work : 1);
    return qat_pool_for(((qat_host_state *)state)->pool, items, grain, fn, arg);
}

/* The ranges qat_host_for cuts `items` into (for per-range partial sums). */
static inline int64_t qat_host_ranges(int64_t items, int64_t work)
{
    int64_t grain = work >= QAT_HOST_RANGE_WORK ? 1 : QAT_HOST_RANGE_WORK / (work > 0 ? work : 1);
    return qat_pool_ranges(items, grain);
}

/* create / destroy / set_threads of a host backend whose state is exactly
 * a qat_host_state. */
qat_status qat_host_state_create(int threads, void **state);
void qat_host_state_destroy(void *state);
qat_pool *qat_host_state_pool(void *state);
qat_status qat_host_state_set_threads(void *state, int threads);

qat_status qat_host_alloc(void *state, size_t bytes, void **ptr);
void qat_host_free(void *state, void *ptr);
qat_status qat_host_copy(void *state, void *dst, const void *src, size_t bytes);
qat_status qat_host_synchronize(void *state);
int qat_host_probe(void);

/* The operations every host-memory backend (ref, cpu) shares, for its ops
 * table: probe, threads, memory and copies. */
#define QAT_HOST_MEMORY_OPS                                                                            \
    .probe = qat_host_probe, .set_threads = qat_host_state_set_threads, .thread_pool = qat_host_state_pool, \
    .alloc = qat_host_alloc, .free = qat_host_free, .upload = qat_host_copy, .download = qat_host_copy,    \
    .synchronize = qat_host_synchronize

#endif
