/*
 * libqat — the encoder model: creation, quantization, parameters by Hugging
 * Face name, forward (logits) and backward (loss + gradients).
 *
 * A model holds a reference to its context (the context may be freed
 * first; see "Lifetime" in core.h) and owns its parameters, gradients and
 * activations in the context's backend memory.
 *
 * Parameter names are the Hugging Face state-dict names of the model
 * (`roberta.encoder.layer.0.attention.self.query.weight`, `lm_head.bias`,
 * `classifier.weight`, `bert.embeddings.word_embeddings.weight`...). With a
 * quant config set, LSQ quantizers add their learned steps as parameters:
 * `<linear>.weight_quantizer.step` and `<linear>.input_quantizer.step` for a
 * linear layer, `<table>.weight_quantizer.step` for an embedding table.
 * BitNet quantizers have no learned parameters.
 *
 * A C/C++ trainer drives its own loop with qat_model_backward (forward +
 * backward, gradients zeroed first), qat_model_get_gradient and
 * qat_model_set_parameter, or uses the trainer API.
 */
#ifndef QAT_MODEL_H
#define QAT_MODEL_H

#include "qat/core.h"
#include "qat/quant.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum qat_arch {
    QAT_ARCH_ROBERTA = 0,  /* RoBERTa, CamemBERT, XLM-R: padding-offset positions */
    QAT_ARCH_BERT = 1
} qat_arch;

typedef enum qat_task {
    QAT_TASK_MLM = 1,                  /* masked-LM head (lm_head / cls.predictions) */
    QAT_TASK_TOKEN_CLASSIFICATION = 2, /* dropout -> classifier */
    /* One label per sequence, from its first token (<s> / [CLS]), as HF's
     * *ForSequenceClassification: RoBERTa/CamemBERT/XLM-R: dropout ->
     * classifier.dense -> tanh -> dropout -> classifier.out_proj; BERT:
     * bert.pooler.dense -> tanh -> dropout -> classifier. Logits are
     * [batch, num_labels]; labels [batch]; loss: mean cross-entropy (HF's
     * single_label_classification), so num_labels >= 2 (no regression). */
    QAT_TASK_SEQUENCE_CLASSIFICATION = 3
} qat_task;

#define QAT_MODEL_OPTIONS_VERSION 1

/* Model dimensions and conventions. Fill with qat_model_options_init (which
 * sets CamemBERT-base values), then change what differs. */
typedef struct qat_model_options {
    uint32_t version;                 /* QAT_MODEL_OPTIONS_VERSION */
    qat_arch arch;
    qat_task task;
    int64_t vocab_size;               /* 32005 */
    int64_t hidden_size;              /* 768 */
    int64_t num_layers;               /* 12 */
    int64_t num_heads;                /* 12 */
    int64_t intermediate_size;        /* 3072 */
    int64_t max_position_embeddings;  /* 514 */
    int64_t type_vocab_size;          /* 1 */
    int64_t pad_token_id;             /* 1 */
    int64_t num_labels;               /* token / sequence classification only */
    double layer_norm_eps;            /* 1e-5 */
    int tie_word_embeddings;          /* 1: the MLM decoder is the word table */
    double hidden_dropout;            /* 0.1 */
    double attention_dropout;         /* 0.1 */
    double classifier_dropout;        /* 0.1 */
} qat_model_options;

QAT_API qat_status qat_model_options_init(qat_model_options *options, uint32_t version);

/* A model with freshly initialised weights (normal(0, 0.02), biases 0,
 * LayerNorm 1/0, as HF's _init_weights), nothing quantized, dropout off. */
QAT_API qat_status qat_model_create(qat_context *ctx, const qat_model_options *options,
                                    qat_model **out);
QAT_API void qat_model_free(qat_model *model);

#define QAT_LOAD_OPTIONS_VERSION 2

/* qat_load_options.flags */
#define QAT_LOAD_PARTIAL 1u /* accept a checkpoint without some encoder tensors
                               (they are initialised as in a new model and listed
                               as missing) or without its saved quantizer state */

/* How qat_model_load builds the model. Fill with qat_load_options_init
 * (version 1, without flags, is still accepted). */
typedef struct qat_load_options {
    uint32_t version;        /* QAT_LOAD_OPTIONS_VERSION */
    qat_task task;           /* head to build (default QAT_TASK_MLM) */
    int64_t num_labels;      /* token / sequence classification: 0 = from
                                config.json's id2label (or 2 when it has none) */
    const char *quant;       /* ExWyAz config; NULL = the one saved with the
                                model by qat_model_save, else FP32 */
    uint32_t flags;          /* version 2: QAT_LOAD_PARTIAL; 0 (default): every
                                encoder tensor must be in the checkpoint */
} qat_load_options;

QAT_API qat_status qat_load_options_init(qat_load_options *options, uint32_t version);

