/* Evaluating a sequence classifier: one prediction per example (the argmax
 * of its logits), scored with the token-classification metrics over
 * "sentences" of one token, so accuracy, macro / weighted F1 and the
 * bootstrap over examples have scikit-learn's and the study's semantics. */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "study/evaluate.h"

typedef struct example_predictions {
    size_t n_labels;
    int32_t *pred;
} example_predictions;

static void take_examples(void *user, const size_t *members, size_t rows, size_t len, const float *logits)
{
    (void)len;
    example_predictions *p = user;
    for (size_t r = 0; r < rows; r++)
        p->pred[members[r]] = qat_eval_argmax(logits + r * p->n_labels, p->n_labels);
}

static qat_status predict(qat_model *model, const qat_task_set *set, size_t n_labels, size_t batch_size,
                          int32_t *pred)
{
    example_predictions p = {n_labels, pred};
    return qat_eval_forward(model, set, n_labels, batch_size, take_examples, &p);
}

qat_status qat_evaluate_seq(qat_model *model, const qat_task_set *set, const qat_data_labels *labels,
                            size_t batch_size, uint64_t seed, qat_eval_result *out)
{
    memset(out, 0, sizeof *out);
    out->sequence = 1;
    size_t n = set->n, n_labels = qat_data_labels_count(labels);
    if (n == 0)
        return qat_fail(QAT_ERR_FORMAT, "evaluation: no examples to score");
    size_t logits_n = 0;
    QAT_TRY(qat_model_logits_size(model, 1, 1, &logits_n));
    if (logits_n != n_labels)
        return qat_fail(QAT_ERR_STATE, "evaluation: the model has %zu labels, the task %zu", logits_n, n_labels);
    size_t *offsets = malloc((n + 1) * sizeof *offsets);
    int32_t *gold = malloc(n * sizeof *gold), *pred = malloc(n * sizeof *pred);
    qat_status st = offsets && gold && pred ? QAT_OK : qat_fail(QAT_ERR_OUT_OF_MEMORY, "evaluation: out of memory");
    for (size_t i = 0; st == QAT_OK && i <= n; i++) {
        offsets[i] = i;
        if (i < n)
            gold[i] = set->s[i].gold[0];
    }
    if (st == QAT_OK)
        st = predict(model, set, n_labels, batch_size, pred);
    qat_metrics_seqs seqs = {gold, pred, offsets, n};
    if (st == QAT_OK)
        st = qat_metrics_classification(&seqs, n_labels, &out->tokens);
    if (st == QAT_OK)
        st = qat_metrics_bootstrap(&seqs, QAT_METRICS_ACCURACY, NULL, n_labels, 0, 0.95, seed, &out->ci);
    if (st == QAT_OK)
        st = qat_metrics_bootstrap(&seqs, QAT_METRICS_MACRO_F1, NULL, n_labels, 0, 0.95, seed, &out->ci_macro);
    if (st == QAT_OK) {
        out->f1 = out->tokens.accuracy;
        out->collapsed = qat_metrics_collapsed(out->f1);
        out->sentences = n;
        out->words = n;
    }
    free(offsets);
    free(gold);
    free(pred);
    return st;
}

static json_object *pair(double a, double b)
{
    json_object *j = json_object_new_array();
    json_object_array_add(j, json_object_new_double(a));
    json_object_array_add(j, json_object_new_double(b));
    return j;
}

/* "f1" holds the headline score, named by "f1_metric" (here the accuracy),
 * so reports and sweeps read every task alike. */
json_object *qat_eval_seq_result_json(const qat_eval_result *e)
{
    json_object *j = json_object_new_object();
    json_object_object_add(j, "f1", json_object_new_double(e->f1));
    json_object_object_add(j, "f1_metric", json_object_new_string("accuracy"));
    json_object_object_add(j, "f1_ci95", pair(e->ci.low, e->ci.high));
    json_object_object_add(j, "collapsed", json_object_new_boolean(e->collapsed));
    json_object_object_add(j, "accuracy", json_object_new_double(e->tokens.accuracy));
    json_object_object_add(j, "accuracy_ci95", pair(e->ci.low, e->ci.high));
    json_object_object_add(j, "macro_f1", json_object_new_double(e->tokens.macro_f1));
    json_object_object_add(j, "macro_f1_ci95", pair(e->ci_macro.low, e->ci_macro.high));
    json_object_object_add(j, "weighted_f1", json_object_new_double(e->tokens.weighted_f1));
    json_object_object_add(j, "examples", json_object_new_int64((int64_t)e->sentences));
    json_object_object_add(j, "correct", json_object_new_int64(e->tokens.n_correct));
    return j;
}
