#include "data/split.h"

#include <math.h>
#include <stdlib.h>

#include "core/error.h"
#include "core/rng.h"

qat_status qat_data_split_plan(size_t n_total, double z, double k, qat_data_split *out)
{
    QAT_CHECK_ARG(out != NULL, "split: NULL output");
    QAT_CHECK_ARG(n_total >= 3, "split: %zu examples cannot make three splits", n_total);
    if (z <= 0.0)
        z = 5.0;
    if (k <= 0.0)
        k = 0.05;
    /* (5 / 0.05)^2 is 10000 up to one rounding; the tolerance keeps ceil()
     * from turning it into 10001. */
    double q = (z / k) * (z / k);
    double n_eval = ceil(q * (1.0 - 1e-12));
    *out = (qat_data_split){0};
    if (n_eval >= 1.0 && (double)n_total > 1.2 * 2.0 * n_eval) {
        out->sized = 1;
        out->n_val = out->n_test = (size_t)n_eval;
    } else {
        out->n_val = n_total / 10;
        out->n_test = n_total / 5;
    }
    out->n_train = n_total - out->n_val - out->n_test;
    out->z_val = sqrt((double)out->n_val) * k;
    out->z_test = sqrt((double)out->n_test) * k;
    return QAT_OK;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

qat_status qat_data_split_assign(size_t n_total, const qat_data_split *plan, uint64_t seed, size_t *order)
{
    QAT_CHECK_ARG(plan != NULL && order != NULL, "split: NULL argument");
    QAT_CHECK_ARG(plan->n_train + plan->n_val + plan->n_test == n_total,
                  "split: the plan covers %zu examples, not %zu", plan->n_train + plan->n_val + plan->n_test,
                  n_total);
    qat_rng rng;
    qat_rng_seed(&rng, seed);
    for (size_t i = 0; i < n_total; i++)
        order[i] = i;
    for (size_t i = n_total; i > 1; i--) {
        size_t j = (size_t)qat_rng_below(&rng, i);
        size_t t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    qsort(order, plan->n_train, sizeof *order, cmp_size);
    qsort(order + plan->n_train, plan->n_val, sizeof *order, cmp_size);
    qsort(order + plan->n_train + plan->n_val, plan->n_test, sizeof *order, cmp_size);
    return QAT_OK;
}
