/* Batches for token classification (or any already-encoded sequences):
 * padding, attention masks, and length bucketing.
 *
 * Order (deterministic given the qat_rng state):
 *  - shuffle on: a Fisher-Yates permutation of the examples (for i = n-1
 *    down to 1: j = qat_rng_below(i + 1), swap); off: corpus order;
 *  - bucketing on: the order is cut into buckets of bucket_batches x
 *    batch_size examples, each bucket sorted by length, longest first
 *    (ties by position), and cut into batches, so a batch holds examples of
 *    similar length (HF's group_by_length idea); then, if shuffle is on, the
 *    batch order is shuffled the same way;
 *  - drop_last drops a final short batch.
 * A batch is padded to its longest example (rounded up to pad_multiple):
 * input_ids = pad_id, attention_mask = 0 and labels = -100 there. */
#ifndef QAT_LIB_DATA_BATCH_H
#define QAT_LIB_DATA_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"
#include "qat/core.h"

typedef struct qat_data_example {
    const int32_t *ids;
    const int32_t *labels;  /* may be NULL: labels then -100 */
    size_t len;
} qat_data_example;

typedef struct qat_data_batch_options {
    size_t batch_size;      /* > 0 */
    int32_t pad_id;
    int shuffle;
    int bucketing;
    size_t bucket_batches;  /* default 50 (HF's mega-batch multiplier) */
    size_t pad_multiple;    /* 0 or 1: none; 8 helps tensor cores */
    int drop_last;
    size_t max_len;         /* 0: no limit; else longer examples fail */
} qat_data_batch_options;

typedef struct qat_data_batches qat_data_batches;

void qat_data_batch_options_init(qat_data_batch_options *opt);
/* Plans the batches of one epoch; examples are borrowed (they must outlive
 * the plan). rng may be NULL when shuffle is off. */
qat_status qat_data_batches_plan(const qat_data_example *examples, size_t n, const qat_data_batch_options *opt,
                                 qat_rng *rng, qat_data_batches **out);
void qat_data_batches_free(qat_data_batches *b);
size_t qat_data_batches_count(const qat_data_batches *b);
/* rows and padded length of batch i. */
qat_status qat_data_batches_shape(const qat_data_batches *b, size_t i, size_t *rows, size_t *len);
/* Example indices of batch i (rows entries). */
const size_t *qat_data_batches_members(const qat_data_batches *b, size_t i);
/* Fills row-major [rows x len] arrays; capacity is each array's size in
 * elements (QAT_ERR_BUFFER_TOO_SMALL when rows x len exceeds it). */
qat_status qat_data_batches_fill(const qat_data_batches *b, size_t i, int32_t *input_ids, int32_t *attention_mask,
                                 int32_t *labels, size_t capacity);

#endif
