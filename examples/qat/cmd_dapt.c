/* qat dapt: one shared DAPT run for a grid of alphas (the seed code's
 * plan, docs/training.md "Plans"): a single schedule up to the largest
 * alpha with a snapshot at every alpha, from which `qat train --dapt-dir`
 * fine-tunes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

#define MAX_ALPHAS 64

typedef struct dapt_args {
    qat_dapt_options o;
    double alphas[MAX_ALPHAS];
    size_t n_alphas;
    const char *backend;
    int64_t threads;
    int precision; /* -1: the backend's default */
    int fused_attention;
} dapt_args;

/* --alphas "0.1,0.3,auto" into a->alphas; auto turns adaptive on. */
static int parse_alphas(const char *cmd, const char *label, const char *text, void *user)
{
    dapt_args *a = user;
    a->n_alphas = 0;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", text);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (strcmp(tok, "auto") == 0) {
            a->o.run.adaptive.enabled = 1;
            continue;
        }
        char *end = NULL;
        double x = strtod(tok, &end);
        if (!end || *end || !(x > 0.0 && x < 1.0) || a->n_alphas == MAX_ALPHAS) {
            fprintf(stderr, "qat %s: %s: '%s' is not an alpha in (0, 1)%s\n", cmd, label, tok,
                    a->n_alphas == MAX_ALPHAS ? " (too many)" : "");
            return -1;
        }
        a->alphas[a->n_alphas++] = x;
    }
    return 0;
}

static int run(dapt_args *a)
{
    if (a->n_alphas == 0 && !a->o.run.adaptive.enabled) {
        fprintf(stderr, "qat dapt: --alphas names no alpha\n");
        return 2;
    }
    a->o.alphas = a->alphas;
    a->o.n_alphas = a->n_alphas;
    qat_context *ctx = NULL;
    if (qat_cli_context("dapt", a->backend, a->threads, a->precision, &ctx) != 0)
        return 1;
    qat_comm *comm = NULL; /* the data-parallel job the environment describes, if any */
    int64_t rank = 0, world = 1;
    if (qat_cli_fused_attention("dapt", ctx, a->fused_attention) != 0 ||
        qat_cli_comm("dapt", ctx, &comm, &rank, &world) != 0) {
        qat_context_free(ctx);
        return 1;
    }
    a->o.comm = comm;
    qat_status st = qat_dapt_run(ctx, &a->o);
    qat_comm_free(comm);
    qat_context_free(ctx);
    if (st != QAT_OK)
        return qat_cli_fail("dapt", "the run failed", st);
    if (rank > 0) {
        printf("rank %lld of %lld done (rank 0 writes %s)\n", (long long)rank, (long long)world, a->o.run.out_dir);
        return 0;
    }
    printf("%s: shared DAPT done (%s/dapt.json lists the snapshots)\n", a->o.run.quant ? a->o.run.quant : "FP32", a->o.run.out_dir);
    return 0;
}

int qat_cli_dapt(int argc, char **argv)
{
    dapt_args a = {.n_alphas = 0, .precision = -1};
    qat_status st = qat_dapt_options_init(&a.o, QAT_DAPT_OPTIONS_VERSION);
    if (st != QAT_OK)
        return qat_cli_fail("dapt", "options", st);
    const qat_cli_option options[] = {
        QAT_CLI_RUN_INPUT_ROWS(&a.o.run),
        {.name = "--corpus", .type = QAT_CLI_STRING, .to.str = &a.o.run.corpus, .value_name = "FILE",
         .flags = QAT_CLI_REQUIRED, .help = "DAPT text, plain or .gz"},
        {.name = "--alphas", .type = QAT_CLI_CUSTOM, .parse = parse_alphas, .to.user = &a, .value_name = "LIST",
         .flags = QAT_CLI_REQUIRED, .help = "comma-separated alphas in (0, 1); 'auto' adds an adaptive snapshot"},
        {.name = "--out", .type = QAT_CLI_STRING, .to.str = &a.o.run.out_dir, .value_name = "DIR",
         .flags = QAT_CLI_REQUIRED, .help = "snapshots/step-N/, dapt.json, metrics.jsonl, checkpoints"},
        QAT_CLI_RUN_SCHEDULE_ROWS(&a.o.run),
        QAT_CLI_CONTEXT_ROWS(&a.backend, &a.threads, &a.precision),
        QAT_CLI_FUSED_ATTENTION_ROW(&a.fused_attention),
    };
    const qat_cli_spec spec = {
        .command = "dapt",
        .synopsis = "--model DIR --corpus FILE --alphas A,B,... --out DIR [options]",
        .about = "  One DAPT schedule of round(max(alphas) * steps) steps with a snapshot at round(alpha * steps)\n"
                 "  for every alpha; fine-tune from them with qat train --dapt-dir DIR --alpha A --steps N (the\n"
                 "  same --quant and --steps: --steps is B_total of those fine-tuning runs).\n",
        .epilog = "A stopped run resumes when started again with the same --out.\n",
        .options = options,
        .n_options = QAT_CLI_COUNT(options),
    };
    int rc = qat_cli_parse(&spec, argc, argv);
    return rc != QAT_CLI_RUN ? rc : run(&a);
}
