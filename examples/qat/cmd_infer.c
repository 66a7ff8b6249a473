/* qat infer: integer CPU inference from a packed .qatp model. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"

#define MAX_TOKENS 512

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

static int64_t argmax(const float *row, int64_t n)
{
    int64_t best = 0;
    for (int64_t c = 1; c < n; c++)
        if (row[c] > row[best])
            best = c;
    return best;
}

/* The packed forward of one sequence of n tokens; *logits is the caller's
 * to free. Reports the time on stderr. */
static qat_status forward(qat_packed_model *pm, const int32_t *ids, const int32_t *types, size_t n, float **logits)
{
    size_t count = 0;
    qat_status st = qat_packed_model_logits_size(pm, 1, (int64_t)n, &count);
    *logits = st == QAT_OK ? malloc(count * sizeof(float)) : NULL;
    if (!*logits)
        return st == QAT_OK ? QAT_ERR_OUT_OF_MEMORY : st;
    double t0 = now_ms();
    st = qat_packed_model_forward(pm, ids, NULL, types, 1, (int64_t)n, *logits, count);
    if (st == QAT_OK)
        fprintf(stderr, "qat infer: %zu tokens in %.2f ms\n", n, now_ms() - t0);
    return st;
}

/* Sequence classification: one text, or a pair split at the first TAB;
 * prints the class id, its name (when stored) and the logits. */
static int run_sequence(qat_packed_model *pm, const qat_tokenizer *tok, char *text, int64_t classes)
{
    int32_t ids[MAX_TOKENS], types[MAX_TOKENS];
    size_t n = 0;
    char *tab = strchr(text, '\t');
    if (tab)
        *tab = '\0';
    qat_status st = qat_tokenizer_encode_pair(tok, text, strlen(text), tab ? tab + 1 : NULL, tab ? strlen(tab + 1) : 0,
                                              0, MAX_TOKENS, ids, types, MAX_TOKENS, &n);
    if (st != QAT_OK)
        return qat_cli_fail("infer", "cannot tokenize", st);
    float *logits = NULL;
    if ((st = forward(pm, ids, types, n, &logits)) != QAT_OK) {
        free(logits);
        return qat_cli_fail("infer", "forward failed", st);
    }
    int64_t best = argmax(logits, classes);
    const char *name = label_name(pm, best);
    printf("%lld%s%s", (long long)best, name ? "\t" : "", name ? name : "");
    for (int64_t c = 0; c < classes; c++)
        printf("\t%.6g", logits[c]);
    printf("\n");
    free(logits);
    return 0;
}

/* Token classification and MLM: per sub-token, its piece, the argmax and
 * the tag's name (token classification) or the predicted piece (MLM). */
static int run_tokens(qat_packed_model *pm, const qat_tokenizer *tok, char *text, int64_t task, int64_t classes)
{
    int32_t ids[MAX_TOKENS];
    size_t n = 0;
    const char *words[256];
    size_t nw = qat_cli_split_words(text, words, 256);
    qat_status st =
        qat_tokenizer_encode_words(tok, words, NULL, nw, QAT_TOKENIZE_ADD_SPECIAL, MAX_TOKENS, ids, NULL, MAX_TOKENS, &n);
    if (st != QAT_OK)
        return qat_cli_fail("infer", "cannot tokenize", st);
    if (n == 0)
        return 0;
    float *logits = NULL;
    if ((st = forward(pm, ids, NULL, n, &logits)) != QAT_OK) {
        free(logits);
        return qat_cli_fail("infer", "forward failed", st);
    }
    for (size_t t = 0; t < n; t++) {
        int64_t best = argmax(logits + t * classes, classes);
        char piece[256] = "", pred[256] = "";
        qat_tokenizer_id_to_piece(tok, ids[t], piece, sizeof piece, NULL);
        if (task == QAT_TASK_MLM)
            qat_tokenizer_id_to_piece(tok, (int32_t)best, pred, sizeof pred, NULL);
        const char *name = task == QAT_TASK_MLM ? pred : label_name(pm, best);
        printf("%s\t%lld%s%s\n", piece, (long long)best, name ? "\t" : "", name ? name : "");
    }
    printf("\n");
    free(logits);
    return 0;
}

