/* The ref backend's encoder kernels, also the fallback of every other
 * host-memory backend (whose state must start like qat_ref_state). */
#ifndef QAT_REF_KERNELS_H
#define QAT_REF_KERNELS_H

#include "backend/backend.h"

/* Round half to even of a float already clamped to |v| < 2^22 (every
 * quantizer clamps to at most [-128, 127] first): adding and subtracting
 * 1.5 * 2^23 rounds in the default mode exactly as nearbyintf does, but
 * inline and vectorisable (x86-64's baseline has no roundps). */
static inline float qat_round_even_small(float v)
{
    const float magic = 12582912.0f;
    return (v + magic) - magic;
}

qat_status qat_ref_fill(void *st, float *x, int64_t n, float value);
qat_status qat_ref_add(void *st, const float *a, const float *b, float *out, int64_t n);
qat_status qat_ref_accumulate(void *st, const float *x, float *y, int64_t n);
qat_status qat_ref_bias_act_fwd(void *st, float *x, const float *bias, int64_t rows, int64_t cols,
                                qat_activation act, float *y);
qat_status qat_ref_gelu_bwd(void *st, const float *dy, const float *pre, int64_t n, float *dx);
qat_status qat_ref_tanh_bwd(void *st, const float *dy, const float *y, int64_t n, float *dx);
qat_status qat_ref_bias_grad(void *st, const float *dy, int64_t rows, int64_t cols, float *db);
qat_status qat_ref_layernorm_fwd(void *st, const float *x, const float *w, const float *b, float eps,
                                 int64_t rows, int64_t cols, float *y, float *mean, float *rstd);
qat_status qat_ref_layernorm_bwd(void *st, const float *dy, const float *x, const float *w,
                                 const float *mean, const float *rstd, int64_t rows, int64_t cols,
                                 float *dx, float *dw, float *db);
qat_status qat_ref_softmax_fwd(void *st, float *scores, const float *key_bias, int64_t batch,
                               int64_t heads, int64_t lq, int64_t lk);
qat_status qat_ref_softmax_bwd(void *st, const float *dp, const float *p, int64_t rows, int64_t cols,
                               float *ds);
qat_status qat_ref_embedding_fwd(void *st, const float *table, const int32_t *ids, int64_t n,
                                 int64_t dim, float *out, int accumulate);
qat_status qat_ref_embedding_bwd(void *st, const float *dy, const int32_t *ids, int64_t n, int64_t dim,
                                 int64_t vocab, float *dtable);
qat_status qat_ref_zero_rows_where(void *st, float *x, const int32_t *ids, int64_t n, int64_t dim,
                                   int32_t id);
qat_status qat_ref_cross_entropy(void *st, const float *logits, const int32_t *labels, int64_t rows,
                                 int64_t classes, float scale, float *loss, float *dlogits);
qat_status qat_ref_dropout(void *st, float *x, int64_t n, float p, uint64_t seed);
qat_status qat_ref_abs_mean(void *st, const float *x, int64_t rows, int64_t cols, float *out);
qat_status qat_ref_lsq_fwd(void *st, const qat_lsq_desc *d, const float *x, float *y);
qat_status qat_ref_lsq_bwd(void *st, const qat_lsq_desc *d, const float *dy, const float *x, float grad_scale,
                           float *dx, float *dstep, float *doffset);
qat_status qat_ref_bitnet_weight_fwd(void *st, const float *w, int64_t rows, int64_t cols, int per_row,
                                     float *gamma, float *y);
qat_status qat_ref_bitnet_act_fwd(void *st, const float *x, int64_t rows, int64_t cols, int bits,
                                  int symmetric, float *y);

#endif
