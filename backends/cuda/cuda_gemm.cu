// Row-major strided-batched GEMM on cuBLAS (column-major): computing
// C^T = op(B)^T op(A)^T lets the row-major buffers be passed unchanged.
//
// Precision policy (cuda_state::precision, from QAT_CUDA_PRECISION):
//   fp32  cublasSgemmStridedBatched: fp32 in, fp32 math (the default).
//   tf32  cublasGemmStridedBatchedEx, fp32 buffers, CUBLAS_COMPUTE_32F_FAST_TF32.
//   bf16  A and B rounded to bf16 (round to nearest even) into the workspace
//         on the fly, cublasGemmStridedBatchedEx with fp32 C and
//         CUBLAS_COMPUTE_32F accumulation. The model's fp32 buffers (master
//         weights included) are never modified.
#include <climits>
#include <cuda_bf16.h>

#include "cuda_common.cuh"

extern "C" {
#include "backend/gemm_check.h"
}

using namespace qatcuda;

// C_i = beta * C_i over an m x n matrix (k == 0: the product is empty).
// beta == 0 writes zeros, as BLAS does, whatever C held (NaN included).
__global__ void scale_c_kernel(float *c, int64_t m, int64_t n, int64_t ldc, int64_t stride_c, int64_t batch,
                               float beta)
{
    const int64_t per = m * n, total = per * batch;
    QAT_CUDA_LOOP(i, total)
    {
        int64_t b = i / per, r = (i % per) / n, col = i % n;
        float *p = c + b * stride_c + r * ldc + col;
        *p = beta == 0.0f ? 0.0f : beta * *p;
    }
}

__global__ void to_bf16_kernel(const float *x, int64_t n, __nv_bfloat16 *y)
{
    QAT_CUDA_LOOP(i, n)
    y[i] = __float2bfloat16_rn(x[i]);
}

qat_status cuda_round_to_bf16(cuda_state *s, const float *x, int64_t n, void *bf16, const char *what)
{
    to_bf16_kernel<<<grid_for(n), kThreads, 0, s->stream>>>(x, n, static_cast<__nv_bfloat16 *>(bf16));
    return cuda_launched(s, what);
}

// Elements spanned by a stored operand (rows x cols, row stride ld) over the
// batch, padding included: the bf16 copy keeps the same ld and stride.
static int64_t operand_extent(int64_t rows, int64_t cols, int64_t ld, int64_t stride, int64_t batch)
{
    return (batch > 1 ? (batch - 1) * stride : 0) + (rows - 1) * ld + cols;
}

qat_status cuda_gemm(void *state, const qat_gemm_desc *d)
{
    cuda_state *s = to_state(state);
    char why[256];
    if (qat_gemm_desc_problem(d, why, sizeof why))
        return cuda_fail(s, QAT_ERR_INVALID_ARGUMENT, "%s", why);
    if (d->m == 0 || d->n == 0 || d->batch == 0)
        return QAT_OK;
    if (d->m > INT_MAX || d->n > INT_MAX || d->k > INT_MAX || d->lda > INT_MAX || d->ldb > INT_MAX ||
        d->ldc > INT_MAX || d->batch > INT_MAX)
        return cuda_fail(s, QAT_ERR_UNSUPPORTED, "gemm: a size or leading dimension exceeds cuBLAS's int range");
    if (d->k == 0) {
        scale_c_kernel<<<grid_for(d->m * d->n * d->batch), kThreads, 0, s->stream>>>(
            d->c, d->m, d->n, d->ldc, d->batch > 1 ? d->stride_c : 0, d->batch, d->beta);
        return cuda_launched(s, "gemm (k = 0)");
    }
    const cublasOperation_t op_b = d->trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t op_a = d->trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    const int m = (int)d->m, n = (int)d->n, k = (int)d->k, batch = (int)d->batch;
    // Strides of a single matrix are irrelevant; keep them defined.
    const long long sa = d->batch > 1 ? d->stride_a : 0, sb = d->batch > 1 ? d->stride_b : 0,
                    sc = d->batch > 1 ? d->stride_c : 0;

    switch (s->precision) {
    case CUDA_PRECISION_FP32:
        return cublas_check(s,
                            cublasSgemmStridedBatched(s->blas, op_b, op_a, n, m, k, &d->alpha, d->b, (int)d->ldb, sb,
                                                      d->a, (int)d->lda, sa, &d->beta, d->c, (int)d->ldc, sc, batch),
                            "cublasSgemmStridedBatched");
    case CUDA_PRECISION_TF32:
        return cublas_check(s,
                            cublasGemmStridedBatchedEx(s->blas, op_b, op_a, n, m, k, &d->alpha, d->b, CUDA_R_32F,
                                                       (int)d->ldb, sb, d->a, CUDA_R_32F, (int)d->lda, sa, &d->beta,
                                                       d->c, CUDA_R_32F, (int)d->ldc, sc, batch,
                                                       CUBLAS_COMPUTE_32F_FAST_TF32, CUBLAS_GEMM_DEFAULT),
                            "cublasGemmStridedBatchedEx (tf32)");
    case CUDA_PRECISION_BF16: {
        const int64_t a_rows = d->trans_a ? d->k : d->m, a_cols = d->trans_a ? d->m : d->k;
        const int64_t b_rows = d->trans_b ? d->n : d->k, b_cols = d->trans_b ? d->k : d->n;
        const int64_t na = operand_extent(a_rows, a_cols, d->lda, sa, d->batch);
        const int64_t nb = operand_extent(b_rows, b_cols, d->ldb, sb, d->batch);
        const int64_t na_padded = (na + 127) / 128 * 128; // keeps B 256-byte aligned
        void *ws = nullptr;
        qat_status st = cuda_workspace(s, (size_t)(na_padded + nb) * sizeof(__nv_bfloat16), &ws);
        if (st != QAT_OK)
            return st;
        __nv_bfloat16 *a16 = static_cast<__nv_bfloat16 *>(ws), *b16 = a16 + na_padded;
        if ((st = cuda_round_to_bf16(s, d->a, na, a16, "gemm (bf16 conversion of A)")) != QAT_OK ||
            (st = cuda_round_to_bf16(s, d->b, nb, b16, "gemm (bf16 conversion of B)")) != QAT_OK)
            return st;
        return cublas_check(s,
                            cublasGemmStridedBatchedEx(s->blas, op_b, op_a, n, m, k, &d->alpha, b16, CUDA_R_16BF,
                                                       (int)d->ldb, sb, a16, CUDA_R_16BF, (int)d->lda, sa, &d->beta,
                                                       d->c, CUDA_R_32F, (int)d->ldc, sc, batch, CUBLAS_COMPUTE_32F,
                                                       CUBLAS_GEMM_DEFAULT),
                            "cublasGemmStridedBatchedEx (bf16)");
    }
    }
    return cuda_fail(s, QAT_ERR_INTERNAL, "gemm: unknown precision %d", (int)s->precision);
}
