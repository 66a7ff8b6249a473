/* A context on a backend with a thread count, for the kernel suites that
 * run each backend at 1 and 2 threads. Include after test_main.h (its
 * QAT_ASSERT_OK). */
#ifndef QAT_TEST_CONTEXT_H
#define QAT_TEST_CONTEXT_H

#include "qat/qat.h"

static inline qat_context *test_context(const char *backend, int threads)
{
    qat_context *ctx;
    QAT_ASSERT_OK(qat_context_create(backend, &ctx));
    QAT_ASSERT_OK(qat_context_set_int(ctx, QAT_CTX_THREADS, threads));
    return ctx;
}

#endif
