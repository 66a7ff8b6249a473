/* Evaluation metrics for token classification, with the semantics of the
 * reference tools so tables are comparable with the literature:
 *   NER: entity-level micro precision/recall/F1 as seqeval 1.2.2's default
 *        mode (conlleval-style chunking, not strict);
 *   POS: micro F1 (= token accuracy), macro F1 and support-weighted F1 as
 *        scikit-learn's f1_score (zero_division "warn" => 0);
 *   a seeded bootstrap confidence interval over sentences; a collapse flag;
 *   mean and standard deviation over seeds.
 *
 * Inputs are label ids (the trainer's), sentence by sentence; tokens that
 * carry no label (-100 sub-tokens) must be left out by the caller. */
#ifndef QAT_LIB_METRICS_H
#define QAT_LIB_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "qat/core.h"

/* Gold and predicted label ids of n_sentences sentences laid end to end:
 * sentence i is [offsets[i], offsets[i + 1]) of gold and pred, so offsets
 * has n_sentences + 1 entries, non-decreasing, offsets[0] = 0. */
typedef struct qat_metrics_seqs {
    const int32_t *gold;
    const int32_t *pred;
    const size_t *offsets;
    size_t n_sentences;
} qat_metrics_seqs;

typedef struct qat_metrics_prf {
    double precision;
    double recall;
    double f1;
    int64_t tp;     /* correct entities (or tokens) */
    int64_t n_pred; /* predicted entities */
    int64_t n_true; /* gold entities (the support) */
} qat_metrics_prf;

/* A run with F1 below this (a fraction, 20 %) is reported as collapsed. */
#define QAT_METRICS_COLLAPSE_F1 0.20

/* ---- NER (seqeval) --------------------------------------------------- */

/* The label names parsed once into seqeval's (tag, type) pairs: tag is the
 * first character, type what follows the first '-' after it (or all that
 * follows when there is no '-'), "_" when empty. Types are interned and
 * listed in sorted (code point) order, as seqeval's reports list them. */
typedef struct qat_metrics_tagset qat_metrics_tagset;

qat_status qat_metrics_tagset_create(const char *const *names, size_t n_names, qat_metrics_tagset **out);
void qat_metrics_tagset_free(qat_metrics_tagset *ts);
size_t qat_metrics_tagset_type_count(const qat_metrics_tagset *ts);
const char *qat_metrics_tagset_type_name(const qat_metrics_tagset *ts, size_t type);

/* Micro P/R/F1 over all entity types and, when per_type is not NULL,
 * per type (an array of qat_metrics_tagset_type_count() entries). The
 * sentences are chained with an "O" between them, as seqeval flattens a
 * list of lists. */
qat_status qat_metrics_ner(const qat_metrics_tagset *ts, const qat_metrics_seqs *s, qat_metrics_prf *micro,
                           qat_metrics_prf *per_type);

/* ---- Token classification (scikit-learn) ----------------------------- */

typedef struct qat_metrics_cls {
    double accuracy;    /* correct / tokens */
    double micro_f1;    /* f1_score(average="micro"); equals accuracy */
    double macro_f1;    /* f1_score(average="macro") */
    double weighted_f1; /* f1_score(average="weighted") */
    int64_t n_tokens;
    int64_t n_correct;
    int64_t n_labels;   /* labels present in gold or predictions */
} qat_metrics_cls;

/* Every id must be in [0, n_labels). The label set averaged over is the
 * labels that occur in gold or predictions (sklearn's unique_labels). */
qat_status qat_metrics_classification(const qat_metrics_seqs *s, size_t n_labels, qat_metrics_cls *out);

/* ---- Bootstrap, collapse, seeds --------------------------------------- */

typedef enum qat_metrics_kind {
    QAT_METRICS_NER_F1 = 1,     /* needs the tagset */
    QAT_METRICS_ACCURACY = 2,   /* = micro F1 of token classification */
    QAT_METRICS_MACRO_F1 = 3,
    QAT_METRICS_WEIGHTED_F1 = 4
} qat_metrics_kind;

typedef struct qat_metrics_ci {
    double point;  /* the metric on the data as given */
    double low;    /* percentile (1 - level) / 2 of the resampled metrics */
    double high;   /* percentile (1 + level) / 2 */
    double level;
    int64_t resamples;
} qat_metrics_ci;

#define QAT_METRICS_BOOTSTRAP_DEFAULT 1000

/* Percentile bootstrap over sentences: resamples = 0 means 1000, level in
 * (0, 1) (0.95 typical). Draw order: qat_rng seeded with `seed`; for each
 * resample, n_sentences draws qat_rng_below(n_sentences) in order. The
 * percentiles interpolate linearly between order statistics (numpy's
 * default). tagset is needed for QAT_METRICS_NER_F1, n_labels for the
 * others. */
qat_status qat_metrics_bootstrap(const qat_metrics_seqs *s, qat_metrics_kind kind, const qat_metrics_tagset *ts,
                                 size_t n_labels, size_t resamples, double level, uint64_t seed,
                                 qat_metrics_ci *out);

/* numpy.percentile(values, q) with the default linear method on a sorted
 * array (q in [0, 100]). */
double qat_metrics_percentile_sorted(const double *sorted, size_t n, double q);

/* 1 when the F1 (a fraction) marks a collapsed run (< 0.20). */
int qat_metrics_collapsed(double f1);

/* Mean and sample standard deviation (ddof = 1; 0 for a single value)
 * of per-seed results. */
qat_status qat_metrics_mean_std(const double *values, size_t n, double *mean, double *std);

#endif
