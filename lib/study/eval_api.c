/* qat_model_evaluate: one CoNLL file through a saved token classifier, or
 * one TSV/JSONL file through a sequence classifier. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/file_io.h"
#include "core/json.h"
#include "model/model.h"
#include "study/evaluate.h"

/* The model's label names, or "0".."C-1" where it has none. */
static qat_status model_labels(const qat_model *m, qat_data_labels **out)
{
    if (m->label_names)
        return qat_data_labels_from_ordered((const char *const *)m->label_names, m->n_label_names, out);
    size_t n = (size_t)m->num_labels;
    char **names = calloc(n, sizeof *names), buf[24];
    qat_status st = names ? QAT_OK : qat_fail(QAT_ERR_OUT_OF_MEMORY, "qat_model_evaluate: out of memory");
    for (size_t i = 0; st == QAT_OK && i < n; i++) {
        snprintf(buf, sizeof buf, "%zu", i);
        if (!(names[i] = strdup(buf)))
            st = qat_fail(QAT_ERR_OUT_OF_MEMORY, "qat_model_evaluate: out of memory");
    }
    if (st == QAT_OK)
        st = qat_data_labels_from_ordered((const char *const *)names, n, out);
    for (size_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
    return st;
}

static qat_status evaluate_seq_file(qat_model *m, const qat_tokenizer *tok, const char *path, int64_t max_seq_len,
                                    const char *results_path, double *score)
{
    if (!qat_data_seqcls_is_task_file(path))
        return qat_fail(QAT_ERR_INVALID_ARGUMENT, "qat_model_evaluate: %s: a sequence classifier evaluates a .tsv or "
                        ".jsonl file", path);
    qat_data_labels *labels = NULL;
    qat_data_seqcls *file = NULL;
    qat_task_set set = {0};
    qat_eval_result result;
    QAT_TRY(model_labels(m, &labels));
    qat_status st = qat_data_seqcls_read_file(path, &file);
    if (st == QAT_OK)
        st = qat_task_set_encode_seq(file, NULL, 0, labels, tok, (size_t)max_seq_len, &set);
    if (st == QAT_OK)
        st = qat_evaluate_seq(m, &set, labels, 32, 42, &result);
    if (st == QAT_OK && results_path) {
        json_object *j = qat_eval_seq_result_json(&result);
        json_object_object_add(j, "file", json_object_new_string(path));
        st = qat_json_write_file(results_path, j);
        json_object_put(j);
    }
    if (st == QAT_OK && score)
        *score = result.f1;
    qat_task_set_free(&set);
    qat_data_seqcls_free(file);
    qat_data_labels_free(labels);
    return st;
}

/* The predicted tag of every word, a list per sentence (as seqeval takes
 * them). */
static json_object *predictions_json(const qat_data_conll *c, const qat_data_labels *labels, const int32_t *pred)
{
    json_object *all = json_object_new_array();
    for (size_t i = 0, w = 0; i < qat_data_conll_sentence_count(c); i++) {
        json_object *sentence = json_object_new_array();
        for (size_t k = 0; k < qat_data_conll_sentence_length(c, i); k++)
            json_object_array_add(sentence, json_object_new_string(qat_data_labels_name(labels, pred[w++])));
        json_object_array_add(all, sentence);
    }
    return all;
}

QAT_API qat_status qat_model_evaluate(qat_model *m, const qat_tokenizer *tok, const char *conll_path,
                                      int64_t max_seq_len, const char *results_path, double *f1)
{
    QAT_CHECK_ARG(m != NULL && tok != NULL && conll_path != NULL, "qat_model_evaluate: NULL model, tokenizer or path");
    QAT_CHECK_ARG(max_seq_len >= 8 && max_seq_len <= 1 << 16, "qat_model_evaluate: max_seq_len must be 8..65536");
    if (m->task == QAT_TASK_SEQUENCE_CLASSIFICATION)
        return evaluate_seq_file(m, tok, conll_path, max_seq_len, results_path, f1);
    QAT_CHECK_ARG(m->task == QAT_TASK_TOKEN_CLASSIFICATION,
                  "qat_model_evaluate: not a token- or sequence-classification model");
    if (!m->label_names)
        return qat_fail(QAT_ERR_STATE, "qat_model_evaluate: the model has no label names (config.json id2label); "
                                       "set them with qat_model_set_label_names");
    qat_data_labels *labels = NULL;
    qat_data_conll *conll = NULL;
    qat_task_set set = {0};
    qat_eval_result result;
    QAT_TRY(qat_data_labels_from_ordered((const char *const *)m->label_names, m->n_label_names, &labels));
    int ner = 0;
    int32_t *pred = NULL;
    qat_status st = qat_task_conll_read(m->ctx, conll_path, &ner, &conll);
    if (st == QAT_OK)
        st = qat_task_set_encode(conll, NULL, 0, labels, tok, (size_t)max_seq_len, &set);
    if (st == QAT_OK)
        st = qat_evaluate(m, &set, labels, ner, 32, 42, &result, results_path ? &pred : NULL);
    if (st == QAT_OK && results_path) {
        json_object *j = qat_eval_result_json(&result);
        json_object_object_add(j, "file", json_object_new_string(conll_path));
        json_object_object_add(j, "predictions", predictions_json(conll, labels, pred));
        st = qat_json_write_file(results_path, j);
        json_object_put(j);
    }
    free(pred);
    if (st == QAT_OK && f1)
        *f1 = result.f1;
    qat_task_set_free(&set);
    qat_data_conll_free(conll);
    qat_data_labels_free(labels);
    return st;
}