typedef struct infer_args {
    const char *path, *text;
    int64_t threads, max_length;
    int isa, embed, pooling, normalize;
} infer_args;

/* --embed: the text as sentence-transformers encodes it ([CLS] text [SEP],
 * truncated at max_length), pooled; prints the embedding's floats. */
static int run_embed(qat_packed_model *pm, const qat_tokenizer *tok, const char *text, const infer_args *a)
{
    int32_t ids[MAX_TOKENS];
    int64_t hidden = 0;
    size_t n = 0;
    qat_status st = qat_packed_model_info(pm, QAT_PACKED_INFO_HIDDEN_SIZE, &hidden);
    if (st == QAT_OK)
        st = qat_tokenizer_encode_pair(tok, text, strlen(text), NULL, 0, 0, (size_t)a->max_length, ids, NULL,
                                       MAX_TOKENS, &n);
    if (st != QAT_OK)
        return qat_cli_fail("infer", "cannot tokenize", st);
    float *e = malloc((size_t)hidden * sizeof *e);
    if (!e)
        return qat_cli_fail("infer", "cannot run", QAT_ERR_OUT_OF_MEMORY);
    double t0 = now_ms();
    st = qat_packed_model_embed(pm, ids, NULL, NULL, 1, (int64_t)n, (qat_pooling)a->pooling,
                                a->normalize ? QAT_EMBED_NORMALIZE : 0u, e, (size_t)hidden);
    if (st == QAT_OK) {
        fprintf(stderr, "qat infer: %zu tokens in %.2f ms\n", n, now_ms() - t0);
        for (int64_t k = 0; k < hidden; k++)
            printf("%s%.9g", k ? "\t" : "", e[k]);
        printf("\n");
    }
    free(e);
    return st == QAT_OK ? 0 : qat_cli_fail("infer", "embedding failed", st);
}

static int run_line(qat_packed_model *pm, const qat_tokenizer *tok, char *text, const infer_args *a)
{
    if (a->embed)
        return run_embed(pm, tok, text, a);
    int64_t task = 0, classes = 0;
    qat_packed_model_info(pm, QAT_PACKED_INFO_TASK, &task);
    qat_packed_model_info(pm, QAT_PACKED_INFO_NUM_LABELS, &classes);
    return task == QAT_TASK_SEQUENCE_CLASSIFICATION ? run_sequence(pm, tok, text, classes)
                                                    : run_tokens(pm, tok, text, task, classes);
}

static int infer(infer_args *a)
{
    qat_packed_model *pm = NULL;
    qat_status st = qat_packed_model_load(a->path, &pm);
    if (st != QAT_OK)
        return qat_cli_fail("infer", "cannot load", st);
    const qat_tokenizer *tok = NULL;
    st = qat_packed_model_set_int(pm, QAT_PACKED_THREADS, a->threads);
    if (st == QAT_OK)
        st = qat_packed_model_set_int(pm, QAT_PACKED_ISA, a->isa);
    if (st == QAT_OK)
        st = qat_packed_model_tokenizer(pm, &tok);
    /* Unset --max-length: where sentence-transformers would cut (the
     * checkpoint's max_seq_length), within the model's positions. */
    int64_t max_positions = 0, max_seq_length = 0;
    if (st == QAT_OK && a->max_length == 0 &&
        (st = qat_packed_model_info(pm, QAT_PACKED_INFO_MAX_POSITIONS, &max_positions)) == QAT_OK &&
        (st = qat_packed_model_max_seq_length(pm, &max_seq_length)) == QAT_OK) {
        a->max_length = max_positions < MAX_TOKENS ? max_positions : MAX_TOKENS;
        if (max_seq_length > 0 && max_seq_length < a->max_length)
            a->max_length = max_seq_length;
    }
    int rc = st == QAT_OK ? 0 : qat_cli_fail("infer", "cannot run", st);
    if (rc == 0 && a->text) {
        char *line = strdup(a->text); /* tokenizing splits it in place */
        rc = line ? run_line(pm, tok, line, a) : qat_cli_fail("infer", "cannot run", QAT_ERR_OUT_OF_MEMORY);
        free(line);
    } else if (rc == 0) {
        char line[8192];
        while (rc == 0 && fgets(line, sizeof line, stdin)) {
            line[strcspn(line, "\n")] = '\0';
            rc = run_line(pm, tok, line, a);
        }
    }
    qat_packed_model_free(pm);
    return rc;
}

