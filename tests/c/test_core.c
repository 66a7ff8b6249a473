/* Versions, status strings, per-thread errors, contexts and backends. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "qat/qat.h"
#include "test_main.h"

START_TEST(version_matches_macros)
{
    char expected[32];
    snprintf(expected, sizeof expected, "%d.%d.%d", QAT_VERSION_MAJOR, QAT_VERSION_MINOR, QAT_VERSION_PATCH);
    ck_assert_str_eq(qat_version(), expected);
    ck_assert_int_eq(qat_version_number(), QAT_VERSION_NUMBER);
}
END_TEST

START_TEST(status_strings_are_distinct)
{
    const qat_status all[] = {QAT_OK, QAT_ERR_INVALID_ARGUMENT, QAT_ERR_OUT_OF_MEMORY, QAT_ERR_IO,
                              QAT_ERR_FORMAT, QAT_ERR_UNSUPPORTED, QAT_ERR_NOT_FOUND, QAT_ERR_BACKEND,
                              QAT_ERR_NUMERIC, QAT_ERR_STATE, QAT_ERR_BUFFER_TOO_SMALL, QAT_ERR_INTERNAL};
    size_t n = sizeof all / sizeof all[0];
    for (size_t i = 0; i < n; i++) {
        ck_assert_ptr_nonnull(qat_status_string(all[i]));
        ck_assert(strncmp(qat_status_string(all[i]), "QAT_", 4) == 0);
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne(qat_status_string(all[i]), qat_status_string(all[j]));
    }
    ck_assert_str_eq(qat_status_string((qat_status)-999), "QAT_ERR_UNKNOWN");
}
END_TEST

static void *fail_in_thread(void *arg)
{
    (void)arg;
    qat_context *ctx = NULL;
    qat_context_create("no-such-backend", &ctx);
    return NULL;
}

START_TEST(last_error_is_per_thread)
{
    qat_clear_error();
    ck_assert_str_eq(qat_last_error(), "");
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, fail_in_thread, NULL), 0);
    pthread_join(t, NULL);
    ck_assert_str_eq(qat_last_error(), ""); /* the other thread's failure stays there */
    qat_context *ctx = (qat_context *)1;
    QAT_ASSERT_FAILS(qat_context_create("no-such-backend", &ctx), QAT_ERR_NOT_FOUND, "no-such-backend");
    ck_assert_ptr_null(ctx);
    ck_assert_ptr_nonnull(strstr(qat_last_error(), "ref")); /* lists what is available */
}
END_TEST

START_TEST(backends_listed_and_openable)
{
    int n = qat_backend_count();
    ck_assert_int_ge(n, 1);
    ck_assert_str_eq(qat_backend_name(0), "ref");
    ck_assert_ptr_null(qat_backend_name(n));
    ck_assert_ptr_null(qat_backend_name(-1));
    for (int i = 0; i < n; i++) {
        qat_context *ctx = NULL;
        QAT_ASSERT_OK(qat_context_create(qat_backend_name(i), &ctx));
        ck_assert_str_eq(qat_context_backend(ctx), qat_backend_name(i));
        qat_context_free(ctx);
    }
#ifdef QAT_TEST_HAVE_ONEDNN
    int found_cpu = 0;
    for (int i = 0; i < n; i++)
        found_cpu |= strcmp(qat_backend_name(i), "cpu") == 0;
    ck_assert_msg(found_cpu, "the cpu backend was built but is not listed");
#endif
}
END_TEST

/* One scan, many queries: the same backends in the same order as the
 * one-shot calls; out-of-range and NULL arguments answered, not crashed. */
