#include "data/mlm.h"

#include <math.h>

#include "core/error.h"

void qat_data_mlm_options_init(qat_data_mlm_options *opt)
{
    opt->probability = 0.15f;
    opt->mask_id = -1;
    opt->vocab_size = 0;
    opt->special_ids = NULL;
    opt->n_special = 0;
}

static int is_special(const qat_data_mlm_options *o, int32_t id)
{
    for (size_t i = 0; i < o->n_special; i++)
        if (o->special_ids[i] == id)
            return 1;
    return 0;
}

qat_status qat_data_mlm_mask(const qat_data_mlm_options *opt, qat_rng *rng, int32_t *ids, int32_t *labels,
                             size_t n)
{
    QAT_CHECK_ARG(opt != NULL && rng != NULL, "mlm: NULL argument");
    QAT_CHECK_ARG(n == 0 || (ids != NULL && labels != NULL), "mlm: NULL ids or labels");
    QAT_CHECK_ARG(opt->probability >= 0.0f && opt->probability <= 1.0f, "mlm: probability %g not in [0, 1]",
                  (double)opt->probability);
    QAT_CHECK_ARG(opt->vocab_size > 0, "mlm: vocabulary size must be > 0");
    QAT_CHECK_ARG(opt->mask_id >= 0 && opt->mask_id < opt->vocab_size, "mlm: <mask> id %d outside the vocabulary",
                  opt->mask_id);
    QAT_CHECK_ARG(opt->n_special == 0 || opt->special_ids != NULL, "mlm: NULL special ids");
    for (size_t i = 0; i < n; i++)
        QAT_CHECK_ARG(ids[i] >= 0 && ids[i] < opt->vocab_size, "mlm: id %d at position %zu outside the vocabulary",
                      ids[i], i);
    for (size_t i = 0; i < n; i++) {
        labels[i] = QAT_DATA_IGNORE_INDEX;
        if (is_special(opt, ids[i]))
            continue;
        if (!(qat_rng_uniform(rng) < opt->probability))
            continue;
        labels[i] = ids[i];
        float v = qat_rng_uniform(rng);
        if (v < 0.8f)
            ids[i] = opt->mask_id;
        else if (v < 0.9f)
            ids[i] = (int32_t)qat_rng_below(rng, (uint64_t)opt->vocab_size);
    }
    return QAT_OK;
}
