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

static void usage(FILE *out)
{
    fprintf(out,
            "usage: qat train --model DIR --task train.conll [options]\n"
            "       qat train --config run.yaml [options]   (options given after override the file)\n"
            "  --config FILE        YAML or JSON with the same settings (model, tokenizer, quant, alpha,\n"
            "                       steps, corpus, task, eval, test, out, batch, micro_batch, lr, warmup,\n"
            "                       seq_len, checkpoint_every, seed, threads, backend, carbon_intensity,\n"
            "                       power_watts) and, instead of\n"
            "                       quant, SPEC's block: quantization: {name, embedding_quant: {algo, bits},\n"
            "                       weight_quant: {...}, activation_quant: {...}}; a name that disagrees\n"
            "                       with the content is refused\n"
            "  --model DIR          HF checkpoint directory (config.json + weights)\n"
            "  --tokenizer PATH     tokenizer (.model, HF dir); default: the model directory\n"
            "  --quant CONFIG       e.g. E6W1.58A6 (default FP32)\n"
            "  --alpha A|auto       share of the steps for DAPT, in [0, 1) (default 0); auto: adaptive alpha,\n"
            "                       DAPT stops when the held-out MLM loss stops improving (docs/training.md)\n"
            "  --alpha-max A --eval-every N --patience N --min-delta X --heldout N\n"
            "                       adaptive alpha's knobs (defaults 0.9, a twentieth of the schedule, 3,\n"
            "                       0.01 nats, a tenth of the corpus' sequences up to 256)\n"
            "  --dapt-dir DIR       start fine-tuning from the snapshot at round(alpha * steps) of a shared\n"
            "                       DAPT run made by `qat dapt` (the seed code's plan; no --corpus needed)\n"
            "  --steps N            total optimizer steps B_total (default 30000)\n"
            "  --corpus FILE        DAPT text, plain or .gz (needed when alpha > 0)\n"
            "  --task FILE          training CoNLL file (token<TAB>tag), or a .tsv / .jsonl file of texts or\n"
            "                       pairs and labels: sequence classification (docs/data.md)\n"
            "  --eval FILE --test FILE  evaluation files (default: seeded 70/10/20 split of --task)\n"
            "  --out DIR            results.json, metrics.jsonl, checkpoints (default runs/qat)\n"
            "  --batch N            sequences per step (default 96); --micro-batch N for accumulation\n"
            "  --lr X               peak learning rate (default 5e-6); --warmup R (default 0.1)\n"
            "  --seq-len N          max sequence length (default 512)\n"
            "  --checkpoint-every N training-state checkpoints (default 0: phase ends only)\n"
            "  --seed N             (default 42); --threads N; --backend NAME\n"
            "  --carbon-intensity G grid carbon intensity, g CO2eq/kWh, for results.json's energy object\n"
            "                       (default 56: France's average mix; see docs/energy.md)\n"
            "  --power-watts W      draw assumed where no energy counter is readable (default 10 W per CPU\n"
            "                       thread, 300 W on CUDA); the energy is then marked \"estimated\"\n"
            "A stopped run resumes from its checkpoints when started again with the same --out.\n");
}

typedef struct progress_state {
    int tty;
    struct timespec start;
    char phase[16];
} progress_state;

