/* The dimensions and conventions of a BERT-class encoder, as config.json
 * states them. Shared by the config reader/writer and the model graph. */
#ifndef QAT_LIB_MODEL_DIMS_H
#define QAT_LIB_MODEL_DIMS_H

#include <stdint.h>

#include "qat/model.h" /* qat_arch */

typedef struct qat_model_dims {
    qat_arch arch;                /* QAT_ARCH_ROBERTA: roberta, camembert, xlm-roberta */
    char model_type[32];          /* as written in config.json */
    int64_t vocab_size;
    int64_t hidden_size;
    int64_t num_layers;
    int64_t num_heads;
    int64_t intermediate_size;
    int64_t max_position_embeddings;
    int64_t type_vocab_size;
    int64_t pad_token_id;
    int64_t bos_token_id;         /* -1 when absent */
    int64_t eos_token_id;         /* -1 when absent */
    float layer_norm_eps;
    int tie_word_embeddings;      /* HF default: 1 */
    float hidden_dropout_prob;
    float attention_dropout_prob;
    int64_t num_labels;           /* len(id2label), else "num_labels", else 2 (HF default) */
} qat_model_dims;

#endif
