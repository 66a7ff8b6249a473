/* The DAPT phase (masked-LM on the pre-tokenized corpus), shared by the
 * per-alpha pipeline, the adaptive-alpha pipeline and the shared-prefix
 * DAPT run (qat_dapt_run). One schedule of `schedule_steps`; the model is
 * saved at each step of `snapshots` (out_dir/snapshots/step-<N>), and, when
 * the adaptive rule is on (run->adaptive.enabled), the held-out loss is
 * evaluated and logged and a snapshot is taken where the rule fires. Resumable from out_dir/dapt.state
 * (and out_dir/adaptive.json for the evaluations). Model directories (the
 * final one, snapshots) are written whole with the tokenizer's files. */
#ifndef QAT_LIB_TRAIN_DAPT_H
#define QAT_LIB_TRAIN_DAPT_H

#include <stdio.h>

#include "qat/study.h"
#include "study/energy.h"
#include "study/metrics_log.h"

typedef struct qat_dapt_phase {
    qat_context *ctx;
    const qat_tokenizer *tok;
    const qat_run_options *run;  /* model, quant, corpus, out_dir (shards/, dapt.state, snapshots/,
                                    adaptive.json), lengths, seed, optimiser, adaptive knobs, progress */
    const char *final_dir;       /* the model after the last step taken; NULL: none */
    int64_t schedule_steps;      /* the LR schedule's length (and the last step) */
    const int64_t *snapshots;    /* ascending steps in 1..schedule_steps */
    size_t n_snapshots;
    int stop_on_rule;            /* 1: stop training where the rule fires (run->adaptive.enabled) */
    qat_metrics_log *metrics;    /* may be NULL */
    qat_energy_meter *energy;    /* sampled at every step; may be NULL */
    qat_comm *comm;              /* data-parallel ranks (no adaptive rule), or NULL: rank 0 pretokenizes and
                                    writes (states, snapshots, the final model); the others wait for its shards
                                    and, at the end, for its model */
    /* out */
    int64_t steps_done;          /* where training stopped */
    int64_t rule_step;           /* the step the rule fired at; -1: never */
} qat_dapt_phase;

qat_status qat_dapt_phase_run(qat_dapt_phase *p);

/* Defaults of the adaptive options (also used by the option inits). */
void qat_adaptive_options_defaults(qat_adaptive_options *a);
/* Checks the adaptive knobs; `what` prefixes the message. */
qat_status qat_adaptive_options_check(const qat_adaptive_options *a, const char *what);
/* Evaluations every: eval_every, else a twentieth of the schedule (>= 1). */
int64_t qat_adaptive_eval_every(const qat_adaptive_options *a, int64_t schedule_steps);
/* The adaptive record of a phase: out_dir/adaptive.json (NULL if absent). */
struct json_object *qat_dapt_adaptive_json(const char *out_dir);

#endif
