#include "study/task_data.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

static qat_status encode_one(const qat_data_conll *c, size_t si, const qat_data_labels *labels,
                             const qat_tokenizer *tok, size_t max_len, qat_task_sentence *out)
{
    size_t first = qat_data_conll_sentence_first(c, si), n = qat_data_conll_sentence_length(c, si);
    const char **words = malloc((n ? n : 1) * sizeof *words);
    int32_t *word_index = malloc(max_len * sizeof *word_index);
    out->ids = malloc(max_len * sizeof *out->ids);
    out->labels = malloc(max_len * sizeof *out->labels);
    out->gold = malloc((n ? n : 1) * sizeof *out->gold);
    out->word_pos = malloc((n ? n : 1) * sizeof *out->word_pos);
    out->n_words = n;
    qat_status st = words && word_index && out->ids && out->labels && out->gold && out->word_pos
                        ? QAT_OK
                        : qat_fail(QAT_ERR_OUT_OF_MEMORY, "task data: out of memory");
    for (size_t w = 0; st == QAT_OK && w < n; w++) {
        words[w] = qat_data_conll_token(c, first + w);
        st = qat_data_labels_id(labels, qat_data_conll_tag(c, first + w), &out->gold[w]);
        out->word_pos[w] = -1;
    }
    size_t count = 0;
    if (st == QAT_OK)
        st = qat_tokenizer_encode_words(tok, words, NULL, n, QAT_TOKENIZE_ADD_SPECIAL, max_len, out->ids, word_index,
                                        max_len, &count);
    if (st == QAT_OK) {
        out->len = count;
        /* Label the first sub-token of each word; the others, and the
         * special tokens, are ignored (-100), as HF's run_ner does. */
        int32_t previous = -1;
        for (size_t i = 0; i < count; i++) {
            int32_t w = word_index[i];
            out->labels[i] = -100;
            if (w >= 0 && w != previous) {
                out->labels[i] = out->gold[w];
                out->word_pos[w] = (int32_t)i;
            }
            previous = w;
        }
    }
    free(words);
    free(word_index);
    return st;
}

qat_status qat_task_set_alloc(size_t n, qat_task task, qat_task_set *out)
{
    memset(out, 0, sizeof *out);
    out->task = task;
    out->s = calloc(n ? n : 1, sizeof *out->s);
    out->examples = calloc(n ? n : 1, sizeof *out->examples);
    if (!out->s || !out->examples) {
        qat_task_set_free(out);
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "task data: out of memory");
    }
    out->n = n;
    return QAT_OK;
}

qat_status qat_task_set_encode(const qat_data_conll *c, const size_t *indices, size_t n, const qat_data_labels *labels,
                               const qat_tokenizer *tok, size_t max_len, qat_task_set *out)
{
    if (!indices)
        n = qat_data_conll_sentence_count(c);
    QAT_TRY(qat_task_set_alloc(n, QAT_TASK_TOKEN_CLASSIFICATION, out));
    for (size_t i = 0; i < n; i++) {
        qat_status st = encode_one(c, indices ? indices[i] : i, labels, tok, max_len, &out->s[i]);
        if (st != QAT_OK) {
            qat_task_set_free(out);
            return st;
        }
        out->examples[i] = (qat_data_example){out->s[i].ids, out->s[i].labels, out->s[i].len};
    }
    return QAT_OK;
}

void qat_task_set_free(qat_task_set *set)
{
    for (size_t i = 0; set->s && i < set->n; i++) {
        free(set->s[i].ids);
        free(set->s[i].labels);
        free(set->s[i].gold);
        free(set->s[i].word_pos);
        free(set->s[i].types);
    }
    free(set->s);
    free(set->examples);
    memset(set, 0, sizeof *set);
}

qat_status qat_task_set_fill(const qat_task_set *set, const qat_data_batches *plan, size_t b, int32_t *ids,
                             int32_t *mask, int32_t *types, int32_t *labels, size_t capacity)
{
    size_t rows, len;
    QAT_TRY(qat_data_batches_shape(plan, b, &rows, &len));
    QAT_TRY(qat_data_batches_fill(plan, b, ids, mask, labels, capacity));
    if (types)
        memset(types, 0, rows * len * sizeof *types);
    if (set->task != QAT_TASK_SEQUENCE_CLASSIFICATION)
        return QAT_OK;
    const size_t *members = qat_data_batches_members(plan, b);
    for (size_t r = 0; r < rows; r++) {
        const qat_task_sentence *s = &set->s[members[r]];
        labels[r] = s->gold[0];
        if (types)
            memcpy(types + r * len, s->types, s->len * sizeof *types);
    }
    return QAT_OK;
}
