/* A training phase's checkpoints (out_dir/<phase>.state), kept sane:
 *  - the loss is watched in a running band (an exponential mean and mean
 *    deviation of the recent losses); a checkpoint is written only while
 *    the loss is inside it, and first as <phase>.state.pending, promoted
 *    to <phase>.state only when the next step's loss, the first measured
 *    on its weights, is inside the band too. After a divergence the state
 *    on disk is therefore the last one from before the loss left its band,
 *    not merely the last finite one;
 *  - metrics.jsonl is made durable before each checkpoint, so the records
 *    of the steps a state holds are never lost.
 * The band starts afresh (its warm-up accepts the first steps) when a run
 * resumes: it decides which checkpoints are kept, never the weights. */
#ifndef QAT_LIB_STUDY_CHECKPOINTS_H
#define QAT_LIB_STUDY_CHECKPOINTS_H

#include <stdint.h>

#include "qat/train.h"
#include "study/metrics_log.h"

typedef struct qat_loss_band {
    int64_t seen;     /* losses taken into the band */
    double mean, dev; /* exponential mean and mean absolute deviation */
} qat_loss_band;

/* Whether loss is inside the band (always during the warm-up); the band
 * then moves towards it (an outside loss counts as the upper bound, so a
 * lasting shift is followed while a blow-up stays outside). */
int qat_loss_band_observe(qat_loss_band *band, double loss);
/* The band's upper bound (infinite during the warm-up). */
double qat_loss_band_upper(const qat_loss_band *band);

typedef struct qat_checkpoints {
    char path[4200];          /* <out_dir>/<phase>.state */
    char pending_path[4224];  /* ... .pending */
    qat_metrics_log *metrics; /* may be NULL */
    qat_loss_band band;
    int pending;              /* a checkpoint waits for the next step's loss */
    uint64_t pending_pos[2];
    int64_t pending_step;
    int64_t kept_step;        /* step of <phase>.state; 0: none (the phase's start) */
    int64_t left_band_at;     /* first step whose loss left the band since the last kept one; -1 none */
    int writes;               /* 1 (init's default); 0: a data-parallel rank other than 0, which
                                 resumes from rank 0's states and writes none */
} qat_checkpoints;

/* Sets up the checkpoints of `phase` in out_dir (removing an unconfirmed
 * pending one) and says whether a state exists to resume from. */
qat_status qat_checkpoints_init(qat_checkpoints *c, const char *out_dir, const char *phase, qat_metrics_log *metrics,
                                int *resumable);
/* After a training step with this loss: confirms or drops the pending
 * checkpoint, then, when `due`, checkpoints now (if the loss is in band). */
qat_status qat_checkpoints_step(qat_checkpoints *c, const qat_trainer *t, const uint64_t pos[2], double loss, int due);
/* A stop asked by the caller: the current state, kept if the loss is in band. */
qat_status qat_checkpoints_stop(qat_checkpoints *c, const qat_trainer *t, const uint64_t pos[2]);
/* Prefixes a divergence error with which checkpoint is kept and where the
 * loss left its band. */
qat_status qat_checkpoints_diverged(const qat_checkpoints *c, qat_status st, const char *phase, int64_t step);
/* The phase's model directory is durable: its states are no longer needed. */
void qat_checkpoints_finish(qat_checkpoints *c);

#endif
