/* qat infer: integer CPU inference from a packed .qatp model. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"

static int usage(int code)
{
    printf("usage: qat infer MODEL.qatp [--threads N] [--isa auto|scalar|avx2|avx512vnni] [--text TEXT]\n"
           "  Tokenizes each line of --text (or of standard input) with the embedded tokenizer, runs the\n"
           "  packed integer forward and prints, per sub-token, its piece and the argmax class (token\n"
           "  classification: label id, then its name when the model stores label names; MLM: the\n"
           "  predicted piece). A sequence classifier reads a text, or a pair as TEXT<TAB>TEXT, per\n"
           "  line and prints the argmax class id, its name (when stored) and the logits.\n");
    return code;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The class's name, or NULL when the model stores none. */
static const char *label_name(const qat_packed_model *pm, int64_t id)
{
    int64_t has = 0;
    const char *name = NULL;
    if (qat_packed_model_info(pm, QAT_PACKED_INFO_HAS_LABEL_NAMES, &has) != QAT_OK || !has ||
        qat_packed_model_label_name(pm, (size_t)id, &name) != QAT_OK)
        return NULL;
    return name;
}

/* Splits text (modified in place) at whitespace into at most max words. */
static size_t split_words(char *text, const char **words, size_t max)
{
    size_t n = 0;
    for (char *tok = strtok(text, " \t\r\n"); tok && n < max; tok = strtok(NULL, " \t\r\n"))
        words[n++] = tok;
    return n;
}

/* Sequence classification: one text, or a pair split at the first TAB. */
static int run_sequence(qat_packed_model *pm, const qat_tokenizer *tok, char *text)
{
    int32_t ids[512], types[512];
    size_t n = 0;
    char *tab = strchr(text, '\t');
    if (tab)
        *tab = '\0';
    qat_status st = qat_tokenizer_encode_pair(tok, text, strlen(text), tab ? tab + 1 : NULL, tab ? strlen(tab + 1) : 0,
                                              0, 512, ids, types, 512, &n);
    if (st != QAT_OK)
        return qat_cli_fail("infer", "cannot tokenize", st);
    int64_t classes = 0;
    size_t count = 0;
    qat_packed_model_info(pm, QAT_PACKED_INFO_NUM_LABELS, &classes);
    qat_packed_model_logits_size(pm, 1, (int64_t)n, &count);
    float *logits = malloc(count * sizeof(float));
    double t0 = now_ms();
    st = logits ? qat_packed_model_forward(pm, ids, NULL, types, 1, (int64_t)n, logits, count) : QAT_ERR_OUT_OF_MEMORY;
    double t1 = now_ms();
    if (st != QAT_OK) {
        free(logits);
        return qat_cli_fail("infer", "forward failed", st);
    }
    int64_t best = 0;
    for (int64_t c = 1; c < classes; c++)
        if (logits[c] > logits[best])
            best = c;
    const char *name = label_name(pm, best);
    printf("%lld%s%s", (long long)best, name ? "\t" : "", name ? name : "");
    for (int64_t c = 0; c < classes; c++)
        printf("\t%.6g", logits[c]);
    printf("\n");
    fprintf(stderr, "qat infer: %zu tokens in %.2f ms\n", n, t1 - t0);
    free(logits);
    return 0;
}

static int run_line(qat_packed_model *pm, const qat_tokenizer *tok, char *text)
{
    int64_t kind = 0;
    qat_packed_model_info(pm, QAT_PACKED_INFO_TASK, &kind);
    if (kind == QAT_TASK_SEQUENCE_CLASSIFICATION)
        return run_sequence(pm, tok, text);
    int32_t ids[512];
    size_t n = 0;
    const char *words[256];
    size_t nw = split_words(text, words, 256);
    qat_status st = qat_tokenizer_encode_words(tok, words, NULL, nw, QAT_TOKENIZE_ADD_SPECIAL, 512, ids, NULL, 512, &n);
    if (st != QAT_OK)
        return qat_cli_fail("infer", "cannot tokenize", st);
    if (n == 0)
        return 0;
    size_t count = 0;
    int64_t classes = 0, task = 0;
    qat_packed_model_logits_size(pm, 1, (int64_t)n, &count);
    qat_packed_model_info(pm, QAT_PACKED_INFO_NUM_LABELS, &classes);
    qat_packed_model_info(pm, QAT_PACKED_INFO_TASK, &task);
    float *logits = malloc(count * sizeof(float));
    double t0 = now_ms();
    st = qat_packed_model_forward(pm, ids, NULL, NULL, 1, (int64_t)n, logits, count);
    double t1 = now_ms();
    if (st != QAT_OK) {
        free(logits);
        return qat_cli_fail("infer", "forward failed", st);
    }
    for (size_t t = 0; t < n; t++) {
        int64_t best = 0;
        for (int64_t c = 1; c < classes; c++)
            if (logits[t * classes + c] > logits[t * classes + best])
                best = c;
        char piece[256] = "", pred[256] = "";
        qat_tokenizer_id_to_piece(tok, ids[t], piece, sizeof piece, NULL);
        if (task == QAT_TASK_MLM)
            qat_tokenizer_id_to_piece(tok, (int32_t)best, pred, sizeof pred, NULL);
        const char *name = task == QAT_TASK_MLM ? pred : label_name(pm, best);
        printf("%s\t%lld%s%s\n", piece, (long long)best, name ? "\t" : "", name ? name : "");
    }
    printf("\n");
    fprintf(stderr, "qat infer: %zu tokens in %.2f ms\n", n, t1 - t0);
    free(logits);
    return 0;
}

int qat_cli_infer(int argc, char **argv)
{
    const char *path = NULL, *isa = "auto";
    char *text = NULL;
    long threads = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return usage(0);
        if (argv[i][0] != '-') {
            path = argv[i];
            continue;
        }
        if (i + 1 >= argc)
            return usage(2);
        if (strcmp(argv[i], "--threads") == 0) threads = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--isa") == 0) isa = argv[++i];
        else if (strcmp(argv[i], "--text") == 0) text = argv[++i];
        else return usage(2);
    }
    if (!path)
        return usage(2);
    static const char *const isas[] = {"auto", "scalar", "avx2", "avx512vnni"};
    int isa_value = -1;
    for (int i = 0; i < 4; i++)
        if (strcmp(isa, isas[i]) == 0)
            isa_value = i;
    if (isa_value < 0)
        return usage(2);
    qat_packed_model *pm = NULL;
    qat_status st = qat_packed_model_load(path, &pm);
    if (st != QAT_OK)
        return qat_cli_fail("infer", "cannot load", st);
    const qat_tokenizer *tok = NULL;
    if (st == QAT_OK)
        st = qat_packed_model_set_int(pm, QAT_PACKED_THREADS, threads);
    if (st == QAT_OK)
        st = qat_packed_model_set_int(pm, QAT_PACKED_ISA, isa_value);
    if (st == QAT_OK)
        st = qat_packed_model_tokenizer(pm, &tok);
    int rc = st == QAT_OK ? 0 : qat_cli_fail("infer", "cannot run", st);
    if (rc == 0 && text) {
        rc = run_line(pm, tok, text);
    } else if (rc == 0) {
        char line[8192];
        while (rc == 0 && fgets(line, sizeof line, stdin)) {
            line[strcspn(line, "\n")] = '\0';
            rc = run_line(pm, tok, line);
        }
    }
    qat_packed_model_free(pm);
    return rc;
}
