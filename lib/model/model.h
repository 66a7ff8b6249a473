/* The encoder's private state: parameter table, views, quantizers and the
 * activations kept for the backward pass. */
#ifndef QAT_LIB_MODEL_H
#define QAT_LIB_MODEL_H

#include "core/context.h"
#include "formats/tensor_set.h"
#include "model/dims.h"
#include "model/pooling.h"
#include "qat/model.h"
#include "quant/quant_config.h"

#define QAT_PARAM_NAME_MAX 160

typedef struct qat_param {
    char name[QAT_PARAM_NAME_MAX];
    int ndim;
    int64_t shape[2];
    int64_t numel;
    size_t offset;       /* in floats, into model->w and model->g */
    int decay;           /* AdamW weight decay applies (matrices, tables) */
    int is_step;         /* quantizer state: an LSQ step or an LSQ+ offset */
    int is_offset;       /* an LSQ+ offset (any sign) */
    int ready;           /* quantizer state that holds a value (initialised,
                            loaded or set); shared by every user of it */
} qat_param;

/* One quantizer use (docs/method.md section 3: one instance per tensor; with per-
 * class sharing, every use of a class points at the same parameters). */
typedef struct qat_quantizer {
    qat_class_quant cfg;
    size_t step_param;   /* index into params: LSQ, LSQ+ ([1], or [rows] per row) */
    size_t offset_param; /* LSQ+ offset beta [1] */
    int has_step, has_offset;
} qat_quantizer;

/* A linear layer y = A(x) W(W)^T + b with its two quantizers. Offsets into
 * the parameter buffers; pointers are resolved with model_w()/model_g(). */
typedef struct qat_linear {
    size_t w, b;         /* parameter indices */
    int64_t out, in;
    qat_quantizer wq, aq;
    size_t wq_off, gamma_off;  /* into model->wq_buf / gamma_buf */
} qat_linear;

typedef struct qat_layer {
    qat_linear q, k, v, attn_out, inter, out;
    size_t ln1_w, ln1_b, ln2_w, ln2_b;
    size_t grad_from;         /* the lowest flat offset of the layer's parameters */
} qat_layer;

typedef struct qat_table {
    size_t w;
    int64_t rows;
    int64_t padding_idx; /* -1: none (torch's padding_idx gradient rule) */
    qat_quantizer q;
} qat_table;

/* Activations of one layer, kept for the backward. The quantized inputs of
 * its linears are not kept: the forward writes each into the shared
 * xq_hidden / xq_wide just before its GEMM, and the backward quantizes the
 * kept float input again (the same call on the same values and quantizer
 * state: the same bits) for the weight gradient. */
typedef struct qat_layer_acts {
    float *x;                      /* layer input [N, H] */
    float *q, *k, *v;              /* [N, H] */
    float *probs;                  /* softmax output [B, NH, L, L]; NULL when fused */
    float *probs_drop;             /* after attention dropout (alias if off) */
    float *ctx;                    /* attention context [N, H] */
    float *res1;                   /* x + attention output (LN1 input) */
    float *h1, *ln1_mean, *ln1_rstd;
    float *pre, *act;              /* intermediate pre-GELU and GELU [N, I] */
    float *res2;                   /* h1 + output dense (LN2 input) */
    float *ln2_mean, *ln2_rstd;    /* LN2 output is the next layer's x */
    uint64_t seed_attn, seed_ao, seed_out;
} qat_layer_acts;

/* Activation memory of one batch shape: everything the forward keeps for
 * the backward, plus the backward's scratch, carved from one allocation. */
typedef struct qat_acts {
    int64_t B, L, N;          /* batch, sequence, tokens = B * L */
    int32_t *ids, *pos, *types, *labels, *rows; /* [N] each, backend memory */
    float *key_bias;          /* [B, L] additive attention mask */
    float *emb_raw[3];        /* gathered table rows (word, pos, type) */
    float *emb_q;             /* quantized rows scratch */
    float *emb_sum, *emb_mean, *emb_rstd;
    qat_layer_acts *layers;
    /* A linear's quantized input, [N, H] (q, k, v, attention output,
     * intermediate) or [N, I] (output dense), written just before its GEMM
     * in the forward and again in the backward; NULL when activations are
     * float (the linears read their inputs). */
    float *xq_hidden, *xq_wide;
    float *hidden;            /* encoder output [N, H] */
    int64_t head_rows;        /* rows the head ran on (all, or labelled) */
    float *head_in;           /* [N, H] gathered / dropped encoder output */
    float *mlm_pre, *mlm_act, *mlm_h, *mlm_mean, *mlm_rstd;
    float *mlm_in_q, *mlm_h_q;  /* quantized head inputs (mlm-head switch), else aliases */
    float *logits;            /* [head_rows, classes], in head_mem */
    float *loss;              /* 1 float */
    uint64_t seed_emb, seed_cls;
    /* backward scratch */
    float *d_hidden, *d_hidden2, *d_a, *d_b, *d_c, *d_wide, *d_wide2, *d_probs, *d_weight, *d_logits;
    int prepared_training;
    int fused_attention;        /* QAT_CTX_FUSED_ATTENTION when the shape was prepared */
    void *mem;
    size_t mem_bytes;
    /* logits and d_logits, sized by the rows the head runs on (MLM
     * training: the labelled ones, about 15 % of the tokens, where [N, V]
     * would be gigabytes), grown when a batch needs more */
    void *head_mem;
    size_t head_mem_bytes;
    /* sequence classification: [B, H] each (B = head_rows) */
    float *pool_pre;          /* dense output before tanh */
    float *pool_act;          /* tanh output (kept for the tanh backward) */
    float *pool_drop;         /* after dropout: the classifier's input */
    uint64_t seed_pool;
} qat_acts;

