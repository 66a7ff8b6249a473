/* Sentence-embedding pooling, shared by the training model (embed.c) and
 * packed inference (packed_model/forward.c): the pooling arithmetic of
 * sentence-transformers' Pooling and Normalize modules, and the pooling a
 * checkpoint asks for (formats/st_modules.c reads it). */
#ifndef QAT_LIB_MODEL_POOLING_H
#define QAT_LIB_MODEL_POOLING_H

#include <stddef.h>
#include <stdint.h>

#include "qat/model.h"

/* The pooling a model was given: by its sentence-transformers checkpoint
 * (modules.json, 1_Pooling/config.json, a Normalize module), by
 * qat_model_set_pooling, or none. The zero value is "none": mean pooling
 * without normalisation, as sentence-transformers pools a plain model. */
typedef struct qat_pooling_config {
    int known;               /* 1: the checkpoint or the caller said */
    qat_pooling pooling;     /* QAT_POOLING_CLS or QAT_POOLING_MEAN */
    uint32_t flags;          /* QAT_EMBED_NORMALIZE when a Normalize module follows */
    char unsupported[200];   /* non-empty: why libqat cannot run the checkpoint's own pooling */
    /* sentence_bert_config.json's max_seq_length: the tokens (specials
     * included) sentence-transformers truncates a text at; 0 when unsaid.
     * Kept by qat_model_set_pooling. */
    int64_t max_seq_length;
} qat_pooling_config;

/* The largest max_seq_length a checkpoint may say (the model's own
 * sequence bound). */
#define QAT_POOL_MAX_SEQ_LENGTH (1 << 16)

/* QAT_POOLING_MODEL resolved against cfg: *pooling and *flags are what to
 * run (flags OR the caller's). QAT_ERR_UNSUPPORTED (cfg->unsupported) when
 * the checkpoint's pooling is one libqat does not have. `what` names the
 * caller in messages. */
qat_status qat_pooling_resolve(const qat_pooling_config *cfg, qat_pooling *pooling, uint32_t *flags,
                               const char *what);

/* Arguments every embed entry point checks. */
qat_status qat_pooling_check_args(qat_pooling pooling, uint32_t flags, const char *fn);

/* F.normalize's eps. */
#define QAT_POOL_NORM_MIN 1e-12f

/* |p| clamped below at QAT_POOL_NORM_MIN. */
float qat_pool_norm(const float *p, int64_t H);

/* hidden [B, L, H] -> out [B, H]: the first token (CLS) or the mean over
 * tokens with mask 1 (mask NULL: all; the count clamped at 1e-9), then
 * divided by qat_pool_norm when flags has QAT_EMBED_NORMALIZE. pooling is
 * CLS or MEAN (resolved). */
void qat_pool_hidden(const float *hidden, const int32_t *mask, int64_t B, int64_t L, int64_t H, qat_pooling pooling,
                     uint32_t flags, float *out);

/* The weight of token i in mean pooling, and the clamped count of a row. */
float qat_pool_token_weight(const int32_t *mask, int64_t i);
float qat_pool_mean_denominator(const int32_t *mask, int64_t b, int64_t L);

#endif