static int on_progress(void *user, const char *phase, int64_t step, int64_t total, double loss)
{
    progress_state *p = user;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (strcmp(p->phase, phase) != 0) {
        if (p->tty && p->phase[0])
            fputc('\n', stderr);
        snprintf(p->phase, sizeof p->phase, "%s", phase);
        p->start = now;
        if (strcmp(phase, "eval") == 0)
            fprintf(stderr, "evaluating...\n");
        return 0;
    }
    double elapsed = (double)(now.tv_sec - p->start.tv_sec) + 1e-9 * (double)(now.tv_nsec - p->start.tv_nsec);
    double rate = step / (elapsed > 0 ? elapsed : 1e-9);
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

int qat_cli_train(int argc, char **argv)
{
    qat_pipeline_options o;
    qat_pipeline_options_init(&o, QAT_PIPELINE_OPTIONS_VERSION);
    o.out_dir = "runs/qat";
    const char *backend = NULL;
    int threads = 0;
    train_config file = {0};
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--config") == 0) {
            if (train_config_load(argv[i + 1], &o, &file) != 0) {
                train_config_free(&file);
                return 2;
            }
            backend = file.backend;
            threads = (int)file.threads;
        }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "qat train: %s needs a value\n", a);
            usage(stderr);
            return 2;
        }
        const char *v = argv[++i];
        char *end = NULL;
        if (strcmp(a, "--config") == 0) continue; /* read above */
        else if (strcmp(a, "--model") == 0) o.model_dir = v;
        else if (strcmp(a, "--tokenizer") == 0) o.tokenizer = v;
        else if (strcmp(a, "--quant") == 0) o.quant = v;
        else if (strcmp(a, "--alpha") == 0 && strcmp(v, "auto") == 0) o.adaptive.enabled = 1;
        else if (strcmp(a, "--alpha") == 0) o.alpha = strtod(v, &end), o.adaptive.enabled = 0;
        else if (qat_cli_adaptive_option(a, v, &o.adaptive, &end)) {} /* set, checked below */
        else if (strcmp(a, "--dapt-dir") == 0) o.dapt_dir = v, o.plan = QAT_PLAN_SHARED_PREFIX;
        else if (strcmp(a, "--steps") == 0) o.total_steps = strtoll(v, &end, 10);
        else if (strcmp(a, "--corpus") == 0) o.corpus = v;
        else if (strcmp(a, "--task") == 0) o.train_file = v;
        else if (strcmp(a, "--eval") == 0) o.eval_file = v;
        else if (strcmp(a, "--test") == 0) o.test_file = v;
        else if (strcmp(a, "--out") == 0) o.out_dir = v;
        else if (strcmp(a, "--batch") == 0) o.train.batch_size = strtoll(v, &end, 10);
        else if (strcmp(a, "--micro-batch") == 0) o.train.micro_batch_size = strtoll(v, &end, 10);
        else if (strcmp(a, "--lr") == 0) o.train.learning_rate = strtod(v, &end);
        else if (strcmp(a, "--warmup") == 0) o.train.warmup_ratio = strtod(v, &end);
        else if (strcmp(a, "--seq-len") == 0) o.max_seq_len = strtoll(v, &end, 10);
        else if (strcmp(a, "--checkpoint-every") == 0) o.checkpoint_every = strtoll(v, &end, 10);
        else if (strcmp(a, "--seed") == 0) o.seed = strtoull(v, &end, 10);
        else if (strcmp(a, "--threads") == 0) threads = (int)strtol(v, &end, 10);
        else if (strcmp(a, "--backend") == 0) backend = v;
        else if (strcmp(a, "--carbon-intensity") == 0) o.carbon_intensity = strtod(v, &end);
        else if (strcmp(a, "--power-watts") == 0) o.power_watts = strtod(v, &end);
        else {
            fprintf(stderr, "qat train: unknown option %s\n", a);
            usage(stderr);
            train_config_free(&file);
            return 2;
        }
        if (end && *end) {
            fprintf(stderr, "qat train: %s: '%s' is not a number\n", a, v);
            train_config_free(&file);
            return 2;
        }
    }
    if (!o.model_dir || !o.train_file) {
        fprintf(stderr, "qat train: --model and --task are required\n");
        usage(stderr);
        train_config_free(&file);
        return 2;
    }
    qat_context *ctx = NULL;
    qat_status st = qat_context_create(backend, &ctx);
    if (st != QAT_OK) {
        train_config_free(&file);
        return qat_cli_fail("train", "cannot create a context", st);
    }
    if (threads > 0 && (st = qat_context_set_int(ctx, QAT_CTX_THREADS, threads)) != QAT_OK) {
        qat_context_free(ctx);
        train_config_free(&file);
        return qat_cli_fail("train", "bad --threads", st);
    }
    progress_state p = {isatty(STDERR_FILENO), {0, 0}, ""};
    o.progress = on_progress;
    o.progress_user = &p;
    double f1 = NAN;
    st = qat_pipeline_run(ctx, &o, &f1);
    qat_context_free(ctx);
    if (st != QAT_OK) {
        train_config_free(&file);
        return qat_cli_fail("train", "the run failed", st);
    }
    char alpha[32];
    snprintf(alpha, sizeof alpha, o.adaptive.enabled ? "auto" : "%.2f", o.alpha);
    printf("%s alpha=%s: test %s %.2f%% (%s/results.json)%s\n", o.quant ? o.quant : "FP32", alpha,
           qat_cli_is_seq_task(o.train_file) ? "accuracy" : "F1", 100.0 * f1, o.out_dir, f1 < 0.2 ? " [collapsed]" : "");
    train_config_free(&file);
    return 0;
}
