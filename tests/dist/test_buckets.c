/* Gradient buckets (lib/dist/buckets.c) and the reducer's launches
 * (lib/dist/reducer.c): boundaries on parameter edges from the buffer's
 * end, about cap floats each; a bucket launched exactly when the frontier
 * has passed its start, in order, once; with accumulation, the last
 * micro-batch added to the sum before the bucket is reduced. */
#include <stdlib.h>
#include <string.h>

#include "core/context.h"
#include "core/error.h"
#include "dist/buckets.h"
#include "dist/reducer.h"
#include "test_main.h"

START_TEST(test_plan_boundaries)
{
    /* parameters of 5, 3, 10, 1, 4 floats, with a 2-float gap before the last */
    const int64_t starts[] = {0, 5, 8, 18, 21}, sizes[] = {5, 3, 10, 1, 4};
    qat_bucket_plan p;
    QAT_ASSERT_OK(qat_bucket_plan_make(starts, sizes, 5, 25, 6, &p));
    /* from the end: [21,25) is 4 < 6, [18,25) is 7 >= 6 -> closes at 18;
     * [8,18) is 10 -> closes at 8; [5,8) 3, then [0,8) 8 -> closes at 0 */
    const qat_bucket want[] = {{18, 25}, {8, 18}, {0, 8}};
    ck_assert_int_eq(p.count, 3);
    for (int i = 0; i < 3; i++)
        ck_assert_msg(p.buckets[i].lo == want[i].lo && p.buckets[i].hi == want[i].hi, "bucket %d: [%lld, %lld)",
                      i, (long long)p.buckets[i].lo, (long long)p.buckets[i].hi);
    qat_bucket_plan_release(&p);
    /* a cap below every parameter: one bucket per parameter, in reverse */
    QAT_ASSERT_OK(qat_bucket_plan_make(starts, sizes, 5, 25, 1, &p));
    ck_assert_int_eq(p.count, 5);
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(p.buckets[i].lo, starts[4 - i]);
        ck_assert_int_eq(p.buckets[i].hi, i == 0 ? 25 : starts[5 - i]);
    }
    qat_bucket_plan_release(&p);
    /* a cap above the whole buffer: one bucket; the order of the table does not matter */
    const int64_t shuffled_starts[] = {18, 0, 21, 8, 5}, shuffled_sizes[] = {1, 5, 4, 10, 3};
    QAT_ASSERT_OK(qat_bucket_plan_make(shuffled_starts, shuffled_sizes, 5, 25, 1000, &p));
    ck_assert_int_eq(p.count, 1);
    ck_assert_int_eq(p.buckets[0].lo, 0);
    ck_assert_int_eq(p.buckets[0].hi, 25);
    qat_bucket_plan_release(&p);
    QAT_ASSERT_FAILS(qat_bucket_plan_make(starts, sizes, 5, 20, 6, &p), QAT_ERR_INVALID_ARGUMENT,
                     "parameter 4 [21, +4) outside 20 floats");
    QAT_ASSERT_FAILS(qat_bucket_plan_make(starts, sizes, 5, 25, 0, &p), QAT_ERR_INVALID_ARGUMENT, "cap 0");
}
END_TEST

/* A world of two that records its calls instead of reducing. */
typedef struct recorder {
    const float *base;
    int64_t lo[16], n[16];
    int calls, waits;
} recorder;

static qat_status record(qat_comm *c, float *buf, int64_t n)
{
    recorder *r = c->self;
    r->lo[r->calls] = buf - r->base;
    r->n[r->calls++] = n;
    return QAT_OK;
}

static qat_status no_broadcast(qat_comm *c, float *buf, int64_t n, int root)
{
    (void)c, (void)buf, (void)n, (void)root;
    return qat_fail(QAT_ERR_INTERNAL, "not in this test");
}

static qat_status no_barrier(qat_comm *c)
{
    (void)c;
    return qat_fail(QAT_ERR_INTERNAL, "not in this test");
}

static qat_status count_wait(qat_comm *c)
{
    ((recorder *)c->self)->waits++;
    return QAT_OK;
}

static void keep(qat_comm *c)
{
    (void)c;
}

static const qat_comm_impl recorder_impl = {"recorder", record, no_broadcast, no_barrier, count_wait, keep};

START_TEST(test_reducer_launch_order)
{
    qat_context *ctx = NULL;
    QAT_ASSERT_OK(qat_context_create("ref", &ctx));
    recorder rec = {0};
    qat_comm *comm = NULL;
    QAT_ASSERT_OK(qat_comm_wrap(ctx, &recorder_impl, &rec, 0, 2, 0, &comm));
    const int64_t starts[] = {0, 5, 8, 18, 21}, sizes[] = {5, 3, 10, 1, 4};
    qat_reducer r = {.comm = comm};
    QAT_ASSERT_OK(qat_bucket_plan_make(starts, sizes, 5, 25, 6, &r.plan)); /* [18,25) [8,18) [0,8) */
    float grad[25], sum[25];
    for (int i = 0; i < 25; i++) {
        grad[i] = (float)i;
        sum[i] = 1000.0f;
    }
    rec.base = grad;
    qat_reducer_begin(&r, grad, grad);
    QAT_ASSERT_OK(qat_reducer_ready(&r, 21)); /* the head's part: bucket 0 not complete */
    ck_assert_int_eq(rec.calls, 0);
    QAT_ASSERT_OK(qat_reducer_ready(&r, 18));
    ck_assert_int_eq(rec.calls, 1);
    QAT_ASSERT_OK(qat_reducer_ready(&r, 18)); /* told again: nothing new */
    QAT_ASSERT_OK(qat_reducer_ready(&r, 9));
    ck_assert_int_eq(rec.calls, 1);
    QAT_ASSERT_OK(qat_reducer_finish(&r));
    ck_assert_int_eq(rec.calls, 3);
    ck_assert_int_eq(rec.waits, 1);
    const int64_t want_lo[] = {18, 8, 0}, want_n[] = {7, 10, 8};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(rec.lo[i], want_lo[i]);
        ck_assert_int_eq(rec.n[i], want_n[i]);
    }
    /* accumulation: the last micro-batch is added bucket by bucket, just before its launch */
    rec = (recorder){.base = sum};
    qat_reducer_begin(&r, grad, sum);
    QAT_ASSERT_OK(qat_reducer_ready(&r, 8));
    ck_assert_int_eq(rec.calls, 2);
    for (int i = 0; i < 25; i++)
        ck_assert_msg(sum[i] == (i >= 8 ? 1000.0f + (float)i : 1000.0f), "sum[%d] = %g", i, sum[i]);
    QAT_ASSERT_OK(qat_reducer_finish(&r));
    for (int i = 0; i < 25; i++)
        ck_assert_float_eq(sum[i], 1000.0f + (float)i);
    qat_bucket_plan_release(&r.plan);
    qat_comm_free(comm);
    qat_context_free(ctx);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("buckets");
    TCase *tc = tcase_create("buckets");
    tcase_add_test(tc, test_plan_boundaries);
    tcase_add_test(tc, test_reducer_launch_order);
    suite_add_tcase(s, tc);
    return s;
}
