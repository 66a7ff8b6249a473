/* qat eval: a saved token classifier on a CoNLL file, or a sequence
 * classifier on a .tsv / .jsonl file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: qat eval --model DIR --task FILE [options]\n"
                 "  --model DIR        a token- or sequence-classification model (e.g. runs/x/model from qat train)\n"
                 "  --task FILE        CoNLL file to evaluate on (token<TAB>tag), or a .tsv / .jsonl file of\n"
                 "                     texts or pairs and labels for a sequence classifier (docs/data.md)\n"
                 "  --tokenizer PATH   default: the model directory\n"
                 "  --quant CONFIG     default: the config saved with the model\n"
                 "  --seq-len N        truncation length (default 512)\n"
                 "  --out FILE         write the metrics as JSON\n"
                 "  --backend NAME, --threads N\n");
}

int qat_cli_eval(int argc, char **argv)
{
    const char *model_dir = NULL, *task = NULL, *tok_path = NULL, *quant = NULL, *out = NULL, *backend = NULL;
    long long seq_len = 512, threads = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "qat eval: %s needs a value\n", argv[i]);
            return 2;
        }
        const char *a = argv[i], *v = argv[++i];
        if (strcmp(a, "--model") == 0) model_dir = v;
        else if (strcmp(a, "--task") == 0) task = v;
        else if (strcmp(a, "--tokenizer") == 0) tok_path = v;
        else if (strcmp(a, "--quant") == 0) quant = v;
        else if (strcmp(a, "--out") == 0) out = v;
        else if (strcmp(a, "--backend") == 0) backend = v;
        else if (strcmp(a, "--seq-len") == 0) seq_len = atoll(v);
        else if (strcmp(a, "--threads") == 0) threads = atoll(v);
        else {
            fprintf(stderr, "qat eval: unknown option %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!model_dir || !task) {
        usage(stderr);
        return 2;
    }
    qat_context *ctx = NULL;
    qat_tokenizer *tok = NULL;
    qat_model *model = NULL;
    qat_status st = qat_context_create(backend, &ctx);
    if (st == QAT_OK && threads > 0)
        st = qat_context_set_int(ctx, QAT_CTX_THREADS, threads);
    if (st == QAT_OK)
        st = qat_tokenizer_load(tok_path ? tok_path : model_dir, &tok);
    qat_load_options lo;
    qat_load_options_init(&lo, QAT_LOAD_OPTIONS_VERSION);
    int seq = qat_cli_is_seq_task(task);
    lo.task = seq ? QAT_TASK_SEQUENCE_CLASSIFICATION : QAT_TASK_TOKEN_CLASSIFICATION;
    lo.quant = quant;
    if (st == QAT_OK)
        st = qat_model_load(ctx, model_dir, &lo, &model);
    double f1 = 0.0;
    if (st == QAT_OK)
        st = qat_model_evaluate(model, tok, task, seq_len, out, &f1);
    int rc = 0;
    if (st != QAT_OK)
        rc = qat_cli_fail("eval", "evaluation failed", st);
    else
        printf("%s: %s %.2f%%%s\n", task, seq ? "accuracy" : "F1", 100.0 * f1, f1 < 0.2 ? " [collapsed]" : "");
    qat_model_free(model);
    qat_tokenizer_free(tok);
    qat_context_free(ctx);
    return rc;
}
