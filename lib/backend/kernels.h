/*
 * The kernels a backend implements, each signature declared once.
 *
 * QAT_BACKEND_KERNELS(X) calls X(name, (parameters), (arguments)) for every
 * kernel slot of struct qat_backend_ops, in slot order. Every kernel takes
 * the backend's state (void *) first; QAT_KERNEL_PARAMS adds it. From this
 * one list come the slots of the ops struct (backend.h), the ref and cuda
 * declarations and ops tables, and the module test's check that every slot
 * is filled:
 *
 *   #define DECLARE(name, params, args) qat_status my_##name QAT_KERNEL_PARAMS params;
 *   QAT_BACKEND_KERNELS(DECLARE)
 *   #undef DECLARE
 *
 * The arguments (parameter names alone) let a wrapper forward a call:
 * my_##name QAT_KERNEL_ARGS(state, args).
 *
 * Adding a kernel: append an X(...) line at the end (the list's order is
 * the vtable's layout, so any change needs a QAT_BACKEND_ABI_VERSION bump in
 * backend.h and a new tests/abi/backend_ops.layout; appending keeps
 * additions from different branches easy to merge), define qat_ref_<name> in
 * backends/ref (host-memory backends fall back to it) and cuda_<name> in
 * backends/cuda (the module must fill every slot: a missing one is a
 * link-time error of the module, and test_cuda_module checks it).
 *
 * Conventions. Row-major; sizes in elements; every pointer is backend
 * memory unless it points at a descriptor (gemm, lsq, segments, adamw), which is host memory
 * read during the call. Gradients of parameters (dw, db, dstep, dtable)
 * ACCUMULATE (+=), so a backward pass adds into zeroed buffers; gradients of
 * activations are WRITTEN.
 */
#ifndef QAT_LIB_BACKEND_KERNELS_H
#define QAT_LIB_BACKEND_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "qat/core.h"

/* (params) -> (void *state, params); (args) -> (state, args). */
#define QAT_KERNEL_PARAMS(...) (void *state, __VA_ARGS__)
#define QAT_KERNEL_EXPAND(...) __VA_ARGS__
#define QAT_KERNEL_ARGS(state, args) (state, QAT_KERNEL_EXPAND args)

typedef enum qat_activation {
    QAT_ACTIVATION_NONE = 0,
    QAT_ACTIVATION_GELU = 1,
    QAT_ACTIVATION_TANH = 2  /* sequence-classification heads (pooler) */
} qat_activation;

/* Callable from CUDA kernels too (the cuda backend's dropout and fused
 * attention run this very function on the device). */
#ifdef __CUDACC__
#define QAT_HOST_DEVICE __host__ __device__
#else
#define QAT_HOST_DEVICE
#endif

/* The dropout mask, identical on every backend: a hash of (seed, index). */
static inline QAT_HOST_DEVICE int qat_dropout_keep(uint64_t seed, uint64_t index, float p)
{
    uint64_t z = seed + (index + 1) * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (float)(z >> 40) * (1.0f / 16777216.0f) >= p;
}

/* Row-major, strided-batched single-precision GEMM:
 *   C_i = alpha * op(A_i) * op(B_i) + beta * C_i,  i < batch,
 *   op(A_i) is m x k, op(B_i) is k x n, C_i is m x n,
 *   X_i = X + i * stride_x; ld* are row strides of the stored matrices. */
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

/* The parameter tensors of a model inside its flat buffers (weights,
 * gradients, moments): tensor t is [bounds[2t], bounds[2t + 1]) (the
 * layout pads tensors, and the padding belongs to none). Both arrays are
 * backend memory, uploaded once by the optimizer (lib/optim), so a device
 * backend reads them in its kernels without a host round trip. */
typedef struct qat_segments {
    int64_t count;          /* tensors */
    const int64_t *bounds;  /* backend memory: 2 * count offsets, in floats */
    const uint8_t *flags;   /* backend memory: per tensor, QAT_SEGMENT_* bits */
} qat_segments;

/* A tensor's flags in qat_segments. POSITIVE marks a quantizer step, which
 * the method requires to stay > 0 (LSQ's s): after the AdamW update a value
 * below QAT_STEP_FLOOR becomes QAT_STEP_FLOOR. Without the floor AdamW can
 * carry a step through zero (seen on a one-row token-type table, whose
 * step gradient sums every token), and export then refuses the model. */
