/* Entity-level scores with seqeval 1.2.2's default (non-strict) chunking,
 * reproduced rule for rule from seqeval.metrics.sequence_labeling:
 * get_entities / end_of_chunk / start_of_chunk. That is conlleval's
 * behaviour: an I-X after O or after another type opens an entity, a type
 * change closes one, and odd tags are treated as their first letter says. */
#include <stdlib.h>

#include "core/error.h"
#include "metrics/internal.h"

typedef struct chunk {
    int32_t type;
    size_t begin, end;  /* positions in the flattened sequence */
    size_t sentence;    /* the sentence holding `begin` */
} chunk;

typedef struct chunk_list {
    chunk *items;
    size_t n, cap;
} chunk_list;

static int end_of_chunk(int prev_tag, int tag, int32_t prev_type, int32_t type)
{
    if (prev_tag == QAT_TAG_E || prev_tag == QAT_TAG_S)
        return 1;
    if ((prev_tag == QAT_TAG_B || prev_tag == QAT_TAG_I) &&
        (tag == QAT_TAG_B || tag == QAT_TAG_S || tag == QAT_TAG_O))
        return 1;
    return prev_tag != QAT_TAG_O && prev_tag != QAT_TAG_DOT && prev_type != type;
}

static int start_of_chunk(int prev_tag, int tag, int32_t prev_type, int32_t type)
{
    if (tag == QAT_TAG_B || tag == QAT_TAG_S)
        return 1;
    if ((prev_tag == QAT_TAG_E || prev_tag == QAT_TAG_S || prev_tag == QAT_TAG_O) &&
        (tag == QAT_TAG_E || tag == QAT_TAG_I))
        return 1;
    return tag != QAT_TAG_O && tag != QAT_TAG_DOT && prev_type != type;
}

typedef struct chunker {
    int prev_tag;
    int32_t prev_type;
    size_t begin, begin_sentence, pos;
} chunker;

static qat_status push(chunk_list *l, chunk c)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        chunk *p = realloc(l->items, cap * sizeof *p);
        if (!p)
            return qat_fail(QAT_ERR_OUT_OF_MEMORY, "ner: out of memory");
        l->items = p;
        l->cap = cap;
    }
    l->items[l->n++] = c;
    return QAT_OK;
}

static qat_status feed(chunker *c, chunk_list *l, int tag, int32_t type, size_t sentence)
{
    if (end_of_chunk(c->prev_tag, tag, c->prev_type, type))
        QAT_TRY(push(l, (chunk){c->prev_type, c->begin, c->pos - 1, c->begin_sentence}));
    if (start_of_chunk(c->prev_tag, tag, c->prev_type, type)) {
        c->begin = c->pos;
        c->begin_sentence = sentence;
    }
    c->prev_tag = tag;
    c->prev_type = type;
    c->pos++;
    return QAT_OK;
}

/* get_entities over the sentences flattened with an "O" after each. */
static qat_status entities(const qat_metrics_tagset *ts, const qat_metrics_seqs *s, const int32_t *labels,
                           chunk_list *out)
{
    /* prev_type starts as '' in seqeval, which no label's type equals. */
    chunker c = {QAT_TAG_O, -1, 0, 0, 0};
    for (size_t i = 0; i < s->n_sentences; i++) {
        for (size_t t = s->offsets[i]; t < s->offsets[i + 1]; t++)
            QAT_TRY(feed(&c, out, ts->tag[labels[t]], ts->type[labels[t]], i));
        QAT_TRY(feed(&c, out, QAT_TAG_O, ts->o_type, i));
    }
    /* seq + ['O']: the trailing O closes whatever the last separator left. */
    return feed(&c, out, QAT_TAG_O, ts->o_type, s->n_sentences ? s->n_sentences - 1 : 0);
}

/* Walks both chunk lists (each has strictly increasing ends, since a chunk
 * is emitted at most once per position) and calls back per chunk. */
typedef void (*visit_fn)(void *user, const chunk *c, int is_gold, int matched);

static void match(const chunk_list *g, const chunk_list *p, visit_fn fn, void *user)
{
    size_t i = 0, j = 0;
    while (i < g->n || j < p->n) {
        if (j == p->n || (i < g->n && g->items[i].end < p->items[j].end)) {
            fn(user, &g->items[i++], 1, 0);
        } else if (i == g->n || p->items[j].end < g->items[i].end) {
            fn(user, &p->items[j++], 0, 0);
        } else {
            const chunk *a = &g->items[i++], *b = &p->items[j++];
            int same = a->begin == b->begin && a->type == b->type;
            fn(user, a, 1, same);
            fn(user, b, 0, same);
        }
    }
}

typedef struct totals {
    qat_metrics_prf *micro;
    qat_metrics_prf *per_type;
    int64_t *tp, *n_pred, *n_true; /* per sentence */
} totals;

static void count(void *user, const chunk *c, int is_gold, int matched)
{
    totals *t = user;
    if (t->micro) {
        if (is_gold) {
            t->micro->n_true++;
            t->micro->tp += matched;
        } else {
            t->micro->n_pred++;
        }
    }
    if (t->per_type) {
        qat_metrics_prf *pt = &t->per_type[c->type];
        if (is_gold) {
            pt->n_true++;
            pt->tp += matched;
        } else {
            pt->n_pred++;
        }
    }
    if (t->tp) {
        if (is_gold) {
            t->n_true[c->sentence]++;
            t->tp[c->sentence] += matched;
        } else {
            t->n_pred[c->sentence]++;
        }
    }
}

static qat_status run(const qat_metrics_tagset *ts, const qat_metrics_seqs *s, totals *t)
{
    QAT_CHECK_ARG(ts != NULL, "ner: NULL tagset");
    QAT_TRY(qat_metrics_check_seqs(s, ts->n_labels, "ner"));
    chunk_list g = {0}, p = {0};
    qat_status st = entities(ts, s, s->gold, &g);
    if (st == QAT_OK)
        st = entities(ts, s, s->pred, &p);
    if (st == QAT_OK)
        match(&g, &p, count, t);
    free(g.items);
    free(p.items);
    return st;
}

qat_status qat_metrics_ner(const qat_metrics_tagset *ts, const qat_metrics_seqs *s, qat_metrics_prf *micro,
                           qat_metrics_prf *per_type)
{
    QAT_CHECK_ARG(micro != NULL, "ner: NULL result");
    *micro = (qat_metrics_prf){0};
    if (per_type && ts)
        for (size_t i = 0; i < ts->n_types; i++)
            per_type[i] = (qat_metrics_prf){0};
    totals t = {micro, per_type, NULL, NULL, NULL};
    QAT_TRY(run(ts, s, &t));
    micro->f1 = qat_metrics_f1_from_counts(micro->tp, micro->n_pred, micro->n_true, &micro->precision,
                                           &micro->recall);
    if (per_type)
        for (size_t i = 0; i < ts->n_types; i++)
            per_type[i].f1 = qat_metrics_f1_from_counts(per_type[i].tp, per_type[i].n_pred, per_type[i].n_true,
                                                        &per_type[i].precision, &per_type[i].recall);
    return QAT_OK;
}

qat_status qat_metrics_ner_sentence_counts(const qat_metrics_tagset *ts, const qat_metrics_seqs *s,
                                           int64_t *tp, int64_t *n_pred, int64_t *n_true)
{
    for (size_t i = 0; i < s->n_sentences; i++)
        tp[i] = n_pred[i] = n_true[i] = 0;
    totals t = {NULL, NULL, tp, n_pred, n_true};
    return run(ts, s, &t);
}
