/* The `qat` command-line driver: one file per subcommand, all built only on
 * the public API, each parsing its arguments with one option table
 * (cli_args.h). */
#ifndef QAT_CLI_COMMANDS_H
#define QAT_CLI_COMMANDS_H

#include <math.h>
#include <qat/qat.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "cli_args.h"

typedef struct qat_cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
} qat_cli_command;

int qat_cli_info(int argc, char **argv);
int qat_cli_quant(int argc, char **argv);
int qat_cli_train(int argc, char **argv);
int qat_cli_dapt(int argc, char **argv);
int qat_cli_eval(int argc, char **argv);
int qat_cli_sweep(int argc, char **argv);
int qat_cli_report(int argc, char **argv);
int qat_cli_export(int argc, char **argv);
int qat_cli_infer(int argc, char **argv);
int qat_cli_estimate(int argc, char **argv);

/* 1 when a task file is a sequence-classification one (.tsv or .jsonl,
 * maybe .gz), as the library decides (docs/data.md); else CoNLL. */
static inline int qat_cli_is_seq_task(const char *path)
{
    size_t n = path ? strlen(path) : 0;
    if (n > 3 && strcmp(path + n - 3, ".gz") == 0)
        n -= 3;
    return (n > 4 && strncmp(path + n - 4, ".tsv", 4) == 0) || (n > 6 && strncmp(path + n - 6, ".jsonl", 6) == 0);
}

/* Prints "qat <cmd>: <message>: <qat_last_error()>" and returns 1. */
int qat_cli_fail(const char *cmd, const char *what, qat_status st);

/* The largest thread count the library takes (qat_context_param_bounds). */
int64_t qat_cli_max_threads(void);

/* A context on backend (NULL: the best) with threads (0: the library's
 * default). 0, or qat_cli_fail's 1 with *ctx NULL. */
int qat_cli_context(const char *cmd, const char *backend, int64_t threads, int precision, qat_context **ctx);
/* The data-parallel job this process is a rank of, from torchrun's or
 * srun's variables (one rank when none is set; docs/distributed.md), with
 * its rank and world size. 0, or qat_cli_fail's 1. */
int qat_cli_comm(const char *cmd, qat_context *ctx, qat_comm **comm, int64_t *rank, int64_t *world);
/* --strict-iob: sets QAT_CTX_STRICT_IOB2 (0 or qat_cli_fail's 1). */
int qat_cli_strict_iob(const char *cmd, qat_context *ctx, int strict);
/* The context's warnings (lenient IOB2 reads...), one "qat CMD: warning:"
 * line each on stderr. */
void qat_cli_print_warnings(const char *cmd, const qat_context *ctx);
/* --fused-attention: QAT_CTX_FUSED_ATTENTION. */
int qat_cli_fused_attention(const char *cmd, qat_context *ctx, int fused);
#define QAT_CLI_FUSED_ATTENTION_ROW(dest) \
    QAT_OPT_FLAG("--fused-attention", dest, \
                 "train with the backend's fused attention: no [batch, heads, L, L] probabilities kept for the " \
                 "backward (4 B heads L^2 bytes a layer less, twice that with attention dropout), the scores " \
                 "recomputed instead; results equal up to rounding (docs/training.md)")
#define QAT_CLI_STRICT_IOB_ROW(dest) \
    QAT_OPT_FLAG("--strict-iob", dest, \
                 "refuse a CoNLL file whose IOB2 tags are inconsistent (an I-X after O or another type); by " \
                 "default it is read as seqeval reads it (the I-X starts an entity) and a warning names the lines")

/* qat_model_load of dir with task and quant (NULL: the saved one); partial:
 * QAT_LOAD_PARTIAL. Says on stderr what the checkpoint lacked (new heads,
 * or with partial the encoder tensors left as initialised) and how many of
 * its tensors went unused or were skipped. */
qat_status qat_cli_load_model(const char *cmd, qat_context *ctx, const char *dir, qat_task task, const char *quant,
                              int partial, qat_model **out);

/* The --allow-partial row of the commands that load a model directory. */
#define QAT_CLI_PARTIAL_ROW(flag) \
    QAT_OPT_FLAG("--allow-partial", flag, \
                 "load a checkpoint that lacks some encoder tensors (they start as in a new model; listed on " \
                 "stderr); by default that is an error")

/* Progress lines: the phase's start and steps/s. */
typedef struct qat_cli_progress {
    int tty; /* stderr is a terminal: lines are redrawn with \r */
    struct timespec start;
    char phase[16];
} qat_cli_progress;

/* From a qat_progress_fn: 1 when phase starts a new phase (its clock
 * restarts; a redrawn line is ended), else 0 with the phase's steps/s so
 * far in *rate. */
int qat_cli_progress_step(qat_cli_progress *p, const char *phase, int64_t step, double *rate);

/* mkdir -p; 0 or -1 with errno. */
int qat_cli_mkdirs(const char *path);
/* 1 when dir/name exists. */
int qat_cli_file_exists(const char *dir, const char *name);

/* Splits text (modified in place) at whitespace into at most max words. */
size_t qat_cli_split_words(char *text, const char **words, size_t max);

/* ---- Rows shared by several commands' option tables --------------------- */

