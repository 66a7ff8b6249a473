#include "data/batch.h"

#include <stdlib.h>

#include "core/error.h"
#include "data/mlm.h"

struct qat_data_batches {
    const qat_data_example *ex;
    size_t *order;      /* example indices, batch after batch */
    size_t *start;      /* n_batches + 1 offsets into order */
    size_t *padded;     /* padded length per batch */
    size_t n_batches;
    int32_t pad_id;
};

void qat_data_batch_options_init(qat_data_batch_options *opt)
{
    opt->batch_size = 32;
    opt->pad_id = 1; /* RoBERTa's <pad>; BERT uses 0 */
    opt->shuffle = 1;
    opt->bucketing = 1;
    opt->bucket_batches = 50;
    opt->pad_multiple = 0;
    opt->drop_last = 0;
    opt->max_len = 0;
}

void qat_data_batches_free(qat_data_batches *b)
{
    if (!b)
        return;
    free(b->order);
    free(b->start);
    free(b->padded);
    free(b);
}

static void shuffle(size_t *a, size_t n, qat_rng *rng)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)qat_rng_below(rng, i);
        size_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

/* Stable sort of a[0, n) by decreasing length (merge sort into tmp). */
static void sort_by_length(size_t *a, size_t *tmp, size_t n, const qat_data_example *ex)
{
    if (n < 2)
        return;
    size_t h = n / 2;
    sort_by_length(a, tmp, h, ex);
    sort_by_length(a + h, tmp, n - h, ex);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = ex[a[j]].len > ex[a[i]].len ? a[j++] : a[i++];
    while (i < h)
        tmp[k++] = a[i++];
    while (j < n)
        tmp[k++] = a[j++];
    for (k = 0; k < n; k++)
        a[k] = tmp[k];
}

qat_status qat_data_batches_plan(const qat_data_example *examples, size_t n, const qat_data_batch_options *opt,
                                 qat_rng *rng, qat_data_batches **out)
{
    QAT_CHECK_ARG(out != NULL && opt != NULL, "batches: NULL argument");
    *out = NULL;
    QAT_CHECK_ARG(examples != NULL || n == 0, "batches: NULL examples");
    QAT_CHECK_ARG(opt->batch_size > 0, "batches: batch size must be > 0");
    QAT_CHECK_ARG(!opt->shuffle || rng != NULL, "batches: shuffling needs a random generator");
    for (size_t i = 0; i < n; i++) {
        QAT_CHECK_ARG(examples[i].ids != NULL || examples[i].len == 0, "batches: example %zu has no ids", i);
        QAT_CHECK_ARG(opt->max_len == 0 || examples[i].len <= opt->max_len,
                      "batches: example %zu has %zu tokens, more than the maximum %zu", i, examples[i].len,
                      opt->max_len);
    }
    qat_data_batches *b = calloc(1, sizeof *b);
    size_t nb = (n + opt->batch_size - 1) / opt->batch_size;
    size_t *tmp = NULL, *batch_order = NULL;
    if (b) {
        b->order = malloc((n ? n : 1) * sizeof *b->order);
        b->start = malloc((nb + 1) * sizeof *b->start);
        b->padded = malloc((nb ? nb : 1) * sizeof *b->padded);
        tmp = malloc((n ? n : 1) * sizeof *tmp);
        batch_order = malloc((nb ? nb : 1) * sizeof *batch_order);
    }
    if (!b || !b->order || !b->start || !b->padded || !tmp || !batch_order) {
        free(tmp);
        free(batch_order);
        qat_data_batches_free(b);
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "batches: out of memory");
    }
    b->ex = examples;
    b->pad_id = opt->pad_id;
    for (size_t i = 0; i < n; i++)
        b->order[i] = i;
    if (opt->shuffle)
        shuffle(b->order, n, rng);
    if (opt->bucketing) {
        size_t bucket = opt->batch_size * (opt->bucket_batches ? opt->bucket_batches : 50);
        for (size_t s = 0; s < n; s += bucket)
            sort_by_length(b->order + s, tmp, n - s < bucket ? n - s : bucket, examples);
    }
    /* Batches in plan order, then (shuffle) their order permuted. */
    for (size_t i = 0; i < nb; i++)
        batch_order[i] = i;
    if (opt->shuffle && opt->bucketing)
        shuffle(batch_order, nb, rng);
    for (size_t i = 0; i < n; i++)
        tmp[i] = b->order[i];
    size_t k = 0, w = 0;
    for (size_t i = 0; i < nb; i++) {
        size_t from = batch_order[i] * opt->batch_size;
        size_t rows = n - from < opt->batch_size ? n - from : opt->batch_size;
        if (opt->drop_last && rows < opt->batch_size)
            continue;
        b->start[w] = k;
        size_t longest = 0;
        for (size_t r = 0; r < rows; r++) {
            b->order[k++] = tmp[from + r];
            if (examples[tmp[from + r]].len > longest)
                longest = examples[tmp[from + r]].len;
        }
        if (opt->pad_multiple > 1 && longest % opt->pad_multiple)
            longest += opt->pad_multiple - longest % opt->pad_multiple;
        b->padded[w++] = longest;
    }
    b->start[w] = k;
    b->n_batches = w;
    free(tmp);
    free(batch_order);
    *out = b;
    return QAT_OK;
}

size_t qat_data_batches_count(const qat_data_batches *b)
{
    return b ? b->n_batches : 0;
}

qat_status qat_data_batches_shape(const qat_data_batches *b, size_t i, size_t *rows, size_t *len)
{
    QAT_CHECK_ARG(b != NULL && rows != NULL && len != NULL, "batches: NULL argument");
    QAT_CHECK_ARG(i < b->n_batches, "batches: batch %zu out of range (%zu batches)", i, b->n_batches);
    *rows = b->start[i + 1] - b->start[i];
    *len = b->padded[i];
    return QAT_OK;
}

const size_t *qat_data_batches_members(const qat_data_batches *b, size_t i)
{
    return b && i < b->n_batches ? b->order + b->start[i] : NULL;
}

qat_status qat_data_batches_fill(const qat_data_batches *b, size_t i, int32_t *input_ids, int32_t *attention_mask,
                                 int32_t *labels, size_t capacity)
{
    size_t rows = 0, len = 0;
    QAT_TRY(qat_data_batches_shape(b, i, &rows, &len));
    QAT_CHECK_ARG(input_ids != NULL && attention_mask != NULL && labels != NULL, "batches: NULL output array");
    if (rows * len > capacity)
        return qat_fail(QAT_ERR_BUFFER_TOO_SMALL, "batches: batch %zu needs %zu x %zu = %zu elements, capacity %zu",
                        i, rows, len, rows * len, capacity);
    const size_t *members = b->order + b->start[i];
    for (size_t r = 0; r < rows; r++) {
        const qat_data_example *e = &b->ex[members[r]];
        for (size_t t = 0; t < len; t++) {
            size_t at = r * len + t;
            int real = t < e->len;
            input_ids[at] = real ? e->ids[t] : b->pad_id;
            attention_mask[at] = real;
            labels[at] = real && e->labels ? e->labels[t] : QAT_DATA_IGNORE_INDEX;
        }
    }
    return QAT_OK;
}
