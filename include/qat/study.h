/*
 * libqat — the study runner. EXPERIMENTAL: its entry points and fields
 * (the alpha pipeline, shared-prefix DAPT, adaptive alpha, plans, energy)
 * may still change in any release, so they are kept out of the stable API.
 *
 * To use it, define QAT_EXPERIMENTAL before including a libqat header
 * (-DQAT_EXPERIMENTAL), as zstd's ZSTD_STATIC_LINKING_ONLY: qat/qat.h then
 * includes this header too. Its symbols are in their own version node,
 * LIBQAT_EXPERIMENTAL_1 (lib/libqat.map), renamed whenever the tier
 * changes incompatibly: a program built against an older tier is then
 * refused by the loader, never run with a changed layout. Everything
 * else (LIBQAT_0) follows the stability rules of qat/core.h.
 *
 * A run owns everything it creates and writes its results, metrics and
 * checkpoints under its output directory.
 */
#ifndef QAT_STUDY_H
#define QAT_STUDY_H

#ifndef QAT_EXPERIMENTAL
#error "qat/study.h is libqat's experimental tier (the study runner): define QAT_EXPERIMENTAL to use it (docs/api.md, Stability)"
#endif

#include "qat/core.h"
#include "qat/train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- The alpha pipeline ------------------------------------------------ */

#define QAT_PIPELINE_OPTIONS_VERSION 3

/* How a grid's DAPT is scheduled (docs/training.md, "Plans"). */
typedef enum qat_plan {
    QAT_PLAN_PER_ALPHA = 0,      /* each run its own DAPT of round(alpha * total_steps) steps (the paper) */
    QAT_PLAN_SHARED_PREFIX = 1   /* fine-tune from a snapshot of one shared DAPT run (qat_dapt_run; the seed code) */
} qat_plan;

/* Adaptive alpha (docs/method.md section 11): DAPT evaluates the MLM loss on held-out
 * corpus sequences (a seeded split, masked once) every eval_every steps and
 * stops when patience evaluations in a row did not improve on the best by
 * more than min_delta; fine-tuning gets the rest of total_steps. DAPT's
 * schedule (warm-up, linear decay) spans round(alpha_max * total_steps).
 * This struct's layout is fixed: later knobs go after it in the structs
 * that embed it. */
typedef struct qat_adaptive_options {
    int enabled;                 /* 0: off */
    double alpha_max;            /* 0.9: the DAPT schedule's length and the largest alpha */
    int64_t eval_every;          /* steps between evaluations; 0 = a twentieth of the schedule */
    int64_t patience;            /* 3 */
    double min_delta;            /* 0.01 (absolute, nats) */
    int64_t heldout_sequences;   /* 0 = a tenth of the corpus' sequences, at most 256 */
} qat_adaptive_options;

/* Progress callback: phase "dapt" | "finetune" | "eval", step, total,
 * loss (NaN where none). Return nonzero to stop the run (QAT_ERR_STATE,
 * checkpoint kept). */
typedef int (*qat_progress_fn)(void *user, const char *phase, int64_t step, int64_t total, double loss);

/* What a pipeline run (qat_pipeline_run) and a shared DAPT run
 * (qat_dapt_run) both take: the model, the DAPT corpus, where results go,
 * the schedule, the seed, the optimiser, progress and energy. Set by their
 * options' _init functions; embedded in both, never used alone. */
typedef struct qat_run_options {
    const char *model_dir;       /* HF checkpoint (config.json + weights) */
    const char *tokenizer;       /* NULL: the model directory's tokenizer */
    const char *quant;           /* "E6W1.58A6"; NULL = FP32 */
    const char *corpus;          /* DAPT text (plain or .gz) */
    const char *out_dir;         /* results, metrics.jsonl, checkpoints */
    int64_t total_steps;         /* B_total (30000 in the study) */
    int64_t max_seq_len;         /* 512 (DAPT sequences and task truncation) */
    int64_t checkpoint_every;    /* steps; 0 = only at phase ends */
    uint64_t seed;               /* 42 */
    qat_train_options train;     /* shared by both phases, own schedule each */
    qat_adaptive_options adaptive;
    qat_progress_fn progress;    /* may be NULL */
    void *progress_user;
    /* Energy and carbon (docs/energy.md): the results' "energy" object
     * holds kWh, measured (RAPL, NVML) where a counter is readable, else
     * estimated as power_watts x duration, and gCO2eq = kWh x
     * carbon_intensity. */
    double carbon_intensity;     /* g CO2eq/kWh; 0 = 56 (France's average mix) */
    double power_watts;          /* the estimate's draw; 0 = 10 W per CPU thread, 300 W on CUDA */
} qat_run_options;

