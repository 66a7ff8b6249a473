// Row-major strided-batched SGEMM on cuBLAS (column-major): computing
// C^T = op(B)^T op(A)^T lets the row-major buffers be passed unchanged.
#include "cuda_state.h"

extern "C" {
#include "backend/gemm_check.h"
}

qat_status cuda_gemm(void *state, const qat_gemm_desc *d)
{
    cuda_state *s = static_cast<cuda_state *>(state);
    char why[256];
    if (qat_gemm_desc_problem(d, why, sizeof why))
        return cuda_fail(s, QAT_ERR_INVALID_ARGUMENT, "%s", why);
    if (d->m == 0 || d->n == 0 || d->batch == 0)
        return QAT_OK;
    // TF32/BF16 policies arrive with the training kernels; FP32 is exact here.
    cublasStatus_t st = cublasSgemmStridedBatched(
        s->blas, d->trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, d->trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
        (int)d->n, (int)d->m, (int)d->k, &d->alpha, d->b, (int)d->ldb, d->stride_b, d->a, (int)d->lda,
        d->stride_a, &d->beta, d->c, (int)d->ldc, d->stride_c, (int)d->batch);
    return cublas_check(s, st, "cublasSgemmStridedBatched");
}