enum { QAT_SEGMENT_DECAY = 1u, QAT_SEGMENT_POSITIVE = 2u };
#define QAT_STEP_FLOOR 1e-6f

/* One AdamW update in the float roundings of torch 1.13's single-tensor
 * AdamW (lib/optim/adamw.c derives the constants from the double
 * hyper-parameters, the scheduled learning rate and the step):
 *   g = grad * scale[0]          (scale NULL: g = grad; when scale[0] != 1
 *                                 g is written back to grad, as
 *                                 clip_grad_norm_ leaves it)
 *   p = param * (DECAY tensor ? decay : 1)
 *   m = fmaf(g, one_minus_b1, exp_avg * b1)
 *   v = fmaf(one_minus_b2 * g, g, exp_avg_sq * b2)
 *   param = p + neg_step_size * m / (sqrtf(v) / bc2_sqrt + eps)
 *   POSITIVE tensors: param = QAT_STEP_FLOOR where param < QAT_STEP_FLOOR
 * Nothing is written unless each of check[0 .. check_count) is finite: a
 * non-finite loss or gradient norm skips the update on the device, and the
 * caller learns of it from the values it reads back anyway. */
typedef struct qat_adamw_desc {
    float decay, b1, one_minus_b1, b2, one_minus_b2, neg_step_size, bc2_sqrt, eps;
    const float *scale;     /* backend memory: 1 float, or NULL */
    const float *check;     /* backend memory: check_count floats, or NULL */
    int64_t check_count;
} qat_adamw_desc;

/* torch.nn.utils.clip_grad_norm_'s coefficient from the total norm, in its
 * float roundings: max_norm / (norm + 1e-6) evaluated as reciprocal() *
 * max_norm (Tensor.__rtruediv__), clamped to 1 (NaN stays NaN). The CUDA
 * kernel repeats these two lines on the device. */
static inline float qat_clip_coef(float norm, float max_norm)
{
    float coef = (1.0f / (norm + 1e-6f)) * max_norm;
    return coef < 1.0f || coef != coef ? coef : 1.0f;
}

/* Fused attention for inference (no probabilities kept for a backward):
 * for each sequence b, head h and query row i,
 *   s[j] = (sum over d ascending of q[i, d] * k[j, d], from 0.0f) * scale
 *   p    = the masked row softmax of s with key_bias[b, :] (softmax_fwd's row)
 *   out[i, d] = sum over j ascending of p[j] * v[j, d], from 0.0f
 * where q row i is q + (b * lq + i) * ldq + h * head_dim (k, v: b * lk + j
 * with ldk, ldv; out like q with ldo), each step of both sums one fused
 * multiply-add (acc = fmaf(a, b, acc), rounded once, as a GEMM's FMA
 * does). The orders and the FMA are part of the contract: a host backend's
 * SIMD and threaded paths give these bits; the unfused GEMMs differ from
 * them by accumulation order only. Scratch for one block of
 * query rows is the backend's own, never [batch, heads, lq, lk]. */
typedef struct qat_attention_desc {
    int64_t batch, heads, lq, lk, head_dim;
    float scale;
    const float *q;
    int64_t ldq;
    const float *k;
    int64_t ldk;
    const float *v;
    int64_t ldv;
    const float *key_bias;  /* [batch, lk], or NULL */
    float *out;
    int64_t ldo;
} qat_attention_desc;

/* Fused attention for training (QAT_CTX_FUSED_ATTENTION): the forward and
 * backward of attention without a [batch, heads, lq, lk] tensor in memory.
 * With a = the base descriptor, for each (b, h, i) as attention_fwd:
 *   s[j]  = (q[i] . k[j]) * scale, p = the masked row softmax of s with
 *           key_bias[b] (softmax_fwd's row),
 *   p'[j] = p[j] * keep / (1 - dropout), keep = qat_dropout_keep(seed,
 *           ((b * heads + h) * lq + i) * lk + j, dropout): the mask and
 *           scale of the dropout slot over the unfused [batch, heads, lq,
 *           lk] probabilities (dropout <= 0: p' = p),
 *   out[i] = sum_j p'[j] v[j]                                  (forward)
 * The backward, from dout (the gradient of out, row stride lddo) and the
 * forward's out (a.out, a.ldo; a device takes sum_j p[j] dp[j] as
 * dout[i] . out[i]), recomputing s and p:
 *   dp'[j] = dout[i] . v[j], dp = dp' * keep / (1 - dropout),
 *   ds = p * (dp - sum_j p[j] dp[j])                (softmax_bwd's row)
 *   dq[i] = scale * sum_j ds[j] k[j]; over the rows i of the head,
 *   dk[j] = scale * sum_i ds_i[j] q[i], dv[j] = sum_i p'_i[j] dout[i]
 * with dq, dk, dv laid out as q, k, v (row stride ldg) and WRITTEN. Only
 * the accumulation orders are left to the backend (no atomics: the result
 * is the same on every run). */
