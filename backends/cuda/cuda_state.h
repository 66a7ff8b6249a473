// State of one CUDA backend instance (one device, one stream, one cuBLAS
// handle, one growable device workspace). Nothing here is global: each
// qat_context owns its state, and every kernel runs on the state's stream.
#ifndef QAT_CUDA_STATE_H
#define QAT_CUDA_STATE_H

#include <cublas_v2.h>
#include <cuda_runtime.h>

extern "C" {
#include "backend/backend.h"
}

// GEMM precision policy (QAT_CUDA_PRECISION at create(); see docs/cuda.md).
enum cuda_precision {
    CUDA_PRECISION_FP32 = 0, // cublasSgemm: fp32 inputs, fp32 math (default)
    CUDA_PRECISION_TF32 = 1, // fp32 inputs, TF32 tensor cores, fp32 accumulation
    CUDA_PRECISION_BF16 = 2  // operands rounded to bf16 on the fly, fp32 accumulation
};

struct cuda_state {
    int device;
    int sm_count;
    cuda_precision precision;
    cudaStream_t stream;
    cublasHandle_t blas;
    // Scratch memory for reductions, sorts and bf16 operands: only ever
    // used by work queued on `stream`, so one buffer suffices.
    void *workspace;
    size_t workspace_bytes;
    char error[512];
};

// Records a message in the state (or the thread's creation error when state
// is NULL) and returns status: modules cannot use the core's qat_fail().
qat_status cuda_fail(cuda_state *s, qat_status status, const char *fmt, ...);
qat_status cuda_check(cuda_state *s, cudaError_t err, const char *what);
qat_status cublas_check(cuda_state *s, cublasStatus_t err, const char *what);
// Checks the last kernel launch (cudaGetLastError) of `what`.
qat_status cuda_launched(cuda_state *s, const char *what);
// Device scratch of at least `bytes`, valid until the next call on this
// state (grows; never shrinks until destroy).
qat_status cuda_workspace(cuda_state *s, size_t bytes, void **ptr);

qat_status cuda_gemm(void *state, const qat_gemm_desc *desc);

// Kernel slots (cuda_elementwise.cu, cuda_rows.cu, cuda_loss.cu, cuda_quant.cu).
qat_status cuda_fill(void *st, float *x, int64_t n, float value);
qat_status cuda_add(void *st, const float *a, const float *b, float *out, int64_t n);
qat_status cuda_accumulate(void *st, const float *x, float *y, int64_t n);
qat_status cuda_bias_act_fwd(void *st, float *x, const float *bias, int64_t rows, int64_t cols,
                             qat_activation act, float *y);
qat_status cuda_gelu_bwd(void *st, const float *dy, const float *pre, int64_t n, float *dx);
qat_status cuda_tanh_bwd(void *st, const float *dy, const float *y, int64_t n, float *dx);
qat_status cuda_bias_grad(void *st, const float *dy, int64_t rows, int64_t cols, float *db);
qat_status cuda_dropout(void *st, float *x, int64_t n, float p, uint64_t seed);
qat_status cuda_layernorm_fwd(void *st, const float *x, const float *w, const float *b, float eps,
                              int64_t rows, int64_t cols, float *y, float *mean, float *rstd);
qat_status cuda_layernorm_bwd(void *st, const float *dy, const float *x, const float *w,
                              const float *mean, const float *rstd, int64_t rows, int64_t cols,
                              float *dx, float *dw, float *db);
qat_status cuda_softmax_fwd(void *st, float *scores, const float *key_bias, int64_t batch,
                            int64_t heads, int64_t lq, int64_t lk);
qat_status cuda_softmax_bwd(void *st, const float *dp, const float *p, int64_t rows, int64_t cols,
                            float *ds);
qat_status cuda_embedding_fwd(void *st, const float *table, const int32_t *ids, int64_t n,
                              int64_t dim, float *out, int accumulate);
qat_status cuda_embedding_bwd(void *st, const float *dy, const int32_t *ids, int64_t n, int64_t dim,
                              int64_t vocab, float *dtable);
qat_status cuda_zero_rows_where(void *st, float *x, const int32_t *ids, int64_t n, int64_t dim,
                                int32_t id);
qat_status cuda_cross_entropy(void *st, const float *logits, const int32_t *labels, int64_t rows,
                              int64_t classes, float scale, float *loss, float *dlogits);
qat_status cuda_abs_mean(void *st, const float *x, int64_t rows, int64_t cols, float *out);
qat_status cuda_lsq_fwd(void *st, const qat_lsq_desc *d, const float *x, float *y);
qat_status cuda_lsq_bwd(void *st, const qat_lsq_desc *d, const float *dy, const float *x, float grad_scale,
                        float *dx, float *dstep, float *doffset);
qat_status cuda_bitnet_weight_fwd(void *st, const float *w, int64_t rows, int64_t cols, int per_row,
                                  float *gamma, float *y);
qat_status cuda_bitnet_act_fwd(void *st, const float *x, int64_t rows, int64_t cols, int bits,
                               int symmetric, float *y);

#endif
