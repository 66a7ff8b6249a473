/*
 * libqat — training: AdamW with the study's schedule (a trainer over a
 * model), and the study's whole protocol (the alpha pipeline: domain-
 * adaptive MLM, then fine-tuning, then evaluation).
 *
 * A trainer holds a reference to its model (the model may be freed first;
 * see "Lifetime" in core.h) and owns the AdamW moments. A pipeline run owns everything it creates and writes its
 * results, metrics and checkpoints under an output directory.
 */
#ifndef QAT_TRAIN_H
#define QAT_TRAIN_H

#include "qat/core.h"
#include "qat/model.h"
#include "qat/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

#define QAT_TRAIN_OPTIONS_VERSION 1

/* Optimisation settings; qat_train_options_init sets the study's defaults
 * (SPEC section 6). */
typedef struct qat_train_options {
    uint32_t version;           /* QAT_TRAIN_OPTIONS_VERSION */
    double learning_rate;       /* 5e-6 */
    double beta1, beta2;        /* 0.9, 0.98 */
    double eps;                 /* 1e-8 */
    double weight_decay;        /* 0.01 (never on biases, LayerNorm, steps) */
    double warmup_ratio;        /* 0.1 of each phase's steps */
    double max_grad_norm;       /* 1.0; 0 disables clipping */
    int64_t batch_size;         /* 96 sequences per optimizer step */
    int64_t micro_batch_size;   /* 0 = batch_size; else gradient accumulation */
} qat_train_options;

QAT_API qat_status qat_train_options_init(qat_train_options *options, uint32_t version);

/* A trainer for `total_steps` optimizer steps (the schedule's length).
 * The model is put in training mode (dropout on). */
QAT_API qat_status qat_trainer_create(qat_model *model, const qat_train_options *options, int64_t total_steps,
                                      qat_trainer **out);
QAT_API void qat_trainer_free(qat_trainer *trainer);

/* One optimizer step on a batch of `batch` sequences (split into micro-
 * batches, gradients averaged): labels as for qat_model_backward. *loss
 * receives the batch's mean loss. A non-finite loss fails with
 * QAT_ERR_NUMERIC and leaves the weights as they were. */
QAT_API qat_status qat_trainer_step(qat_trainer *trainer, const int32_t *input_ids, const int32_t *attention_mask,
                                    const int32_t *labels, int64_t batch, int64_t seq_len, float *loss);
/* qat_trainer_step with token type ids ([batch, seq_len]; NULL = zeros),
 * which BERT needs for pairs of texts (qat_tokenizer_encode_pair). */
QAT_API qat_status qat_trainer_step_typed(qat_trainer *trainer, const int32_t *input_ids,
                                          const int32_t *attention_mask, const int32_t *token_type_ids,
                                          const int32_t *labels, int64_t batch, int64_t seq_len, float *loss);

typedef enum qat_trainer_stat {
    QAT_TRAINER_STEP = 1,        /* optimizer steps taken */
    QAT_TRAINER_TOTAL_STEPS = 2,
    QAT_TRAINER_LR = 3,          /* learning rate of the last step */
    QAT_TRAINER_GRAD_NORM = 4,   /* global gradient norm before clipping */
    QAT_TRAINER_LOSS = 5         /* loss of the last step */
} qat_trainer_stat;

QAT_API qat_status qat_trainer_get(const qat_trainer *trainer, qat_trainer_stat stat, double *value);

/* Training state: weights, quantizer steps, AdamW moments, step count,
 * the context's RNG and two caller-defined data-position words, zlib-
 * compressed with a CRC, written atomically (temporary file, fsync,
 * rename). Resuming continues bit-identically on the same backend and
 * thread count. */
QAT_API qat_status qat_trainer_save(const qat_trainer *trainer, const char *path, const uint64_t data_position[2]);
QAT_API qat_status qat_trainer_resume(qat_trainer *trainer, const char *path, uint64_t data_position[2]);

/* ---- Evaluation ----------------------------------------------------------- */

/* Evaluates a token-classification model (with label names: a model saved
 * by the pipeline, or an HF checkpoint with id2label) on a CoNLL file:
 * entity-level micro F1 (seqeval semantics) for IOB2 tag sets, token micro
 * F1 otherwise, plus macro/weighted F1, accuracy, a 95 % bootstrap interval
 * and the collapse flag, written as JSON to results_path (may be NULL).
 * *f1 (may be NULL) receives the headline F1 as a fraction.
 * A sequence-classification model evaluates a .tsv / .jsonl task file
 * (docs/data.md; texts and pairs encoded as qat_tokenizer_encode_pair
 * does, truncated to max_seq_len): accuracy (the headline, into *f1, and
 * "f1" with "f1_metric": "accuracy" in the JSON), macro and weighted F1,
 * with 95 % bootstrap intervals of the accuracy and the macro F1. File
 * labels are the model's label names (id2label), or integers k < the
 * number of labels. */
QAT_API qat_status qat_model_evaluate(qat_model *model, const qat_tokenizer *tokenizer, const char *conll_path,
                                      int64_t max_seq_len, const char *results_path, double *f1);

/* ---- The alpha pipeline ------------------------------------------------ */

#define QAT_PIPELINE_OPTIONS_VERSION 2

/* How a grid's DAPT is scheduled (docs/training.md, "Plans"). */
typedef enum qat_plan {
    QAT_PLAN_PER_ALPHA = 0,      /* each run its own DAPT of round(alpha * total_steps) steps (the paper) */
    QAT_PLAN_SHARED_PREFIX = 1   /* fine-tune from a snapshot of one shared DAPT run (qat_dapt_run; the seed code) */
} qat_plan;

/* Adaptive alpha (SPEC section 11): DAPT evaluates the MLM loss on held-out
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
} qat_pipeline_options;

QAT_API qat_status qat_pipeline_options_init(qat_pipeline_options *options, uint32_t version);

/* Runs (or resumes) the pipeline. *test_f1 receives the test F1 (entity
 * F1 for IOB2 tag sets, token micro F1 otherwise), as a fraction; the full
 * results are in out_dir/results.json. */
QAT_API qat_status qat_pipeline_run(qat_context *ctx, const qat_pipeline_options *options, double *test_f1);

/* ---- Shared-prefix DAPT (the seed code's plan, SPEC section 10) -------- */

#define QAT_DAPT_OPTIONS_VERSION 2

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
} qat_dapt_options;

QAT_API qat_status qat_dapt_options_init(qat_dapt_options *options, uint32_t version);
/* Runs (or resumes, or finds finished) the shared DAPT run. */
QAT_API qat_status qat_dapt_run(qat_context *ctx, const qat_dapt_options *options);

#ifdef __cplusplus
}
#endif

#endif /* QAT_TRAIN_H */