START_TEST(backend_list_matches_one_shot_calls)
{
    qat_backend_list *list = NULL;
    QAT_ASSERT_OK(qat_backend_list_create(&list));
    int n = qat_backend_list_count(list);
    ck_assert_int_eq(n, qat_backend_count());
    for (int i = 0; i < n; i++)
        ck_assert_str_eq(qat_backend_list_name(list, i), qat_backend_name(i));
    ck_assert_ptr_null(qat_backend_list_name(list, n));
    ck_assert_ptr_null(qat_backend_list_name(list, -1));
    ck_assert_int_eq(qat_backend_list_count(NULL), 0);
    ck_assert_ptr_null(qat_backend_list_name(NULL, 0));
    qat_backend_list_free(list);
    qat_backend_list_free(NULL);
    QAT_ASSERT_FAILS(qat_backend_list_create(NULL), QAT_ERR_INVALID_ARGUMENT, "NULL");
}
END_TEST

/* QAT_CTX_PRECISION: fp32 everywhere; host backends refuse the others and
 * keep fp32; device backends take each and report it back. */
START_TEST(precision_policy_per_backend)
{
    int n = qat_backend_count();
    for (int i = 0; i < n; i++) {
        qat_context *ctx = NULL;
        QAT_ASSERT_OK(qat_context_create(qat_backend_name(i), &ctx));
        int host = strcmp(qat_backend_name(i), "ref") == 0 || strcmp(qat_backend_name(i), "cpu") == 0;
        int64_t v = -1, lo = -1, hi = -1;
        QAT_ASSERT_OK(qat_context_param_bounds(QAT_CTX_PRECISION, &lo, &hi));
        ck_assert_int_eq(lo, QAT_PRECISION_FP32);
        ck_assert_int_eq(hi, QAT_PRECISION_BF16);
        QAT_ASSERT_OK(qat_context_set_int(ctx, QAT_CTX_PRECISION, QAT_PRECISION_FP32));
        QAT_ASSERT_OK(qat_context_get_int(ctx, QAT_CTX_PRECISION, &v));
        ck_assert_int_eq(v, QAT_PRECISION_FP32);
        for (int p = QAT_PRECISION_TF32; p <= QAT_PRECISION_BF16; p++) {
            if (host) {
                QAT_ASSERT_FAILS(qat_context_set_int(ctx, QAT_CTX_PRECISION, p), QAT_ERR_UNSUPPORTED, "fp32 only");
                QAT_ASSERT_OK(qat_context_get_int(ctx, QAT_CTX_PRECISION, &v));
                ck_assert_int_eq(v, QAT_PRECISION_FP32);
            } else {
                QAT_ASSERT_OK(qat_context_set_int(ctx, QAT_CTX_PRECISION, p));
                QAT_ASSERT_OK(qat_context_get_int(ctx, QAT_CTX_PRECISION, &v));
                ck_assert_int_eq(v, p);
            }
        }
        QAT_ASSERT_FAILS(qat_context_set_int(ctx, QAT_CTX_PRECISION, 3), QAT_ERR_INVALID_ARGUMENT, "outside");
        qat_context_free(ctx);
    }
}
END_TEST

/* QAT_CTX_FUSED_ATTENTION: 0 by default, 0 or 1, on every backend. */
START_TEST(fused_attention_setting)
{
    int64_t lo = -1, hi = -1, v = -1;
    QAT_ASSERT_OK(qat_context_param_bounds(QAT_CTX_FUSED_ATTENTION, &lo, &hi));
    ck_assert_int_eq(lo, 0);
    ck_assert_int_eq(hi, 1);
    for (int i = 0; i < qat_backend_count(); i++) {
        qat_context *ctx = NULL;
        QAT_ASSERT_OK(qat_context_create(qat_backend_name(i), &ctx));
        QAT_ASSERT_OK(qat_context_get_int(ctx, QAT_CTX_FUSED_ATTENTION, &v));
        ck_assert_int_eq(v, 0);
        QAT_ASSERT_OK(qat_context_set_int(ctx, QAT_CTX_FUSED_ATTENTION, 1));
        QAT_ASSERT_OK(qat_context_get_int(ctx, QAT_CTX_FUSED_ATTENTION, &v));
        ck_assert_int_eq(v, 1);
        QAT_ASSERT_FAILS(qat_context_set_int(ctx, QAT_CTX_FUSED_ATTENTION, 2), QAT_ERR_INVALID_ARGUMENT, "outside");
        QAT_ASSERT_OK(qat_context_get_int(ctx, QAT_CTX_FUSED_ATTENTION, &v));
        ck_assert_int_eq(v, 1);
        qat_context_free(ctx);
    }
}
END_TEST

