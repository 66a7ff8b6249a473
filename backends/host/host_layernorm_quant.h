/* The LayerNorm + BitNet activation slot of the host backends (ref, cpu),
 * composed of their own layernorm_fwd and bitnet_act_fwd: on host memory
 * the fused kernel would save no pass that the cache does not already
 * save, and composing keeps the bits of the unfused calls (kernels.h's
 * contract), so training results are unchanged by calling the slot.
 * `ops` is the calling backend's table (both slots set). */
#ifndef QAT_HOST_LAYERNORM_QUANT_H
#define QAT_HOST_LAYERNORM_QUANT_H

#include "backend/backend.h"

qat_status qat_host_layernorm_bitnet_act_fwd(const struct qat_backend_ops *ops, void *state, const float *x,
                                             const float *w, const float *b, float eps, int64_t rows, int64_t cols,
                                             int bits, int symmetric, float *y, float *yq, float *mean, float *rstd);

#endif
