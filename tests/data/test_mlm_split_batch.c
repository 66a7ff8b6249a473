/* MLM masking (statistics, specials, the documented draw order,
 * determinism), splits (sizes, z, partition, seeds), batching (padding,
 * masks, buckets, determinism). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "data/batch.h"
#include "data/mlm.h"
#include "data/split.h"
#include "test_main.h"

#define N_TOK 120000

START_TEST(test_mlm_statistics)
{
    static const int32_t specials[] = {0, 1, 2, 3};
    qat_data_mlm_options o;
    qat_data_mlm_options_init(&o);
    o.mask_id = 4;
    o.vocab_size = 1000;
    o.special_ids = specials;
    o.n_special = 4;
    int32_t *orig = malloc(N_TOK * sizeof *orig), *ids = malloc(N_TOK * sizeof *ids);
    int32_t *labels = malloc(N_TOK * sizeof *labels);
    qat_rng gen;
    qat_rng_seed(&gen, 7);
    size_t n_special = 0;
    for (size_t i = 0; i < N_TOK; i++) {
        orig[i] = i % 50 == 0 ? (int32_t)(i / 50 % 4) : (int32_t)(5 + qat_rng_below(&gen, 995));
        n_special += orig[i] < 4;
    }
    memcpy(ids, orig, N_TOK * sizeof *ids);
    qat_rng rng;
    qat_rng_seed(&rng, 42);
    QAT_ASSERT_OK(qat_data_mlm_mask(&o, &rng, ids, labels, N_TOK));
    size_t chosen = 0, masked = 0, random_tok = 0, same = 0;
    for (size_t i = 0; i < N_TOK; i++) {
        if (orig[i] < 4) {
            ck_assert_int_eq(labels[i], -100);
            ck_assert_int_eq(ids[i], orig[i]);
            continue;
        }
        if (labels[i] == -100) {
            ck_assert_int_eq(ids[i], orig[i]);
            continue;
        }
        ck_assert_int_eq(labels[i], orig[i]);
        chosen++;
        if (ids[i] == 4)
            masked++;
        else if (ids[i] == orig[i])
            same++;
        else
            random_tok++;
    }
    double eligible = (double)(N_TOK - n_special);
    /* Binomial: 5 standard deviations of slack at most. */
    ck_assert_msg(fabs(chosen / eligible - 0.15) < 5 * sqrt(0.15 * 0.85 / eligible), "chosen %g",
                  chosen / eligible);
    ck_assert_msg(fabs(masked / (double)chosen - 0.8) < 0.012, "masked %g", masked / (double)chosen);
    ck_assert_msg(fabs(random_tok / (double)chosen - 0.1) < 0.01, "random %g", random_tok / (double)chosen);
    ck_assert_msg(fabs(same / (double)chosen - 0.1) < 0.01, "unchanged %g", same / (double)chosen);

    /* Determinism, and the documented draw order replayed by hand. */
    int32_t *again = malloc(N_TOK * sizeof *again), *labels2 = malloc(N_TOK * sizeof *labels2);
    memcpy(again, orig, N_TOK * sizeof *again);
    qat_rng r2, r3;
    qat_rng_seed(&r2, 42);
    QAT_ASSERT_OK(qat_data_mlm_mask(&o, &r2, again, labels2, N_TOK));
    ck_assert(memcmp(again, ids, N_TOK * sizeof *ids) == 0 && memcmp(labels2, labels, N_TOK * sizeof *ids) == 0);
    ck_assert(memcmp(&r2, &rng, sizeof rng) == 0);
    qat_rng_seed(&r3, 42);
    for (size_t i = 0; i < 5000; i++) {
        int32_t want = orig[i], lab = -100;
        if (orig[i] >= 4 && qat_rng_uniform(&r3) < 0.15f) {
            lab = orig[i];
            float v = qat_rng_uniform(&r3);
            if (v < 0.8f)
                want = 4;
            else if (v < 0.9f)
                want = (int32_t)qat_rng_below(&r3, 1000);
        }
        ck_assert_int_eq(ids[i], want);
        ck_assert_int_eq(labels[i], lab);
    }
    o.mask_id = 1000;
    QAT_ASSERT_FAILS(qat_data_mlm_mask(&o, &rng, ids, labels, 10), QAT_ERR_INVALID_ARGUMENT, "<mask> id");
    o.mask_id = 4;
    ids[3] = 5000;
    QAT_ASSERT_FAILS(qat_data_mlm_mask(&o, &rng, ids, labels, 10), QAT_ERR_INVALID_ARGUMENT, "position 3");
    free(orig);
    free(ids);
    free(labels);
    free(again);
    free(labels2);
}
END_TEST

