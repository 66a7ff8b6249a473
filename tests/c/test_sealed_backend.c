/* The ref-sealed test backend (backends/sealed) does what the residency
 * tests rely on: its buffers fault when the host touches them outside the
 * backend's calls, its transfers refuse a host side that is backend memory
 * and a device side that is not, its kernels compute what ref's do, and it
 * is never listed nor picked by "auto". Check's fork mode is needed for the
 * fault (the test is not in the valgrind suite 'c'). */
#include <signal.h>
#include <string.h>

#include "backend/dispatch.h"
#include "qat/qat.h"
#include "test_main.h"

static qat_context *open_sealed(void)
{
    qat_context *ctx;
    QAT_ASSERT_OK(qat_context_create("ref-sealed", &ctx));
    ck_assert_str_eq(qat_context_backend(ctx), "ref-sealed");
    ck_assert(!(ctx->backend.ops->caps & QAT_BACKEND_CAP_HOST_MEMORY));
    return ctx;
}

START_TEST(host_read_faults)
{
    qat_context *ctx = open_sealed();
    float *x = NULL;
    QAT_ASSERT_OK(ctx->backend.ops->alloc(ctx->backend_state, 64 * sizeof(float), (void **)&x));
    volatile float v = x[3]; /* SIGSEGV: the test passes only if this faults */
    (void)v;
}
END_TEST

START_TEST(host_write_after_kernel_faults)
{
    qat_context *ctx = open_sealed();
    float *x = NULL;
    QAT_ASSERT_OK(ctx->backend.ops->alloc(ctx->backend_state, 64 * sizeof(float), (void **)&x));
    QAT_ASSERT_OK(QAT_KERNEL(ctx, fill, x, 64, 1.0f)); /* sealed again after the call */
    x[0] = 2.0f;
}
END_TEST

START_TEST(transfers_and_kernels)
{
    qat_context *ctx = open_sealed();
    const struct qat_backend_ops *ops = ctx->backend.ops;
    void *st = ctx->backend_state;
    float *a = NULL, *b = NULL;
    QAT_ASSERT_OK(ops->alloc(st, 5000 * sizeof(float), (void **)&a)); /* more than a page */
    QAT_ASSERT_OK(ops->alloc(st, 5000 * sizeof(float), (void **)&b));
    float host[5000], back[5000];
    for (int i = 0; i < 5000; i++)
        host[i] = (float)i * 0.5f;
    QAT_ASSERT_OK(ops->upload(st, a, host, sizeof host));
    QAT_ASSERT_OK(QAT_KERNEL(ctx, fill, b, 5000, 1.0f));
    QAT_ASSERT_OK(QAT_KERNEL(ctx, add, a, b, b, 5000));
    QAT_ASSERT_OK(ops->download(st, back, b, sizeof back));
    for (int i = 0; i < 5000; i++)
        ck_assert(back[i] == host[i] + 1.0f);
    /* alloc returns zeroed memory */
    float *z = NULL, zero[16];
    QAT_ASSERT_OK(ops->alloc(st, sizeof zero, (void **)&z));
    QAT_ASSERT_OK(ops->download(st, zero, z, sizeof zero));
    for (int i = 0; i < 16; i++)
        ck_assert(zero[i] == 0.0f);
    /* a device side outside every buffer, or running past one's end */
    QAT_ASSERT_FAILS(ops->upload(st, host, back, sizeof host), QAT_ERR_INVALID_ARGUMENT, "not inside");
    QAT_ASSERT_FAILS(ops->download(st, back, z, 8192 * sizeof(float)), QAT_ERR_INVALID_ARGUMENT, "not inside");
    /* a host side that is backend memory: the core mixed up its pointers */
    QAT_ASSERT_FAILS(ops->download(st, a, b, 16), QAT_ERR_INVALID_ARGUMENT, "host side");
    ops->free(st, a);
    ops->free(st, b);
    ops->free(st, z);
    qat_context_free(ctx);
}
END_TEST

START_TEST(never_listed_nor_auto)
{
    qat_backend_list *list;
    QAT_ASSERT_OK(qat_backend_list_create(&list));
    for (int i = 0; i < qat_backend_list_count(list); i++)
        ck_assert_str_ne(qat_backend_list_name(list, i), "ref-sealed");
    qat_backend_list_free(list);
    for (int i = 0; i < qat_backend_count(); i++)
        ck_assert_str_ne(qat_backend_name(i), "ref-sealed");
    qat_context *ctx;
    QAT_ASSERT_OK(qat_context_create(NULL, &ctx));
    ck_assert_str_ne(qat_context_backend(ctx), "ref-sealed");
    qat_context_free(ctx);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("sealed_backend");
    TCase *tc = tcase_create("sealed");
    tcase_add_test_raise_signal(tc, host_read_faults, SIGSEGV);
    tcase_add_test_raise_signal(tc, host_write_after_kernel_faults, SIGSEGV);
    tcase_add_test(tc, transfers_and_kernels);
    tcase_add_test(tc, never_listed_nor_auto);
    suite_add_tcase(s, tc);
    return s;
}
