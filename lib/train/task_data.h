/* A token-classification task encoded for the model: CoNLL sentences
 * through the tokenizer, labels on the first sub-token of each word. */
#ifndef QAT_LIB_TASK_DATA_H
#define QAT_LIB_TASK_DATA_H

#include "data/batch.h"
#include "data/conll.h"
#include "data/labels.h"
#include "qat/tokenizer.h"

typedef struct qat_task_sentence {
    int32_t *ids, *labels;   /* encoded, with special tokens */
    size_t len;
    size_t n_words;
    int32_t *gold;           /* label id per word */
    int32_t *word_pos;       /* sub-token position of each word, -1 if truncated */
} qat_task_sentence;

typedef struct qat_task_set {
    qat_task_sentence *s;
    size_t n;
    qat_data_example *examples; /* views for batching */
} qat_task_set;

/* Encodes sentences [indices] of c (all when indices is NULL). */
qat_status qat_task_set_encode(const qat_data_conll *c, const size_t *indices, size_t n, const qat_data_labels *labels,
                               const qat_tokenizer *tok, size_t max_len, qat_task_set *out);
void qat_task_set_free(qat_task_set *set);

#endif
