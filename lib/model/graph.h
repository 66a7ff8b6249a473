/* Shared helpers of the forward and backward passes. */
#ifndef QAT_LIB_MODEL_GRAPH_H
#define QAT_LIB_MODEL_GRAPH_H

#include "backend/dispatch.h"
#include "model/model.h"

/* Row-major C[m,n] = alpha op(A) op(B) + beta C. */
static inline qat_status graph_gemm(qat_context *ctx, int ta, int tb, int64_t m, int64_t n, int64_t k,
                                    float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                                    float beta, float *c, int64_t ldc)
{
    qat_gemm_desc d = {ta, tb, m, n, k, alpha, beta, a, lda, 0, b, ldb, 0, c, ldc, 0, 1};
    return QAT_KERNEL(ctx, gemm, &d);
}

static inline qat_status graph_gemm_batched(qat_context *ctx, int ta, int tb, int64_t m, int64_t n, int64_t k,
                                            float alpha, const float *a, int64_t lda, int64_t sa,
                                            const float *b, int64_t ldb, int64_t sb, float beta, float *c,
                                            int64_t ldc, int64_t sc, int64_t batch)
{
    qat_gemm_desc d = {ta, tb, m, n, k, alpha, beta, a, lda, sa, b, ldb, sb, c, ldc, sc, batch};
    return QAT_KERNEL(ctx, gemm, &d);
}

/* The weight a linear layer multiplies with in the forward (its quantized
 * copy when W is quantized). */
static inline float *graph_linear_weight(const qat_model *m, const qat_linear *l)
{
    return l->wq.cfg.algo == QAT_ALGO_NONE ? model_w(m, l->w) : m->wq_buf + l->wq_off;
}

#endif
