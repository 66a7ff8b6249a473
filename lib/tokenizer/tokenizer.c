/* The public tokenizer API: loading (dispatch on the kind of path), id
 * conventions of HF checkpoints, encode / encode_words / decode, and the
 * vocabulary queries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "core/file_io.h"
#include "tokenizer/load_files.h"
#include "tokenizer/tokenizer_impl.h"

void qat_tok_clear(qat_tokenizer *t)
{
    qat_tok_vocab_free(&t->vocab);
    qat_tok_trie_free(&t->pieces_trie);
    qat_tok_trie_free(&t->user_trie);
    qat_tok_trie_free(&t->cont_trie);
    if (t->spm_norm.has_map)
        qat_tok_charsmap_free(&t->spm_norm.map);
    free(t->unk_surface);
    for (int i = 0; i < t->n_norms; i++) {
        qat_tok_charsmap_free(&t->norms[i].map);
        free(t->norms[i].pattern);
        free(t->norms[i].content);
    }
    free(t->norms);
    free(t->pres);
    free(t->cont_prefix);
    free(t->eow_suffix);
    free(t->merge_keys);
    free(t->merge_rank);
    free(t->merge_id);
    free(t->dscore);
    free(t->added);
    qat_tok_trie_free(&t->added_trie);
    free(t->source);
    memset(t, 0, sizeof *t);
}

QAT_API void qat_tokenizer_free(qat_tokenizer *tok)
{
    if (!tok)
        return;
    qat_tok_clear(tok);
    free(tok);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Where a tokenizer's files come from: a directory on disk, or files held
 * in memory (a packed model's embedded tokenizer). read gives a file's
 * bytes (malloc'ed; the caller owns them), or *data = NULL when the source
 * has no such file. */
typedef struct file_source {
    qat_status (*read)(const struct file_source *src, const char *name, char **data, size_t *size);
    const char *where;               /* for messages */
    const qat_tok_file *files;       /* memory */
    size_t n_files;
} file_source;

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static qat_status read_from_dir(const file_source *src, const char *name, char **data, size_t *size)
{
    *data = NULL;
    char *path = qat_path_join(src->where, name);
    if (!path)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    qat_status st = is_file(path) ? qat_file_read(path, QAT_FILE_ANY_SIZE, data, size) : QAT_OK;
    free(path);
    return st;
}