/* Loads a Hugging Face checkpoint directory: config.json plus
 * model.safetensors (or its sharded index), or pytorch_model.bin (or its
 * index). Tensor names may carry the roberta./camembert./bert. prefix or
 * none. Before the model is allocated, every checkpoint tensor that names
 * a parameter must have the shape config.json gives it, and every encoder
 * tensor (embeddings, layers) must be there: otherwise QAT_ERR_FORMAT names
 * them, unless options->flags has QAT_LOAD_PARTIAL. Heads absent from the
 * checkpoint (MLM head, classifier, BERT's pooler) are initialised as HF
 * does (normal(0, 0.02), bias 0) and listed as missing; tensors the model
 * does not use are listed as unexpected, non-float ones as skipped
 * (qat_model_load_report_*). A NaN or infinity in any tensor fails with
 * QAT_ERR_FORMAT naming it. LSQ steps saved by qat_model_save are
 * restored (their file missing is an error, unless partial); others are
 * initialised (weights now, activations on the first forward). options
 * may be NULL (defaults). */
QAT_API qat_status qat_model_load(qat_context *ctx, const char *dir, const qat_load_options *options,
                                  qat_model **out);

typedef enum qat_load_report {
    QAT_LOAD_MISSING = 0,     /* model parameters the checkpoint lacked */
    QAT_LOAD_UNEXPECTED = 1,  /* checkpoint tensors the model did not use */
    QAT_LOAD_SKIPPED = 2      /* non-float tensors the reader left out */
} qat_load_report;

/* What the last qat_model_load found: count, then names by index (owned by
 * the model). */
QAT_API qat_status qat_model_load_report_count(const qat_model *model, qat_load_report kind, size_t *count);
QAT_API qat_status qat_model_load_report_name(const qat_model *model, qat_load_report kind, size_t index,
                                              const char **name);

/* Writes `dir` (created if needed) as save_pretrained does: config.json and
 * model.safetensors with HF names, float weights, so transformers reloads
 * them; plus qat_quantizers.safetensors (LSQ steps) and qat_config.json
 * (the quant config) when a quant config is set. Files are written
 * atomically. */
QAT_API qat_status qat_model_save(const qat_model *model, const char *dir);

/* Token / sequence classification: the label names by id (config.json's id2label),
 * saved by qat_model_save and read by qat_model_load. `count` must equal
 * the model's number of labels. */
QAT_API qat_status qat_model_set_label_names(qat_model *model, const char *const *names, size_t count);
/* Name of label `index` (owned by the model); QAT_ERR_NOT_FOUND when the
 * model has no label names. */
QAT_API qat_status qat_model_label_name(const qat_model *model, size_t index, const char **name);

/* Sets (or replaces) the quant config: adds/removes quantizer steps; LSQ
 * weight steps are initialised from the current weights
 * (s = 2 mean|W| / sqrt(Qp)); LSQ activation steps on the next forward.
 * Weights are kept. The config is copied. */
QAT_API qat_status qat_model_set_quant(qat_model *model, const qat_quant_config *config);
/* Initialises every LSQ step again: weight steps now, activation steps on
 * the next forward (after weights were replaced, for instance). */
QAT_API qat_status qat_model_reset_quantizers(qat_model *model);

/* 1: dropout active (training); 0: inference (default). */
QAT_API qat_status qat_model_set_training(qat_model *model, int training);

/* Parameters, in a stable order. */
QAT_API qat_status qat_model_parameter_count(const qat_model *model, size_t *count);
/* Name (owned by the model, valid until the next qat_model_set_quant) and
 * shape of parameter `index`; shape receives up to 4 sizes. */
QAT_API qat_status qat_model_parameter_info(const qat_model *model, size_t index, const char **name,
                                            int *ndim, int64_t shape[4]);
/* Number of floats of parameter `name` (QAT_ERR_NOT_FOUND if absent). */
QAT_API qat_status qat_model_parameter_size(const qat_model *model, const char *name, size_t *count);
/* Copies `count` floats (must equal the parameter's size) out / in. Setting
 * a quantizer step marks it initialised. */
QAT_API qat_status qat_model_get_parameter(const qat_model *model, const char *name, float *values,
                                           size_t count);
QAT_API qat_status qat_model_set_parameter(qat_model *model, const char *name, const float *values,
                                           size_t count);
QAT_API qat_status qat_model_get_gradient(const qat_model *model, const char *name, float *values,
                                          size_t count);

/* Logits of a batch: input_ids [batch, seq_len]; attention_mask (1 = token,
 * 0 = padding; NULL = all tokens); token_type_ids (NULL = zeros). logits
 * receives batch * seq_len * V (MLM: vocabulary) or batch * seq_len *
 * num_labels (token classification) floats, row-major; for sequence
 * classification batch * num_labels floats ([batch, num_labels], one row
 * per sequence, from its first token). */
