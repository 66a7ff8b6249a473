/*
 * The private backend interface. Never installed: backends are built with
 * the library (ref, cpu) or as modules of the same source tree (cuda), and
 * a module is accepted only when its QAT_BACKEND_ABI_VERSION matches ours.
 *
 * A backend implements the operations the model graph needs on its own
 * memory. Slots may be NULL where a backend has nothing better than the
 * default; a host-memory backend (caps & QAT_BACKEND_CAP_HOST_MEMORY) then
 * falls back to the ref implementation of that slot (see backend_dispatch).
 *
 * Errors: every op returns a qat_status. Built-in backends set the
 * thread's message with qat_fail(); modules cannot (they do not link the
 * core), so they return a status and describe it through last_error().
 */
#ifndef QAT_LIB_BACKEND_H
#define QAT_LIB_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "qat/core.h"

/* Bump whenever struct qat_backend_ops or a descriptor below changes. */
#define QAT_BACKEND_ABI_VERSION 4u

/* Symbol a backend module exports (C linkage):
 *   qat_status qat_backend_module_get(uint32_t abi_version,
 *                                     const struct qat_backend_ops **ops); */
#define QAT_BACKEND_MODULE_ENTRY "qat_backend_module_get"

enum {
    QAT_BACKEND_CAP_HOST_MEMORY = 1u << 0, /* buffers are plain host pointers */
    QAT_BACKEND_CAP_GEMM_BATCHED = 1u << 1
};

/* Row-major, strided-batched single-precision GEMM:
 *   C_i = alpha * op(A_i) * op(B_i) + beta * C_i,  i < batch,
 *   op(A_i) is m x k, op(B_i) is k x n, C_i is m x n,
 *   X_i = X + i * stride_x; ld* are row strides of the stored matrices. */
typedef enum qat_activation {
    QAT_ACTIVATION_NONE = 0,
    QAT_ACTIVATION_GELU = 1,
    QAT_ACTIVATION_TANH = 2  /* sequence-classification heads (pooler) */
} qat_activation;

/* The dropout mask, identical on every backend: a hash of (seed, index). */
static inline int qat_dropout_keep(uint64_t seed, uint64_t index, float p)
{
    uint64_t z = seed + (index + 1) * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (float)(z >> 40) * (1.0f / 16777216.0f) >= p;
}

/* An LSQ / LSQ+ quantizer over x viewed as [rows, cols] (docs/quantizers.md):
 *   v = (x - beta) / (s + step_eps)
 *   y = round_half_even(clamp(v, qn, qp)) * s + beta
 * s = step[0], or step[r] on row r when per_row; beta = offset[0], or no
 * offset at all (not even + 0) when offset is NULL. */
typedef struct qat_lsq_desc {
    const float *step;     /* backend memory: 1 or rows floats */
    const float *offset;   /* backend memory: 1 float (LSQ+), or NULL */
    int64_t rows, cols;
    int per_row;
    float qn, qp;          /* integer range: signed LSQ, or [0, 2^b - 1] for LSQ+ */
    float step_eps;        /* 0; the seed code's 1e-8 */
} qat_lsq_desc;

typedef struct qat_gemm_desc {
    int trans_a, trans_b;
    int64_t m, n, k;
    float alpha, beta;
    const float *a;
    int64_t lda, stride_a;
    const float *b;
    int64_t ldb, stride_b;
    float *c;
    int64_t ldc, stride_c;
    int64_t batch;
} qat_gemm_desc;

struct qat_backend_ops {
    uint32_t abi_version;
    const char *name;
    uint32_t caps;
    int score;                           /* higher wins for backend "auto" */

    /* Number of usable devices (CPU backends: 1). 0 = not usable here. */
    int (*probe)(void);
    qat_status (*create)(int threads, void **state);
    void (*destroy)(void *state);
    qat_status (*set_threads)(void *state, int threads);
    /* Message of the state's last failure (modules); may be NULL. */
    const char *(*last_error)(void *state);

    /* Buffers, in the backend's memory. alloc returns zeroed memory. */
    qat_status (*alloc)(void *state, size_t bytes, void **ptr);
    void (*free)(void *state, void *ptr);
    qat_status (*upload)(void *state, void *dst, const void *src, size_t bytes);
    qat_status (*download)(void *state, void *dst, const void *src, size_t bytes);
    qat_status (*synchronize)(void *state);

    qat_status (*gemm)(void *state, const qat_gemm_desc *desc);

    /* ---- Kernels of the encoder. Row-major; sizes in elements. Gradients
     * of parameters (dw, db, dstep, dtable) ACCUMULATE (+=) so a backward
     * pass adds into zeroed buffers; gradients of activations are WRITTEN.
     * Every slot below may be NULL on a host-memory backend (ref is used). */

