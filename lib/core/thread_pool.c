/* The worker pool (see thread_pool.h for why and for the guarantees).
 *
 * One loop at a time: its description (fn, arg, n, grain) is written, then
 * `claim` (next range << 32 | range count) is published and `epoch` bumped
 * to wake the workers. Every thread, the caller included, takes ranges by
 * compare-and-swap on `claim` and reads the description only after a
 * successful claim: the caller cannot finish the loop (and overwrite the
 * description) before every claimed range is done, so a worker that wakes
 * late finds nothing left to claim, and never reads a stale loop. The
 * caller needs no worker to make progress: it claims ranges until none is
 * left, then waits only for ranges workers hold. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "core/thread_pool.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#endif

#include "core/error.h"

/* How long an idle thread spins before it sleeps: long enough to catch the
 * next kernel of a training step (they follow each other within a few
 * microseconds), short enough that a thread on a core another process
 * wants gives the core back before the scheduler has to take it. */
#define SPIN_NS 30000
/* Ranges are counted in 32 bits. */
#define MAX_RANGES ((int64_t)1 << 30)

struct qat_pool {
    int threads;        /* the caller plus the workers */
    int started;        /* workers running: threads - 1, or 0 */
    int start_failed;   /* pthread_create failed: run on the caller only */
    pid_t owner;        /* the process the workers run in (fork copies none) */
    unsigned start_epoch; /* epoch when the workers were started */
    pthread_t *workers;

    atomic_uint epoch;      /* bumped per loop and at shutdown; futex word */
    atomic_int sleepers;    /* workers asleep on epoch */
    atomic_int stop;
    atomic_uint running;    /* workers past their start; futex word of start_workers */
    atomic_flag busy;       /* a loop is running */

    /* The loop: written before claim is published; one of fn, slot_fn. */
    qat_pool_range_fn fn;
    qat_pool_slot_fn slot_fn;
    void *arg;
    int64_t n, grain;
    _Atomic uint64_t claim; /* next << 32 | count */
    atomic_uint done;       /* ranges finished; futex word of the caller */
    atomic_int caller_asleep;
    atomic_int failed;
};

/* ---- sleeping and waking ------------------------------------------------ */

static void wait_while(atomic_uint *word, unsigned value)
{
#ifdef __linux__
    syscall(SYS_futex, (unsigned *)word, FUTEX_WAIT_PRIVATE, value, NULL, NULL, 0);
#else
    (void)word;
    (void)value;
    sched_yield();
#endif
}

