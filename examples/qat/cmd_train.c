/* qat train: the alpha pipeline (DAPT on a corpus, then fine-tuning on a
 * CoNLL task or a .tsv / .jsonl sequence task, then evaluation) from the
 * command line. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "train_config.h"

/* A bar redrawn on a terminal, else a line every 50 steps. */
static int on_progress(void *user, const char *phase, int64_t step, int64_t total, double loss)
{
    qat_cli_progress *p = user;
    double rate = 0;
    if (qat_cli_progress_step(p, phase, step, &rate)) {
        if (strcmp(phase, "eval") == 0)
            fprintf(stderr, "evaluating...\n");
        return 0;
    }
    double eta = rate > 0 ? (double)(total - step) / rate : 0;
    if (p->tty) {
        int width = 30, filled = (int)(width * step / (total ? total : 1));
        fprintf(stderr, "\r%-8s [%.*s%*s] %lld/%lld  %.2f steps/s  loss %.4f  ETA %.0fs ", phase, filled,
                "##############################", width - filled, "", (long long)step, (long long)total, rate, loss,
                eta);
        if (step == total)
            fputc('\n', stderr);
    } else if (step == total || step % 50 == 0 || step == 1) {
        fprintf(stderr, "%s step %lld/%lld loss %.4f (%.2f steps/s)\n", phase, (long long)step, (long long)total, loss,
                rate);
    }
    return 0;
}

typedef struct train_args {
    qat_pipeline_options o;
    const char *backend;
    int64_t threads;
    int precision; /* -1: the backend's default */
    int strict_iob;
    int fused_attention;
    train_config file;
    const qat_cli_spec *spec; /* for --config, which sets the same options */
} train_args;

/* --config FILE: the file's keys, before every flag (flags override them). */
static int parse_config(const char *cmd, const char *label, const char *path, void *user)
{
    (void)cmd;
    (void)label;
    train_args *a = user;
    train_config_free(&a->file);
    return train_config_load(path, a->spec, &a->file, &a->o.run.quant);
}

/* --alpha A|auto */
static int parse_alpha(const char *cmd, const char *label, const char *value, void *user)
{
    qat_pipeline_options *o = user;
    char *end = NULL;
    if (strcmp(value, "auto") == 0) {
        o->run.adaptive.enabled = 1;
        return 0;
    }
    double x = strtod(value, &end);
    if (end == value || *end) {
        fprintf(stderr, "qat %s: %s: '%s' is not a number (or auto)\n", cmd, label, value);
        return 1;
    }
    o->alpha = x;
    o->run.adaptive.enabled = 0;
    return 0;
}

/* --dapt-dir DIR: the shared-prefix plan, from that run's snapshots. */
static int parse_dapt_dir(const char *cmd, const char *label, const char *value, void *user)
{
    (void)cmd;
    (void)label;
    qat_pipeline_options *o = user;
    o->dapt_dir = value;
    o->plan = QAT_PLAN_SHARED_PREFIX;
    return 0;
}

static int run(train_args *a)
{
    qat_pipeline_options *o = &a->o;
    qat_context *ctx = NULL;
    if (qat_cli_context("train", a->backend, a->threads, a->precision, &ctx) != 0)
        return 1;
    qat_comm *comm = NULL;
    int64_t rank = 0, world = 1;
    if (qat_cli_strict_iob("train", ctx, a->strict_iob) != 0 ||
        qat_cli_fused_attention("train", ctx, a->fused_attention) != 0 ||
        qat_cli_comm("train", ctx, &comm, &rank, &world) != 0) {
        qat_context_free(ctx);
        return 1;
    }
    qat_cli_progress p = {isatty(STDERR_FILENO), {0, 0}, ""};
    if (rank == 0) { /* one progress display per job */
        o->run.progress = on_progress;
        o->run.progress_user = &p;
    }
    o->comm = comm;
    double f1 = NAN;
    qat_status st = qat_pipeline_run(ctx, o, &f1);
    qat_cli_print_warnings("train", ctx);
    qat_comm_free(comm);
    qat_context_free(ctx);
    if (st != QAT_OK)
        return qat_cli_fail("train", "the run failed", st);
    if (rank > 0) {
        printf("rank %lld of %lld done (rank 0 evaluates and writes %s)\n", (long long)rank, (long long)world,
               o->run.out_dir);
        return 0;
    }
    char alpha[32];
    snprintf(alpha, sizeof alpha, o->run.adaptive.enabled ? "auto" : "%.2f", o->alpha);
    printf("%s alpha=%s: test %s %.2f%% (%s/results.json)%s\n", o->run.quant ? o->run.quant : "FP32", alpha,
           qat_cli_is_seq_task(o->train_file) ? "accuracy" : "F1", 100.0 * f1, o->run.out_dir,
           f1 < 0.2 ? " [collapsed]" : "");
    return 0;
}

