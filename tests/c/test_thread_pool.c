/* The worker pool (lib/core/thread_pool.h): every index covered once in
 * the documented cuts, ranges really running on two threads at once,
 * loops nested in a range or started by two threads at once, failures
 * reported, thread counts changed, a forked child, and the affinity mask
 * as the default thread count. */
#define _GNU_SOURCE /* sched_setaffinity */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/thread_pool.h"
#include "qat/qat.h"
#include "test_main.h"

typedef struct coverage {
    int64_t n, grain;
    atomic_int *hits;
    atomic_int bad_cut;
} coverage;

static int cover(void *arg, int64_t begin, int64_t end, int64_t index)
{
    coverage *c = arg;
    int64_t want_end = begin + c->grain < c->n ? begin + c->grain : c->n;
    if (begin != index * c->grain || end != want_end)
        atomic_store(&c->bad_cut, 1);
    for (int64_t i = begin; i < end; i++)
        atomic_fetch_add(&c->hits[i], 1);
    return 0;
}

static void check_coverage(qat_pool *pool, int64_t n, int64_t grain)
{
    coverage c = {n, grain, calloc((size_t)(n ? n : 1), sizeof(atomic_int)), 0};
    ck_assert_int_eq(qat_pool_for(pool, n, grain, cover, &c), 0);
    ck_assert_msg(!atomic_load(&c.bad_cut), "n=%lld grain=%lld: a range is not [index*grain, +grain)", (long long)n,
                  (long long)grain);
    for (int64_t i = 0; i < n; i++)
        ck_assert_msg(atomic_load(&c.hits[i]) == 1, "n=%lld grain=%lld threads=%d: index %lld run %d times",
                      (long long)n, (long long)grain, qat_pool_threads(pool), (long long)i, atomic_load(&c.hits[i]));
    free(c.hits);
}

START_TEST(every_index_once_in_fixed_cuts)
{
    const int64_t sizes[][2] = {{0, 1}, {1, 1}, {7, 3}, {64, 1}, {1000, 7}, {1000, 1000}, {1001, 1000}, {5000, 1}};
    for (int threads = 1; threads <= 4; threads++) {
        qat_pool *pool;
        QAT_ASSERT_OK(qat_pool_create(threads, &pool));
        ck_assert_int_eq(qat_pool_threads(pool), threads);
        for (int rep = 0; rep < 3; rep++)
            for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
                check_coverage(pool, sizes[s][0], sizes[s][1]);
        qat_pool_free(pool);
    }
    check_coverage(NULL, 100, 9); /* no pool: inline */
    ck_assert_int_eq(qat_pool_ranges(0, 5), 0);
    ck_assert_int_eq(qat_pool_ranges(10, 5), 2);
    ck_assert_int_eq(qat_pool_ranges(11, 5), 3);
}
END_TEST

/* Each of two ranges waits (up to 20 s) until the other has started: a
 * pool that ran them one after the other would time out. */
typedef struct rendezvous {
    atomic_int started;
    atomic_int timed_out;
} rendezvous;

static int meet(void *arg, int64_t begin, int64_t end, int64_t index)
{
    rendezvous *r = arg;
    (void)begin;
    (void)end;
    (void)index;
    atomic_fetch_add(&r->started, 1);
    struct timespec pause = {0, 1000000};
    for (int i = 0; i < 20000 && atomic_load(&r->started) < 2; i++)
        nanosleep(&pause, NULL);
    if (atomic_load(&r->started) < 2)
        atomic_store(&r->timed_out, 1);
    return 0;
}

START_TEST(two_threads_run_ranges_at_once)
{
    qat_pool *pool;
    QAT_ASSERT_OK(qat_pool_create(2, &pool));
    for (int rep = 0; rep < 3; rep++) {
        rendezvous r = {0, 0};
        ck_assert_int_eq(qat_pool_for(pool, 2, 1, meet, &r), 0);
        ck_assert_msg(!atomic_load(&r.timed_out), "the two ranges never ran at the same time");
    }
    /* Fewer threads: the same loop must not wait for a second one. */
    QAT_ASSERT_OK(qat_pool_set_threads(pool, 1));
    rendezvous alone = {1, 0}; /* counts as met: one thread runs both in turn */
    ck_assert_int_eq(qat_pool_for(pool, 2, 1, meet, &alone), 0);
    QAT_ASSERT_OK(qat_pool_set_threads(pool, 3));
    check_coverage(pool, 777, 5);
    qat_pool_free(pool);
}
END_TEST

typedef struct nested {
    qat_pool *pool;
    atomic_int inner_ok;
} nested;