static void wake(atomic_uint *word, int count)
{
#ifdef __linux__
    syscall(SYS_futex, (unsigned *)word, FUTEX_WAKE_PRIVATE, count, NULL, NULL, 0);
#else
    (void)word;
    (void)count;
#endif
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Spins until *word != value or SPIN_NS pass; nonzero when it changed. */
static int spin_while(atomic_uint *word, unsigned value)
{
    const int64_t deadline = now_ns() + SPIN_NS;
    for (;;) {
        for (int i = 0; i < 64; i++) {
            if (atomic_load_explicit(word, memory_order_acquire) != value)
                return 1;
            cpu_relax();
        }
        if (now_ns() >= deadline)
            return 0;
    }
}

/* ---- running ranges --------------------------------------------------- */

static void run_ranges(qat_pool *p, int slot)
{
    uint64_t v = atomic_load_explicit(&p->claim, memory_order_acquire);
    for (;;) {
        uint32_t next = (uint32_t)(v >> 32), count = (uint32_t)v;
        if (next >= count)
            return;
        if (!atomic_compare_exchange_weak_explicit(&p->claim, &v, v + ((uint64_t)1 << 32), memory_order_acq_rel,
                                                   memory_order_acquire))
            continue;
        int64_t begin = (int64_t)next * p->grain;
        int64_t end = begin + p->grain < p->n ? begin + p->grain : p->n;
        if (p->fn ? p->fn(p->arg, begin, end, next) : p->slot_fn(p->arg, begin, end, slot))
            atomic_store_explicit(&p->failed, 1, memory_order_relaxed);
        unsigned finished = atomic_fetch_add(&p->done, 1) + 1;
        if (finished == count && atomic_load(&p->caller_asleep))
            wake(&p->done, 1);
        v = atomic_load_explicit(&p->claim, memory_order_acquire);
    }
}

static void *worker_main(void *arg)
{
    qat_pool *p = arg;
    /* From the epoch before the loop that started the workers, so a worker
     * that starts late still joins that loop. */
    unsigned seen = p->start_epoch;
    const int slot = (int)atomic_fetch_add(&p->running, 1) + 1; /* 1 .. started */
    wake(&p->running, 1);
    for (;;) {
        if (atomic_load(&p->stop))
            return NULL;
        if (!spin_while(&p->epoch, seen)) {
            atomic_fetch_add(&p->sleepers, 1);
            while (atomic_load(&p->epoch) == seen)
                wait_while(&p->epoch, seen);
            atomic_fetch_sub(&p->sleepers, 1);
        }
        seen = atomic_load(&p->epoch);
        if (atomic_load(&p->stop))
            return NULL;
        run_ranges(p, slot);
    }
}

static void stop_workers(qat_pool *p)
{
    if (!p->started)
        return;
    if (p->owner != getpid()) { /* a forked child: its copy has no workers */
        free(p->workers);
        p->workers = NULL;
        p->started = 0;
        atomic_store(&p->running, 0);
        return;
    }
    atomic_store(&p->stop, 1);
    atomic_fetch_add(&p->epoch, 1);
    wake(&p->epoch, p->started);
    for (int i = 0; i < p->started; i++)
        pthread_join(p->workers[i], NULL);
    free(p->workers);
    p->workers = NULL;
    p->started = 0;
    atomic_store(&p->running, 0);
    atomic_store(&p->stop, 0);
}

/* Workers get no signals: the host's handlers run on its own threads. */
static int start_workers(qat_pool *p)
{
    int want = p->threads - 1;
    p->workers = malloc((size_t)want * sizeof *p->workers);
    if (!p->workers)
        return -1;
    p->start_epoch = atomic_load(&p->epoch);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int made = 0;
    while (made < want && pthread_create(&p->workers[made], NULL, worker_main, p) == 0)
        made++;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    p->started = made;
    p->owner = getpid();
    /* Wait until every worker runs its own code. A thread still starting
     * holds locks of the C library or of a sanitizer's allocator; if the
     * host forked then, the child's copy of the lock stays held forever and
     * the child's first malloc or thread start hangs (seen under ASan:
     * tests/c/test_thread_pool.c, a_forked_child_uses_its_own_workers).
     * Once started, a worker between loops holds no lock: it spins on an
     * atomic or sleeps on a futex. */
    unsigned up;
    while ((up = atomic_load(&p->running)) < (unsigned)made)
        if (!spin_while(&p->running, up))
            wait_while(&p->running, up);
    if (made < want) {
        stop_workers(p);
        return -1;
    }
    return 0;
}

/* ---- the API ------------------------------------------------------------ */

qat_status qat_pool_create(int threads, qat_pool **out)
{
    *out = NULL;
    QAT_CHECK_ARG(threads >= 1, "thread pool: %d threads", threads);
    qat_pool *p = calloc(1, sizeof *p);
    if (!p)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "thread pool: out of memory");
    p->threads = threads;
    atomic_flag_clear(&p->busy);
    *out = p;
    return QAT_OK;
}

void qat_pool_free(qat_pool *pool)
{
    if (!pool)
        return;
    stop_workers(pool);
    free(pool);
}

