/* One query row of the ref attention, shared by the inference kernel
 * (ref_attention.c) and the fused training one (ref_attention_train.c),
 * so that the training forward's probabilities, and the backward's
 * recomputed ones, are attention_fwd's bit for bit. */
#ifndef QAT_REF_ATTENTION_H
#define QAT_REF_ATTENTION_H

#include "backend/backend.h"

static inline const float *qat_ref_attention_q(const qat_attention_desc *a, int64_t b, int64_t h, int64_t i)
{
    return a->q + (b * a->lq + i) * a->ldq + h * a->head_dim;
}

static inline const float *qat_ref_attention_k(const qat_attention_desc *a, int64_t b, int64_t h, int64_t j)
{
    return a->k + (b * a->lk + j) * a->ldk + h * a->head_dim;
}

static inline const float *qat_ref_attention_v(const qat_attention_desc *a, int64_t b, int64_t h, int64_t j)
{
    return a->v + (b * a->lk + j) * a->ldv + h * a->head_dim;
}

/* sum_c x[c] y[c], by fmaf over c ascending (the order kernels.h fixes). */
float qat_ref_attention_dot(const float *x, const float *y, int64_t n);

/* p[0, lk) = the probabilities of query row i of (sequence b, head h):
 * the scaled scores, then softmax_fwd's row with the key bias. */
void qat_ref_attention_probs(const qat_attention_desc *a, int64_t b, int64_t h, int64_t i, float *p);

/* The context row of query i of (b, h): out = sum_j p[j] v[j], over the
 * keys ascending, by fmaf. */
void qat_ref_attention_context(const qat_attention_desc *a, int64_t b, int64_t h, int64_t i, const float *p);

#endif
