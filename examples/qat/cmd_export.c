/* qat export: a saved model directory to a packed .qatp file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

static int usage(int code)
{
    printf("usage: qat export --model DIR -o OUT.qatp [--quant CONFIG]\n"
           "                  [--task mlm|token-classification|sequence-classification]\n"
           "                  [--tokenizer PATH] [--ternary 2|1.6] [--calib TEXT_FILE]\n"
           "  Packs a model saved by qat_model_save / `qat train` (or any HF checkpoint with --quant):\n"
           "  integer codes and scales for the linear layers, the quant config, the tokenizer (default:\n"
           "  the model directory's own) and the float parts. LSQ activation steps come from the saved\n"
           "  quantizer state; when absent, --calib runs one forward over the file's first lines.\n");
    return code;
}

/* Splits text (modified in place) at whitespace into at most max words. */
static size_t split_words(char *text, const char **words, size_t max)
{
    size_t n = 0;
    for (char *tok = strtok(text, " \t\r\n"); tok && n < max; tok = strtok(NULL, " \t\r\n"))
        words[n++] = tok;
    return n;
}

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
    char line[4096];
    int rows = 0;
    int32_t pad = 1;
    qat_tokenizer_special_id(tok, QAT_TOKEN_PAD, &pad);
    qat_status st = QAT_OK;
    while (st == QAT_OK && rows < ROWS && fgets(line, sizeof line, f)) {
        const char *words[256];
        size_t n = 0, nw = split_words(line, words, 256);
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
    if (st == QAT_OK && rows > 0)
        st = qat_model_forward(m, ids, mask, NULL, rows, LEN, logits, count);
    free(logits);
    free(ids);
    free(mask);
    return st;
}

int qat_cli_export(int argc, char **argv)
{
    const char *dir = NULL, *out = NULL, *quant = NULL, *task = "token-classification", *tok_path = NULL,
               *calib = NULL, *ternary = "2";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return usage(0);
        if (i + 1 >= argc)
            return usage(2);
        const char *a = argv[i], *v = argv[++i];
        if (strcmp(a, "--model") == 0) dir = v;
        else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) out = v;
        else if (strcmp(a, "--quant") == 0) quant = v;
        else if (strcmp(a, "--task") == 0) task = v;
        else if (strcmp(a, "--tokenizer") == 0) tok_path = v;
        else if (strcmp(a, "--calib") == 0) calib = v;
        else if (strcmp(a, "--ternary") == 0) ternary = v;
        else return usage(2);
    }
    if (!dir || !out)
        return usage(2);
    qat_context *ctx = NULL;
    qat_model *m = NULL;
    qat_tokenizer *tok = NULL;
    qat_load_options lo;
    qat_load_options_init(&lo, QAT_LOAD_OPTIONS_VERSION);
    lo.task = strcmp(task, "mlm") == 0                       ? QAT_TASK_MLM
              : strcmp(task, "sequence-classification") == 0 ? QAT_TASK_SEQUENCE_CLASSIFICATION
                                                             : QAT_TASK_TOKEN_CLASSIFICATION;
    lo.quant = quant;
    qat_status st = qat_context_create(NULL, &ctx);
    if (st == QAT_OK)
        st = qat_model_load(ctx, dir, &lo, &m);
    if (st != QAT_OK) {
        qat_context_free(ctx);
        return qat_cli_fail("export", "cannot load the model", st);
    }
    if (!tok_path && qat_tokenizer_load(dir, &tok) == QAT_OK)
        tok_path = dir;
    else if (tok_path)
        st = qat_tokenizer_load(tok_path, &tok);
    if (st == QAT_OK && calib) {
        st = tok ? calibrate(m, tok, calib) : QAT_ERR_INVALID_ARGUMENT;
        if (!tok)
            fprintf(stderr, "qat export: --calib needs a tokenizer\n");
    }
    qat_export_options eo;
    qat_export_options_init(&eo, QAT_EXPORT_OPTIONS_VERSION);
    eo.tokenizer_path = tok_path;
    eo.ternary = strcmp(ternary, "1.6") == 0 ? QAT_TERNARY_1P6BIT : QAT_TERNARY_2BIT;
    if (st == QAT_OK)
        st = qat_packed_export(m, out, &eo);
    int rc = st == QAT_OK ? 0 : qat_cli_fail("export", "cannot export", st);
    if (rc == 0)
        printf("wrote %s\n", out);
    qat_tokenizer_free(tok);
    qat_model_free(m);
    qat_context_free(ctx);
    return rc;
}
