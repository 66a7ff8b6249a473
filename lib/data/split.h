/* Train/validation/test splits for data sets that come without them.
 *
 * Sizes (docs/method.md section 7, the seed's "statistical rigor" rule): each
 * evaluation split gets n = ceil((z / k)^2) examples (z = 5, k = 0.05:
 * 10 000) when the data holds more than 1.2 x 2n examples; otherwise the
 * 70/10/20 ratios (validation = floor(N / 10), test = floor(N / 5), train =
 * the rest). The achieved z = sqrt(n) * k is reported per evaluation split.
 *
 * Assignment: a seeded Fisher-Yates shuffle of 0..N-1 (qat_rng seeded with
 * `seed`; for i = N-1 down to 1: j = qat_rng_below(i + 1), swap), then the
 * first n_train indices are train, the next n_val validation, the rest
 * test; each part is sorted back into corpus order. */
#ifndef QAT_LIB_DATA_SPLIT_H
#define QAT_LIB_DATA_SPLIT_H

#include <stddef.h>
#include <stdint.h>

#include "qat/core.h"

typedef struct qat_data_split {
    size_t n_train, n_val, n_test;
    int sized;          /* 1: the z/k rule applied; 0: 70/10/20 ratios */
    double z_val, z_test;
} qat_data_split;

/* z <= 0 or k <= 0 select the defaults 5 and 0.05. */
qat_status qat_data_split_plan(size_t n_total, double z, double k, qat_data_split *out);
/* order[0, n_total): train indices, then validation, then test. */
qat_status qat_data_split_assign(size_t n_total, const qat_data_split *plan, uint64_t seed, size_t *order);

#endif
