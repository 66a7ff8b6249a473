/* Percentile bootstrap over sentences. Sentence-level sufficient statistics
 * are computed once; each resample only sums them, so 1000 resamples of a
 * test set cost about as much as scoring it 1000 times by counting. */
#include <math.h>
#include <stdlib.h>

#include "core/error.h"
#include "core/rng.h"
#include "metrics/internal.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double qat_metrics_percentile_sorted(const double *sorted, size_t n, double q)
{
    if (n == 0)
        return NAN;
    /* numpy "linear": virtual index (n - 1) * q / 100 */
    double pos = (double)(n - 1) * (q / 100.0);
    size_t lo = (size_t)floor(pos);
    if (lo >= n - 1)
        return sorted[n - 1];
    double frac = pos - (double)lo;
    double a = sorted[lo], b = sorted[lo + 1];
    /* numpy's _lerp: a + (b - a) * t, or b - (b - a) * (1 - t) past 0.5 */
    double d = b - a;
    return frac >= 0.5 ? b - d * (1.0 - frac) : a + d * frac;
}

typedef struct ner_stats {
    int64_t *tp, *pred, *truth; /* per sentence */
} ner_stats;

static double resample_ner(const ner_stats *st, const size_t *pick, size_t n)
{
    int64_t tp = 0, pred = 0, truth = 0;
    for (size_t i = 0; i < n; i++) {
        tp += st->tp[pick[i]];
        pred += st->pred[pick[i]];
        truth += st->truth[pick[i]];
    }
    return qat_metrics_f1_from_counts(tp, pred, truth, NULL, NULL);
}

static double resample_cls(const qat_metrics_seqs *s, qat_metrics_kind kind, size_t n_labels, int64_t *counts,
                           const size_t *pick, size_t n)
{
    int64_t *tp = counts, *pred = counts + n_labels, *truth = counts + 2 * n_labels;
    for (size_t l = 0; l < 3 * n_labels; l++)
        counts[l] = 0;
    for (size_t i = 0; i < n; i++) {
        size_t sent = pick[i];
        for (size_t t = s->offsets[sent]; t < s->offsets[sent + 1]; t++) {
            truth[s->gold[t]]++;
            pred[s->pred[t]]++;
            tp[s->gold[t]] += s->gold[t] == s->pred[t];
        }
    }
    qat_metrics_cls r;
    qat_metrics_cls_from_counts(tp, pred, truth, n_labels, &r);
    return kind == QAT_METRICS_ACCURACY ? r.micro_f1 : kind == QAT_METRICS_MACRO_F1 ? r.macro_f1 : r.weighted_f1;
}

qat_status qat_metrics_bootstrap(const qat_metrics_seqs *s, qat_metrics_kind kind, const qat_metrics_tagset *ts,
                                 size_t n_labels, size_t resamples, double level, uint64_t seed,
                                 qat_metrics_ci *out)
{
    QAT_CHECK_ARG(out != NULL, "bootstrap: NULL result");
    *out = (qat_metrics_ci){0};
    QAT_CHECK_ARG(level > 0.0 && level < 1.0, "bootstrap: level must be in (0, 1), got %g", level);
    QAT_CHECK_ARG(kind >= QAT_METRICS_NER_F1 && kind <= QAT_METRICS_WEIGHTED_F1, "bootstrap: unknown metric %d",
                  (int)kind);
    QAT_CHECK_ARG(kind != QAT_METRICS_NER_F1 || ts != NULL, "bootstrap: NER F1 needs a tagset");
    if (resamples == 0)
        resamples = QAT_METRICS_BOOTSTRAP_DEFAULT;
    if (kind == QAT_METRICS_NER_F1)
        n_labels = ts->n_labels;
    QAT_CHECK_ARG(n_labels > 0, "bootstrap: no labels");
    QAT_TRY(qat_metrics_check_seqs(s, n_labels, "bootstrap"));
    size_t n = s->n_sentences;
    QAT_CHECK_ARG(n > 0, "bootstrap: no sentences");

    qat_status st = QAT_OK;
    double *values = malloc(resamples * sizeof *values);
    size_t *pick = malloc(n * sizeof *pick);
    size_t *all = malloc(n * sizeof *all);
    int64_t *buf = calloc(kind == QAT_METRICS_NER_F1 ? 3 * n : 3 * n_labels, sizeof *buf);
    if (!values || !pick || !all || !buf) {
        st = qat_fail(QAT_ERR_OUT_OF_MEMORY, "bootstrap: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        all[i] = i;
    ner_stats ner = {buf, buf + n, buf + 2 * n};
    if (kind == QAT_METRICS_NER_F1) {
        st = qat_metrics_ner_sentence_counts(ts, s, ner.tp, ner.pred, ner.truth);
        if (st != QAT_OK)
            goto done;
        out->point = resample_ner(&ner, all, n);
    } else {
        out->point = resample_cls(s, kind, n_labels, buf, all, n);
    }
    qat_rng rng;
    qat_rng_seed(&rng, seed);
    for (size_t r = 0; r < resamples; r++) {
        for (size_t i = 0; i < n; i++)
            pick[i] = (size_t)qat_rng_below(&rng, n);
        values[r] = kind == QAT_METRICS_NER_F1 ? resample_ner(&ner, pick, n)
                                               : resample_cls(s, kind, n_labels, buf, pick, n);
    }
    qsort(values, resamples, sizeof *values, cmp_double);
    out->low = qat_metrics_percentile_sorted(values, resamples, 100.0 * (1.0 - level) / 2.0);
    out->high = qat_metrics_percentile_sorted(values, resamples, 100.0 * (1.0 + level) / 2.0);
    out->level = level;
    out->resamples = (int64_t)resamples;
done:
    free(values);
    free(pick);
    free(all);
    free(buf);
    return st;
}
