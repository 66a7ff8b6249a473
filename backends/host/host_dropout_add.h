/* The dropout + residual slot of the host backends (ref, cpu), composed of
 * copy, dropout and add (the calling backend's own, ref's where it has
 * none): the bits of the unfused calls, so training results are unchanged
 * by calling the slot (kernels.h). */
#ifndef QAT_HOST_DROPOUT_ADD_H
#define QAT_HOST_DROPOUT_ADD_H

#include "backend/backend.h"

qat_status qat_host_dropout_add(const struct qat_backend_ops *ops, void *state, const float *x,
                                const float *residual, int64_t n, float p, uint64_t seed, float *y);

#endif