/* --backend, --threads and --precision, for the commands that make a
 * context. precision: a qat_precision, or -1 (start it at -1) for the
 * backend's default. */
extern const qat_cli_choice qat_cli_precisions[];
#define QAT_CLI_CONTEXT_ROWS(backend, threads, precision) \
    QAT_OPT_STRING("--backend", backend, "NAME", "backend (default: the best available; qat info lists them)"), \
    QAT_OPT_INT("--threads", threads, "N", 0, qat_cli_max_threads(), "worker threads; 0 = all cores"), \
    QAT_OPT_CHOICE("--precision", precision, "POLICY", qat_cli_precisions, \
                   "GEMM precision policy, fp32 master weights (ref, cpu: fp32 only; default: the backend's, " \
                   "$QAT_CUDA_PRECISION on cuda)")

/* The optimisation settings (qat_train_options) of qat train and qat dapt. */
#define QAT_CLI_TRAIN_ROWS(t) \
    QAT_OPT_INT("--batch", &(t)->batch_size, "N", 1, INT64_MAX, "sequences per optimizer step"), \
    QAT_OPT_INT("--micro-batch", &(t)->micro_batch_size, "N", 0, INT64_MAX, \
                "sequences per forward/backward pass, gradients accumulated up to --batch; 0 = --batch"), \
    QAT_OPT_DOUBLE("--lr", &(t)->learning_rate, "X", 0, HUGE_VAL, "peak learning rate"), \
    QAT_OPT_DOUBLE("--warmup", &(t)->warmup_ratio, "R", 0, 1, "warm-up share of each phase's steps")

/* Adaptive alpha's knobs (qat_adaptive_options), spelled the same for qat
 * train and qat dapt; the library checks how they relate. */
#define QAT_CLI_ADAPTIVE_ROWS(a) \
    QAT_OPT_DOUBLE("--alpha-max", &(a)->alpha_max, "A", 0, 1, \
                   "adaptive alpha: the DAPT schedule's length and the largest alpha"), \
    QAT_OPT_INT("--eval-every", &(a)->eval_every, "N", 0, INT64_MAX, \
                "adaptive alpha: steps between held-out evaluations; 0 = a twentieth of the schedule"), \
    QAT_OPT_INT("--patience", &(a)->patience, "N", 1, INT64_MAX, \
                "adaptive alpha: evaluations in a row without improvement before DAPT stops"), \
    QAT_OPT_DOUBLE("--min-delta", &(a)->min_delta, "X", 0, HUGE_VAL, \
                   "adaptive alpha: the improvement (nats) that counts"), \
    {.name = "--heldout", .type = QAT_CLI_INT, .to.i64 = &(a)->heldout_sequences, .value_name = "N", .lo = 0, \
     .hi = (double)INT64_MAX, .key = "heldout_sequences", \
     .help = "adaptive alpha: held-out corpus sequences; 0 = a tenth of the corpus' sequences, at most 256"}

/* What a pipeline run and a DAPT run share (their qat_run_options), in two
 * groups so each command can put its own rows between them; --corpus and
 * --out are each command's own (required by one, not the other). The
 * model, the tokenizer and the quant config: */
#define QAT_CLI_RUN_INPUT_ROWS(o) \
    {.name = "--model", .type = QAT_CLI_STRING, .to.str = &(o)->model_dir, .value_name = "DIR", \
     .flags = QAT_CLI_REQUIRED, .help = "HF checkpoint directory (config.json + weights)"}, \
    QAT_OPT_STRING("--tokenizer", &(o)->tokenizer, "PATH", \
                   "tokenizer (.model, tokenizer.json, HF directory); default: the model directory's"), \
    QAT_OPT_STRING("--quant", &(o)->quant, "CONFIG", "quant config, e.g. E6W1.58A6 (default FP32)")

/* The schedule, seed, optimisation, adaptive and energy settings of the same. */
#define QAT_CLI_RUN_SCHEDULE_ROWS(o) \
    QAT_OPT_INT("--steps", &(o)->total_steps, "N", 1, INT64_MAX, "total optimizer steps B_total"), \
    QAT_OPT_INT("--seq-len", &(o)->max_seq_len, "N", 8, 65536, "max sequence length"), \
    QAT_OPT_INT("--checkpoint-every", &(o)->checkpoint_every, "N", 0, INT64_MAX, \
                "steps between training-state checkpoints; 0 = at phase ends only"), \
    QAT_OPT_UINT("--seed", &(o)->seed, "N", "seed of the run (data order, masking, dropout)"), \
    QAT_CLI_TRAIN_ROWS(&(o)->train), QAT_CLI_ADAPTIVE_ROWS(&(o)->adaptive), \
    QAT_OPT_DOUBLE("--carbon-intensity", &(o)->carbon_intensity, "G", 0, 1e5, \
                   "grid carbon intensity, g CO2eq/kWh, for results.json's energy object; 0 = 56, France's " \
                   "average mix (docs/energy.md)"), \
    QAT_OPT_DOUBLE("--power-watts", &(o)->power_watts, "W", 0, 1e7, \
                   "draw assumed where no energy counter is readable (the energy is then marked \"estimated\"); " \
                   "0 = 10 W per CPU thread, 300 W on CUDA")

#endif
