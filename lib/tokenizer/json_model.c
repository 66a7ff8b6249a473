/* The "model" section of a tokenizer.json: BPE (vocab + merges), Unigram
 * (pieces with scores) and WordPiece (vocab), into the tokenizer's
 * vocabulary, tries and merge table. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/json.h"
#include "tokenizer/tokenizer_impl.h"

static qat_status dup_str(const char *s, size_t len, char **out, size_t *out_len)
{
    free(*out);
    *out = malloc(len + 1);
    if (!*out)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    memcpy(*out, s, len);
    (*out)[len] = '\0';
    *out_len = len;
    return QAT_OK;
}

/* {"piece": id, ...} with ids exactly 0..n-1, into t->vocab. */
static qat_status vocab_map(const qat_json_ctx *c, json_object *vocab, qat_tokenizer *t)
{
    size_t n = (size_t)json_object_object_length(vocab);
    if (n > (1u << 26))
        return qat_fail(QAT_ERR_FORMAT, "%s: model.vocab has %zu entries", c->where, n);
    json_object **by_id = calloc(n ? n : 1, sizeof *by_id);
    const char **keys = calloc(n ? n : 1, sizeof *keys);
    qat_status st = by_id && keys ? QAT_OK : qat_fail(QAT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    struct json_object_iterator it = json_object_iter_begin(vocab), end = json_object_iter_end(vocab);
    for (; st == QAT_OK && !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
        const char *k = json_object_iter_peek_name(&it);
        json_object *v = json_object_iter_peek_value(&it);
        if (!json_object_is_type(v, json_type_int)) {
            st = qat_fail(QAT_ERR_FORMAT, "%s: model.vocab['%.64s'] must be an integer id", c->where, k);
            break;
        }
        int64_t id = json_object_get_int64(v);
        if (id < 0 || (uint64_t)id >= n) {
            st = qat_fail(QAT_ERR_FORMAT, "%s: model.vocab['%.64s'] = %lld is outside [0, %zu)", c->where, k,
                          (long long)id, n);
        } else if (keys[id]) {
            st = qat_fail(QAT_ERR_FORMAT, "%s: model.vocab: id %lld is given to both '%.64s' and '%.64s'", c->where,
                          (long long)id, keys[id], k);
        } else {
            keys[id] = k;
        }
    }
    for (size_t i = 0; st == QAT_OK && i < n; i++)
        st = qat_tok_vocab_add(&t->vocab, keys[i], strlen(keys[i]), 0.0f, QAT_TOK_NORMAL, c->where);
    free(by_id);
    free(keys);
    return st;
}

static void byte_pieces(qat_tokenizer *t)
{
    for (int i = 0; i < 256; i++)
        t->byte_id[i] = -1;
    for (int32_t i = 0; i < t->vocab.n; i++) {
        size_t len;
        const char *p = qat_tok_vocab_piece(&t->vocab, i, &len);
        int b = qat_tok_piece_to_byte(p, len);
        if (b >= 0 && t->byte_id[b] < 0) {
            t->byte_id[b] = i;
            if (t->byte_fallback)
                t->vocab.type[i] = QAT_TOK_BYTE;
        }
    }
}

static qat_status merges_put(qat_tokenizer *t, int32_t a, int32_t b, int32_t rank, int32_t id)
{
    uint64_t key = ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1;
    size_t m = t->merge_cap - 1;
    for (size_t i = qat_tok_trie_hash(key) & m;; i = (i + 1) & m) {
        if (!t->merge_keys[i] || t->merge_keys[i] == key) {
            t->merge_keys[i] = key; /* a later duplicate wins, as in tokenizers' HashMap */
            t->merge_rank[i] = rank;
            t->merge_id[i] = id;
            return QAT_OK;
        }
    }
}

static qat_status load_merges(const qat_json_ctx *c, json_object *merges, qat_tokenizer *t)
{
    size_t n = json_object_array_length(merges);
    if (n > (1u << 26))
        return qat_fail(QAT_ERR_FORMAT, "%s: model.merges has %zu entries", c->where, n);
    size_t cap = 16;
    while (cap < n * 2 + 16)
        cap *= 2;
    t->merge_keys = calloc(cap, sizeof *t->merge_keys);
    t->merge_rank = malloc(cap * sizeof *t->merge_rank);
    t->merge_id = malloc(cap * sizeof *t->merge_id);
    if (!t->merge_keys || !t->merge_rank || !t->merge_id)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory (%zu merges)", n);
    t->merge_cap = cap;
    qat_tok_buf joined = {0};
    qat_status st = QAT_OK;
    for (size_t i = 0; i < n && st == QAT_OK; i++) {
        json_object *m = json_object_array_get_idx(merges, i);
        const char *a = NULL, *b = NULL;
        size_t al = 0, bl = 0;
        if (m && json_object_is_type(m, json_type_string)) { /* "a b" */
            a = json_object_get_string(m);
            size_t len = (size_t)json_object_get_string_len(m);
            const char *sp = memchr(a, ' ', len);
            if (sp && !memchr(sp + 1, ' ', len - (size_t)(sp + 1 - a))) {
                al = (size_t)(sp - a);
                b = sp + 1;
                bl = len - al - 1;
            }
        } else if (m && json_object_is_type(m, json_type_array) && json_object_array_length(m) == 2 &&
                   json_object_is_type(json_object_array_get_idx(m, 0), json_type_string) &&
                   json_object_is_type(json_object_array_get_idx(m, 1), json_type_string)) { /* ["a", "b"] */
            a = json_object_get_string(json_object_array_get_idx(m, 0));
            al = (size_t)json_object_get_string_len(json_object_array_get_idx(m, 0));
            b = json_object_get_string(json_object_array_get_idx(m, 1));
            bl = (size_t)json_object_get_string_len(json_object_array_get_idx(m, 1));
        }
        if (!b) {
            st = qat_fail(QAT_ERR_FORMAT, "%s: model.merges[%zu] must be \"left right\" or [\"left\", \"right\"]",
                          c->where, i);
            break;
        }
        int32_t ia = qat_tok_vocab_find(&t->vocab, a, al), ib = qat_tok_vocab_find(&t->vocab, b, bl);
        if (ia < 0 || ib < 0) {
            st = qat_fail(QAT_ERR_FORMAT, "%s: model.merges[%zu]: '%.*s' is not in the vocabulary", c->where, i,
                          (int)((ia < 0 ? al : bl) > 64 ? 64 : (ia < 0 ? al : bl)), ia < 0 ? a : b);
            break;
        }
        /* the merged token drops the right part's continuing prefix */
        size_t skip = t->cont_prefix_len && bl >= t->cont_prefix_len &&
                              memcmp(b, t->cont_prefix, t->cont_prefix_len) == 0 ? t->cont_prefix_len : 0;
        joined.n = 0;
        st = qat_tok_buf_append(&joined, a, al);
        if (st == QAT_OK)
            st = qat_tok_buf_append(&joined, b + skip, bl - skip);
        if (st != QAT_OK)
            break;
        int32_t id = qat_tok_vocab_find(&t->vocab, joined.p, joined.n);
        if (id < 0) {
            st = qat_fail(QAT_ERR_FORMAT, "%s: model.merges[%zu]: the merged token '%.*s' is not in the vocabulary",
                          c->where, i, (int)(joined.n > 64 ? 64 : joined.n), joined.p);
            break;
        }
        st = merges_put(t, ia, ib, (int32_t)i, id);
    }
    qat_tok_buf_free(&joined);
    return st;
}

static qat_status opt_prefix(const qat_json_ctx *c, json_object *m, const char *key, char **out, size_t *len)
{
    const char *s;
    size_t l;
    QAT_TRY(qat_json_str(c, m, "model", key, &s, &l));
    if (s && l)
        QAT_TRY(dup_str(s, l, out, len));
    return QAT_OK;
}

static qat_status load_bpe(const qat_json_ctx *c, json_object *m, qat_tokenizer *t)
{
    json_object *vocab, *merges, *dropout;
    QAT_TRY(qat_json_get(c, m, "model", "vocab", json_type_object, 1, &vocab));
    QAT_TRY(qat_json_get(c, m, "model", "merges", json_type_array, 1, &merges));
    QAT_TRY(qat_json_get(c, m, "model", "dropout", json_type_double, 0, &dropout));
    if (dropout && json_object_get_double(dropout) > 0.0)
        return qat_fail(QAT_ERR_UNSUPPORTED, "%s: model.dropout = %g: BPE dropout is not supported", c->where,
                        json_object_get_double(dropout));
    QAT_TRY(qat_json_bool(c, m, "model", "fuse_unk", &t->fuse_unk));
    QAT_TRY(qat_json_bool(c, m, "model", "byte_fallback", &t->byte_fallback));
    QAT_TRY(qat_json_bool(c, m, "model", "ignore_merges", &t->ignore_merges));
    QAT_TRY(opt_prefix(c, m, "continuing_subword_prefix", &t->cont_prefix, &t->cont_prefix_len));
    QAT_TRY(opt_prefix(c, m, "end_of_word_suffix", &t->eow_suffix, &t->eow_suffix_len));
    QAT_TRY(vocab_map(c, vocab, t));
    QAT_TRY(qat_tok_vocab_finish(&t->vocab));
    const char *unk;
    size_t ul;
    QAT_TRY(qat_json_str(c, m, "model", "unk_token", &unk, &ul));
    t->unk_id = unk ? qat_tok_vocab_find(&t->vocab, unk, ul) : -1;
    if (unk && t->unk_id < 0)
        return qat_fail(QAT_ERR_FORMAT, "%s: model.unk_token '%.64s' is not in the vocabulary", c->where, unk);
    t->drop_unk = t->unk_id < 0;
    t->algo = QAT_TOK_ALGO_BPE;
    byte_pieces(t);
    return load_merges(c, merges, t);
}

/* 10^a as a correctly rounded double, as serde_json's POW10 table has it
 * (exact up to 10^22, the powers scores use; strtod rounds the others). */
static double pow10_of(int64_t a)
{
    static const double exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                   1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    if (a < (int64_t)(sizeof exact / sizeof *exact))
        return exact[a];
    char text[8];
    snprintf(text, sizeof text, "1e%d", (int)a);
    return strtod(text, NULL);
}

/* A Unigram score as tokenizers reads it. serde_json (without its
 * float_roundtrip feature) gathers the digits into a u64 and then
 * multiplies or divides once by a power of ten in double: for the 17-digit
 * scores tokenizers writes, that is one ulp off the correctly rounded value
 * (json-c's) about one time in ten, and one ulp can break a Viterbi tie the
 * other way (tests/tokenizer/viterbi_fixtures.py). Reading the score's text
 * (json-c keeps it for doubles) the same way keeps every segmentation
 * identical to tokenizers'. */
static double tokenizers_f64(json_object *v)
{
    const char *s = json_object_get_string(v);
    if (!json_object_is_type(v, json_type_double) || !s)
        return json_object_get_double(v);
    int negative = *s == '-';
    s += negative;
    uint64_t sig = 0;
    int64_t exp = 0;
    int full = 0; /* the u64 is full: later integer digits only scale, later decimals are dropped */
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (full || sig > (UINT64_MAX - d) / 10)
            full = 1, exp++;
        else
            sig = sig * 10 + d;
    }
    if (*s == '.')
        for (s++, full = 0; *s >= '0' && *s <= '9'; s++) {
            unsigned d = (unsigned)(*s - '0');
            if (full || sig > (UINT64_MAX - d) / 10)
                full = 1;
            else
                sig = sig * 10 + d, exp--;
        }
    if (*s == 'e' || *s == 'E') {
        int neg = *++s == '-';
        s += *s == '-' || *s == '+';
        int64_t e = 0;
        for (; *s >= '0' && *s <= '9'; s++)
            e = e < 100000 ? e * 10 + (*s - '0') : e;
        exp += neg ? -e : e;
    }
    double f = (double)sig;
    for (;;) {
        int64_t a = exp < 0 ? -exp : exp;
        if (a <= 308) {
            f = exp >= 0 ? f * pow10_of(a) : f / pow10_of(a);
            break;
        }
        if (f == 0.0)
            break;
        if (exp >= 0) /* out of range for serde_json: keep json-c's reading */
            return json_object_get_double(v);
        f /= 1e308;
        exp += 308;
    }
    return negative ? -f : f;
}

