/* A sequence-classification task encoded for the model: TSV/JSONL examples
 * through qat_tokenizer_encode_pair, one label per example. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "data/split.h"
#include "study/task_data.h"

qat_status qat_task_set_encode_seq(const qat_data_seqcls *c, const size_t *indices, size_t n,
                                   const qat_data_labels *labels, const qat_tokenizer *tok, size_t max_len,
                                   qat_task_set *out)
{
    if (!indices)
        n = qat_data_seqcls_count(c);
    QAT_TRY(qat_task_set_alloc(n, QAT_TASK_SEQUENCE_CLASSIFICATION, out));
    qat_status st = QAT_OK;
    for (size_t i = 0; st == QAT_OK && i < n; i++) {
        size_t at = indices ? indices[i] : i;
        const qat_data_seqcls_example *e = qat_data_seqcls_get(c, at);
        qat_task_sentence *s = &out->s[i];
        s->n_words = 1;
        s->gold = malloc(sizeof *s->gold);
        s->word_pos = malloc(sizeof *s->word_pos);
        s->ids = malloc(max_len * sizeof *s->ids);
        s->types = malloc(max_len * sizeof *s->types);
        if (!s->gold || !s->word_pos || !s->ids || !s->types) {
            st = qat_fail(QAT_ERR_OUT_OF_MEMORY, "task data: out of memory");
            break;
        }
        s->word_pos[0] = 0; /* the head reads the first token */
        st = qat_data_seqcls_label_id(c, at, labels, &s->gold[0]);
        if (st == QAT_OK)
            st = qat_tokenizer_encode_pair(tok, e->text_a, e->len_a, e->text_b, e->len_b, 0, max_len, s->ids,
                                           s->types, max_len, &s->len);
        if (st != QAT_OK)
            st = qat_fail_prefix(st, "%s:%llu", qat_data_seqcls_name(c), (unsigned long long)e->line);
        out->examples[i] = (qat_data_example){s->ids, NULL, s->len};
    }
    if (st != QAT_OK)
        qat_task_set_free(out);
    return st;
}

qat_status qat_task_sets_load_seq(const char *const paths[3], uint64_t seed, const qat_tokenizer *tok,
                                  size_t max_len, qat_task_set sets[3], qat_data_labels **labels)
{
    qat_data_seqcls *files[3] = {NULL, NULL, NULL};
    qat_status st = QAT_OK;
    for (int i = 0; st == QAT_OK && i < 3; i++)
        if (paths[i])
            st = qat_data_seqcls_read_file(paths[i], &files[i]);
    /* Pairs or single texts: the files of one task agree. */
    for (int i = 1; st == QAT_OK && i < 3; i++)
        if (files[i] && qat_data_seqcls_pairs(files[i]) != qat_data_seqcls_pairs(files[0]))
            st = qat_fail(QAT_ERR_FORMAT, "%s has %s, unlike %s", paths[i],
                          qat_data_seqcls_pairs(files[i]) ? "pairs of texts" : "single texts", paths[0]);
    const qat_data_seqcls *present[3];
    size_t n_present = 0;
    for (int i = 0; i < 3; i++)
        if (files[i])
            present[n_present++] = files[i];
    if (st == QAT_OK)
        st = qat_data_seqcls_labels(present, n_present, labels);
    if (st == QAT_OK && files[1] && files[2]) {
        for (int i = 0; st == QAT_OK && i < 3; i++)
            st = qat_task_set_encode_seq(files[i], NULL, 0, *labels, tok, max_len, &sets[i]);
    } else if (st == QAT_OK) {
        /* No ready split: the seeded split of docs/method.md section 7, as for CoNLL. */
        size_t n = qat_data_seqcls_count(files[0]);
        qat_data_split plan = {0};
        size_t *order = malloc(n * sizeof *order);
        st = order ? qat_data_split_plan(n, 0, 0, &plan) : qat_fail(QAT_ERR_OUT_OF_MEMORY, "task data: out of memory");
        if (st == QAT_OK)
            st = qat_data_split_assign(n, &plan, seed, order);
        size_t counts[3] = {plan.n_train, plan.n_val, plan.n_test}, at = 0;
        for (int i = 0; st == QAT_OK && i < 3; i++) {
            st = qat_task_set_encode_seq(files[0], order + at, counts[i], *labels, tok, max_len, &sets[i]);
            at += counts[i];
        }
        free(order);
    }
    for (int i = 0; i < 3; i++)
        qat_data_seqcls_free(files[i]);
    if (st != QAT_OK) {
        for (int i = 0; i < 3; i++)
            qat_task_set_free(&sets[i]);
        qat_data_labels_free(*labels);
        *labels = NULL;
    }
    return st;
}
