/* qat eval: a saved token classifier on a CoNLL file, or a sequence
 * classifier on a .tsv / .jsonl file. */
#include <stdio.h>

#include "commands.h"

typedef struct eval_args {
    const char *model_dir, *task, *tokenizer, *quant, *out, *backend;
    int64_t seq_len, threads;
    int precision; /* -1: the backend's default */
    int partial, strict_iob;
} eval_args;

/* Loads, evaluates and prints the headline metric. */
static int evaluate(const eval_args *a)
{
    qat_context *ctx = NULL;
    if (qat_cli_context("eval", a->backend, a->threads, a->precision, &ctx) != 0)
        return 1;
    if (qat_cli_strict_iob("eval", ctx, a->strict_iob) != 0) {
        qat_context_free(ctx);
        return 1;
    }
    qat_tokenizer *tok = NULL;
    qat_model *model = NULL;
    qat_status st = qat_tokenizer_load(a->tokenizer ? a->tokenizer : a->model_dir, &tok);
    int seq = qat_cli_is_seq_task(a->task);
    if (st == QAT_OK)
        st = qat_cli_load_model("eval", ctx, a->model_dir,
                                seq ? QAT_TASK_SEQUENCE_CLASSIFICATION : QAT_TASK_TOKEN_CLASSIFICATION, a->quant,
                                a->partial, &model);
    double f1 = 0.0;
    if (st == QAT_OK)
        st = qat_model_evaluate(model, tok, a->task, a->seq_len, a->out, &f1);
    qat_cli_print_warnings("eval", ctx);
    int rc = 0;
    if (st != QAT_OK)
        rc = qat_cli_fail("eval", "evaluation failed", st);
    else
        printf("%s: %s %.2f%%%s\n", a->task, seq ? "accuracy" : "F1", 100.0 * f1, f1 < 0.2 ? " [collapsed]" : "");
    qat_model_free(model);
    qat_tokenizer_free(tok);
    qat_context_free(ctx);
    return rc;
}

int qat_cli_eval(int argc, char **argv)
{
    eval_args a = {.seq_len = 512, .precision = -1};
    const qat_cli_option options[] = {
        {.name = "--model", .type = QAT_CLI_STRING, .to.str = &a.model_dir, .value_name = "DIR",
         .flags = QAT_CLI_REQUIRED,
         .help = "a token- or sequence-classification model (e.g. runs/x/model from qat train)"},
        {.name = "--task", .type = QAT_CLI_STRING, .to.str = &a.task, .value_name = "FILE", .flags = QAT_CLI_REQUIRED,
         .help = "CoNLL file to evaluate on (token<TAB>tag), or a .tsv / .jsonl file of texts or pairs and labels "
                 "for a sequence classifier (docs/data.md)"},
        QAT_OPT_STRING("--tokenizer", &a.tokenizer, "PATH", "default: the model directory"),
        QAT_OPT_STRING("--quant", &a.quant, "CONFIG", "default: the config saved with the model"),
        QAT_OPT_INT("--seq-len", &a.seq_len, "N", 1, INT64_MAX, "truncation length"),
        QAT_OPT_STRING("--out", &a.out, "FILE", "write the metrics and the predicted tags as JSON"),
        QAT_CLI_STRICT_IOB_ROW(&a.strict_iob),
        QAT_CLI_PARTIAL_ROW(&a.partial),
        QAT_CLI_CONTEXT_ROWS(&a.backend, &a.threads, &a.precision),
    };
    const qat_cli_spec spec = {
        .command = "eval",
        .synopsis = "--model DIR --task FILE [options]",
        .options = options,
        .n_options = QAT_CLI_COUNT(options),
    };
    int rc = qat_cli_parse(&spec, argc, argv);
    return rc != QAT_CLI_RUN ? rc : evaluate(&a);
}
