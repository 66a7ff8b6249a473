/* The cpu backend's kernel slots beyond the GEMM (cpu_float_kernels.c and
 * the files named below). */
#ifndef QAT_CPU_KERNELS_H
#define QAT_CPU_KERNELS_H

#include "backend/backend.h"

qat_status qat_cpu_bias_act_fwd(void *state, float *x, const float *bias, int64_t rows, int64_t cols,
                                qat_activation act, float *y);
qat_status qat_cpu_gelu_bwd(void *state, const float *dy, const float *pre, int64_t n, float *dx);
qat_status qat_cpu_softmax_fwd(void *state, float *scores, const float *key_bias, int64_t batch, int64_t heads,
                               int64_t lq, int64_t lk);
qat_status qat_cpu_layernorm_fwd(void *state, const float *x, const float *w, const float *b, float eps,
                                 int64_t rows, int64_t cols, float *y, float *mean, float *rstd);
qat_status qat_cpu_dropout(void *state, float *x, int64_t n, float p, uint64_t seed);
qat_status qat_cpu_add(void *state, const float *a, const float *b, float *out, int64_t n);
/* cpu_quant_kernels.c */
qat_status qat_cpu_bitnet_weight_fwd(void *state, const float *w, int64_t rows, int64_t cols, int per_row,
                                     float *gamma, float *y);
qat_status qat_cpu_bitnet_act_fwd(void *state, const float *x, int64_t rows, int64_t cols, int bits,
                                  int symmetric, float *y);
qat_status qat_cpu_lsq_fwd(void *state, const qat_lsq_desc *d, const float *x, float *y);
qat_status qat_cpu_lsq_bwd(void *state, const qat_lsq_desc *d, const float *dy, const float *x, float grad_scale,
                           float *dx, float *dstep, float *doffset);
/* cpu_optim_kernels.c */
qat_status qat_cpu_grad_norm(void *state, const qat_segments *seg, const float *grad, float max_norm, float *out);
qat_status qat_cpu_adamw(void *state, const qat_adamw_desc *d, const qat_segments *seg, float *param, float *grad,
                         float *exp_avg, float *exp_avg_sq);
/* cpu_gemm_skinny.c: C = alpha op(A) op(B) + beta C for min(m, n) <=
 * QAT_CPU_SKINNY_GEMM (cpu_backend.c's GEMM takes it there). */
#define QAT_CPU_SKINNY_GEMM 16
void qat_cpu_gemm_skinny(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                         int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc);
/* cpu_backward_kernels.c */
qat_status qat_cpu_layernorm_bwd(void *state, const float *dy, const float *x, const float *w, const float *mean,
                                 const float *rstd, int64_t rows, int64_t cols, float *dx, float *dw, float *db);
qat_status qat_cpu_softmax_bwd(void *state, const float *dp, const float *p, int64_t rows, int64_t cols, float *ds);
qat_status qat_cpu_bias_grad(void *state, const float *dy, int64_t rows, int64_t cols, float *db);

#endif