static int outer(void *arg, int64_t begin, int64_t end, int64_t index)
{
    nested *nd = arg;
    (void)index;
    for (int64_t i = begin; i < end; i++) {
        coverage c = {50, 4, calloc(50, sizeof(atomic_int)), 0};
        int ok = qat_pool_for(nd->pool, 50, 4, cover, &c) == 0 && !atomic_load(&c.bad_cut);
        for (int j = 0; j < 50; j++)
            ok &= atomic_load(&c.hits[j]) == 1;
        free(c.hits);
        atomic_fetch_add(&nd->inner_ok, ok);
    }
    return 0;
}

START_TEST(nested_loops_run_inline)
{
    qat_pool *pool;
    QAT_ASSERT_OK(qat_pool_create(3, &pool));
    nested nd = {pool, 0};
    ck_assert_int_eq(qat_pool_for(pool, 12, 1, outer, &nd), 0);
    ck_assert_int_eq(atomic_load(&nd.inner_ok), 12);
    qat_pool_free(pool);
}
END_TEST

/* qat_pool_for_slots: every slot below the thread count, never two ranges
 * on one slot at once (each range holds its slot for a while, so ranges on
 * two threads overlap), every index once; inline loops give slot 0. */
typedef struct slot_use {
    int threads;
    atomic_int held[4];
    atomic_int shared, out_of_range, seen[4];
    atomic_int hits[200];
} slot_use;

static int hold_slot(void *arg, int64_t begin, int64_t end, int slot)
{
    slot_use *u = arg;
    if (slot < 0 || slot >= u->threads) {
        atomic_store(&u->out_of_range, 1);
        return 0;
    }
    atomic_store(&u->seen[slot], 1);
    if (atomic_exchange(&u->held[slot], 1))
        atomic_store(&u->shared, 1);
    struct timespec pause = {0, 200000};
    nanosleep(&pause, NULL);
    for (int64_t i = begin; i < end; i++)
        atomic_fetch_add(&u->hits[i], 1);
    atomic_store(&u->held[slot], 0);
    return 0;
}

START_TEST(slots_are_unique_among_running_ranges)
{
    for (int threads = 1; threads <= 4; threads++) {
        qat_pool *pool;
        QAT_ASSERT_OK(qat_pool_create(threads, &pool));
        for (int rep = 0; rep < 2; rep++) {
            slot_use u = {.threads = threads};
            ck_assert_int_eq(qat_pool_for_slots(pool, 200, 3, hold_slot, &u), 0);
            ck_assert_msg(!atomic_load(&u.out_of_range), "threads %d: a slot outside [0, threads)", threads);
            ck_assert_msg(!atomic_load(&u.shared), "threads %d: two running ranges had the same slot", threads);
            ck_assert_msg(atomic_load(&u.seen[0]), "threads %d: the caller (slot 0) ran no range", threads);
            for (int i = 0; i < 200; i++)
                ck_assert_int_eq(atomic_load(&u.hits[i]), 1);
        }
        qat_pool_free(pool);
    }
    slot_use alone = {.threads = 1}; /* no pool: inline, slot 0 */
    ck_assert_int_eq(qat_pool_for_slots(NULL, 200, 3, hold_slot, &alone), 0);
    ck_assert(!atomic_load(&alone.out_of_range) && !atomic_load(&alone.shared));
}
END_TEST

static void *submit_many(void *arg)
{
    for (int rep = 0; rep < 40; rep++)
        check_coverage(arg, 300 + rep, 7);
    return NULL;
}

START_TEST(two_submitting_threads_share_a_pool)
{
    /* (Two models of one context used from two threads.) */
    qat_pool *pool;
    QAT_ASSERT_OK(qat_pool_create(2, &pool));
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, submit_many, pool), 0);
    submit_many(pool);
    pthread_join(t, NULL);
    qat_pool_free(pool);
}
END_TEST

static int fail_odd(void *arg, int64_t begin, int64_t end, int64_t index)
{
    (void)arg;
    (void)begin;
    (void)end;
    return index == 3;
}

START_TEST(a_failed_range_is_reported)
{
    qat_pool *pool;
    QAT_ASSERT_OK(qat_pool_create(2, &pool));
    ck_assert_int_ne(qat_pool_for(pool, 10, 1, fail_odd, NULL), 0);
    ck_assert_int_eq(qat_pool_for(pool, 3, 1, fail_odd, NULL), 0);
    ck_assert_int_ne(qat_pool_for(NULL, 10, 1, fail_odd, NULL), 0);
    qat_pool *bad = (qat_pool *)&pool;
    QAT_ASSERT_FAILS(qat_pool_create(0, &bad), QAT_ERR_INVALID_ARGUMENT, "threads");
    ck_assert_ptr_null(bad);
    QAT_ASSERT_FAILS(qat_pool_set_threads(pool, 0), QAT_ERR_INVALID_ARGUMENT, "threads");
    qat_pool_free(pool);
    qat_pool_free(NULL);
}
END_TEST

