/* Token classification scores with scikit-learn 1.2's f1_score semantics
 * (labels = those present in gold or predictions, zero_division => 0). */
#include <stdlib.h>

#include "core/error.h"
#include "metrics/internal.h"

/* Per-label counts to scores; counts are tp, pred, true per label. */
static void scores(const int64_t *tp, const int64_t *pred, const int64_t *truth, size_t n_labels,
                   qat_metrics_cls *out)
{
    int64_t sum_tp = 0, sum_pred = 0, sum_true = 0, present = 0;
    double macro = 0.0, weighted = 0.0;
    for (size_t l = 0; l < n_labels; l++) {
        if (pred[l] == 0 && truth[l] == 0)
            continue;
        double f = qat_metrics_f1_from_counts(tp[l], pred[l], truth[l], NULL, NULL);
        macro += f;
        weighted += f * (double)truth[l];
        sum_tp += tp[l];
        sum_pred += pred[l];
        sum_true += truth[l];
        present++;
    }
    out->n_tokens = sum_true;
    out->n_correct = sum_tp;
    out->n_labels = present;
    out->accuracy = sum_true ? (double)sum_tp / (double)sum_true : 0.0;
    out->micro_f1 = qat_metrics_f1_from_counts(sum_tp, sum_pred, sum_true, NULL, NULL);
    out->macro_f1 = present ? macro / (double)present : 0.0;
    /* sklearn: with no true samples at all the weighted score is 0. */
    out->weighted_f1 = sum_true ? weighted / (double)sum_true : 0.0;
}

void qat_metrics_cls_from_counts(const int64_t *tp, const int64_t *pred, const int64_t *truth, size_t n_labels,
                                 qat_metrics_cls *out)
{
    scores(tp, pred, truth, n_labels, out);
}

qat_status qat_metrics_classification(const qat_metrics_seqs *s, size_t n_labels, qat_metrics_cls *out)
{
    QAT_CHECK_ARG(out != NULL, "classification: NULL result");
    *out = (qat_metrics_cls){0};
    QAT_CHECK_ARG(n_labels > 0, "classification: no labels");
    QAT_TRY(qat_metrics_check_seqs(s, n_labels, "classification"));
    size_t n = s->offsets[s->n_sentences];
    QAT_CHECK_ARG(n > 0, "classification: no tokens to score");
    int64_t *c = calloc(3 * n_labels, sizeof *c);
    if (!c)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "classification: out of memory");
    int64_t *tp = c, *pred = c + n_labels, *truth = c + 2 * n_labels;
    for (size_t i = 0; i < n; i++) {
        truth[s->gold[i]]++;
        pred[s->pred[i]]++;
        tp[s->gold[i]] += s->gold[i] == s->pred[i];
    }
    scores(tp, pred, truth, n_labels, out);
    free(c);
    return QAT_OK;
}