static qat_status load_unigram(const qat_json_ctx *c, json_object *m, qat_tokenizer *t)
{
    json_object *vocab;
    QAT_TRY(qat_json_get(c, m, "model", "vocab", json_type_array, 1, &vocab));
    QAT_TRY(qat_json_bool(c, m, "model", "byte_fallback", &t->byte_fallback));
    size_t n = json_object_array_length(vocab);
    if (n == 0 || n > (1u << 26))
        return qat_fail(QAT_ERR_FORMAT, "%s: model.vocab has %zu pieces", c->where, n);
    t->dscore = malloc(n * sizeof *t->dscore);
    if (!t->dscore)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    t->dmin_score = 1e300;
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(vocab, i), *p, *s;
        if (!e || !json_object_is_type(e, json_type_array) || json_object_array_length(e) != 2 ||
            !(p = json_object_array_get_idx(e, 0)) || !json_object_is_type(p, json_type_string) ||
            !(s = json_object_array_get_idx(e, 1)) ||
            !(json_object_is_type(s, json_type_double) || json_object_is_type(s, json_type_int)))
            return qat_fail(QAT_ERR_FORMAT, "%s: model.vocab[%zu] must be [\"piece\", score]", c->where, i);
        double score = tokenizers_f64(s);
        QAT_TRY(qat_tok_vocab_add(&t->vocab, json_object_get_string(p), (size_t)json_object_get_string_len(p),
                                  (float)score, QAT_TOK_NORMAL, c->where));
        t->dscore[i] = score;
        if (score < t->dmin_score)
            t->dmin_score = score;
    }
    qat_status st = qat_tok_vocab_finish(&t->vocab);
    if (st != QAT_OK)
        return qat_fail_prefix(st, "%s: model.vocab", c->where);
    int64_t unk = -1;
    QAT_TRY(qat_json_int(c, m, "model", "unk_id", 0, (int64_t)n - 1, &unk));
    t->unk_id = (int32_t)unk;
    t->fuse_unk = 1;
    if (t->unk_id >= 0)
        t->vocab.type[t->unk_id] = QAT_TOK_UNKNOWN;
    QAT_TRY(qat_tok_trie_init(&t->pieces_trie));
    for (int32_t i = 0; i < t->vocab.n; i++) {
        size_t len;
        const char *p = qat_tok_vocab_piece(&t->vocab, i, &len);
        QAT_TRY(qat_tok_trie_insert(&t->pieces_trie, p, len, i));
    }
    t->algo = QAT_TOK_ALGO_UNIGRAM;
    byte_pieces(t);
    return QAT_OK;
}