    qat_status (*fill)(void *state, float *x, int64_t n, float value);
    /* out = a + b (out may alias a or b). */
    qat_status (*add)(void *state, const float *a, const float *b, float *out, int64_t n);
    /* y += x */
    qat_status (*accumulate)(void *state, const float *x, float *y, int64_t n);
    /* x[r,:] += bias; then y = act(x) when act is GELU (exact erf GELU)
     * or TANH; bias may be NULL. */
    qat_status (*bias_act_fwd)(void *state, float *x, const float *bias, int64_t rows, int64_t cols,
                               qat_activation act, float *y);
    /* dx = dy * GELU'(pre) (dx may alias dy). */
    qat_status (*gelu_bwd)(void *state, const float *dy, const float *pre, int64_t n, float *dx);
    /* dx = dy * (1 - y^2), y = tanh output (dx may alias dy): the pooler
     * of sequence-classification heads. */
    qat_status (*tanh_bwd)(void *state, const float *dy, const float *y, int64_t n, float *dx);
    /* db[c] += sum_r dy[r,c] */
    qat_status (*bias_grad)(void *state, const float *dy, int64_t rows, int64_t cols, float *db);
    /* y = (x - mean) * rstd * w + b per row (biased variance, eps inside
     * the sqrt, as torch); stores mean[r] and rstd[r] for the backward. */
    qat_status (*layernorm_fwd)(void *state, const float *x, const float *w, const float *b, float eps,
                                int64_t rows, int64_t cols, float *y, float *mean, float *rstd);
    /* dx written; dw, db accumulate. */
    qat_status (*layernorm_bwd)(void *state, const float *dy, const float *x, const float *w,
                                const float *mean, const float *rstd, int64_t rows, int64_t cols,
                                float *dx, float *dw, float *db);
    /* In place over scores [batch, heads, lq, lk]:
     * scores[b,h,i,:] = softmax(scores[b,h,i,:] + key_bias[b,:]). */
    qat_status (*softmax_fwd)(void *state, float *scores, const float *key_bias, int64_t batch,
                              int64_t heads, int64_t lq, int64_t lk);
    /* ds = p * (dp - sum(dp * p)) per row (ds may alias dp). */
    qat_status (*softmax_bwd)(void *state, const float *dp, const float *p, int64_t rows, int64_t cols,
                              float *ds);
    /* out[i,:] (+)= table[ids[i],:]; ids are validated by the caller. */
    qat_status (*embedding_fwd)(void *state, const float *table, const int32_t *ids, int64_t n,
                                int64_t dim, float *out, int accumulate);
    /* dtable[ids[i],:] += dy[i,:], deterministic in any thread count. */
    qat_status (*embedding_bwd)(void *state, const float *dy, const int32_t *ids, int64_t n,
                                int64_t dim, int64_t vocab, float *dtable);
    /* x[i,:] = 0 where ids[i] == id (torch's padding_idx gradient rule). */
    qat_status (*zero_rows_where)(void *state, float *x, const int32_t *ids, int64_t n, int64_t dim,
                                  int32_t id);
    /* Mean cross-entropy over rows whose label != -100, scaled by `scale`
     * (1 / number of such rows): *loss (backend memory) = scale * sum of
     * -log softmax(logits)[label]; dlogits (optional) = scale *
     * (softmax - onehot) on those rows, 0 on ignored rows. */
    qat_status (*cross_entropy)(void *state, const float *logits, const int32_t *labels, int64_t rows,
                                int64_t classes, float scale, float *loss, float *dlogits);
    /* In place inverted dropout with a counter-based mask: element i is kept
     * iff qat_dropout_keep(seed, i, p); kept values scale by 1/(1-p). The
     * same call on the gradient is the backward. */
    qat_status (*dropout)(void *state, float *x, int64_t n, float p, uint64_t seed);

    /* out[r] = mean_c |x[r,c]| for r < rows (rows = 1: whole tensor). */
    qat_status (*abs_mean)(void *state, const float *x, int64_t rows, int64_t cols, float *out);
    /* LSQ / LSQ+ fake-quant as qat_lsq_desc says (y may alias x). */
    qat_status (*lsq_fwd)(void *state, const qat_lsq_desc *desc, const float *x, float *y);
    /* dx = dy where qn <= v <= qp else 0 (dx may alias dy);
     * dstep[0 or r] += grad_scale * sum(dy * (round(v) - v | qn | qp));
     * with an offset and doffset: doffset[0] += grad_scale * sum(dy where
     * v is outside [qn, qp]). */
    qat_status (*lsq_bwd)(void *state, const qat_lsq_desc *desc, const float *dy, const float *x,
                          float grad_scale, float *dx, float *dstep, float *doffset);
    /* BitNet b1.58 weights: gamma = max(mean|w|, 1e-5) per tensor or per
     * row; y = clamp(round(w / gamma), -1, 1) * gamma. gamma (rows or 1
     * floats) is written for export. */
    qat_status (*bitnet_weight_fwd)(void *state, const float *w, int64_t rows, int64_t cols, int per_row,
                                    float *gamma, float *y);
    /* BitNet activations, per row (token): m = max(max|x|, 1e-5),
     * y = clamp(round(x * Qp / m), lo, Qp) * m / Qp with lo = Qn, or -Qp
     * when symmetric. */
    qat_status (*bitnet_act_fwd)(void *state, const float *x, int64_t rows, int64_t cols, int bits,
                                 int symmetric, float *y);
};

/* Built-in backends. */
extern const struct qat_backend_ops qat_backend_ref_ops;
#ifdef QAT_HAVE_ONEDNN
extern const struct qat_backend_ops qat_backend_cpu_ops;
#endif

/* Validates a GEMM descriptor (sizes, leading dimensions, pointers) and
 * sets the error message; built-in backends call it first. */
qat_status qat_gemm_desc_validate(const qat_gemm_desc *desc);

#endif