typedef struct qat_pipeline_options {
    uint32_t version;            /* QAT_PIPELINE_OPTIONS_VERSION */
    qat_run_options run;         /* corpus needed if alpha > 0 (per-alpha plan) or adaptive */
    double alpha;                /* share of run.total_steps for DAPT, [0, 1) */
    const char *train_file;      /* CoNLL, or .tsv / .jsonl (sequence classification) */
    const char *eval_file;       /* NULL: seeded split of train_file */
    const char *test_file;       /* NULL: seeded split of train_file */
    /* Plans (docs/training.md). QAT_PLAN_SHARED_PREFIX starts fine-tuning
     * from dapt_dir's snapshot at round(alpha * total_steps) (alpha > 0;
     * no corpus needed); results.json's "plan" records which one ran.
     * run.adaptive.enabled: alpha is chosen (alpha is ignored); with the
     * shared prefix, the DAPT run's adaptive snapshot is used. */
    qat_plan plan;               /* QAT_PLAN_PER_ALPHA */
    const char *dapt_dir;        /* a finished qat_dapt_run directory (shared prefix) */
    /* Version 3. Data-parallel DAPT and fine-tuning over comm (NULL, or
     * one rank: off; docs/distributed.md): every rank runs the pipeline
     * with the same options, each trains on its shard of every batch (a
     * fine-tuning batch's last sequences beyond a multiple of the world
     * size are left out; DAPT's batch_size must be a multiple of it),
     * rank 0 pretokenizes the corpus, writes checkpoints, metrics, the
     * models and results.json and evaluates; the other ranks write nothing
     * and their *test_f1 is NaN. Adaptive alpha is refused over several
     * ranks; the shared-prefix plan's DAPT is a qat_dapt_run job of its
     * own, on one rank. */
    qat_comm *comm;
} qat_pipeline_options;

QAT_API qat_status qat_pipeline_options_init(qat_pipeline_options *options, uint32_t version);

/* Runs (or resumes) the pipeline. *test_f1 receives the test F1 (entity
 * F1 for IOB2 tag sets, token micro F1 otherwise), as a fraction; the full
 * results are in out_dir/results.json. */
QAT_API qat_status qat_pipeline_run(qat_context *ctx, const qat_pipeline_options *options, double *test_f1);

/* ---- Shared-prefix DAPT (the seed code's plan, docs/method.md section 10) -------- */

#define QAT_DAPT_OPTIONS_VERSION 3

/* One DAPT run whose schedule (warm-up, linear decay) spans
 * round(max(alphas) * total_steps) steps, saving the model at
 * round(alpha_i * total_steps) steps for every alpha_i > 0 into
 * out_dir/snapshots/step-<N>/; a fine-tuning run starts from one with
 * qat_pipeline_options.plan = QAT_PLAN_SHARED_PREFIX. With
 * adaptive.enabled it also evaluates the held-out loss and snapshots where
 * the adaptive rule stops (the schedule then spans at least alpha_max).
 * out_dir/dapt.json, written last, lists the snapshots. */
typedef struct qat_dapt_options {
    uint32_t version;            /* QAT_DAPT_OPTIONS_VERSION */
    qat_run_options run;         /* corpus and out_dir required; total_steps: B_total of the fine-tuning
                                    runs; progress: phase "dapt" */
    const double *alphas;        /* the grid's alphas, each in [0, 1) */
    size_t n_alphas;
    /* Version 3. Data-parallel DAPT over comm (NULL, or one rank: off), as
     * qat_pipeline_options.comm: rank 0 pretokenizes, writes the states,
     * snapshots, metrics and dapt.json; batch_size must be a multiple of
     * the world size; adaptive alpha is refused over several ranks. */
    qat_comm *comm;
} qat_dapt_options;

QAT_API qat_status qat_dapt_options_init(qat_dapt_options *options, uint32_t version);
/* Runs (or resumes, or finds finished) the shared DAPT run. */
QAT_API qat_status qat_dapt_run(qat_context *ctx, const qat_dapt_options *options);

#ifdef __cplusplus
}
#endif

#endif /* QAT_STUDY_H */
