/* metrics.jsonl: one JSON record per training step (and per held-out
 * evaluation), written so that a run that was killed and resumed leaves
 * the same file as one that never stopped: a torn last line is cut on
 * open, and a record whose (phase, step) the file already holds is not
 * written again (a resumed run replays those steps bit-identically). */
#ifndef QAT_LIB_STUDY_METRICS_LOG_H
#define QAT_LIB_STUDY_METRICS_LOG_H

#include <stdint.h>
#include <stdio.h>

#include "qat/core.h"

#define QAT_METRICS_LOG_PHASES 8

typedef struct qat_metrics_log {
    FILE *f;
    size_t n_phases;
    struct {
        char name[24];
        int64_t last_step;
    } phases[QAT_METRICS_LOG_PHASES];
} qat_metrics_log;

/* Opens (creates) path for appending, after cutting a torn last line and
 * reading which steps it holds. */
qat_status qat_metrics_log_open(const char *path, qat_metrics_log *log);
/* Appends {"phase", "step", "loss"[, "lr", "grad_norm"]} (lr NaN: without
 * lr and grad_norm), unless the log has this phase's step already. A NULL
 * or closed log ignores it. */
void qat_metrics_log_write(qat_metrics_log *log, const char *phase, int64_t step, double loss, double lr,
                           double norm);
/* Makes the records durable (before a checkpoint that follows them). */
qat_status qat_metrics_log_sync(qat_metrics_log *log);
void qat_metrics_log_close(qat_metrics_log *log);

#endif
