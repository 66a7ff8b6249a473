/* Buffer slots shared by the backends whose memory is ordinary host memory
 * (ref, cpu): 64-byte aligned, zeroed allocations and memcpy transfers. */
#ifndef QAT_HOST_MEMORY_H
#define QAT_HOST_MEMORY_H

#include <stddef.h>

#include "core/thread_pool.h"
#include "qat/core.h"

/* The state of every host-memory backend (ref, cpu): the dispatcher runs
 * the ref kernels on it for the slots a host backend leaves NULL, so it is
 * one type: the backend instance's threads. */
typedef struct qat_host_state {
    int threads;
    qat_pool *pool;
} qat_host_state;

/* create / destroy / set_threads of a host backend whose state is exactly
 * a qat_host_state. */
qat_status qat_host_state_create(int threads, void **state);
void qat_host_state_destroy(void *state);
qat_status qat_host_state_set_threads(void *state, int threads);

qat_status qat_host_alloc(void *state, size_t bytes, void **ptr);
void qat_host_free(void *state, void *ptr);
qat_status qat_host_copy(void *state, void *dst, const void *src, size_t bytes);
qat_status qat_host_synchronize(void *state);
int qat_host_probe(void);

#endif
