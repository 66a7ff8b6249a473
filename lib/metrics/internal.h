/* Shared between the metric files: input validation and the per-sentence
 * statistics the bootstrap resamples. */
#ifndef QAT_LIB_METRICS_INTERNAL_H
#define QAT_LIB_METRICS_INTERNAL_H

#include "metrics/metrics.h"

/* Parsed label: the seqeval tag class of its first character and its
 * interned type. */
enum { QAT_TAG_O, QAT_TAG_B, QAT_TAG_I, QAT_TAG_E, QAT_TAG_S, QAT_TAG_DOT, QAT_TAG_OTHER };

struct qat_metrics_tagset {
    size_t n_labels;
    uint8_t *tag;      /* n_labels */
    int32_t *type;     /* n_labels: index into types (sorted) */
    size_t n_types;
    char **types;      /* n_types, sorted */
    int32_t o_type;    /* the type of the separator "O": index of "_" */
};

qat_status qat_metrics_check_seqs(const qat_metrics_seqs *s, size_t n_labels, const char *what);

/* Entity counts per sentence (tp, pred, true), each chunk attributed to
 * the sentence holding its first token. Arrays of n_sentences. */
qat_status qat_metrics_ner_sentence_counts(const qat_metrics_tagset *ts, const qat_metrics_seqs *s,
                                           int64_t *tp, int64_t *n_pred, int64_t *n_true);

double qat_metrics_f1_from_counts(int64_t tp, int64_t n_pred, int64_t n_true, double *precision, double *recall);

/* sklearn scores from per-label counts (tp, pred, true), for the bootstrap. */
void qat_metrics_cls_from_counts(const int64_t *tp, const int64_t *pred, const int64_t *truth, size_t n_labels,
                                 qat_metrics_cls *out);

#endif
