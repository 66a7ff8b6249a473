/* The pooling of a sentence-transformers checkpoint directory: modules.json
 * (the module list: Transformer, Pooling, Normalize...) and the Pooling
 * module's config.json (1_Pooling/config.json), read at load and written
 * at save, so embeddings pool as the checkpoint says. */
#ifndef QAT_LIB_FORMATS_ST_MODULES_H
#define QAT_LIB_FORMATS_ST_MODULES_H

#include <stdint.h>

#include "model/pooling.h"
#include "qat/core.h"

/* Fills *out from dir/modules.json and dir/sentence_bert_config.json (the
 * Transformer module's settings at the checkpoint's root, as
 * sentence-transformers saves them: max_seq_length, 1..65536, into
 * out->max_seq_length; do_lower_case true, which libqat's tokenizers do not
 * apply on top of tokenizer.json, makes the pooling unsupported); from
 * modules.json: zero (no pooling said) when the file is
 * absent; known with CLS or MEAN (and QAT_EMBED_NORMALIZE for a Normalize
 * module after the Pooling one) when libqat can run it; known with
 * out->unsupported saying why otherwise (max pooling, a Dense module...).
 * Malformed files, a Pooling path outside dir, or a
 * word_embedding_dimension other than hidden_size fail with QAT_ERR_FORMAT
 * naming the file. */
qat_status qat_formats_st_pooling_read(const char *dir, int64_t hidden_size, qat_pooling_config *out);

/* Writes modules.json and 1_Pooling/config.json into dir for a known,
 * supported cfg (as sentence-transformers saves them), and
 * sentence_bert_config.json when cfg->max_seq_length is set. */
qat_status qat_formats_st_pooling_write(const char *dir, int64_t hidden_size, const qat_pooling_config *cfg);

#endif