static qat_status load_wordpiece(const qat_json_ctx *c, json_object *m, qat_tokenizer *t)
{
    json_object *vocab;
    QAT_TRY(qat_json_get(c, m, "model", "vocab", json_type_object, 1, &vocab));
    QAT_TRY(opt_prefix(c, m, "continuing_subword_prefix", &t->cont_prefix, &t->cont_prefix_len));
    int64_t max_chars = 100;
    QAT_TRY(qat_json_int(c, m, "model", "max_input_chars_per_word", 0, INT32_MAX, &max_chars));
    const char *unk;
    QAT_TRY(qat_json_str(c, m, "model", "unk_token", &unk, NULL));
    QAT_TRY(vocab_map(c, vocab, t));
    qat_status st = qat_tok_vocab_finish(&t->vocab);
    if (st != QAT_OK)
        return qat_fail_prefix(st, "%s: model.vocab", c->where);
    return qat_tok_wordpiece_finish(t, unk ? unk : "[UNK]", (int)max_chars, c->where);
}

qat_status qat_tok_json_model(const qat_json_ctx *c, json_object *m, qat_tokenizer *t)
{
    const char *type;
    QAT_TRY(qat_json_str(c, m, "model", "type", &type, NULL));
    json_object *v = NULL, *merges = NULL;
    if (!type) { /* untagged, as tokenizers accepts it */
        QAT_TRY(qat_json_get(c, m, "model", "vocab", -1, 1, &v));
        json_object_object_get_ex(m, "merges", &merges);
        type = merges ? "BPE" : json_object_is_type(v, json_type_array) ? "Unigram" : "WordPiece";
    }
    if (strcmp(type, "BPE") == 0)
        return load_bpe(c, m, t);
    if (strcmp(type, "Unigram") == 0)
        return load_unigram(c, m, t);
    if (strcmp(type, "WordPiece") == 0)
        return load_wordpiece(c, m, t);
    return qat_fail(QAT_ERR_UNSUPPORTED, "%s: model.type '%.64s' is not supported (BPE, Unigram, WordPiece are)",
                    c->where, type);
}