START_TEST(test_split)
{
    qat_data_split p;
    QAT_ASSERT_OK(qat_data_split_plan(100, 0, 0, &p));
    ck_assert(!p.sized && p.n_train == 70 && p.n_val == 10 && p.n_test == 20);
    ck_assert(fabs(p.z_val - sqrt(10.0) * 0.05) < 1e-15);
    QAT_ASSERT_OK(qat_data_split_plan(24000, 5, 0.05, &p)); /* not more than 1.2 x 2n */
    ck_assert(!p.sized && p.n_val == 2400 && p.n_test == 4800 && p.n_train == 16800);
    QAT_ASSERT_OK(qat_data_split_plan(24001, 5, 0.05, &p));
    ck_assert(p.sized && p.n_val == 10000 && p.n_test == 10000 && p.n_train == 4001);
    ck_assert(fabs(p.z_val - 5.0) < 1e-12 && fabs(p.z_test - 5.0) < 1e-12);
    QAT_ASSERT_OK(qat_data_split_plan(50000, 3, 0.1, &p)); /* n = 900 */
    ck_assert(p.sized && p.n_val == 900 && fabs(p.z_val - 3.0) < 1e-12);
    QAT_ASSERT_FAILS(qat_data_split_plan(2, 0, 0, &p), QAT_ERR_INVALID_ARGUMENT, "three splits");

    QAT_ASSERT_OK(qat_data_split_plan(1003, 0, 0, &p));
    size_t a[1003], b[1003], c[1003];
    QAT_ASSERT_OK(qat_data_split_assign(1003, &p, 42, a));
    QAT_ASSERT_OK(qat_data_split_assign(1003, &p, 42, b));
    QAT_ASSERT_OK(qat_data_split_assign(1003, &p, 43, c));
    ck_assert(memcmp(a, b, sizeof a) == 0);
    ck_assert(memcmp(a, c, sizeof a) != 0);
    char seen[1003] = {0};
    for (size_t i = 0; i < 1003; i++) {
        ck_assert(!seen[a[i]]);
        seen[a[i]] = 1;
    }
    for (size_t i = 1; i < p.n_train; i++) /* each part in corpus order */
        ck_assert_uint_lt(a[i - 1], a[i]);
    size_t bad_plan_n = p.n_train;
    p.n_train = 0;
    QAT_ASSERT_FAILS(qat_data_split_assign(1003, &p, 42, a), QAT_ERR_INVALID_ARGUMENT, "covers");
    p.n_train = bad_plan_n;
}
END_TEST