/* waitpid with a deadline: a child that hangs is killed and reported as
 * hung, instead of the whole case running into Check's timeout. */
static int wait_child(pid_t child, int seconds)
{
    struct timespec tick = {0, 10000000};
    for (int i = 0; i < seconds * 100; i++) {
        int status;
        pid_t got = waitpid(child, &status, WNOHANG);
        if (got == child)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (got < 0)
            return -1;
        nanosleep(&tick, NULL);
    }
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    return -2;
}

/* Forks right after the loop that started the workers: the window in which
 * a worker still starting held the allocator's lock and the child hung
 * (under ASan, in 4 runs of 5 with 4 rounds, before the pool waited for its
 * workers). Repeated, with a fresh pool each time, to hit that window. */
START_TEST(a_forked_child_uses_its_own_workers)
{
    for (int round = 0; round < 4; round++) {
        qat_pool *pool;
        QAT_ASSERT_OK(qat_pool_create(2, &pool));
        check_coverage(pool, 1000, 3); /* workers started in the parent */
        pid_t child = fork();
        ck_assert_int_ge(child, 0);
        if (child == 0) {
            /* The parent's workers do not exist here; loops and the free
             * must neither hang nor touch them. */
            rendezvous r = {0, 0};
            int status = qat_pool_for(pool, 2, 1, meet, &r) != 0 || atomic_load(&r.timed_out);
            qat_pool_free(pool);
            _exit(status);
        }
        int status = wait_child(child, 30);
        ck_assert_msg(status != -2, "round %d: the forked child hung (killed after 30 s)", round);
        ck_assert_msg(status == 0, "round %d: the forked child failed (status %d)", round, status);
        check_coverage(pool, 1000, 3);
        qat_pool_free(pool);
    }
}
END_TEST

/* Runs in its own thread: changing the affinity there leaves the test's. */
static void *on_one_cpu(void *arg)
{
    int *threads = arg;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(sched_getcpu() >= 0 ? sched_getcpu() : 0, &one);
    if (sched_setaffinity(0, sizeof one, &one) != 0) {
        threads[0] = -1;
        return NULL;
    }
    threads[0] = qat_usable_cpus(1024);
    qat_context *ctx;
    if (qat_context_create("ref", &ctx) == QAT_OK) {
        int64_t v = 0;
        qat_context_get_int(ctx, QAT_CTX_THREADS, &v);
        threads[1] = (int)v;
        qat_context_set_int(ctx, QAT_CTX_THREADS, 0);
        qat_context_get_int(ctx, QAT_CTX_THREADS, &v);
        threads[2] = (int)v;
        qat_context_free(ctx);
    }
    return NULL;
}

START_TEST(default_threads_follow_the_affinity_mask)
{
    cpu_set_t mine;
    ck_assert_int_eq(sched_getaffinity(0, sizeof mine, &mine), 0);
    ck_assert_int_eq(qat_usable_cpus(1024), CPU_COUNT(&mine));
    ck_assert_int_eq(qat_usable_cpus(1), 1);
    int threads[3] = {0, 0, 0};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, on_one_cpu, threads), 0);
    pthread_join(t, NULL);
    ck_assert_msg(threads[0] != -1, "sched_setaffinity refused");
    ck_assert_int_eq(threads[0], 1);
    ck_assert_int_eq(threads[1], 1); /* a new context: one thread per usable CPU */
    ck_assert_int_eq(threads[2], 1); /* QAT_CTX_THREADS = 0: the same */
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("thread_pool");
    TCase *tc = tcase_create("thread_pool");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, every_index_once_in_fixed_cuts);
    tcase_add_test(tc, two_threads_run_ranges_at_once);
    tcase_add_test(tc, nested_loops_run_inline);
    tcase_add_test(tc, slots_are_unique_among_running_ranges);
    tcase_add_test(tc, two_submitting_threads_share_a_pool);
    tcase_add_test(tc, a_failed_range_is_reported);
    tcase_add_test(tc, a_forked_child_uses_its_own_workers);
    tcase_add_test(tc, default_threads_follow_the_affinity_mask);
    suite_add_tcase(s, tc);
    return s;
}