static qat_status read_from_memory(const file_source *src, const char *name, char **data, size_t *size)
{
    *data = NULL;
    for (size_t i = 0; i < src->n_files; i++)
        if (strcmp(src->files[i].name, name) == 0) {
            *data = malloc(src->files[i].size ? src->files[i].size : 1);
            if (!*data)
                return qat_fail(QAT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory for %s", name);
            memcpy(*data, src->files[i].data, src->files[i].size);
            *size = src->files[i].size;
            return QAT_OK;
        }
    return QAT_OK;
}

/* Reads a tokenizer from `data` (owned from here on, kept as its source);
 * `name` decides the kind as a file name does (else the content). */
static qat_status load_bytes(qat_tokenizer *t, const char *name, char *data, size_t size, int lowercase,
                             int strip_accents, int chinese)
{
    qat_status st;
    qat_tok_source kind;
    size_t i = 0;
    while (i < size && (data[i] == ' ' || data[i] == '\n' || data[i] == '\r' || data[i] == '\t'))
        i++;
    if (ends_with(name, ".json") || (i < size && data[i] == '{')) {
        kind = QAT_TOK_SOURCE_JSON;
        st = qat_tok_load_json(t, data, size, name);
    } else if (ends_with(name, ".txt")) {
        kind = QAT_TOK_SOURCE_VOCAB_TXT;
        st = qat_tok_load_vocab_txt(t, data, size, name, lowercase, strip_accents, chinese);
    } else {
        kind = QAT_TOK_SOURCE_SPM;
        st = qat_tok_load_spm(t, (const uint8_t *)data, size, name);
    }
    if (st != QAT_OK) {
        free(data);
        return st;
    }
    t->source_kind = kind;
    t->source = data;
    t->source_size = size;
    t->vocab_lowercase = lowercase;
    t->vocab_strip_accents = strip_accents;
    t->vocab_chinese = chinese;
    return QAT_OK;
}

static qat_status load_file(qat_tokenizer *t, const char *path, int lowercase, int strip_accents, int chinese)
{
    char *data;
    size_t size;
    QAT_TRY(qat_file_read(path, QAT_FILE_ANY_SIZE, &data, &size));
    return load_bytes(t, path, data, size, lowercase, strip_accents, chinese);
}

/* Applies a fairseq convention on top of a SentencePiece model. */
static void apply_fairseq(qat_tokenizer *t, qat_tok_idmap map)
{
    int32_t nsp = t->vocab.n;
    t->idmap = map;
    if (map == QAT_TOK_MAP_CAMEMBERT) {
        t->n_ids = nsp + 5;
        int32_t bos = qat_tok_vocab_find(&t->vocab, "<s>", 3), eos = qat_tok_vocab_find(&t->vocab, "</s>", 4);
        t->special[QAT_TOKEN_PAD] = 1;
        t->special[QAT_TOKEN_UNK] = 3;
        t->special[QAT_TOKEN_BOS] = bos > 0 ? bos + 4 : 3;
        t->special[QAT_TOKEN_EOS] = eos > 0 ? eos + 4 : 3;
        t->special[QAT_TOKEN_MASK] = nsp + 4;
    } else {
        t->n_ids = nsp + 2;
        t->special[QAT_TOKEN_BOS] = 0;
        t->special[QAT_TOKEN_PAD] = 1;
        t->special[QAT_TOKEN_EOS] = 2;
        t->special[QAT_TOKEN_UNK] = 3;
        t->special[QAT_TOKEN_MASK] = nsp + 1;
    }
}

/* The value of a top-level key of a JSON config file's text ("camembert",
 * "true", "null"); *found = 0 when absent. In hf_json.c. */
qat_status qat_tok_json_config(const char *data, size_t size, const char *where, const char *key, char *value,
                               size_t cap, int *found);

/* Up to n keys of a config file of the source: found[k] = 0 when the file
 * or the key is absent. */
static qat_status read_config(const file_source *src, const char *file, size_t n, const char *const *keys,
                              char (*values)[64], int *found)
{
    char *data;
    size_t size;
    for (size_t k = 0; k < n; k++)
        found[k] = 0, values[k][0] = '\0';
    QAT_TRY(src->read(src, file, &data, &size));
    if (!data)
        return QAT_OK;
    char where[512];
    snprintf(where, sizeof where, "%s/%s", src->where, file);
    qat_status st = QAT_OK;
    for (size_t k = 0; st == QAT_OK && k < n; k++)
        st = qat_tok_json_config(data, size, where, keys[k], values[k], sizeof values[k], &found[k]);
    free(data);
    return st;
}

/* The files of a source, as a checkpoint directory holds them. */
static qat_status load_dir(qat_tokenizer *t, const file_source *src)
{
    static const char *const type_key[] = {"model_type"};
    static const char *const bert_keys[] = {"tokenizer_class", "do_lower_case", "strip_accents",
                                            "tokenize_chinese_chars"};
    char model_type[1][64], cfg[4][64];
    int has_type[1], has[4];
    QAT_TRY(read_config(src, "config.json", 1, type_key, model_type, has_type));
    QAT_TRY(read_config(src, "tokenizer_config.json", 4, bert_keys, cfg, has));
    /* The fairseq id convention of sentencepiece.bpe.model: named by
     * tokenizer_config.json's tokenizer_class (as AutoTokenizer reads it,
     * and as qat_tokenizer_save writes it), else by config.json's model_type. */
    const char *cls = cfg[0];
    qat_tok_idmap map = QAT_TOK_MAP_NONE;
    if (strncmp(cls, "Camembert", 9) == 0)
        map = QAT_TOK_MAP_CAMEMBERT;
    else if (strncmp(cls, "XLMRoberta", 10) == 0)
        map = QAT_TOK_MAP_XLMR;
    else if (strcmp(model_type[0], "camembert") == 0)
        map = QAT_TOK_MAP_CAMEMBERT;
    else if (strcmp(model_type[0], "xlm-roberta") == 0)
        map = QAT_TOK_MAP_XLMR;
    char *data;
    size_t size;
    char where[512];
#define TRY_FILE(name) \
    (snprintf(where, sizeof where, "%s/%s", src->where, name), src->read(src, name, &data, &size))
    QAT_TRY(TRY_FILE("tokenizer.json"));
    if (data)
        return load_bytes(t, where, data, size, 0, 0, 0);
    QAT_TRY(TRY_FILE("sentencepiece.bpe.model"));
    if (data && map != QAT_TOK_MAP_NONE) {
        QAT_TRY(load_bytes(t, where, data, size, 0, 0, 0));
        apply_fairseq(t, map);
        return QAT_OK;
    }
    free(data);
    QAT_TRY(TRY_FILE("vocab.txt"));
    if (data) {
        /* BertTokenizer's defaults, overridden by tokenizer_config.json. */
        int lower = has[1] ? strcmp(cfg[1], "true") == 0 : 1;
        int accents = has[2] && strcmp(cfg[2], "null") != 0 ? strcmp(cfg[2], "true") == 0 : lower;
        int chinese = has[3] ? strcmp(cfg[3], "true") == 0 : 1;
        return load_bytes(t, where, data, size, lower, accents, chinese);
    }
    /* A SentencePiece model with its own ids: spiece.model (T5's and
     * ALBERT's name, what qat_tokenizer_save writes), or a
     * sentencepiece.bpe.model no fairseq convention applies to. */
    static const char *const raw_spm[] = {"spiece.model", "sentencepiece.bpe.model"};
    for (int k = 0; k < 2; k++) {
        QAT_TRY(TRY_FILE(raw_spm[k]));
        if (data)
            return load_bytes(t, where, data, size, 0, 0, 0);
    }
#undef TRY_FILE
    return qat_fail(QAT_ERR_NOT_FOUND,
                    "%s: no tokenizer found (looked for tokenizer.json, sentencepiece.bpe.model, vocab.txt, "
                    "spiece.model)", src->where);
}

static qat_status new_tokenizer(qat_tokenizer **out)
{
    qat_tokenizer *t = calloc(1, sizeof *t);
    if (!t)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    for (int i = 0; i < QAT_TOKEN_SPECIAL_COUNT; i++)
        t->special[i] = -1;
    *out = t;
    return QAT_OK;
}

static qat_status finish(qat_tokenizer *t, qat_status s, qat_tokenizer **out)
{
    if (s != QAT_OK) {
        qat_tokenizer_free(t);
        return s;
    }
    qat_tok_pair_default(t);
    *out = t;
    return QAT_OK;
}

QAT_API qat_status qat_tokenizer_load(const char *path, qat_tokenizer **out)
{
    QAT_CHECK_ARG(out != NULL, "qat_tokenizer_load: NULL out");
    *out = NULL;
    QAT_CHECK_ARG(path != NULL, "qat_tokenizer_load: NULL path");
    qat_tokenizer *t = NULL;
    QAT_TRY(new_tokenizer(&t));
    struct stat st;
    qat_status s;
    const file_source dir = {.read = read_from_dir, .where = path};
    if (stat(path, &st) != 0)
        s = qat_fail(QAT_ERR_IO, "%s: no such file or directory", path);
    else if (S_ISDIR(st.st_mode))
        s = load_dir(t, &dir);
    else
        s = load_file(t, path, 1, 1, 1);
    return finish(t, s, out);
}

qat_status qat_tokenizer_load_files(const qat_tok_file *files, size_t n, int as_directory, const char *where,
                                    qat_tokenizer **out)
{
    QAT_CHECK_ARG(out != NULL && (files != NULL || n == 0) && where != NULL, "tokenizer: load files: NULL argument");
    *out = NULL;
    QAT_CHECK_ARG(as_directory || n == 1, "%s: one tokenizer file expected, got %zu", where, n);
    qat_tokenizer *t = NULL;
    QAT_TRY(new_tokenizer(&t));
    const file_source mem = {.read = read_from_memory, .where = where, .files = files, .n_files = n};
    qat_status s;
    if (as_directory) {
        s = load_dir(t, &mem);
    } else {
        char *data = malloc(files[0].size ? files[0].size : 1);
        if (data) {
            memcpy(data, files[0].data, files[0].size);
            s = load_bytes(t, files[0].name, data, files[0].size, 1, 1, 1);
        } else {
            s = qat_fail(QAT_ERR_OUT_OF_MEMORY, "%s: out of memory", where);
        }
    }
    return finish(t, s, out);
}

/* ---- id conventions -------------------------------------------------- */

static int32_t to_external(const qat_tokenizer *t, int32_t id)
{
    switch (t->idmap) {
    case QAT_TOK_MAP_CAMEMBERT: return id == 0 ? 3 : id + 4;
    case QAT_TOK_MAP_XLMR: return id == 0 ? 3 : id + 1;
    default: return id;
    }
}

/* Model id of an external id, or -1 for a special token of the convention. */
static int32_t to_model(const qat_tokenizer *t, int32_t id)
{
    int32_t off = t->idmap == QAT_TOK_MAP_CAMEMBERT ? 4 : t->idmap == QAT_TOK_MAP_XLMR ? 1 : 0;
    if (off == 0)
        return id;
    if (id == 3)
        return 0;
    return id >= off && id - off < t->vocab.n ? id - off : -1;
}

/* ---- encoding -------------------------------------------------------- */

static qat_status encode_model(const qat_tokenizer *t, const char *text, size_t len, qat_tok_buf *scratch,
                               qat_tok_ivec *ids)
{
    size_t first = ids->n;
    if (t->is_spm)
        QAT_TRY(qat_tok_spm_encode(t, text, len, scratch, ids));
    else
        QAT_TRY(qat_tok_json_encode(t, text, len, scratch, ids));
    if (t->idmap != QAT_TOK_MAP_NONE)
        for (size_t i = first; i < ids->n; i++)
            ids->p[i] = to_external(t, ids->p[i]);
    return QAT_OK;
}

qat_status qat_tok_encode_text(const qat_tokenizer *t, const char *text, size_t len, qat_tok_buf *scratch,
                               qat_tok_ivec *out)
{
    return encode_model(t, text, len, scratch, out);
}

QAT_API qat_status qat_tokenizer_encode(const qat_tokenizer *tok, const char *text, size_t len, int32_t *ids,
                                        size_t capacity, size_t *count)
{
    QAT_CHECK_ARG(tok != NULL, "qat_tokenizer_encode: NULL tokenizer");
    QAT_CHECK_ARG(count != NULL, "qat_tokenizer_encode: NULL count");
    QAT_CHECK_ARG(text != NULL || len == 0, "qat_tokenizer_encode: NULL text");
    QAT_CHECK_ARG(ids != NULL || capacity == 0, "qat_tokenizer_encode: NULL ids with capacity %zu", capacity);
    *count = 0;
    qat_tok_buf scratch = {0};
    qat_tok_ivec v = {0};
    /* Encode straight into the caller's buffer when it is big enough. */
    qat_status st = encode_model(tok, text, len, &scratch, &v);
    if (st == QAT_OK) {
        *count = v.n;
        if (v.n > capacity)
            st = qat_fail(QAT_ERR_BUFFER_TOO_SMALL, "qat_tokenizer_encode: %zu ids do not fit in %zu", v.n,
                          capacity);
        else if (v.n)
            memcpy(ids, v.p, v.n * sizeof *ids);
    }
    qat_tok_buf_free(&scratch);
    qat_tok_ivec_free(&v);
    return st;
}

QAT_API qat_status qat_tokenizer_encode_words(const qat_tokenizer *tok, const char *const *words,
                                              const size_t *word_lens, size_t n_words, unsigned flags,
                                              size_t max_length, int32_t *ids, int32_t *word_index,
                                              size_t capacity, size_t *count)
{
    QAT_CHECK_ARG(tok != NULL, "qat_tokenizer_encode_words: NULL tokenizer");
    QAT_CHECK_ARG(count != NULL, "qat_tokenizer_encode_words: NULL count");
    QAT_CHECK_ARG(words != NULL || n_words == 0, "qat_tokenizer_encode_words: NULL words");
    QAT_CHECK_ARG(ids != NULL || capacity == 0, "qat_tokenizer_encode_words: NULL ids with capacity %zu",
                  capacity);
    QAT_CHECK_ARG((flags & ~QAT_TOKENIZE_ADD_SPECIAL) == 0, "qat_tokenizer_encode_words: unknown flags 0x%x",
                  flags);
    QAT_CHECK_ARG(n_words <= INT32_MAX, "qat_tokenizer_encode_words: %zu words", n_words);
    for (size_t i = 0; i < n_words; i++)
        QAT_CHECK_ARG(words[i] != NULL, "qat_tokenizer_encode_words: word %zu is NULL", i);
    *count = 0;
    int add_special = (flags & QAT_TOKENIZE_ADD_SPECIAL) != 0;
    int32_t bos = tok->has_post ? tok->post_bos : tok->special[QAT_TOKEN_BOS];
    int32_t eos = tok->has_post ? tok->post_eos : tok->special[QAT_TOKEN_EOS];
    size_t n_special = add_special ? (size_t)(bos >= 0) + (size_t)(eos >= 0) : 0;
    size_t body_max = SIZE_MAX;
    if (max_length > 0)
        body_max = max_length > n_special ? max_length - n_special : 0;
    qat_tok_buf scratch = {0};
    qat_tok_ivec v = {0}, w = {0};
    qat_status st = QAT_OK;
    if (add_special && bos >= 0) {
        st = qat_tok_ivec_push(&v, bos);
        if (st == QAT_OK)
            st = qat_tok_ivec_push(&w, -1);
    }
    size_t body = 0;
    for (size_t i = 0; i < n_words && st == QAT_OK && body < body_max; i++) {
        size_t len = word_lens ? word_lens[i] : strlen(words[i]);
        size_t before = v.n;
        st = encode_model(tok, words[i], len, &scratch, &v);
        if (st != QAT_OK)
            break;
        size_t added = v.n - before;
        if (added > body_max - body) {
            v.n = before + (body_max - body);
            added = body_max - body;
        }
        body += added;
        st = qat_tok_ivec_reserve(&w, added);
        for (size_t k = 0; k < added && st == QAT_OK; k++)
            w.p[w.n++] = (int32_t)i;
    }
    if (st == QAT_OK && add_special && eos >= 0) {
        st = qat_tok_ivec_push(&v, eos);
        if (st == QAT_OK)
            st = qat_tok_ivec_push(&w, -1);
    }
    if (st == QAT_OK) {
        *count = v.n;
        if (v.n > capacity) {
            st = qat_fail(QAT_ERR_BUFFER_TOO_SMALL, "qat_tokenizer_encode_words: %zu ids do not fit in %zu",
                          v.n, capacity);
        } else if (v.n) {
            memcpy(ids, v.p, v.n * sizeof *ids);
            if (word_index)
                memcpy(word_index, w.p, w.n * sizeof *word_index);
        }
    }
    qat_tok_buf_free(&scratch);
    qat_tok_ivec_free(&v);
    qat_tok_ivec_free(&w);
    return st;
}

static qat_status copy_out(const char *what, const char *s, size_t len, char *buf, size_t cap, size_t *needed)
{
    if (needed)
        *needed = len + 1;
    if (len + 1 > cap)
        return qat_fail(QAT_ERR_BUFFER_TOO_SMALL, "%s: %zu bytes needed, buffer holds %zu", what, len + 1, cap);
    memcpy(buf, s, len);
    buf[len] = '\0';
    return QAT_OK;
}

static int is_special(const qat_tokenizer *t, int32_t id)
{
    for (int i = 0; i < QAT_TOKEN_SPECIAL_COUNT; i++)
        if (t->special[i] == id && i != QAT_TOKEN_UNK)
            return 1;
    return 0;
}

QAT_API qat_status qat_tokenizer_decode(const qat_tokenizer *tok, const int32_t *ids, size_t n, char *text,
                                        size_t capacity, size_t *needed)
{
    QAT_CHECK_ARG(tok != NULL, "qat_tokenizer_decode: NULL tokenizer");
    QAT_CHECK_ARG(ids != NULL || n == 0, "qat_tokenizer_decode: NULL ids");
    QAT_CHECK_ARG(text != NULL || capacity == 0, "qat_tokenizer_decode: NULL text with capacity %zu", capacity);
    int32_t *model = malloc((n ? n : 1) * sizeof *model);
    if (!model)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "qat_tokenizer_decode: out of memory");
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= tok->n_ids) {
            free(model);
            return qat_fail(QAT_ERR_INVALID_ARGUMENT, "qat_tokenizer_decode: id %d at position %zu is out of range "
                            "[0, %d)", ids[i], i, tok->n_ids);
        }
        /* HF checkpoints: special tokens are skipped (skip_special_tokens). */
        if (tok->idmap != QAT_TOK_MAP_NONE || !tok->is_spm) {
            if (is_special(tok, ids[i]))
                continue;
            int32_t mid = to_model(tok, ids[i]);
            if (mid < 0 || mid >= tok->vocab.n)
                continue;
            model[m++] = mid;
        } else {
            model[m++] = ids[i];
        }
    }
    qat_tok_buf out = {0};
    qat_status st = qat_tok_decode_model(tok, model, m, &out);
    if (st == QAT_OK)
        st = copy_out("qat_tokenizer_decode", out.p, out.n, text, capacity, needed);
    free(model);
    qat_tok_buf_free(&out);
    return st;
}

