#include "host/host_layernorm_quant.h"

#include "core/error.h"

qat_status qat_host_layernorm_bitnet_act_fwd(const struct qat_backend_ops *ops, void *state, const float *x,
                                             const float *w, const float *b, float eps, int64_t rows, int64_t cols,
                                             int bits, int symmetric, float *y, float *yq, float *mean, float *rstd)
{
    QAT_CHECK_ARG(rows <= 0 || cols <= 0 || (yq != x && yq != y), "layernorm_bitnet_act_fwd: yq may not alias x or y");
    QAT_TRY(ops->layernorm_fwd(state, x, w, b, eps, rows, cols, y, mean, rstd));
    return ops->bitnet_act_fwd(state, y, rows, cols, bits, symmetric, yq);
}