struct qat_model {
    qat_refcount refs;        /* the caller's, plus one per trainer */
    qat_context *ctx;         /* a reference, dropped when the model goes */
    qat_model_dims dims;
    qat_task task;
    int64_t num_labels;
    float classifier_dropout;
    qat_quant_config quant;
    int training;

    qat_param *params;
    size_t n_params;
    size_t total;             /* floats */
    size_t head_from;         /* the lowest flat offset of the head's parameters */
    float *w, *g;             /* backend memory */

    qat_table word, pos, type;
    size_t emb_ln_w, emb_ln_b;
    qat_layer *layers;
    /* heads */
    size_t mlm_dense_w, mlm_dense_b, mlm_ln_w, mlm_ln_b, mlm_decoder_w, mlm_bias;
    /* The MLM head's dense layer and decoder as linears: their quantizers
     * are NONE unless the mlm-head switch quantizes them (seed code). */
    qat_linear mlm_dense, mlm_decoder;
    size_t cls_w, cls_b;
    /* quantized weights (BitNet / LSQ) for every linear, [out, in] each,
     * and BitNet gammas; allocated with the layout. */
    float *wq_buf;
    float *gamma_buf;
    /* 1 while wq_buf/gamma_buf hold the quantized form of the current
     * weights and steps: forwards then skip re-quantizing them. Every write
     * to parameters clears it (qat_model_weights_changed). */
    int wq_current;

    qat_acts acts;
    /* feature extraction: the checkpoint's own pooling (model/pooling.h) */
    qat_pooling_config pooling_cfg;
    /* token classification: label names by id (id2label), or NULL */
    char **label_names;
    size_t n_label_names;
    /* what the last load found: names per qat_load_report kind */
    char **report[3];
    size_t report_count[3];
    /* sequence classification: the pooler / classifier.dense [H, H]
     * (bert.pooler.dense, or classifier.dense for RoBERTa); the output
     * layer is cls_w / cls_b (classifier, or classifier.out_proj). */
    size_t pool_w, pool_b;
};

/* Whether the task has a num_labels classifier (token or sequence). */
static inline int qat_task_has_labels(qat_task task)
{
    return task == QAT_TASK_TOKEN_CLASSIFICATION || task == QAT_TASK_SEQUENCE_CLASSIFICATION;
}

/* Call after writing parameters by any path other than
 * qat_model_set_parameter: the cached quantized weights are stale. */
static inline void qat_model_weights_changed(qat_model *m)
{
    m->wq_current = 0;
}

static inline int qat_quantizer_ready(const qat_model *m, const qat_quantizer *q)
{
    return !q->has_step || m->params[q->step_param].ready;
}

/* Whether the MLM head runs through the W and A quantizers. */
static inline int qat_model_mlm_head_quantized(const qat_model *m)
{
    return m->task == QAT_TASK_MLM && qat_quant_switch_effective(&m->quant, QAT_QS_MLM_HEAD);
}

/* The six quantized linears of a layer, in forward order. */
#define QAT_LINEARS_PER_LAYER 6
static inline void qat_layer_linears(qat_layer *L, qat_linear *out[QAT_LINEARS_PER_LAYER])
{
    out[0] = &L->q;
    out[1] = &L->k;
    out[2] = &L->v;
    out[3] = &L->attn_out;
    out[4] = &L->inter;
    out[5] = &L->out;
}

static inline float *model_w(const qat_model *m, size_t p) { return m->w + m->params[p].offset; }
static inline float *model_g(const qat_model *m, size_t p) { return m->g + m->params[p].offset; }

/* Builds (or rebuilds, keeping values by name) the parameter layout for the
 * model's dims, task and quant config. */
