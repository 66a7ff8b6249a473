/* One walk of the encoder for every way of running it (DESIGN.md "One
 * encoder, two ways to run a linear"): embeddings, post-LN layers and the
 * heads are sequenced here once; what a linear layer, an attention block, a
 * LayerNorm or a dropout does is the runner's hook. Training
 * (lib/model/forward.c) runs fake-quant GEMMs on its backend and keeps what
 * the backward needs; packed inference (lib/packed_model) runs integer GEMMs
 * with fused epilogues on scratch it owns.
 *
 * Shapes: B sequences of L tokens, N = B * L, H hidden, I intermediate. */
#ifndef QAT_LIB_MODEL_ENCODER_WALK_H
#define QAT_LIB_MODEL_ENCODER_WALK_H

#include <stdint.h>

#include "model/dims.h"
#include "qat/model.h"

/* torch.finfo(float32).min, what HF adds to the scores of padding keys. */
#define QAT_MASKED_SCORE (-3.4028234663852886e+38f)

/* The linear layers a walk runs: six per encoder layer, then the heads'. */
typedef enum qat_walk_linear {
    QAT_WALK_Q, QAT_WALK_K, QAT_WALK_V, QAT_WALK_ATTN_OUT, QAT_WALK_INTER, QAT_WALK_OUT,
    QAT_WALK_POOLER,      /* sequence classification: pooler / classifier.dense, then tanh */
    QAT_WALK_CLASSIFIER,  /* token / sequence classification output layer */
    QAT_WALK_MLM_DENSE,   /* MLM head: dense, then GELU */
    QAT_WALK_MLM_DECODER
} qat_walk_linear;

#define QAT_WALK_LAYER_LINEARS 6

/* What follows the GEMM and its bias inside the linear. */
typedef enum qat_walk_epilogue {
    QAT_WALK_PLAIN,    /* y = x W^T + b */
    QAT_WALK_GELU,     /* y = gelu(x W^T + b), exact erf */
    QAT_WALK_TANH,     /* y = tanh(x W^T + b) */
    QAT_WALK_RESIDUAL  /* y = residual + dropout(x W^T + b) (hidden dropout) */
} qat_walk_epilogue;

typedef struct qat_walk_call {
    int64_t layer;           /* encoder layer; -1 for a head */
    qat_walk_linear linear;
    qat_walk_epilogue epilogue;
    const float *residual;   /* QAT_WALK_RESIDUAL: [rows, out] */
} qat_walk_call;

/* The LayerNorms, by place. */
typedef enum qat_walk_norm {
    QAT_WALK_NORM_EMBEDDINGS, QAT_WALK_NORM_ATTENTION, QAT_WALK_NORM_OUTPUT, QAT_WALK_NORM_MLM
} qat_walk_norm;

/* The dropouts outside linears, by place. */
typedef enum qat_walk_drop {
    QAT_WALK_DROP_EMBEDDINGS,  /* hidden dropout after the embeddings' LayerNorm */
    QAT_WALK_DROP_HEAD,        /* classifier dropout on the head's input rows */
    QAT_WALK_DROP_POOLED       /* classifier dropout after the pooler's tanh */
} qat_walk_drop;

/* Intermediate results of the heads, which the runner places. */
typedef enum qat_walk_head_buf {
    QAT_WALK_BUF_POOLED,    /* [rows, H] the pooler's tanh output */
    QAT_WALK_BUF_MLM_ACT,   /* [rows, H] the MLM dense layer's GELU output */
    QAT_WALK_BUF_MLM_NORM,  /* [rows, H] its LayerNorm */
    QAT_WALK_BUF_LOGITS     /* [rows, classes] the head's output when qat_walk.out is NULL; asked after
                               head_rows, so the runner can size it by the rows */
} qat_walk_head_buf;

/* Where one encoder layer reads and writes ([N, H] but act: [N, I]). */
typedef struct qat_walk_layer {
    float *x;                /* input (layer 0: the embeddings write it) */
    float *q, *k, *v, *ctx;  /* projections and attention context */
    float *res1, *h1;        /* x + attention output, its LayerNorm */
    float *act;              /* GELU of the intermediate dense */
    float *res2;             /* h1 + output dense */
    float *out;              /* LayerNorm of res2: the next layer's x */
} qat_walk_layer;

typedef struct qat_walk_ops {
    /* *sum [N, H] = word[ids] + type[types] + pos[pos], each table through
     * its quantizer, added in that order (into a buffer of the runner's). */
    qat_status (*embed_sum)(void *self, float **sum);
    /* The buffers of encoder layer `layer`: its x is the previous layer's
     * out; the last layer's out is hidden(). */
    void (*layer_buffers)(void *self, int64_t layer, qat_walk_layer *bufs);
    /* The hidden state buffer [N, H] the last layer writes (the embeddings'
     * output when there are no layers). */
    float *(*hidden)(void *self);
    /* Where a head's intermediate result goes. */
    float *(*head_buffer)(void *self, qat_walk_head_buf which);
    /* y[rows, out] = A(x) W(W)^T + b and the call's epilogue. */
    qat_status (*linear)(void *self, const qat_walk_call *call, const float *x, int64_t rows, float *y);
    /* bufs->ctx = softmax(q k^T / sqrt(dh) + key mask) v per head. */
    qat_status (*attention)(void *self, int64_t layer, const qat_walk_layer *bufs);
    /* y[rows, H] = LayerNorm(x) with the place's weights. */
    qat_status (*layernorm)(void *self, qat_walk_norm norm, int64_t layer, const float *x, int64_t rows, float *y);
    /* Dropout at a place (active: whether the architecture has one there;
     * a runner may draw its random seed either way). *out: where the result
     * is (x itself, or a copy the runner keeps; always x for EMBEDDINGS). */
    qat_status (*dropout)(void *self, qat_walk_drop place, int active, float *x, int64_t n, float **out);
    /* The rows the head runs on: *x [*rows, H]. Token classification: every
     * token; sequence classification: the first token of each sequence; MLM:
     * every token, or those the runner selects (labelled rows in training). */
    qat_status (*head_rows)(void *self, const float *hidden, float **x, int64_t *rows);
} qat_walk_ops;

typedef struct qat_walk {
    const qat_model_dims *dims;
    qat_task task;
    int64_t B, L;
    const qat_walk_ops *ops;
    void *self;
    float *out;              /* the head's logits; NULL: the runner's QAT_WALK_BUF_LOGITS */
    int encoder_only;        /* 1: stop after the last layer (feature extraction: no head, out unused) */
} qat_walk;

/* Runs embeddings, layers and head in order. */
qat_status qat_encoder_walk(const qat_walk *w);

/* Position ids [B * L] (RoBERTa: padding_idx + cumsum(ids != pad), pad at
 * padding; BERT: 0..L-1) and the additive key mask [B * L] (0, or
 * QAT_MASKED_SCORE where mask is 0; mask may be NULL). */
void qat_encoder_positions(const qat_model_dims *d, const int32_t *ids, const int32_t *mask, int64_t B, int64_t L,
                           int32_t *pos, float *key_bias);

#endif
