/* A pool of worker threads for parallel loops over ranges, owned by whoever
 * creates it (a backend instance, hence its context; never global).
 *
 * Why not OpenMP: libgomp reads its wait policy once, from the environment,
 * when it is loaded, and by default spins for milliseconds after every
 * parallel region. On a shared machine a worker that spins on a core
 * another process wants uses up its time slice, so the next region waits
 * for the scheduler to give the worker back its core: with one busy core,
 * 2 threads ran 5x slower than 1 (docs/benchmarks.md, "Threads on a busy
 * machine"). Here, workers spin for a bounded time (tens of microseconds,
 * enough to catch the next kernel of a training step) and then sleep on a
 * futex, so a loaded core wakes them promptly; ranges are claimed one by
 * one, so a worker that lost its core delays a loop by at most the one
 * range it holds, and the calling thread, which always works too, takes
 * the rest.
 *
 * Determinism: the cuts of [0, n) depend only on n and the grain, never on
 * the thread count or on timing, so a loop whose ranges write disjoint
 * outputs, or partial sums combined in range order afterwards, gives the
 * same bits with any number of threads.
 *
 * Fork: a child forked between loops starts its own workers at its first
 * loop (the parent's do not exist there). Workers are fully started before
 * the loop that starts them returns, so between loops none holds a lock a
 * child could inherit held. A child forked while a loop runs runs its loops
 * on the calling thread (its copy of the pool is busy). */
#ifndef QAT_LIB_THREAD_POOL_H
#define QAT_LIB_THREAD_POOL_H

#include <stdint.h>

#include "qat/core.h"

typedef struct qat_pool qat_pool;

/* Work of one range [begin, end); `index` is begin / grain (for partial
 * results stored by range). Nonzero means the range failed (the other
 * ranges still run; qat_pool_for then returns nonzero). */
typedef int (*qat_pool_range_fn)(void *arg, int64_t begin, int64_t end, int64_t index);

/* A pool for `threads` threads in all: the caller of qat_pool_for and
 * threads - 1 workers, started at the first loop that has work for them.
 * threads >= 1. */
qat_status qat_pool_create(int threads, qat_pool **out);
/* Stops and joins the workers. NULL is ignored. Not while a loop runs. */
void qat_pool_free(qat_pool *pool);
/* Changes the thread count (workers restart at the next loop). Not while
 * a loop runs. */
qat_status qat_pool_set_threads(qat_pool *pool, int threads);
int qat_pool_threads(const qat_pool *pool);

/* Number of ranges [0, n) is cut into: ceil(n / grain), 0 when n <= 0. */
int64_t qat_pool_ranges(int64_t n, int64_t grain);

/* fn over [0, n) in ranges of `grain` (the last may be shorter), on the
 * pool's threads. Runs everything on the calling thread, in range order,
 * when pool is NULL or has one thread, when there is one range, or when
 * the pool is busy (a loop started by another thread, or a loop nested in
 * a range). Returns nonzero when a range failed. */
int qat_pool_for(qat_pool *pool, int64_t n, int64_t grain, qat_pool_range_fn fn, void *arg);

/* Work of one range, told which thread runs it: `slot` is 0 on the calling
 * thread, 1 .. threads - 1 on the workers, so two ranges running at once
 * never share a slot (per-thread scratch indexed by slot, such as rows
 * that stay in that core's cache from one range to the next). */
typedef int (*qat_pool_slot_fn)(void *arg, int64_t begin, int64_t end, int slot);

/* qat_pool_for with the running thread's slot. Where qat_pool_for runs a
 * loop on the calling thread alone (no pool, one thread or range, a busy
 * pool), every range gets slot 0: slots are unique within one loop, so
 * scratch by slot must belong to the loop's caller, not be shared with
 * another loop running at the same time. */
int qat_pool_for_slots(qat_pool *pool, int64_t n, int64_t grain, qat_pool_slot_fn fn, void *arg);

/* The number of CPUs this process may run on (its affinity mask, which is
 * what taskset, cgroup cpusets and SLURM set), at least 1, at most `cap`. */
int qat_usable_cpus(int cap);

#endif
