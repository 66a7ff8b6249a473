/* Masked-LM corruption as docs/method.md section 6 and HF's
 * DataCollatorForLanguageModeling: each non-special token is chosen with
 * probability 0.15; a chosen token becomes <mask> with probability 0.8, a
 * uniformly random id of the vocabulary (HF draws over the whole
 * vocabulary, special ids included) with probability 0.1, and stays
 * unchanged otherwise. labels = the original id where chosen, -100
 * elsewhere. The number chosen is binomial, not exactly 15 %.
 *
 * Draw order (reproducible from the qat_rng state): positions in order;
 * for a special position (its id in special_ids), no draw; otherwise
 *   u = qat_rng_uniform()           chosen iff u < probability (as float)
 *   if chosen: v = qat_rng_uniform()
 *       v < 0.8   -> <mask>
 *       v < 0.9   -> qat_rng_below(vocab_size)  (one more draw)
 *       otherwise -> unchanged */
#ifndef QAT_LIB_DATA_MLM_H
#define QAT_LIB_DATA_MLM_H

#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"
#include "qat/core.h"

#define QAT_DATA_IGNORE_INDEX (-100)

typedef struct qat_data_mlm_options {
    float probability;          /* 0.15 */
    int32_t mask_id;
    int64_t vocab_size;
    const int32_t *special_ids; /* <s>, </s>, <pad>, <unk>?, <mask>... */
    size_t n_special;
} qat_data_mlm_options;

void qat_data_mlm_options_init(qat_data_mlm_options *opt);
/* Corrupts ids[0, n) in place and writes labels[0, n). */
qat_status qat_data_mlm_mask(const qat_data_mlm_options *opt, qat_rng *rng, int32_t *ids, int32_t *labels,
                             size_t n);

#endif
