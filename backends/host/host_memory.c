#include "host/host_memory.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define HOST_ALIGNMENT 64

qat_status qat_host_alloc(void *state, size_t bytes, void **ptr)
{
    (void)state;
    QAT_CHECK_ARG(ptr != NULL, "alloc: NULL out");
    size_t rounded = (bytes + HOST_ALIGNMENT - 1) / HOST_ALIGNMENT * HOST_ALIGNMENT;
    if (rounded < bytes)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "alloc: %zu bytes overflow", bytes);
    *ptr = aligned_alloc(HOST_ALIGNMENT, rounded ? rounded : HOST_ALIGNMENT);
    if (!*ptr)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "alloc: cannot allocate %zu bytes", bytes);
    memset(*ptr, 0, rounded ? rounded : HOST_ALIGNMENT);
    return QAT_OK;
}

void qat_host_free(void *state, void *ptr)
{
    (void)state;
    free(ptr);
}

qat_status qat_host_copy(void *state, void *dst, const void *src, size_t bytes)
{
    (void)state;
    if (bytes == 0)
        return QAT_OK;
    QAT_CHECK_ARG(dst != NULL && src != NULL, "copy: NULL buffer");
    memmove(dst, src, bytes);
    return QAT_OK;
}

qat_status qat_host_synchronize(void *state)
{
    (void)state;
    return QAT_OK;
}

int qat_host_probe(void)
{
    return 1;
}

qat_status qat_host_state_create(int threads, void **state)
{
    qat_host_state *s = calloc(1, sizeof *s);
    if (!s)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "host backend: out of memory");
    s->threads = threads;
    qat_status st = qat_pool_create(threads, &s->pool);
    if (st != QAT_OK) {
        free(s);
        return st;
    }
    *state = s;
    return QAT_OK;
}

void qat_host_state_destroy(void *state)
{
    qat_host_state *s = state;
    qat_pool_free(s->pool);
    free(s);
}

qat_pool *qat_host_state_pool(void *state)
{
    return ((qat_host_state *)state)->pool;
}

qat_status qat_host_state_set_threads(void *state, int threads)
{
    qat_host_state *s = state;
    QAT_TRY(qat_pool_set_threads(s->pool, threads));
    s->threads = threads;
    return QAT_OK;
}
