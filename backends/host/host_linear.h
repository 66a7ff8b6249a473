/* The fused linear slots of the host backends (ref, cpu), composed of their
 * own unfused kernels: on host memory the fusion saves no pass worth a
 * second copy of the GEMM and the epilogues, and composing keeps the bits
 * of the unfused path (kernels.h's contract), so the model's training
 * results are unchanged by calling the fused slots. `ops` is the calling
 * backend's table (every slot used here set). */
#ifndef QAT_HOST_LINEAR_H
#define QAT_HOST_LINEAR_H

#include "backend/backend.h"

/* linear_fwd: gemm into pre (GELU) or y, then bias_act_fwd. */
qat_status qat_host_linear_fwd(const struct qat_backend_ops *ops, void *state, const qat_linear_desc *d);

/* gelu_bias_bwd: gelu_bwd into dx, then bias_grad of dx. */
qat_status qat_host_gelu_bias_bwd(const struct qat_backend_ops *ops, void *state, const float *dy,
                                  const float *pre, int64_t rows, int64_t cols, float *dx, float *db);

#endif