qat_status qat_model_layout(qat_model *m);
/* The parameter table alone (m->params, n_params, total; no buffers): a
 * model skeleton whose dims, task, num_labels and quant are set, to check a
 * checkpoint against config.json before anything its size is allocated. */
qat_status qat_model_layout_plan(qat_model *m);
/* Checks model options (bounds, consistency) as qat_model_create does. */
qat_status qat_model_options_check(const qat_model_options *o);
/* Fills weights as HF's _init_weights does (seeded by the context RNG).
 * The matrices `loading` (a checkpoint about to be applied; NULL: none)
 * holds are left zero, the RNG advanced past their draws as if made. */
qat_status qat_model_init_weights(qat_model *m, const qat_tensor_set *loading);
qat_status qat_model_find_param(const qat_model *m, const char *name, size_t *index);
/* Initialises the LSQ weight steps from the current weights. */
qat_status qat_model_init_weight_steps(qat_model *m);

/* Takes a reference for a handle that keeps using the model (a trainer);
 * the holder drops it with qat_model_free. Returns m. */
qat_model *qat_model_retain(qat_model *m);

/* qat_model_create for a checkpoint load: the draws of what `loading`
 * holds are skipped (qat_model_init_weights). */
qat_status qat_model_create_loading(qat_context *ctx, const qat_model_options *options,
                                    const qat_tensor_set *loading, qat_model **out);
void qat_model_clear_report(qat_model *m);
/* Marks quantizer state parameter `index` as holding a value. */
void qat_model_mark_step_initialized(qat_model *m, size_t index);
/* Calls fn on every quantizer use: tables, layers' linears, MLM head. */
void qat_model_for_each_quantizer(qat_model *m, void (*fn)(qat_model *, qat_quantizer *, void *), void *user);

/* (Re)lays out the activations for batch x seq; keeps memory if it fits. */
qat_status qat_acts_prepare(qat_model *m, int64_t batch, int64_t seq_len);
/* The fused attention's descriptor of a layer (a->fused_attention): its
 * batch shape, q, k, v at the hidden row stride, the key bias, its dropout
 * (when prepared for training) and seed. The caller adds out, and in the
 * backward dout and the gradients. */
qat_attention_train_desc qat_acts_attention_desc(const qat_model *m, const qat_layer_acts *la, const float *q,
                                                 const float *k, const float *v);
/* acts.logits and acts.d_logits for `rows` head rows. */
qat_status qat_acts_prepare_head(qat_model *m, int64_t rows);
void qat_acts_release(qat_model *m);

/* Told during a backward that every parameter gradient at a flat offset
 * >= frontier is final: the parameters are laid out embeddings, layers
 * 0..L-1, head, and the backward finishes them in the reverse order (head,
 * layer L-1, ..., layer 0, then the embeddings, frontier 0), so data-
 * parallel training can reduce those gradients while the rest of the
 * backward runs (lib/dist/reducer.h). A tied MLM decoder writes the word
 * embeddings' gradient, below every frontier but the last; shared
 * quantizer steps live with their first (lowest) user. */
typedef struct qat_grad_hook {
    qat_status (*ready)(void *user, size_t frontier);
    void *user;
} qat_grad_hook;

/* The passes. Inputs are host arrays, validated by the caller. The forward
 * stores what the backward needs; `labels` (may be NULL) lets the MLM head
 * run on labelled rows only. */
qat_status qat_model_forward_pass(qat_model *m, const int32_t *ids, const int32_t *mask,
                                  const int32_t *types, const int32_t *labels, int64_t batch,
                                  int64_t seq_len, int head_on_labelled_rows);
/* Loss of the last forward against labels (host), and, with backward, the
 * gradients (accumulated into zeroed buffers by the caller). */
qat_status qat_model_loss_backward(qat_model *m, const int32_t *labels, int backward, float *loss);
/* The same with backward, reading nothing back: the loss stays in
 * acts.loss (backend memory, 0 when no label counts) and is not checked;
 * a non-finite one gives non-finite gradients, which the trainer's step
 * skips on the device (lib/optim/optimizer.h). */
qat_status qat_model_loss_backward_device(qat_model *m, const int32_t *labels, const qat_grad_hook *hook);
/* Arguments of a batch (host arrays) checked against the model; fn names
 * the public function in the message. labels may be NULL. */
qat_status qat_model_validate_batch(const qat_model *m, const int32_t *ids, const int32_t *mask,
                                    const int32_t *types, const int32_t *labels, int64_t batch,
                                    int64_t seq_len, const char *fn);
/* Backward from acts.d_hidden (the gradient of the encoder output [N, H],
 * consumed) through every layer and the embeddings, accumulating into the
 * parameter gradients. */
qat_status qat_model_encoder_backward(qat_model *m, const qat_grad_hook *hook);

#endif
