/* config.json of a Hugging Face BERT-class checkpoint: reader into
 * qat_model_dims and writer of a config that transformers' AutoConfig /
 * AutoModel load (save_pretrained layout). */
#ifndef QAT_LIB_FORMATS_HF_CONFIG_H
#define QAT_LIB_FORMATS_HF_CONFIG_H

#include <stddef.h>

#include "model/dims.h"
#include "qat/core.h"

/* config.json files larger than this are refused (real ones are ~1 KB; a
 * token-classification config with thousands of labels stays far below). */
#define QAT_HF_CONFIG_MAX_BYTES (16u << 20)

/* Label names from id2label, index = label id. */
typedef struct qat_hf_labels {
    size_t count;
    char **names;
} qat_hf_labels;

void qat_hf_labels_clear(qat_hf_labels *labels);

/* Parses config.json text. Accepted model_type: "roberta", "camembert",
 * "xlm-roberta", "bert" (inferred from "architectures" when model_type is
 * absent). Required: vocab_size, hidden_size, num_hidden_layers,
 * num_attention_heads, intermediate_size, max_position_embeddings. Others
 * take transformers' defaults. Refused with QAT_ERR_FORMAT (message names
 * the field): wrong JSON types, out-of-range values; with
 * QAT_ERR_UNSUPPORTED: another model_type, hidden_act other than "gelu",
 * position_embedding_type other than "absolute". Unknown fields are
 * ignored. `label` names the source in messages; labels may be NULL. */
qat_status qat_hf_config_parse(const char *text, size_t len, const char *label,
                               qat_model_dims *dims, qat_hf_labels *labels);
/* Reads and parses the file at `path`. */
qat_status qat_hf_config_read(const char *path, qat_model_dims *dims, qat_hf_labels *labels);

/* Writes config.json (atomically). architecture: the head class, e.g.
 * "CamembertForTokenClassification"; NULL writes "<Type>ForMaskedLM" for
 * the model_type ("CamembertForMaskedLM", "XLMRobertaForMaskedLM"...).
 * labels may be NULL: id2label then holds "LABEL_<i>" for each of
 * dims->num_labels (none when 0); otherwise labels->count must equal
 * dims->num_labels. Floats are written in their shortest round-trip form
 * (1e-05, not 9.99999975e-06). */
qat_status qat_hf_config_write(const char *path, const qat_model_dims *dims,
                               const char *architecture, const qat_hf_labels *labels);
/* Same, into a malloc'ed NUL-terminated string (*text, freed by caller). */
qat_status qat_hf_config_to_string(const qat_model_dims *dims, const char *architecture,
                                   const qat_hf_labels *labels, char **text);

#endif
