/* Evaluating a token-classification model on an encoded task set. */
#ifndef QAT_LIB_EVALUATE_H
#define QAT_LIB_EVALUATE_H

#include "metrics/metrics.h"
#include "qat/model.h"
#include "study/task_data.h"

typedef struct qat_eval_result {
    int ner;                   /* IOB2 tag set: entity-level F1 */
    int sequence;              /* sequence classification: tokens = examples */
    qat_metrics_ci ci_macro;   /* sequence classification: bootstrap of the macro F1 */
    qat_metrics_prf entity;    /* NER */
    qat_metrics_cls tokens;    /* POS (and token accuracy for NER) */
    double f1;                 /* the headline F1: entity F1, else micro F1 */
    qat_metrics_ci ci;         /* bootstrap interval of the headline F1 */
    /* ... and of the token F1s (same seed: the same resampled sentences;
     * ci_macro above holds the macro F1's) */
    qat_metrics_ci ci_micro, ci_weighted;
    int collapsed;
    size_t sentences, words;
} qat_eval_result;

/* The model (in eval mode) over set in bucketed batches of batch_size:
 * take() receives each batch's example indices (members, rows of them),
 * its padded length and the logits, [rows * len, n_labels] for token
 * classification or [rows, n_labels] for sequence classification. */
typedef void (*qat_eval_batch_fn)(void *user, const size_t *members, size_t rows, size_t len, const float *logits);
qat_status qat_eval_forward(qat_model *model, const qat_task_set *set, size_t n_labels, size_t batch_size,
                            qat_eval_batch_fn take, void *user);

/* The index of a row's largest logit (the first on ties). */
static inline int32_t qat_eval_argmax(const float *z, size_t n)
{
    int32_t best = 0;
    for (size_t c = 1; c < n; c++)
        if (z[c] > z[best])
            best = (int32_t)c;
    return best;
}

/* predictions: NULL, or (token classification) receives the predicted
 * label id of every word, sentence after sentence (out->words of them, the
 * caller frees it). */
qat_status qat_evaluate(qat_model *model, const qat_task_set *set, const qat_data_labels *labels, int ner,
                        size_t batch_size, uint64_t seed, qat_eval_result *out, int32_t **predictions);
/* qat_evaluate of a sequence-classification set (evaluate_seq.c): the
 * argmax of each example's logits against its label; accuracy (the
 * headline, out->f1), macro and weighted F1 as scikit-learn computes them,
 * and bootstrap intervals (over examples) of the accuracy and macro F1. */
qat_status qat_evaluate_seq(qat_model *model, const qat_task_set *set, const qat_data_labels *labels,
                            size_t batch_size, uint64_t seed, qat_eval_result *out);

/* The JSON object results.json holds for one evaluated split. */
struct json_object;
struct json_object *qat_eval_result_json(const qat_eval_result *e);
struct json_object *qat_eval_seq_result_json(const qat_eval_result *e);
/* 1 when every tag is O, B-X or I-X with at least one entity (NER). */
int qat_pipeline_looks_iob2(const qat_data_conll *c);

#endif
