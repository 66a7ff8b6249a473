/* What the records of a .qatp file mean (docs/formats.md, "Packed model
 * (.qatp)"): the entries of the "config" record, the record names of the
 * linear layers and the rules of the "labels" record. Shared by the writer
 * (lib/export) and the loader (lib/packed_model). */
#ifndef QAT_LIB_FORMATS_QATP_SCHEMA_H
#define QAT_LIB_FORMATS_QATP_SCHEMA_H

#include <stddef.h>

/* Entries of the "config" record (int64 each). */
enum {
    QATP_CFG_ARCH, QATP_CFG_TASK, QATP_CFG_VOCAB, QATP_CFG_HIDDEN, QATP_CFG_LAYERS, QATP_CFG_HEADS, QATP_CFG_INTER,
    QATP_CFG_MAX_POS, QATP_CFG_TYPE_VOCAB, QATP_CFG_PAD, QATP_CFG_NUM_LABELS, QATP_CFG_TIE, QATP_CFG_EPS_BITS,
    QATP_CFG_BOS, QATP_CFG_EOS, QATP_CONFIG_COUNT
};

/* Linear layers of one encoder layer, in file and forward order. */
enum { QATP_Q, QATP_K, QATP_V, QATP_ATTN_OUT, QATP_INTER, QATP_OUT, QATP_LINEARS };
/* "attention.self.query", ... (encoder.layer.<i>.<name>.weight, ...). */
extern const char *const qatp_linear_names[QATP_LINEARS];

/* The optional record of label names: u32 count, then per label a u32 byte
 * length and the name's UTF-8 bytes. */
#define QATP_LABELS_RECORD "labels"
/* Bytes of one name: id2label names are short tags ("B-PER", "entailment");
 * the bound keeps a hostile file from making one huge line of output. */
#define QATP_LABEL_MAX_BYTES 1024
/* What is wrong with a label name of n bytes, or NULL when it can be
 * stored: the writer refuses what the loader would. */
const char *qatp_label_name_problem(const char *s, size_t n);

/* The optional record of the model's own pooling (qat_model_pooling): u32
 * mode, u32 flags (0 or QAT_EMBED_NORMALIZE), then for mode
 * QATP_POOLING_UNSUPPORTED the reason as UTF-8 (at most
 * QATP_POOLING_REASON_MAX bytes). Mode 0 CLS, 1 mean (qat_pooling). No
 * record: the model had none (mean, no normalisation). */
#define QATP_POOLING_RECORD "pooling"
#define QATP_POOLING_UNSUPPORTED 2u
#define QATP_POOLING_REASON_MAX 199
/* The optional INT64 record of one entry: the model's max_seq_length
 * (qat_model_max_seq_length), 1..65536. No record: none said. */
#define QATP_MAX_SEQ_LENGTH_RECORD "max_seq_length"

#endif
