#include "host/host_memory.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define HOST_ALIGNMENT 64

/* Zeroed, 64-byte aligned memory from calloc: a large calloc is fresh
 * mmap'd pages that the C library need not clear, so a buffer nobody
 * touches (the gradients of a model only run forward, or exported) costs
 * no page faults; aligned_alloc + memset touched every page at once. The
 * pointer calloc gave sits just below the aligned one, for qat_host_free. */
qat_status qat_host_alloc(void *state, size_t bytes, void **ptr)
{
    (void)state;
    QAT_CHECK_ARG(ptr != NULL, "alloc: NULL out");
    const size_t slack = HOST_ALIGNMENT + sizeof(void *);
    size_t rounded = (bytes + HOST_ALIGNMENT - 1) / HOST_ALIGNMENT * HOST_ALIGNMENT;
    if (rounded < bytes || rounded + slack < rounded)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "alloc: %zu bytes overflow", bytes);
    void *raw = calloc(1, rounded + slack);
    if (!raw)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "alloc: cannot allocate %zu bytes", bytes);
    uintptr_t aligned = ((uintptr_t)raw + sizeof(void *) + HOST_ALIGNMENT - 1) & ~(uintptr_t)(HOST_ALIGNMENT - 1);
    ((void **)aligned)[-1] = raw;
    *ptr = (void *)aligned;
    return QAT_OK;
}

void qat_host_free(void *state, void *ptr)
{
    (void)state;
    if (ptr)
        free(((void **)ptr)[-1]);
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