qat_status qat_pool_set_threads(qat_pool *pool, int threads)
{
    QAT_CHECK_ARG(threads >= 1, "thread pool: %d threads", threads);
    if (threads != pool->threads) {
        stop_workers(pool);
        pool->threads = threads;
        pool->start_failed = 0;
    }
    return QAT_OK;
}

int qat_pool_threads(const qat_pool *pool)
{
    return pool ? pool->threads : 1;
}

int64_t qat_pool_ranges(int64_t n, int64_t grain)
{
    if (n <= 0)
        return 0;
    if (grain < 1)
        grain = 1;
    return (n + grain - 1) / grain;
}

static int run_inline(int64_t n, int64_t grain, qat_pool_range_fn fn, qat_pool_slot_fn slot_fn, void *arg)
{
    int failed = 0;
    for (int64_t i = 0, begin = 0; begin < n; i++, begin += grain) {
        const int64_t end = begin + grain < n ? begin + grain : n;
        failed |= (fn ? fn(arg, begin, end, i) : slot_fn(arg, begin, end, 0)) != 0;
    }
    return failed;
}

static int run_loop(qat_pool *p, int64_t n, int64_t grain, qat_pool_range_fn fn, qat_pool_slot_fn slot_fn,
                    void *arg)
{
    if (grain < 1)
        grain = 1;
    int64_t ranges = qat_pool_ranges(n, grain);
    if (ranges > MAX_RANGES) { /* a cut that still depends on n alone */
        grain = (n + MAX_RANGES - 1) / MAX_RANGES;
        ranges = qat_pool_ranges(n, grain);
    }
    if (!p || p->threads <= 1 || ranges <= 1 || p->start_failed)
        return run_inline(n, grain, fn, slot_fn, arg);
    if (atomic_flag_test_and_set_explicit(&p->busy, memory_order_acquire))
        return run_inline(n, grain, fn, slot_fn, arg); /* another thread's loop, or nested */
    if (p->started && p->owner != getpid())
        stop_workers(p); /* forked: start this process's own workers */
    if (!p->started && start_workers(p) != 0) {
        p->start_failed = 1;
        atomic_flag_clear_explicit(&p->busy, memory_order_release);
        return run_inline(n, grain, fn, slot_fn, arg);
    }
    p->fn = fn;
    p->slot_fn = slot_fn;
    p->arg = arg;
    p->n = n;
    p->grain = grain;
    atomic_store(&p->failed, 0);
    atomic_store(&p->done, 0);
    atomic_store_explicit(&p->claim, (uint64_t)ranges, memory_order_release);
    atomic_fetch_add(&p->epoch, 1);
    if (atomic_load(&p->sleepers) > 0)
        wake(&p->epoch, ranges - 1 < p->started ? (int)(ranges - 1) : p->started);
    run_ranges(p, 0);
    /* Wait for the ranges workers still hold. */
    unsigned want = (unsigned)ranges, done;
    while ((done = atomic_load(&p->done)) != want) {
        if (spin_while(&p->done, done))
            continue;
        atomic_store(&p->caller_asleep, 1);
        while ((done = atomic_load(&p->done)) != want)
            wait_while(&p->done, done);
        atomic_store(&p->caller_asleep, 0);
    }
    int failed = atomic_load(&p->failed);
    atomic_flag_clear_explicit(&p->busy, memory_order_release);
    return failed;
}

int qat_pool_for(qat_pool *p, int64_t n, int64_t grain, qat_pool_range_fn fn, void *arg)
{
    return run_loop(p, n, grain, fn, NULL, arg);
}

int qat_pool_for_slots(qat_pool *p, int64_t n, int64_t grain, qat_pool_slot_fn fn, void *arg)
{
    return run_loop(p, n, grain, NULL, fn, arg);
}

int qat_usable_cpus(int cap)
{
    long n = 0;
#ifdef __linux__
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        n = CPU_COUNT(&set);
#endif
    if (n < 1)
        n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (n > cap ? cap : (int)n);
}
