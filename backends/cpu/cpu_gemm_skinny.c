/* The cpu backend's GEMM where one side of C is at most
 * QAT_CPU_SKINNY_GEMM wide: the classifier heads (a few labels), and tiny
 * models. oneDNN 2.6's sgemm allocates a packing buffer on every call on
 * AVX2-only CPUs (measured: one malloc per dnnl_sgemm, any shape), which
 * would make every packed forward allocate; shapes this thin gain nothing
 * from packing. Each output is a dot product in a fixed order (8 partial
 * sums over k, added in order), so the result depends on no thread count.
 * With B not transposed its vector twin (cpu_float_simd.h,
 * qat_cpu_gemm_skinny_nb) computes the same sums for W columns at once. */
#include "cpu/cpu_kernels.h"

void qat_cpu_gemm_skinny(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                         int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
    /* Element strides along k of a row of op(A) and a column of op(B). */
    const int64_t a_k = trans_a ? lda : 1, a_i = trans_a ? 1 : lda;
    const int64_t b_k = trans_b ? 1 : ldb, b_j = trans_b ? ldb : 1;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            const float *x = a + i * a_i, *y = b + j * b_j;
            float part[8] = {0};
            int64_t p = 0;
            for (; p + 8 <= k; p += 8)
                for (int l = 0; l < 8; l++)
                    part[l] += x[(p + l) * a_k] * y[(p + l) * b_k];
            for (int l = 0; p < k; p++, l++)
                part[l] += x[p * a_k] * y[p * b_k];
            float dot = 0.0f;
            for (int l = 0; l < 8; l++)
                dot += part[l];
            float *out = c + i * ldc + j;
            /* beta = 0 does not read C, as BLAS: it may hold NaN. */
            *out = beta == 0.0f ? alpha * dot : alpha * dot + beta * *out;
        }
}