START_TEST(auto_picks_highest_score)
{
    qat_context *ctx = NULL;
    QAT_ASSERT_OK(qat_context_create(NULL, &ctx));
    const char *name = qat_context_backend(ctx);
    int n = qat_backend_count();
    /* ref is the fallback: auto only picks it when it is alone. */
    if (n > 1)
        ck_assert_str_ne(name, "ref");
    qat_context_free(ctx);
    QAT_ASSERT_OK(qat_context_create("auto", &ctx));
    ck_assert_str_eq(qat_context_backend(ctx), name);
    qat_context_free(ctx);
}
END_TEST

START_TEST(context_parameters_bounded)
{
    qat_context *ctx = NULL;
    QAT_ASSERT_OK(qat_context_create("ref", &ctx));
    int64_t v = 0, lo = 0, hi = 0;
    QAT_ASSERT_OK(qat_context_get_int(ctx, QAT_CTX_SEED, &v));
    ck_assert_int_eq(v, 42);
    QAT_ASSERT_OK(qat_context_get_int(ctx, QAT_CTX_DETERMINISTIC, &v));
    ck_assert_int_eq(v, 1);
    QAT_ASSERT_OK(qat_context_set_int(ctx, QAT_CTX_THREADS, 1));
    QAT_ASSERT_OK(qat_context_get_int(ctx, QAT_CTX_THREADS, &v));
    ck_assert_int_eq(v, 1);
    QAT_ASSERT_OK(qat_context_set_int(ctx, QAT_CTX_THREADS, 0));
    QAT_ASSERT_OK(qat_context_get_int(ctx, QAT_CTX_THREADS, &v));
    ck_assert_int_ge(v, 1);
    QAT_ASSERT_OK(qat_context_param_bounds(QAT_CTX_THREADS, &lo, &hi));
    QAT_ASSERT_FAILS(qat_context_set_int(ctx, QAT_CTX_THREADS, hi + 1), QAT_ERR_INVALID_ARGUMENT, "outside");
    QAT_ASSERT_FAILS(qat_context_set_int(ctx, QAT_CTX_THREADS, -1), QAT_ERR_INVALID_ARGUMENT, "outside");
    QAT_ASSERT_FAILS(qat_context_set_int(ctx, QAT_CTX_DETERMINISTIC, 2), QAT_ERR_INVALID_ARGUMENT, "outside");
    QAT_ASSERT_FAILS(qat_context_set_int(ctx, (qat_context_param)77, 1), QAT_ERR_INVALID_ARGUMENT, "unknown");
    QAT_ASSERT_FAILS(qat_context_get_int(NULL, QAT_CTX_SEED, &v), QAT_ERR_INVALID_ARGUMENT, "NULL");
    qat_context_free(ctx);
    qat_context_free(NULL);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, version_matches_macros);
    tcase_add_test(tc, status_strings_are_distinct);
    tcase_add_test(tc, last_error_is_per_thread);
    tcase_add_test(tc, backends_listed_and_openable);
    tcase_add_test(tc, backend_list_matches_one_shot_calls);
    tcase_add_test(tc, precision_policy_per_backend);
    tcase_add_test(tc, fused_attention_setting);
    tcase_add_test(tc, auto_picks_highest_score);
    tcase_add_test(tc, context_parameters_bounded);
    suite_add_tcase(s, tc);
    return s;
}