QAT_API qat_status qat_tokenizer_vocab_size(const qat_tokenizer *tok, size_t *size)
{
    QAT_CHECK_ARG(tok != NULL && size != NULL, "qat_tokenizer_vocab_size: NULL argument");
    *size = (size_t)tok->n_ids;
    return QAT_OK;
}

QAT_API qat_status qat_tokenizer_special_id(const qat_tokenizer *tok, qat_token_special which, int32_t *id)
{
    QAT_CHECK_ARG(tok != NULL && id != NULL, "qat_tokenizer_special_id: NULL argument");
    QAT_CHECK_ARG((int)which >= 0 && which < QAT_TOKEN_SPECIAL_COUNT,
                  "qat_tokenizer_special_id: unknown special token %d (expected 0..%d)", (int)which,
                  QAT_TOKEN_SPECIAL_COUNT - 1);
    *id = tok->special[which];
    return QAT_OK;
}

static const char *const camembert_names[5] = {"<s>NOTUSED", "<pad>", "</s>NOTUSED", "<unk>", "<unk>NOTUSED"};
static const char *const xlmr_names[4] = {"<s>", "<pad>", "</s>", "<unk>"};

QAT_API qat_status qat_tokenizer_piece_to_id(const qat_tokenizer *tok, const char *piece, size_t len, int32_t *id)
{
    QAT_CHECK_ARG(tok != NULL && piece != NULL && id != NULL, "qat_tokenizer_piece_to_id: NULL argument");
    *id = -1;
    if (tok->idmap != QAT_TOK_MAP_NONE) {
        const char *const *names = tok->idmap == QAT_TOK_MAP_CAMEMBERT ? camembert_names : xlmr_names;
        int n = tok->idmap == QAT_TOK_MAP_CAMEMBERT ? 5 : 4;
        for (int i = 0; i < n; i++)
            if (strlen(names[i]) == len && memcmp(names[i], piece, len) == 0) {
                *id = i;
                return QAT_OK;
            }
        if (len == 6 && memcmp(piece, "<mask>", 6) == 0) {
            *id = tok->special[QAT_TOKEN_MASK];
            return QAT_OK;
        }
    }
    int32_t mid = qat_tok_vocab_find(&tok->vocab, piece, len);
    if (mid < 0)
        return qat_fail(QAT_ERR_NOT_FOUND, "qat_tokenizer_piece_to_id: '%.*s' is not in the vocabulary",
                        (int)(len > 64 ? 64 : len), piece);
    *id = to_external(tok, mid);
    return QAT_OK;
}