QAT_API qat_status qat_model_forward(qat_model *model, const int32_t *input_ids,
                                     const int32_t *attention_mask, const int32_t *token_type_ids,
                                     int64_t batch, int64_t seq_len, float *logits, size_t logits_count);
/* Number of floats qat_model_forward writes for that batch shape. */
QAT_API qat_status qat_model_logits_size(const qat_model *model, int64_t batch, int64_t seq_len,
                                         size_t *count);
/* Forward + backward: mean cross-entropy over labels != -100 into *loss and
 * the gradients of every parameter (zeroed first). labels has batch *
 * seq_len entries (MLM, token classification: one per token), or `batch`
 * entries for sequence classification (one per sequence). Each label is
 * -100 (ignored) or a class in 0..classes-1. With no label set, the loss is
 * 0 and the gradients are 0. */
QAT_API qat_status qat_model_backward(qat_model *model, const int32_t *input_ids,
                                      const int32_t *attention_mask, const int32_t *token_type_ids,
                                      const int32_t *labels, int64_t batch, int64_t seq_len, float *loss);

/* Feature extraction (sentence embeddings) on any model: the encoder's last
 * hidden state, pooled per sequence as a sentence-transformers checkpoint's
 * 1_Pooling/config.json says (pooling_mode_cls_token: the first token;
 * pooling_mode_mean_tokens: the mean over tokens whose attention_mask is 1,
 * the count clamped at 1e-9), then, with QAT_EMBED_NORMALIZE, divided by
 * max(L2 norm, 1e-12) (its Normalize module). The task's head does not take
 * part (an MLM head is skipped). */
typedef enum qat_pooling {
    QAT_POOLING_CLS = 0,
    QAT_POOLING_MEAN = 1,
    /* The model's own: what its sentence-transformers checkpoint says
     * (modules.json's Pooling module and its config.json; a Normalize module
     * adds QAT_EMBED_NORMALIZE), or qat_model_set_pooling's; mean without
     * normalisation when neither said (sentence-transformers' default for a
     * plain model). A checkpoint pooling libqat does not have (max, last
     * token, a Dense module...) fails with QAT_ERR_UNSUPPORTED naming it. */
    QAT_POOLING_MODEL = 2
} qat_pooling;

#define QAT_EMBED_NORMALIZE 1u /* qat_model_embed flags: L2-normalise */

/* The model's own pooling (what QAT_POOLING_MODEL runs): CLS or MEAN and
 * the flags (QAT_EMBED_NORMALIZE or 0). qat_model_load reads it from a
 * sentence-transformers directory: modules.json names the Pooling module's
 * folder (1_Pooling), whose config.json sets exactly one of
 * pooling_mode_cls_token / pooling_mode_mean_tokens and whose
 * word_embedding_dimension is the hidden size (QAT_ERR_FORMAT otherwise);
 * qat_model_save writes it back the same way, and qat_packed_export stores
 * it in the .qatp file. */
QAT_API qat_status qat_model_pooling(const qat_model *model, qat_pooling *pooling, uint32_t *flags);
/* Sets the model's own pooling (CLS or MEAN, flags 0 or QAT_EMBED_NORMALIZE). */
QAT_API qat_status qat_model_set_pooling(qat_model *model, qat_pooling pooling, uint32_t flags);

/* The tokens (specials included) a text is truncated at before it is
 * embedded, as its sentence-transformers checkpoint says
 * (sentence_bert_config.json's max_seq_length, read by qat_model_load,
 * written back by qat_model_save, stored by qat_packed_export); 0 when the
 * checkpoint says none. The embed functions take token ids and truncate
 * nothing: callers (qat infer --embed) truncate at this length. */
QAT_API qat_status qat_model_max_seq_length(const qat_model *model, int64_t *max_seq_length);

/* embeddings receives batch * hidden_size floats ([batch, hidden]). */
QAT_API qat_status qat_model_embed(qat_model *model, const int32_t *input_ids, const int32_t *attention_mask,
                                   const int32_t *token_type_ids, int64_t batch, int64_t seq_len,
                                   qat_pooling pooling, uint32_t flags, float *embeddings, size_t count);
/* Forward + backward from the caller's gradient of a loss with respect to
 * the embeddings qat_model_embed returns for the same arguments
 * (d_embeddings: batch * hidden_size finite floats): the gradients of every
 * parameter (zeroed first; heads get 0), read with qat_model_get_gradient
 * and applied by a trainer or the caller's own optimiser. */
QAT_API qat_status qat_model_embed_backward(qat_model *model, const int32_t *input_ids,
                                            const int32_t *attention_mask, const int32_t *token_type_ids,
                                            int64_t batch, int64_t seq_len, qat_pooling pooling, uint32_t flags,
                                            const float *d_embeddings, size_t count);

#ifdef __cplusplus
}
#endif

#endif /* QAT_MODEL_H */