typedef struct qat_attention_train_desc {
    qat_attention_desc a;   /* shapes, q, k, v, key_bias, out (written forward, read backward) */
    float dropout;          /* attention dropout probability, in [0, 1) */
    uint64_t seed;
    const float *dout;      /* backward: [.., lq, heads x head_dim] */
    int64_t lddo;
    float *dq, *dk, *dv;    /* backward */
    int64_t ldg;
} qat_attention_train_desc;

/* A linear layer with its epilogue, y = act(x W^T + b), for the training
 * forward (x [rows, in], W [out, in], bias [out] or NULL, all row-major and
 * contiguous):
 *   act NONE: y = x W^T + b; pre must be NULL.
 *   act GELU: pre = x W^T + b, kept for the backward (the aux output), and
 *             y = GELU(pre) (exact erf, bias_act_fwd's).
 * The product is the gemm slot's (its precision policy included) and the
 * epilogue bias_act_fwd's, so on host backends the result is, bit for bit,
 * gemm then bias_act_fwd. y may not alias x, W or pre. */
typedef struct qat_linear_desc {
    int64_t rows, in, out;
    const float *x;
    const float *w;
    const float *bias;
    qat_activation act; /* NONE or GELU */
    float *pre;         /* [rows, out] for GELU, else NULL */
    float *y;           /* [rows, out] */
} qat_linear_desc;