int qat_cli_train(int argc, char **argv)
{
    train_args a = {.backend = NULL, .precision = -1};
    qat_pipeline_options_init(&a.o, QAT_PIPELINE_OPTIONS_VERSION);
    a.o.run.out_dir = "runs/qat";
    const qat_cli_option options[] = {
        {.name = "--config", .type = QAT_CLI_CUSTOM, .parse = parse_config, .to.user = &a, .value_name = "FILE",
         .flags = QAT_CLI_FIRST | QAT_CLI_NO_KEY,
         .help = "YAML or JSON whose keys are these options' names (model, steps, micro_batch, dapt_dir, "
                 "heldout_sequences...) and, instead of quant, the block of docs/method.md section 2: "
                 "quantization: {name, embedding_quant: "
                 "{algo, bits}, weight_quant: {...}, activation_quant: {...}}; a name that disagrees with the "
                 "content is refused. Options on the command line override the file"},
        QAT_CLI_RUN_INPUT_ROWS(&a.o.run),
        {.name = "--task", .type = QAT_CLI_STRING, .to.str = &a.o.train_file, .value_name = "FILE",
         .flags = QAT_CLI_REQUIRED,
         .help = "training CoNLL file (token<TAB>tag), or a .tsv / .jsonl file of texts or pairs and labels: "
                 "sequence classification (docs/data.md)"},
        QAT_OPT_CUSTOM("--alpha", parse_alpha, &a.o, "A|auto",
                       "share of the steps for DAPT, in [0, 1) (default 0); auto: adaptive alpha, DAPT stops when "
                       "the held-out MLM loss stops improving (docs/training.md)"),
        QAT_OPT_CUSTOM("--dapt-dir", parse_dapt_dir, &a.o, "DIR",
                       "start fine-tuning from the snapshot at round(alpha * steps) of a shared DAPT run made by "
                       "`qat dapt` (the seed code's plan; no --corpus needed)"),
        QAT_OPT_STRING("--corpus", &a.o.run.corpus, "FILE", "DAPT text, plain or .gz (needed when alpha > 0)"),
        QAT_OPT_STRING("--eval", &a.o.eval_file, "FILE", "evaluation file (default: a seeded 70/10/20 split of --task)"),
        QAT_OPT_STRING("--test", &a.o.test_file, "FILE", "test file (default: the same split)"),
        QAT_OPT_STRING("--out", &a.o.run.out_dir, "DIR", "results.json, metrics.jsonl, checkpoints"),
        QAT_CLI_STRICT_IOB_ROW(&a.strict_iob),
        QAT_CLI_FUSED_ATTENTION_ROW(&a.fused_attention),
        QAT_CLI_RUN_SCHEDULE_ROWS(&a.o.run),
        QAT_CLI_CONTEXT_ROWS(&a.backend, &a.threads, &a.precision),
    };
    const qat_cli_spec spec = {
        .command = "train",
        .synopsis = "--model DIR --task train.conll [options]\n--config run.yaml [options]",
        .epilog = "A stopped run resumes from its checkpoints when started again with the same --out.\n",
        .options = options,
        .n_options = QAT_CLI_COUNT(options),
    };
    a.spec = &spec;
    int rc = qat_cli_parse(&spec, argc, argv);
    if (rc == QAT_CLI_RUN)
        rc = run(&a);
    train_config_free(&a.file);
    return rc;
}
