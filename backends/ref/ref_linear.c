/* The fused linear slots on ref: the oracle, gemm and the scalar
 * epilogues (lib/math's GELU and its gradient) composed. */
#include "host/host_linear.h"
#include "ref/ref_kernels.h"

qat_status qat_ref_linear_fwd(void *st, const qat_linear_desc *d)
{
    return qat_host_linear_fwd(&qat_backend_ref_ops, st, d);
}

qat_status qat_ref_gelu_bias_bwd(void *st, const float *dy, const float *pre, int64_t rows, int64_t cols, float *dx,
                                 float *db)
{
    return qat_host_gelu_bias_bwd(&qat_backend_ref_ops, st, dy, pre, rows, cols, dx, db);
}