#define QAT_BACKEND_KERNELS(X)                                                                                 \
    X(gemm, (const qat_gemm_desc *desc), (desc))                                                               \
    /* x[i] = value */                                                                                         \
    X(fill, (float *x, int64_t n, float value), (x, n, value))                                                 \
    /* out = a + b (out may alias a or b) */                                                                   \
    X(add, (const float *a, const float *b, float *out, int64_t n), (a, b, out, n))                            \
    /* y += x */                                                                                               \
    X(accumulate, (const float *x, float *y, int64_t n), (x, y, n))                                            \
    /* x[r,:] += bias; then y = act(x) when act is GELU (exact erf GELU) or                                    \
     * TANH; bias may be NULL; y may be x (element by element). */                                             \
    X(bias_act_fwd, (float *x, const float *bias, int64_t rows, int64_t cols, qat_activation act, float *y),   \
      (x, bias, rows, cols, act, y))                                                                           \
    /* dx = dy * GELU'(pre) (dx may alias dy) */                                                               \
    X(gelu_bwd, (const float *dy, const float *pre, int64_t n, float *dx), (dy, pre, n, dx))                   \
    /* dx = dy * (1 - y^2), y = tanh output (dx may alias dy) */                                               \
    X(tanh_bwd, (const float *dy, const float *y, int64_t n, float *dx), (dy, y, n, dx))                       \
    /* db[c] += sum_r dy[r,c] */                                                                               \
    X(bias_grad, (const float *dy, int64_t rows, int64_t cols, float *db), (dy, rows, cols, db))               \
    /* y = (x - mean) * rstd * w + b per row (biased variance, eps inside the                                  \
     * sqrt, as torch); stores mean[r] and rstd[r] for the backward. */                                        \
    X(layernorm_fwd,                                                                                           \
      (const float *x, const float *w, const float *b, float eps, int64_t rows, int64_t cols, float *y,        \
       float *mean, float *rstd),                                                                              \
      (x, w, b, eps, rows, cols, y, mean, rstd))                                                               \
    /* dx written; dw, db accumulate. */                                                                       \
    X(layernorm_bwd,                                                                                           \
      (const float *dy, const float *x, const float *w, const float *mean, const float *rstd, int64_t rows,   \
       int64_t cols, float *dx, float *dw, float *db),                                                         \
      (dy, x, w, mean, rstd, rows, cols, dx, dw, db))                                                          \
    /* In place over scores [batch, heads, lq, lk]:                                                            \
     * scores[b,h,i,:] = softmax(scores[b,h,i,:] + key_bias[b,:]). */                                          \
    X(softmax_fwd, (float *scores, const float *key_bias, int64_t batch, int64_t heads, int64_t lq, int64_t lk), \
      (scores, key_bias, batch, heads, lq, lk))                                                                \
    /* ds = p * (dp - sum(dp * p)) per row (ds may alias dp) */                                                \
    X(softmax_bwd, (const float *dp, const float *p, int64_t rows, int64_t cols, float *ds),                   \
      (dp, p, rows, cols, ds))                                                                                 \
    /* out[i,:] (+)= table[ids[i],:]; ids are validated by the caller. */                                      \
    X(embedding_fwd,                                                                                           \
      (const float *table, const int32_t *ids, int64_t n, int64_t dim, float *out, int accumulate),           \
      (table, ids, n, dim, out, accumulate))                                                                   \
    /* dtable[ids[i],:] += dy[i,:], deterministic in any thread count. */                                      \
    X(embedding_bwd,                                                                                           \
      (const float *dy, const int32_t *ids, int64_t n, int64_t dim, int64_t vocab, float *dtable),            \
      (dy, ids, n, dim, vocab, dtable))                                                                        \
    /* x[i,:] = 0 where ids[i] == id (torch's padding_idx gradient rule) */                                    \
    X(zero_rows_where, (float *x, const int32_t *ids, int64_t n, int64_t dim, int32_t id), (x, ids, n, dim, id)) \
    /* Mean cross-entropy over rows whose label != -100, scaled by `scale`                                     \
     * (1 / number of such rows): *loss = scale * sum of -log                                                  \
     * softmax(logits)[label]; dlogits (optional) = scale * (softmax -                                         \
     * onehot) on those rows, 0 on ignored rows. */                                                            \
    X(cross_entropy,                                                                                           \
      (const float *logits, const int32_t *labels, int64_t rows, int64_t classes, float scale, float *loss,   \
       float *dlogits),                                                                                        \
      (logits, labels, rows, classes, scale, loss, dlogits))                                                   \
    /* In place inverted dropout with a counter-based mask: element i is kept                                  \
     * iff qat_dropout_keep(seed, i, p); kept values scale by 1/(1-p). The                                     \
     * same call on the gradient is the backward. */                                                           \
    X(dropout, (float *x, int64_t n, float p, uint64_t seed), (x, n, p, seed))                                 \
    /* out[r] = mean_c |x[r,c]| for r < rows (rows = 1: whole tensor) */                                       \
    X(abs_mean, (const float *x, int64_t rows, int64_t cols, float *out), (x, rows, cols, out))                \
    /* LSQ / LSQ+ fake-quant as qat_lsq_desc says (y may alias x) */                                           \
    X(lsq_fwd, (const qat_lsq_desc *desc, const float *x, float *y), (desc, x, y))                             \
    /* dx = dy where qn <= v <= qp else 0 (dx may alias dy);                                                   \
     * dstep[0 or r] += grad_scale * sum(dy * (round(v) - v | qn | qp));                                       \
     * with an offset and doffset: doffset[0] += grad_scale * sum(dy where                                     \
     * v is outside [qn, qp]). */                                                                              \
    X(lsq_bwd,                                                                                                 \
      (const qat_lsq_desc *desc, const float *dy, const float *x, float grad_scale, float *dx, float *dstep,   \
       float *doffset),                                                                                        \
      (desc, dy, x, grad_scale, dx, dstep, doffset))                                                           \
    /* BitNet b1.58 weights: gamma = max(mean|w|, 1e-5) per tensor or per                                      \
     * row; y = clamp(round(w / gamma), -1, 1) * gamma. gamma (rows or 1                                       \
     * floats) is written for export. */                                                                       \
    X(bitnet_weight_fwd, (const float *w, int64_t rows, int64_t cols, int per_row, float *gamma, float *y),    \
      (w, rows, cols, per_row, gamma, y))                                                                      \
    /* BitNet activations, per row (token): m = max(max|x|, 1e-5),                                             \
     * y = clamp(round(x * Qp / m), lo, Qp) * m / Qp with lo = Qn, or -Qp                                      \
     * when symmetric. */                                                                                      \
    X(bitnet_act_fwd, (const float *x, int64_t rows, int64_t cols, int bits, int symmetric, float *y),         \
      (x, rows, cols, bits, symmetric, y))                                                                     \
    /* dst[i] = src[i], bit for bit (the regions do not overlap) */                                            \
    X(copy, (const float *src, float *dst, int64_t n), (src, dst, n))                                          \
    /* ---- The optimizer step (lib/optim), so parameters, gradients and                                      \
     * AdamW's moments stay in backend memory. */                                                              \
    /* out = x * s (out may alias x): the mean of accumulated micro-batches */                                 \
    X(scale, (const float *x, int64_t n, float s, float *out), (x, n, s, out))                                 \
    /* The global L2 norm of the gradients as clip_grad_norm_ computes it:                                     \
     * each tensor's norm (its sum of squares in double, rounded to float),                                    \
     * then the norm of those (summed in double in tensor order, rounded to                                    \
     * float; a device may sum in another fixed order). out[0] = the norm,                                     \
     * out[1] = qat_clip_coef(norm, max_norm), or 1 when max_norm <= 0. */                                     \
    X(grad_norm, (const qat_segments *seg, const float *grad, float max_norm, float *out),                     \
      (seg, grad, max_norm, out))                                                                              \
    /* One AdamW update of every tensor of seg, as qat_adamw_desc says. */                                     \
    X(adamw,                                                                                                   \
      (const qat_adamw_desc *desc, const qat_segments *seg, float *param, float *grad, float *exp_avg,         \
       float *exp_avg_sq),                                                                                     \
      (desc, seg, param, grad, exp_avg, exp_avg_sq))                                                           \
    /* Inference attention, fused, as qat_attention_desc says (out may not                                     \
     * alias q, k or v). */                                                                                    \
    X(attention_fwd, (const qat_attention_desc *desc), (desc))                                                 \
    /* A linear with its bias and GELU epilogue, as qat_linear_desc says. */                                   \
    X(linear_fwd, (const qat_linear_desc *desc), (desc))                                                       \
    /* The backward epilogue of GELU(x W^T + b): dx = dy * GELU'(pre) (dx may                                  \
     * alias dy) and db[c] += sum_r dx[r,c]; on host backends, bit for bit                                     \
     * gelu_bwd then bias_grad on dx. */                                                                       \
    X(gelu_bias_bwd, (const float *dy, const float *pre, int64_t rows, int64_t cols, float *dx, float *db),    \
      (dy, pre, rows, cols, dx, db))                                                                           \
    /* LayerNorm feeding a BitNet per-token activation quantizer: y and                                        \
     * mean, rstd as layernorm_fwd writes them (y may alias x), and yq as                                      \
     * bitnet_act_fwd(y) writes it (yq may not alias x or y); on a device one                                  \
     * kernel, with no second read of y. The backward needs nothing more                                       \
     * (the quantizer's gradient is the identity). On host backends, bit for                                   \
     * bit layernorm_fwd then bitnet_act_fwd. */                                                               \
    X(layernorm_bitnet_act_fwd,                                                                                \
      (const float *x, const float *w, const float *b, float eps, int64_t rows, int64_t cols, int bits,        \
       int symmetric, float *y, float *yq, float *mean, float *rstd),                                          \
      (x, w, b, eps, rows, cols, bits, symmetric, y, yq, mean, rstd))                                          \
    /* y = residual + dropout(x), or y = dropout(x) when residual is NULL:                                     \
     * dropout's mask and scale (element i of x kept iff                                                       \
     * qat_dropout_keep(seed, i, p); p <= 0 keeps x as it is), then add's sum.                                 \
     * y may alias x, not residual. A post-LN residual branch in one pass,                                     \
     * and the backward's copy-then-dropout of a gradient. On host backends,                                   \
     * bit for bit copy (when y is not x), dropout, add. */                                                    \
    X(dropout_add, (const float *x, const float *residual, int64_t n, float p, uint64_t seed, float *y),       \
      (x, residual, n, p, seed, y))                                                                            \
    /* Training attention, fused, as qat_attention_train_desc says (out may                                    \
     * not alias q, k or v). */                                                                                \
    X(attention_train_fwd, (const qat_attention_train_desc *desc), (desc))                                     \
    /* Its backward: dq, dk, dv from dout, q, k, v and out (none of dq, dk,                                    \
     * dv may alias an input or each other). */                                                                \
    X(attention_bwd, (const qat_attention_train_desc *desc), (desc))

#endif
