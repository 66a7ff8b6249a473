/* Label names -> seqeval (tag, type) pairs, parsed once so scoring works
 * on integers. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "metrics/internal.h"

/* Length of the UTF-8 sequence a lead byte starts (1 for stray bytes):
 * seqeval takes the first *character* as the tag. */
static size_t utf8_len(unsigned char c)
{
    if (c >= 0xF0 && c <= 0xF4)
        return 4;
    if (c >= 0xE0)
        return c <= 0xEF ? 3 : 1;
    if (c >= 0xC2)
        return 2;
    return 1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int find_type(char *const *types, size_t n, const char *name)
{
    char *const *hit = bsearch(&name, types, n, sizeof *types, cmp_str);
    return hit ? (int)(hit - types) : -1;
}

/* seqeval (suffix=False): type_ = chunk[1:].split('-', maxsplit=1)[-1] or '_' */
static const char *type_of(const char *name, size_t *len)
{
    size_t n = strlen(name);
    size_t first = n ? utf8_len((unsigned char)name[0]) : 0;
    if (first > n)
        first = n;
    const char *rest = name + first;
    const char *dash = strchr(rest, '-');
    const char *t = dash ? dash + 1 : rest;
    *len = strlen(t);
    if (*len == 0) {
        *len = 1;
        return "_";
    }
    return t;
}

static uint8_t tag_of(const char *name)
{
    /* A multi-byte first character is never one of the ASCII tags. */
    switch (name[0]) {
    case 'O': return QAT_TAG_O;
    case 'B': return QAT_TAG_B;
    case 'I': return QAT_TAG_I;
    case 'E': return QAT_TAG_E;
    case 'S': return QAT_TAG_S;
    case '.': return QAT_TAG_DOT;
    default: return QAT_TAG_OTHER;
    }
}

void qat_metrics_tagset_free(qat_metrics_tagset *ts)
{
    if (!ts)
        return;
    for (size_t i = 0; i < ts->n_types; i++)
        free(ts->types[i]);
    free(ts->types);
    free(ts->tag);
    free(ts->type);
    free(ts);
}

qat_status qat_metrics_tagset_create(const char *const *names, size_t n_names, qat_metrics_tagset **out)
{
    QAT_CHECK_ARG(out != NULL, "tagset: NULL output");
    *out = NULL;
    QAT_CHECK_ARG(names != NULL && n_names > 0, "tagset: no label names");
    for (size_t i = 0; i < n_names; i++)
        QAT_CHECK_ARG(names[i] != NULL && names[i][0] != '\0', "tagset: label %zu is empty", i);
    qat_metrics_tagset *ts = calloc(1, sizeof *ts);
    if (!ts)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "tagset: out of memory");
    ts->n_labels = n_names;
    ts->tag = calloc(n_names, 1);
    ts->type = calloc(n_names, sizeof *ts->type);
    /* "_" (the type of "O", the sentence separator) plus one per label. */
    ts->types = calloc(n_names + 1, sizeof *ts->types);
    if (!ts->tag || !ts->type || !ts->types)
        goto oom;
    ts->types[ts->n_types] = strdup("_");
    if (!ts->types[ts->n_types++])
        goto oom;
    for (size_t i = 0; i < n_names; i++) {
        size_t len;
        const char *t = type_of(names[i], &len);
        ts->types[ts->n_types] = strndup(t, len);
        if (!ts->types[ts->n_types++])
            goto oom;
    }
    qsort(ts->types, ts->n_types, sizeof *ts->types, cmp_str);
    size_t w = 0; /* unique */
    for (size_t i = 0; i < ts->n_types; i++) {
        if (w > 0 && strcmp(ts->types[w - 1], ts->types[i]) == 0)
            free(ts->types[i]);
        else
            ts->types[w++] = ts->types[i];
    }
    ts->n_types = w;
    for (size_t i = 0; i < n_names; i++) {
        size_t len;
        const char *t = type_of(names[i], &len);
        char tmp[256];
        char *key = len < sizeof tmp ? tmp : strndup(t, len);
        if (!key)
            goto oom;
        if (key == tmp) {
            memcpy(tmp, t, len);
            tmp[len] = '\0';
        }
        ts->type[i] = find_type(ts->types, ts->n_types, key);
        if (key != tmp)
            free(key);
        ts->tag[i] = tag_of(names[i]);
    }
    ts->o_type = find_type(ts->types, ts->n_types, "_");
    *out = ts;
    return QAT_OK;
oom:
    qat_metrics_tagset_free(ts);
    return qat_fail(QAT_ERR_OUT_OF_MEMORY, "tagset: out of memory");
}

size_t qat_metrics_tagset_type_count(const qat_metrics_tagset *ts)
{
    return ts ? ts->n_types : 0;
}

const char *qat_metrics_tagset_type_name(const qat_metrics_tagset *ts, size_t type)
{
    return ts && type < ts->n_types ? ts->types[type] : NULL;
}

qat_status qat_metrics_check_seqs(const qat_metrics_seqs *s, size_t n_labels, const char *what)
{
    QAT_CHECK_ARG(s != NULL, "%s: NULL sequences", what);
    QAT_CHECK_ARG(s->offsets != NULL, "%s: NULL offsets", what);
    QAT_CHECK_ARG(s->offsets[0] == 0, "%s: offsets[0] must be 0", what);
    for (size_t i = 0; i < s->n_sentences; i++)
        QAT_CHECK_ARG(s->offsets[i + 1] >= s->offsets[i], "%s: offsets decrease at sentence %zu", what, i);
    size_t n = s->offsets[s->n_sentences];
    QAT_CHECK_ARG(n == 0 || (s->gold && s->pred), "%s: NULL gold or predicted labels", what);
    for (size_t i = 0; i < n; i++) {
        QAT_CHECK_ARG(s->gold[i] >= 0 && (size_t)s->gold[i] < n_labels,
                      "%s: gold label %d at token %zu is outside [0, %zu)", what, s->gold[i], i, n_labels);
        QAT_CHECK_ARG(s->pred[i] >= 0 && (size_t)s->pred[i] < n_labels,
                      "%s: predicted label %d at token %zu is outside [0, %zu)", what, s->pred[i], i, n_labels);
    }
    return QAT_OK;
}

double qat_metrics_f1_from_counts(int64_t tp, int64_t n_pred, int64_t n_true, double *precision, double *recall)
{
    /* sklearn/seqeval: a zero denominator gives 0 (zero_division "warn"),
     * f = 2 * p * r / (p + r) with a zero denominator replaced by 1. */
    double p = n_pred > 0 ? (double)tp / (double)n_pred : 0.0;
    double r = n_true > 0 ? (double)tp / (double)n_true : 0.0;
    double denom = p + r;
    if (denom == 0.0)
        denom = 1.0;
    if (precision)
        *precision = p;
    if (recall)
        *recall = r;
    return 2.0 * p * r / denom;
}
