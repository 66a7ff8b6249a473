/* Predictions are the argmax of the logits on each word's first sub-token;
 * a word cut off by truncation is predicted "O" (or label 0), as the
 * study's pipeline scores what the model could not see. */
#include "study/evaluate.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

static int32_t fallback_label(const qat_data_labels *labels)
{
    int32_t id;
    if (qat_data_labels_id(labels, "O", &id) == QAT_OK)
        return id;
    qat_clear_error();
    return 0;
}

qat_status qat_eval_forward(qat_model *model, const qat_task_set *set, size_t n_labels, size_t batch_size,
                            qat_eval_batch_fn take, void *user)
{
    qat_data_batch_options bo;
    qat_data_batch_options_init(&bo);
    bo.batch_size = batch_size;
    bo.shuffle = 0;
    bo.bucketing = 1; /* similar lengths together: less padding, same predictions */
    qat_data_batches *plan = NULL;
    QAT_TRY(qat_data_batches_plan(set->examples, set->n, &bo, NULL, &plan));
    const int per_token = set->task != QAT_TASK_SEQUENCE_CLASSIFICATION;
    qat_status st = qat_model_set_training(model, 0);
    int32_t *ids = NULL, *mask = NULL, *types = NULL, *lab = NULL;
    float *logits = NULL;
    size_t cap = 0;
    for (size_t b = 0; st == QAT_OK && b < qat_data_batches_count(plan); b++) {
        size_t rows, len;
        qat_data_batches_shape(plan, b, &rows, &len);
        if (rows * len > cap) {
            cap = rows * len;
            free(ids); free(mask); free(types); free(lab); free(logits);
            ids = malloc(cap * sizeof *ids);
            mask = malloc(cap * sizeof *mask);
            types = malloc(cap * sizeof *types);
            lab = malloc(cap * sizeof *lab);
            logits = malloc(cap * n_labels * sizeof *logits);
            if (!ids || !mask || !types || !lab || !logits) {
                st = qat_fail(QAT_ERR_OUT_OF_MEMORY, "evaluation: out of memory");
                break;
            }
        }
        st = qat_task_set_fill(set, plan, b, ids, mask, types, lab, cap);
        if (st == QAT_OK)
            st = qat_model_forward(model, ids, mask, types, (int64_t)rows, (int64_t)len, logits,
                                   (per_token ? rows * len : rows) * n_labels);
        if (st == QAT_OK)
            take(user, qat_data_batches_members(plan, b), rows, len, logits);
    }
    free(ids); free(mask); free(types); free(lab); free(logits);
    qat_data_batches_free(plan);
    return st;
}

/* Token classification: each word's prediction is its first sub-token's
 * argmax (the fallback label for a word truncated away). */
typedef struct word_predictions {
    const qat_task_set *set;
    size_t n_labels;
    int32_t fallback;
    const size_t *offsets; /* of each sentence's words in pred */
    int32_t *pred;
} word_predictions;

static void take_words(void *user, const size_t *members, size_t rows, size_t len, const float *logits)
{
    word_predictions *p = user;
    for (size_t r = 0; r < rows; r++) {
        const qat_task_sentence *s = &p->set->s[members[r]];
        for (size_t w = 0; w < s->n_words; w++)
            p->pred[p->offsets[members[r]] + w] =
                s->word_pos[w] >= 0
                    ? qat_eval_argmax(logits + (r * len + (size_t)s->word_pos[w]) * p->n_labels, p->n_labels)
                    : p->fallback;
    }
}

static qat_status predict(qat_model *model, const qat_task_set *set, const qat_data_labels *labels,
                          size_t batch_size, int32_t *pred, const size_t *offsets)
{
    word_predictions p = {set, qat_data_labels_count(labels), fallback_label(labels), offsets, pred};
    return qat_eval_forward(model, set, p.n_labels, batch_size, take_words, &p);
}

qat_status qat_evaluate(qat_model *model, const qat_task_set *set, const qat_data_labels *labels, int ner,
                        size_t batch_size, uint64_t seed, qat_eval_result *out, int32_t **predictions)
{
    if (predictions)
        *predictions = NULL;
    if (set->task == QAT_TASK_SEQUENCE_CLASSIFICATION)
        return qat_evaluate_seq(model, set, labels, batch_size, seed, out);
    memset(out, 0, sizeof *out);
    out->ner = ner;
    size_t *offsets = malloc((set->n + 1) * sizeof *offsets);
    if (!offsets)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "evaluation: out of memory");
    offsets[0] = 0;
    for (size_t i = 0; i < set->n; i++)
        offsets[i + 1] = offsets[i] + set->s[i].n_words;
    size_t words = offsets[set->n];
    int32_t *gold = malloc((words ? words : 1) * sizeof *gold), *pred = malloc((words ? words : 1) * sizeof *pred);
    qat_status st = gold && pred ? QAT_OK : qat_fail(QAT_ERR_OUT_OF_MEMORY, "evaluation: out of memory");
    for (size_t i = 0; st == QAT_OK && i < set->n; i++)
        memcpy(gold + offsets[i], set->s[i].gold, set->s[i].n_words * sizeof *gold);
    if (st == QAT_OK)
        st = predict(model, set, labels, batch_size, pred, offsets);
    qat_metrics_seqs seqs = {gold, pred, offsets, set->n};
    size_t n_labels = qat_data_labels_count(labels);
    qat_metrics_tagset *ts = NULL;
    if (st == QAT_OK)
        st = qat_metrics_classification(&seqs, n_labels, &out->tokens);
    if (st == QAT_OK && ner) {
        const char **names = malloc(n_labels * sizeof *names);
        if (!names)
            st = qat_fail(QAT_ERR_OUT_OF_MEMORY, "evaluation: out of memory");
        for (size_t i = 0; st == QAT_OK && i < n_labels; i++)
            names[i] = qat_data_labels_name(labels, (int32_t)i);
        if (st == QAT_OK)
            st = qat_metrics_tagset_create(names, n_labels, &ts);
        free((void *)names);
        if (st == QAT_OK)
            st = qat_metrics_ner(ts, &seqs, &out->entity, NULL);
    }
    if (st == QAT_OK) {
        out->f1 = ner ? out->entity.f1 : out->tokens.micro_f1;
        out->collapsed = qat_metrics_collapsed(out->f1);
        out->sentences = set->n;
        out->words = words;
        if (set->n > 0)
            st = qat_metrics_bootstrap(&seqs, ner ? QAT_METRICS_NER_F1 : QAT_METRICS_ACCURACY, ts, n_labels, 0, 0.95,
                                       seed, &out->ci);
        /* Every F1 results.json reports gets its interval (issue #11). */
        if (st == QAT_OK && set->n > 0)
            st = qat_metrics_bootstrap(&seqs, QAT_METRICS_ACCURACY, NULL, n_labels, 0, 0.95, seed, &out->ci_micro);
        if (st == QAT_OK && set->n > 0)
            st = qat_metrics_bootstrap(&seqs, QAT_METRICS_MACRO_F1, NULL, n_labels, 0, 0.95, seed, &out->ci_macro);
        if (st == QAT_OK && set->n > 0)
            st = qat_metrics_bootstrap(&seqs, QAT_METRICS_WEIGHTED_F1, NULL, n_labels, 0, 0.95, seed,
                                       &out->ci_weighted);
    }
    qat_metrics_tagset_free(ts);
    free(gold);
    if (st == QAT_OK && predictions) {
        *predictions = pred;
        pred = NULL;
    }
    free(pred);
    free(offsets);
    return st;
}
