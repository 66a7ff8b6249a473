/* qat export: a saved model directory to a packed .qatp file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

/* One forward over up to 32 lines of text, to initialise LSQ activation steps. */
static qat_status calibrate(qat_model *m, const qat_tokenizer *tok, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "qat export: cannot open %s\n", path);
        return QAT_ERR_IO;
    }
    enum { ROWS = 32, LEN = 64 };
    int32_t *ids = calloc(ROWS * LEN, sizeof(int32_t)), *mask = calloc(ROWS * LEN, sizeof(int32_t));
    if (!ids || !mask) {
        free(ids);
        free(mask);
        fclose(f);
        fprintf(stderr, "qat export: out of memory\n");
        return QAT_ERR_OUT_OF_MEMORY;
    }
    char line[4096];
    int rows = 0;
    int32_t pad = 1;
    qat_tokenizer_special_id(tok, QAT_TOKEN_PAD, &pad);
    qat_status st = QAT_OK;
    while (st == QAT_OK && rows < ROWS && fgets(line, sizeof line, f)) {
        const char *words[256];
        size_t n = 0, nw = qat_cli_split_words(line, words, 256);
        st = qat_tokenizer_encode_words(tok, words, NULL, nw, QAT_TOKENIZE_ADD_SPECIAL, LEN, ids + rows * LEN, NULL,
                                        LEN, &n);
        for (int t = 0; t < LEN; t++) {
            mask[rows * LEN + t] = (size_t)t < n;
            if ((size_t)t >= n)
                ids[rows * LEN + t] = pad;
        }
        rows++;
    }
    fclose(f);
    size_t count = 0;
    if (st == QAT_OK && rows > 0)
        st = qat_model_logits_size(m, rows, LEN, &count);
    float *logits = count ? malloc(count * sizeof(float)) : NULL;
    if (count && !logits) {
        fprintf(stderr, "qat export: out of memory\n");
        st = QAT_ERR_OUT_OF_MEMORY;
    }
    if (st == QAT_OK && rows > 0)
        st = qat_model_forward(m, ids, mask, NULL, rows, LEN, logits, count);
    free(logits);
    free(ids);
    free(mask);
    return st;
}

typedef struct export_args {
    const char *model_dir, *out, *quant, *tokenizer, *calib;
    int task, ternary, partial;
} export_args;

/* The model and, when found, its tokenizer; LSQ steps calibrated on
 * --calib. 0, or 1 after saying why. */
static int load(const export_args *a, qat_context *ctx, qat_model **m, qat_tokenizer **tok, const char **tok_path)
{
    qat_status st = qat_cli_load_model("export", ctx, a->model_dir, a->task, a->quant, a->partial, m);
    if (st != QAT_OK)
        return qat_cli_fail("export", "cannot load the model", st);
    *tok_path = a->tokenizer;
    if (!a->tokenizer && qat_tokenizer_load(a->model_dir, tok) == QAT_OK)
        *tok_path = a->model_dir;
    else if (a->tokenizer && (st = qat_tokenizer_load(a->tokenizer, tok)) != QAT_OK)
        return qat_cli_fail("export", "cannot export", st);
    if (a->calib && !*tok) {
        fprintf(stderr, "qat export: --calib needs a tokenizer\n");
        return qat_cli_fail("export", "cannot export", QAT_ERR_INVALID_ARGUMENT);
    }
    if (a->calib && (st = calibrate(*m, *tok, a->calib)) != QAT_OK)
        return qat_cli_fail("export", "cannot export", st);
    return 0;
}

static int export_model(const export_args *a)
{
    qat_context *ctx = NULL;
    if (qat_cli_context("export", NULL, 0, -1, &ctx) != 0)
        return 1;
    qat_model *m = NULL;
    qat_tokenizer *tok = NULL;
    const char *tok_path = NULL;
    int rc = load(a, ctx, &m, &tok, &tok_path);
    if (rc == 0) {
        qat_export_options eo;
        qat_export_options_init(&eo, QAT_EXPORT_OPTIONS_VERSION);
        eo.tokenizer_path = tok_path;
        eo.ternary = (qat_ternary_format)a->ternary;
        qat_status st = qat_packed_export(m, a->out, &eo);
        rc = st == QAT_OK ? 0 : qat_cli_fail("export", "cannot export", st);
    }
    if (rc == 0)
        printf("wrote %s\n", a->out);
    qat_tokenizer_free(tok);
    qat_model_free(m);
    qat_context_free(ctx);
    return rc;
}

int qat_cli_export(int argc, char **argv)
{
    static const qat_cli_choice tasks[] = {{"mlm", QAT_TASK_MLM},
                                           {"token-classification", QAT_TASK_TOKEN_CLASSIFICATION},
                                           {"sequence-classification", QAT_TASK_SEQUENCE_CLASSIFICATION},
                                           {NULL, 0}};
    static const qat_cli_choice packings[] = {{"2", QAT_TERNARY_2BIT}, {"1.6", QAT_TERNARY_1P6BIT}, {NULL, 0}};
    export_args a = {.task = QAT_TASK_TOKEN_CLASSIFICATION, .ternary = QAT_TERNARY_2BIT};
    const qat_cli_option options[] = {
        {.name = "--model", .type = QAT_CLI_STRING, .to.str = &a.model_dir, .value_name = "DIR",
         .flags = QAT_CLI_REQUIRED, .help = "a model saved by qat_model_save / qat train, or an HF checkpoint"},
        {.name = "--output", .alias = "-o", .type = QAT_CLI_STRING, .to.str = &a.out, .value_name = "OUT.qatp",
         .flags = QAT_CLI_REQUIRED, .help = "the packed file to write"},
        QAT_OPT_STRING("--quant", &a.quant, "CONFIG", "quant config (default: the one saved with the model)"),
        QAT_OPT_CHOICE("--task", &a.task, NULL, tasks, "the head to pack"),
        QAT_OPT_STRING("--tokenizer", &a.tokenizer, "PATH", "tokenizer to embed (default: the model directory's)"),
        QAT_OPT_CHOICE("--ternary", &a.ternary, NULL, packings,
                       "ternary weight packing: 2 bits, or 5 trits per byte (1.6 bits)"),
        QAT_OPT_STRING("--calib", &a.calib, "TEXT_FILE",
                       "when the model has no saved LSQ activation steps: one forward over the file's first lines "
                       "initialises them"),
        QAT_CLI_PARTIAL_ROW(&a.partial),
    };
    const qat_cli_spec spec = {
        .command = "export",
        .synopsis = "--model DIR -o OUT.qatp [options]",
        .about = "  Packs a model saved by qat_model_save / `qat train` (or any HF checkpoint with --quant):\n"
                 "  integer codes and scales for the linear layers, the quant config, the tokenizer and the\n"
                 "  float parts. LSQ activation steps come from the saved quantizer state, else from --calib.\n",
        .options = options,
        .n_options = QAT_CLI_COUNT(options),
    };
    int rc = qat_cli_parse(&spec, argc, argv);
    return rc != QAT_CLI_RUN ? rc : export_model(&a);
}
