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

/* One GEMM per (sequence, head) of attention, C[b,h] = alpha op(A[b,h]) op(B[b,h]) + beta C[b,h], where each
 * operand's [b,h] block sits at b * seq_stride + h * head_stride ([B, S, H] activations: S * H and dh; [B, NH, S, S]
 * scores: NH * S * S and S * S). The two strides do not make one stride over B * NH, so the blocks go out as
 * min(B, NH) strided-batched calls (per head over the sequences, or per sequence over the heads): 12 calls instead
 * of 96 at batch 96 with 12 heads. Each block's product is the same GEMM as before, whichever way it is batched. */
typedef struct {
    const float *p;
    int64_t ld, seq_stride, head_stride;
} graph_heads_operand;

static inline qat_status graph_gemm_heads(qat_context *ctx, int ta, int tb, int64_t m, int64_t n, int64_t k,
                                          float alpha, graph_heads_operand a, graph_heads_operand b, float beta,
                                          float *c, int64_t ldc, int64_t c_seq_stride, int64_t c_head_stride,
                                          int64_t seqs, int64_t heads)
{
    const int by_head = seqs >= heads;
    const int64_t calls = by_head ? heads : seqs, batch = by_head ? seqs : heads;
    const int64_t sa = by_head ? a.seq_stride : a.head_stride, sb = by_head ? b.seq_stride : b.head_stride,
                  sc = by_head ? c_seq_stride : c_head_stride;
    for (int64_t i = 0; i < calls; i++) {
        const int64_t oa = i * (by_head ? a.head_stride : a.seq_stride),
                      ob = i * (by_head ? b.head_stride : b.seq_stride),
                      oc = i * (by_head ? c_head_stride : c_seq_stride);
        QAT_TRY(graph_gemm_batched(ctx, ta, tb, m, n, k, alpha, a.p + oa, a.ld, sa, b.p + ob, b.ld, sb, beta, c + oc,
                                   ldc, sc, batch));
    }
    return QAT_OK;
}

/* The weight a linear layer multiplies with in the forward (its quantized
 * copy when W is quantized). */
static inline float *graph_linear_weight(const qat_model *m, const qat_linear *l)
{
    return l->wq.cfg.algo == QAT_ALGO_NONE ? model_w(m, l->w) : m->wq_buf + l->wq_off;
}

#endif
