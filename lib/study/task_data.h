/* A classification task encoded for the model. Token classification:
 * CoNLL sentences through the tokenizer, labels on the first sub-token of
 * each word. Sequence classification (task_seq.c): one text or a pair per
 * example with its token type ids, one label per example, kept as a
 * "sentence" of one word (gold[0]) so the metrics and the bootstrap treat
 * examples as they treat sentences. */
#ifndef QAT_LIB_TASK_DATA_H
#define QAT_LIB_TASK_DATA_H

#include "data/batch.h"
#include "data/conll.h"
#include "data/labels.h"
#include "data/seqcls.h"
#include "qat/model.h"
#include "qat/tokenizer.h"

typedef struct qat_task_sentence {
    int32_t *ids, *labels;   /* encoded, with special tokens */
    size_t len;
    size_t n_words;
    int32_t *gold;           /* label id per word */
    int32_t *word_pos;       /* sub-token position of each word, -1 if truncated */
    int32_t *types;          /* sequence classification: token type ids; else NULL */
} qat_task_sentence;

typedef struct qat_task_set {
    qat_task_sentence *s;
    size_t n;
    qat_data_example *examples; /* views for batching */
    qat_task task;              /* QAT_TASK_TOKEN_CLASSIFICATION or QAT_TASK_SEQUENCE_CLASSIFICATION */
} qat_task_set;

/* Reads a CoNLL task file (task_conll.c): *ner = 1 when every tag is O,
 * B-X or I-X (then IOB2-checked); IOB2 inconsistencies fail under
 * QAT_CTX_STRICT_IOB2, else become a warning of ctx. _as: the scheme is
 * known (the eval and test files of a NER train file). */
qat_status qat_task_conll_read(qat_context *ctx, const char *path, int *ner, qat_data_conll **out);
qat_status qat_task_conll_read_as(qat_context *ctx, const char *path, int ner, qat_data_conll **out);

/* Encodes sentences [indices] of c (all when indices is NULL). */
qat_status qat_task_set_encode(const qat_data_conll *c, const size_t *indices, size_t n, const qat_data_labels *labels,
                               const qat_tokenizer *tok, size_t max_len, qat_task_set *out);
void qat_task_set_free(qat_task_set *set);
/* n zeroed sentences and example views of a task (the encoders fill them). */
qat_status qat_task_set_alloc(size_t n, qat_task task, qat_task_set *out);

/* Sequence classification: encodes examples [indices] of c (all when
 * indices is NULL) as qat_tokenizer_encode_pair does, truncated to
 * max_len; labels by qat_data_seqcls_label_id. */
qat_status qat_task_set_encode_seq(const qat_data_seqcls *c, const size_t *indices, size_t n,
                                   const qat_data_labels *labels, const qat_tokenizer *tok, size_t max_len,
                                   qat_task_set *out);
/* The train / eval / test sets of a sequence task from its files (eval and
 * test NULL: the seeded 70/10/20 or z/k split of the train file, as for
 * CoNLL tasks); *labels: the label map of all the files. */
qat_status qat_task_sets_load_seq(const char *const paths[3], uint64_t seed, const qat_tokenizer *tok,
                                  size_t max_len, qat_task_set sets[3], qat_data_labels **labels);
/* Batch b of plan (over set->examples) into row-major [rows x len] ids,
 * mask and token types, and labels: [rows x len] for token
 * classification, [rows] for sequence classification. */
qat_status qat_task_set_fill(const qat_task_set *set, const qat_data_batches *plan, size_t b, int32_t *ids,
                             int32_t *mask, int32_t *types, int32_t *labels, size_t capacity);

#endif