int qat_cli_infer(int argc, char **argv)
{
    /* QAT_PACKED_ISA's values, named by the library */
    qat_cli_choice isas[16] = {{NULL, 0}};
    for (int i = 0; i + 1 < (int)QAT_CLI_COUNT(isas) && qat_packed_isa_name_of(i, &isas[i].name) == QAT_OK; i++)
        isas[i].value = i;
    /* qat_pooling's values (include/qat/model.h) */
    static const qat_cli_choice poolings[] = {{"model", QAT_POOLING_MODEL}, {"cls", QAT_POOLING_CLS},
                                              {"mean", QAT_POOLING_MEAN}, {NULL, 0}};
    infer_args a = {.pooling = QAT_POOLING_MODEL};
    const qat_cli_option options[] = {
        QAT_OPT_INT("--threads", &a.threads, "N", 0, qat_cli_max_threads(), "kernel threads; 0 = all cores"),
        QAT_OPT_CHOICE("--isa", &a.isa, NULL, isas, "the integer kernels' path; auto: QAT_ISA, else the best"),
        QAT_OPT_STRING("--text", &a.text, "TEXT", "the one line to run (default: every line of standard input)"),
        QAT_OPT_FLAG("--embed", &a.embed, "print each line's sentence embedding instead of the head's output"),
        QAT_OPT_CHOICE("--pooling", &a.pooling, NULL, poolings,
                       "--embed: the model's own pooling (as its checkpoint said), cls or mean"),
        QAT_OPT_FLAG("--normalize", &a.normalize, "--embed: L2-normalise (on top of the model's own pooling)"),
        QAT_OPT_INT("--max-length", &a.max_length, "N", 0, MAX_TOKENS,
                    "--embed: truncate at N tokens, specials included; 0 = the checkpoint's max_seq_length, else the model's positions, at most 512"),
    };
    const qat_cli_spec spec = {
        .command = "infer",
        .synopsis = "MODEL.qatp [--threads N] [--isa PATH] [--text TEXT]\n"
                    "MODEL.qatp --embed [--pooling model|cls|mean] [--normalize] [--max-length N] [--threads N] "
                    "[--text TEXT]",
        .about = "  Tokenizes each line of --text (or of standard input) with the embedded tokenizer, runs the\n"
                 "  packed integer forward and prints, per sub-token, its piece and the argmax class (token\n"
                 "  classification: label id, then its name when the model stores label names; MLM: the\n"
                 "  predicted piece). A sequence classifier reads a text, or a pair as TEXT<TAB>TEXT, per\n"
                 "  line and prints the argmax class id, its name (when stored) and the logits. With --embed,\n"
                 "  every model prints one line per input line: its sentence embedding (the encoder's last\n"
                 "  hidden state of [CLS] text [SEP], pooled as the exported checkpoint's\n"
                 "  1_Pooling/config.json said, L2-normalised when it had a Normalize module), hidden_size\n"
                 "  floats separated by tabs.\n",
        .options = options,
        .n_options = QAT_CLI_COUNT(options),
        .positional_name = "MODEL.qatp",
        .positional = &a.path,
        .min_positional = 1,
        .max_positional = 1,
    };
    int rc = qat_cli_parse(&spec, argc, argv);
    return rc != QAT_CLI_RUN ? rc : infer(&a);
}
