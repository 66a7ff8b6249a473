/* Buffer slots shared by the backends whose memory is ordinary host memory
 * (ref, cpu): 64-byte aligned, zeroed allocations and memcpy transfers. */
#ifndef QAT_HOST_MEMORY_H
#define QAT_HOST_MEMORY_H

#include <stddef.h>

#include "qat/core.h"

qat_status qat_host_alloc(void *state, size_t bytes, void **ptr);
void qat_host_free(void *state, void *ptr);
qat_status qat_host_copy(void *state, void *dst, const void *src, size_t bytes);
qat_status qat_host_synchronize(void *state);
int qat_host_probe(void);

#endif