QAT_API qat_status qat_tokenizer_id_to_piece(const qat_tokenizer *tok, int32_t id, char *piece, size_t capacity,
                                             size_t *needed)
{
    QAT_CHECK_ARG(tok != NULL, "qat_tokenizer_id_to_piece: NULL tokenizer");
    QAT_CHECK_ARG(piece != NULL || capacity == 0, "qat_tokenizer_id_to_piece: NULL buffer");
    QAT_CHECK_ARG(id >= 0 && id < tok->n_ids, "qat_tokenizer_id_to_piece: id %d out of range [0, %d)", id,
                  tok->n_ids);
    const char *s = NULL;
    size_t len = 0;
    if (tok->idmap == QAT_TOK_MAP_CAMEMBERT && id < 5)
        s = camembert_names[id];
    else if (tok->idmap == QAT_TOK_MAP_XLMR && id < 4)
        s = xlmr_names[id];
    else if (tok->idmap != QAT_TOK_MAP_NONE && id == tok->special[QAT_TOKEN_MASK])
        s = "<mask>";
    if (s) {
        len = strlen(s);
    } else {
        int32_t mid = to_model(tok, id);
        if (mid < 0)
            return qat_fail(QAT_ERR_NOT_FOUND, "qat_tokenizer_id_to_piece: id %d has no piece", id);
        s = qat_tok_vocab_piece(&tok->vocab, mid, &len);
    }
    return copy_out("qat_tokenizer_id_to_piece", s, len, piece, capacity, needed);
}

QAT_API qat_status qat_tokenizer_kind(const qat_tokenizer *tok, const char **name)
{
    QAT_CHECK_ARG(tok != NULL && name != NULL, "qat_tokenizer_kind: NULL argument");
    *name = tok->kind_name;
    return QAT_OK;
}