START_TEST(test_batches)
{
    enum { N = 103 };
    int32_t store[N][40], labs[N][40];
    qat_data_example ex[N];
    for (int i = 0; i < N; i++) {
        size_t len = 1 + (size_t)(i * 37 % 40);
        for (size_t t = 0; t < len; t++) {
            store[i][t] = 100 + i;
            labs[i][t] = (int32_t)t;
        }
        ex[i] = (qat_data_example){store[i], labs[i], len};
    }
    ex[5].labels = NULL;
    qat_data_batch_options o;
    qat_data_batch_options_init(&o);
    o.batch_size = 8;
    o.bucket_batches = 4;
    o.pad_id = 1;
    o.pad_multiple = 8;
    qat_rng rng, rng2;
    qat_rng_seed(&rng, 42);
    qat_rng_seed(&rng2, 42);
    qat_data_batches *b = NULL, *b2 = NULL;
    QAT_ASSERT_OK(qat_data_batches_plan(ex, N, &o, &rng, &b));
    QAT_ASSERT_OK(qat_data_batches_plan(ex, N, &o, &rng2, &b2));
    ck_assert_uint_eq(qat_data_batches_count(b), 13);
    int seen[N] = {0};
    int32_t ids[8 * 40], mask[8 * 40], lab[8 * 40];
    size_t spread_sum = 0;
    for (size_t i = 0; i < qat_data_batches_count(b); i++) {
        size_t rows, len, rows2, len2;
        QAT_ASSERT_OK(qat_data_batches_shape(b, i, &rows, &len));
        QAT_ASSERT_OK(qat_data_batches_shape(b2, i, &rows2, &len2));
        ck_assert(rows == rows2 && len == len2);
        ck_assert(memcmp(qat_data_batches_members(b, i), qat_data_batches_members(b2, i), rows * sizeof(size_t)) == 0);
        ck_assert_uint_eq(len % 8, 0);
        QAT_ASSERT_OK(qat_data_batches_fill(b, i, ids, mask, lab, sizeof ids / sizeof ids[0]));
        const size_t *m = qat_data_batches_members(b, i);
        size_t lo = 1000, hi = 0;
        for (size_t r = 0; r < rows; r++) {
            const qat_data_example *e = &ex[m[r]];
            seen[m[r]]++;
            lo = e->len < lo ? e->len : lo;
            hi = e->len > hi ? e->len : hi;
            ck_assert_uint_le(e->len, len);
            for (size_t t = 0; t < len; t++) {
                int real = t < e->len;
                ck_assert_int_eq(ids[r * len + t], real ? 100 + (int)m[r] : 1);
                ck_assert_int_eq(mask[r * len + t], real);
                ck_assert_int_eq(lab[r * len + t], real && e->labels ? (int32_t)t : -100);
            }
        }
        spread_sum += hi - lo;
    }
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(seen[i], 1);
    /* Bucketing groups similar lengths: far tighter than random batches. */
    ck_assert_msg(spread_sum < 13 * 12, "length spread %zu", spread_sum);
    size_t small[4];
    QAT_ASSERT_FAILS(qat_data_batches_fill(b, 0, (int32_t *)small, (int32_t *)small, (int32_t *)small, 2),
                     QAT_ERR_BUFFER_TOO_SMALL, "capacity 2");
    qat_data_batches_free(b);
    qat_data_batches_free(b2);
    /* No shuffle, no buckets, drop_last: plain consecutive batches. */
    o.shuffle = 0;
    o.bucketing = 0;
    o.drop_last = 1;
    o.pad_multiple = 0;
    QAT_ASSERT_OK(qat_data_batches_plan(ex, N, &o, NULL, &b));
    ck_assert_uint_eq(qat_data_batches_count(b), 12);
    ck_assert_uint_eq(qat_data_batches_members(b, 1)[0], 8);
    qat_data_batches_free(b);
    o.max_len = 10;
    QAT_ASSERT_FAILS(qat_data_batches_plan(ex, N, &o, NULL, &b), QAT_ERR_INVALID_ARGUMENT, "more than the maximum");
    o.max_len = 0;
    o.shuffle = 1;
    QAT_ASSERT_FAILS(qat_data_batches_plan(ex, N, &o, NULL, &b), QAT_ERR_INVALID_ARGUMENT, "random generator");
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("data_mlm_split_batch");
    TCase *tc = tcase_create("mlm_split_batch");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_mlm_statistics);
    tcase_add_test(tc, test_split);
    tcase_add_test(tc, test_batches);
    suite_add_tcase(s, tc);
    return s;
}
