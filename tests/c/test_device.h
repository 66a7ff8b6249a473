/* Backend buffers for the suites that call a backend's kernels directly
 * (ctx->backend.ops): host floats uploaded into a new buffer. Include after
 * test_main.h (its QAT_ASSERT_OK) and core/context.h. */
#ifndef QAT_TEST_DEVICE_H
#define QAT_TEST_DEVICE_H

#include <stddef.h>

static inline void *test_to_device(qat_context *ctx, const float *host, size_t count)
{
    void *dev = NULL;
    QAT_ASSERT_OK(ctx->backend.ops->alloc(ctx->backend_state, count * sizeof(float), &dev));
    QAT_ASSERT_OK(ctx->backend.ops->upload(ctx->backend_state, dev, host, count * sizeof(float)));
    return dev;
}

#endif
