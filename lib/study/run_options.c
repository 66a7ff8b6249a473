#include "study/run_options.h"

#include <string.h>

#include "core/error.h"
#include "study/dapt.h"

qat_status qat_run_options_defaults(qat_run_options *r)
{
    memset(r, 0, sizeof *r);
    r->total_steps = 30000;
    r->max_seq_len = 512;
    r->seed = 42;
    qat_adaptive_options_defaults(&r->adaptive);
    return qat_train_options_init(&r->train, QAT_TRAIN_OPTIONS_VERSION);
}

qat_status qat_run_options_check(const qat_run_options *r, const char *what)
{
    QAT_CHECK_ARG(r->total_steps > 0, "%s: total_steps must be > 0", what);
    QAT_CHECK_ARG(r->max_seq_len >= 8 && r->max_seq_len <= 1 << 16, "%s: max_seq_len must be 8..65536", what);
    QAT_CHECK_ARG(r->checkpoint_every >= 0, "%s: checkpoint_every must be >= 0", what);
    return qat_adaptive_options_check(&r->adaptive, what);
}

qat_status qat_run_progress(const qat_run_options *r, qat_energy_meter *energy, const char *phase, int64_t step,
                            int64_t total, double loss)
{
    if (energy)
        qat_energy_sample(energy);
    if (r->progress && r->progress(r->progress_user, phase, step, total, loss))
        return qat_fail(QAT_ERR_STATE, "stopped by the caller during %s at step %lld (checkpoint kept)", phase,
                        (long long)step);
    return QAT_OK;
}
