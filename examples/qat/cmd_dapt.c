/* qat dapt: one shared DAPT run for a grid of alphas (the seed code's
 * plan, docs/training.md "Plans"): a single schedule up to the largest
 * alpha with a snapshot at every alpha, from which `qat train --dapt-dir`
 * fine-tunes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

#define MAX_ALPHAS 64

static void usage(FILE *out)
{
    fprintf(out,
            "usage: qat dapt --model DIR --corpus FILE --alphas A,B,... --out DIR [options]\n"
            "  One DAPT schedule of round(max(alphas) * steps) steps with a snapshot at\n"
            "  round(alpha * steps) for every alpha; fine-tune from them with\n"
            "  qat train --dapt-dir DIR --alpha A --steps N (same --quant and --steps).\n"
            "  --model DIR          HF checkpoint directory\n"
            "  --tokenizer PATH     tokenizer (default: the model directory)\n"
            "  --quant CONFIG       e.g. E6W1.58A6@seed-code (default FP32)\n"
            "  --corpus FILE        DAPT text, plain or .gz\n"
            "  --alphas LIST        comma-separated alphas in (0, 1); 'auto' adds an adaptive snapshot\n"
            "  --steps N            B_total of the fine-tuning runs (default 30000)\n"
            "  --out DIR            snapshots/step-N/, dapt.json, metrics.jsonl, checkpoints\n"
            "  --batch N --micro-batch N --lr X --warmup R --seq-len N --checkpoint-every N\n"
            "  --seed N --threads N --backend NAME   as for qat train\n"
            "  --alpha-max A --eval-every N --patience N --min-delta X --heldout N   adaptive knobs\n"
            "A stopped run resumes when started again with the same --out.\n");
}

/* "0.1,0.3,auto" into alphas; auto turns adaptive on. */
static int parse_alphas(const char *text, double *alphas, size_t *n, qat_dapt_options *o)
{
    *n = 0;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", text);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (strcmp(tok, "auto") == 0) {
            o->adaptive.enabled = 1;
            continue;
        }
        char *end = NULL;
        double a = strtod(tok, &end);
        if (!end || *end || !(a > 0.0 && a < 1.0) || *n == MAX_ALPHAS) {
            fprintf(stderr, "qat dapt: --alphas: '%s' is not an alpha in (0, 1)%s\n", tok,
                    *n == MAX_ALPHAS ? " (too many)" : "");
            return -1;
        }
        alphas[(*n)++] = a;
    }
    return 0;
}

int qat_cli_dapt(int argc, char **argv)
{
    qat_dapt_options o;
    qat_status st = qat_dapt_options_init(&o, QAT_DAPT_OPTIONS_VERSION);
    if (st != QAT_OK)
        return qat_cli_fail("dapt", "options", st);
    double alphas[MAX_ALPHAS];
    size_t n_alphas = 0;
    const char *backend = NULL;
    int threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "qat dapt: %s needs a value\n", a);
            usage(stderr);
            return 2;
        }
        const char *v = argv[++i];
        char *end = NULL;
        if (strcmp(a, "--model") == 0) o.model_dir = v;
        else if (strcmp(a, "--tokenizer") == 0) o.tokenizer = v;
        else if (strcmp(a, "--quant") == 0) o.quant = v;
        else if (strcmp(a, "--corpus") == 0) o.corpus = v;
        else if (strcmp(a, "--out") == 0) o.out_dir = v;
        else if (strcmp(a, "--alphas") == 0) {
            if (parse_alphas(v, alphas, &n_alphas, &o) != 0)
                return 2;
        }
        else if (strcmp(a, "--steps") == 0) o.total_steps = strtoll(v, &end, 10);
        else if (strcmp(a, "--batch") == 0) o.train.batch_size = strtoll(v, &end, 10);
        else if (strcmp(a, "--micro-batch") == 0) o.train.micro_batch_size = strtoll(v, &end, 10);
        else if (strcmp(a, "--lr") == 0) o.train.learning_rate = strtod(v, &end);
        else if (strcmp(a, "--warmup") == 0) o.train.warmup_ratio = strtod(v, &end);
        else if (strcmp(a, "--seq-len") == 0) o.max_seq_len = strtoll(v, &end, 10);
        else if (strcmp(a, "--checkpoint-every") == 0) o.checkpoint_every = strtoll(v, &end, 10);
        else if (strcmp(a, "--seed") == 0) o.seed = strtoull(v, &end, 10);
        else if (strcmp(a, "--threads") == 0) threads = (int)strtol(v, &end, 10);
        else if (strcmp(a, "--backend") == 0) backend = v;
        else if (qat_cli_adaptive_option(a, v, &o.adaptive, &end)) {} /* set, checked below */
        else {
            fprintf(stderr, "qat dapt: unknown option %s\n", a);
            usage(stderr);
            return 2;
        }
        if (end && *end) {
            fprintf(stderr, "qat dapt: %s: '%s' is not a number\n", a, v);
            return 2;
        }
    }
    if (!o.model_dir || !o.corpus || !o.out_dir || (n_alphas == 0 && !o.adaptive.enabled)) {
        fprintf(stderr, "qat dapt: --model, --corpus, --alphas and --out are required\n");
        usage(stderr);
        return 2;
    }
    o.alphas = alphas;
    o.n_alphas = n_alphas;
    qat_context *ctx = NULL;
    if ((st = qat_context_create(backend, &ctx)) != QAT_OK)
        return qat_cli_fail("dapt", "cannot create a context", st);
    if (threads > 0 && (st = qat_context_set_int(ctx, QAT_CTX_THREADS, threads)) != QAT_OK) {
        qat_context_free(ctx);
        return qat_cli_fail("dapt", "bad --threads", st);
    }
    st = qat_dapt_run(ctx, &o);
    qat_context_free(ctx);
    if (st != QAT_OK)
        return qat_cli_fail("dapt", "the run failed", st);
    printf("%s: shared DAPT done (%s/dapt.json lists the snapshots)\n", o.quant ? o.quant : "FP32", o.out_dir);
    return 0;
}
