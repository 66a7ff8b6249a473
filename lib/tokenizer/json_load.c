/* tokenizer.json reader (json-c): the model (json_model.c), then the
 * pipeline around it: added tokens, normalizer, pre-tokenizer,
 * post-processor (special tokens around a sequence) and decoder. Steps
 * libqat does not implement fail with QAT_ERR_UNSUPPORTED naming them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/json.h"
#include "tokenizer/tokenizer_impl.h"

qat_status qat_tok_json_model(const qat_json_ctx *c, json_object *m, qat_tokenizer *t);

static qat_status oom(void) { return qat_fail(QAT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory"); }

static qat_status copy_str(const char *s, size_t len, char **out, size_t *out_len)
{
    *out = malloc(len + 1);
    if (!*out)
        return oom();
    memcpy(*out, s, len);
    (*out)[len] = '\0';
    *out_len = len;
    return QAT_OK;
}

static int b64(int ch)
{
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9') return ch - '0' + 52;
    if (ch == '+') return 62;
    if (ch == '/') return 63;
    return -1;
}

static qat_status base64_decode(const qat_json_ctx *c, const char *s, size_t len, uint8_t **out, size_t *n)
{
    *out = malloc(len / 4 * 3 + 3);
    if (!*out)
        return oom();
    uint32_t acc = 0;
    int bits = 0;
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '=')
            break;
        int v = b64((unsigned char)s[i]);
        if (v < 0)
            return qat_fail(QAT_ERR_FORMAT, "%s: precompiled_charsmap is not base64 (byte %zu)", c->where, i);
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            (*out)[k++] = (uint8_t)(acc >> bits);
        }
    }
    *n = k;
    return QAT_OK;
}

/* ---- normalizer ------------------------------------------------------ */

static qat_status add_norm(qat_tokenizer *t, qat_tok_norm_step **step)
{
    if (t->n_norms >= 64)
        return qat_fail(QAT_ERR_UNSUPPORTED, "tokenizer: more than 64 normalizer steps");
    qat_tok_norm_step *p = realloc(t->norms, (size_t)(t->n_norms + 1) * sizeof *p);
    if (!p)
        return oom();
    t->norms = p;
    *step = &p[t->n_norms++];
    memset(*step, 0, sizeof **step);
    return QAT_OK;
}

/* Regex patterns libqat handles: a literal (escaped) string, or one char
 * followed by "+" or "{n,}". */
static qat_status parse_regex(const qat_json_ctx *c, const char *r, size_t len, qat_tok_norm_step *s)
{
    char lit[8];
    size_t ll = 0, i = 0;
    if (len >= 1 && r[0] == '\\' && len >= 2) {
        lit[ll++] = r[1];
        i = 2;
    } else if (len >= 1) {
        size_t cl = qat_tok_one_char_len(r, len);
        if (cl <= 4 && !strchr(".[]()*+?{}|^$\\", r[0])) {
            memcpy(lit, r, cl);
            ll = cl;
            i = cl;
        }
    }
    int min = -1;
    if (ll && i == len)
        min = 0;
    else if (ll && i + 1 == len && r[i] == '+')
        min = 1;
    else if (ll && len > i + 3 && r[i] == '{' && r[len - 2] == ',' && r[len - 1] == '}') {
        min = 0;
        for (size_t k = i + 1; k < len - 2; k++) {
            if (r[k] < '0' || r[k] > '9' || min > 1000) {
                min = -1;
                break;
            }
            min = min * 10 + (r[k] - '0');
        }
        if (min == 0)
            min = -1;
    }
    if (min < 0)
        return qat_fail(QAT_ERR_UNSUPPORTED, "%s: normalizer Replace with regex '%.64s' is not supported (only a "
                        "literal, or one character followed by + or {n,})", c->where, r);
    QAT_TRY(copy_str(lit, ll, &s->pattern, &s->pattern_len));
    s->repeat_min = min == 0 ? 0 : min;
    return QAT_OK;
}

static qat_status load_normalizer(const qat_json_ctx *c, json_object *n, qat_tokenizer *t, int depth)
{
    if (!n)
        return QAT_OK;
    if (depth > 8)
        return qat_fail(QAT_ERR_FORMAT, "%s: normalizer sequences nested too deep", c->where);
    if (!json_object_is_type(n, json_type_object))
        return qat_fail(QAT_ERR_FORMAT, "%s: normalizer must be an object or null", c->where);
    const char *type;
    QAT_TRY(qat_json_str(c, n, "normalizer", "type", &type, NULL));
    if (!type)
        return qat_fail(QAT_ERR_FORMAT, "%s: normalizer.type is missing", c->where);
    qat_tok_norm_step *s = NULL;
    if (strcmp(type, "Sequence") == 0) {
        json_object *list;
        QAT_TRY(qat_json_get(c, n, "normalizer", "normalizers", json_type_array, 1, &list));
        for (size_t i = 0; i < json_object_array_length(list); i++)
            QAT_TRY(load_normalizer(c, json_object_array_get_idx(list, i), t, depth + 1));
    } else if (strcmp(type, "BertNormalizer") == 0) {
        int clean = 1, chinese = 1, lower = 1, accents = -1;
        QAT_TRY(qat_json_bool(c, n, "normalizer", "clean_text", &clean));
        QAT_TRY(qat_json_bool(c, n, "normalizer", "handle_chinese_chars", &chinese));
        QAT_TRY(qat_json_bool(c, n, "normalizer", "lowercase", &lower));
        QAT_TRY(qat_json_bool(c, n, "normalizer", "strip_accents", &accents));
        QAT_TRY(add_norm(t, &s));
        s->kind = QAT_TOK_N_BERT;
        s->clean_text = clean;
        s->chinese = chinese;
        s->lowercase = lower;
        s->strip_accents = accents < 0 ? lower : accents;
    } else if (strcmp(type, "Lowercase") == 0 || strcmp(type, "NFD") == 0 || strcmp(type, "StripAccents") == 0) {
        QAT_TRY(add_norm(t, &s));
        s->kind = type[0] == 'L' ? QAT_TOK_N_LOWERCASE : type[0] == 'N' ? QAT_TOK_N_NFD : QAT_TOK_N_STRIP_ACCENTS;
    } else if (strcmp(type, "Precompiled") == 0) {
        const char *b;
        size_t bl;
        QAT_TRY(qat_json_str(c, n, "normalizer", "precompiled_charsmap", &b, &bl));
        if (!b || !bl)
            return QAT_OK; /* an empty charsmap normalizes nothing */
        uint8_t *blob = NULL;
        size_t size = 0;
        qat_status st = base64_decode(c, b, bl, &blob, &size);
        if (st == QAT_OK)
            st = add_norm(t, &s);
        if (st == QAT_OK) {
            s->kind = QAT_TOK_N_PRECOMPILED;
            st = qat_tok_charsmap_parse(&s->map, blob, size, c->where);
        }
        free(blob);
        return st;
    } else if (strcmp(type, "Replace") == 0) {
        json_object *pat;
        const char *content, *lit, *re;
        size_t cl, ll, rl;
        QAT_TRY(qat_json_get(c, n, "normalizer", "pattern", json_type_object, 1, &pat));
        QAT_TRY(qat_json_str(c, n, "normalizer", "content", &content, &cl));
        QAT_TRY(qat_json_str(c, pat, "normalizer.pattern", "String", &lit, &ll));
        QAT_TRY(qat_json_str(c, pat, "normalizer.pattern", "Regex", &re, &rl));
        if (!content || (!lit && !re))
            return qat_fail(QAT_ERR_FORMAT, "%s: normalizer Replace needs a pattern (String or Regex) and a content",
                            c->where);
        QAT_TRY(add_norm(t, &s));
        s->kind = QAT_TOK_N_REPLACE;
        QAT_TRY(copy_str(content, cl, &s->content, &s->content_len));
        if (lit)
            QAT_TRY(copy_str(lit, ll, &s->pattern, &s->pattern_len));
        else
            QAT_TRY(parse_regex(c, re, rl, s));
    } else if (strcmp(type, "Strip") == 0) {
        int left = 1, right = 1;
        QAT_TRY(qat_json_bool(c, n, "normalizer", "strip_left", &left));
        QAT_TRY(qat_json_bool(c, n, "normalizer", "strip_right", &right));
        QAT_TRY(add_norm(t, &s));
        s->kind = QAT_TOK_N_STRIP;
        s->left = left;
        s->right = right;
    } else if (strcmp(type, "Prepend") == 0) {
        const char *p;
        size_t pl;
        QAT_TRY(qat_json_str(c, n, "normalizer", "prepend", &p, &pl));
        if (!p)
            return qat_fail(QAT_ERR_FORMAT, "%s: normalizer Prepend needs 'prepend'", c->where);
        QAT_TRY(add_norm(t, &s));
        s->kind = QAT_TOK_N_PREPEND;
        QAT_TRY(copy_str(p, pl, &s->content, &s->content_len));
    } else {
        return qat_fail(QAT_ERR_UNSUPPORTED, "%s: normalizer '%.64s' is not supported (BertNormalizer, Lowercase, "
                        "NFD, StripAccents, Precompiled, Replace, Strip, Prepend and Sequence are)", c->where, type);
    }
    return QAT_OK;
}

/* ---- pre-tokenizer --------------------------------------------------- */

static qat_status add_pre(qat_tokenizer *t, qat_tok_pre_step **step)
{
    if (t->n_pres >= 64)
        return qat_fail(QAT_ERR_UNSUPPORTED, "tokenizer: more than 64 pre-tokenizer steps");
    qat_tok_pre_step *p = realloc(t->pres, (size_t)(t->n_pres + 1) * sizeof *p);
    if (!p)
        return oom();
    t->pres = p;
    *step = &p[t->n_pres++];
    memset(*step, 0, sizeof **step);
    return QAT_OK;
}

static qat_status load_pretok(const qat_json_ctx *c, json_object *n, qat_tokenizer *t, int depth)
{
    if (!n)
        return QAT_OK;
    if (depth > 8)
        return qat_fail(QAT_ERR_FORMAT, "%s: pre_tokenizer sequences nested too deep", c->where);
    if (!json_object_is_type(n, json_type_object))
        return qat_fail(QAT_ERR_FORMAT, "%s: pre_tokenizer must be an object or null", c->where);
    const char *type;
    QAT_TRY(qat_json_str(c, n, "pre_tokenizer", "type", &type, NULL));
    if (!type)
        return qat_fail(QAT_ERR_FORMAT, "%s: pre_tokenizer.type is missing", c->where);
    qat_tok_pre_step *s = NULL;
    if (strcmp(type, "Sequence") == 0) {
        json_object *list;
        QAT_TRY(qat_json_get(c, n, "pre_tokenizer", "pretokenizers", json_type_array, 1, &list));
        for (size_t i = 0; i < json_object_array_length(list); i++)
            QAT_TRY(load_pretok(c, json_object_array_get_idx(list, i), t, depth + 1));
    } else if (strcmp(type, "BertPreTokenizer") == 0 || strcmp(type, "WhitespaceSplit") == 0) {
        QAT_TRY(add_pre(t, &s));
        s->kind = type[0] == 'B' ? QAT_TOK_P_BERT : QAT_TOK_P_WHITESPACE_SPLIT;
    } else if (strcmp(type, "Metaspace") == 0) {
        const char *rep, *scheme;
        size_t rl;
        int add_prefix = 1, split = 1;
        QAT_TRY(qat_json_str(c, n, "pre_tokenizer", "replacement", &rep, &rl));
        QAT_TRY(qat_json_str(c, n, "pre_tokenizer", "prepend_scheme", &scheme, NULL));
        QAT_TRY(qat_json_bool(c, n, "pre_tokenizer", "add_prefix_space", &add_prefix));
        QAT_TRY(qat_json_bool(c, n, "pre_tokenizer", "split", &split));
        if (!rep)
            rep = "\xe2\x96\x81", rl = 3;
        size_t cl;
        if (rl == 0 || rl > 4 || qat_tok_utf8_decode(rep, rl, &cl) < 0 || cl != rl)
            return qat_fail(QAT_ERR_FORMAT, "%s: pre_tokenizer Metaspace replacement must be one character",
                            c->where);
        QAT_TRY(add_pre(t, &s));
        s->kind = QAT_TOK_P_METASPACE;
        memcpy(s->replacement, rep, rl);
        s->replacement_len = rl;
        s->split = split;
        if (!scheme)
            s->prepend = add_prefix ? 1 : 0;
        else if (strcmp(scheme, "always") == 0)
            s->prepend = 1;
        else if (strcmp(scheme, "first") == 0)
            s->prepend = 2;
        else if (strcmp(scheme, "never") == 0)
            s->prepend = 0;
        else
            return qat_fail(QAT_ERR_FORMAT, "%s: Metaspace prepend_scheme '%.32s' (always, first or never)",
                            c->where, scheme);
    } else if (strcmp(type, "ByteLevel") == 0) {
        int add_prefix = 1, use_regex = 1;
        QAT_TRY(qat_json_bool(c, n, "pre_tokenizer", "add_prefix_space", &add_prefix));
        QAT_TRY(qat_json_bool(c, n, "pre_tokenizer", "use_regex", &use_regex));
        QAT_TRY(add_pre(t, &s));
        s->kind = QAT_TOK_P_BYTELEVEL;
        s->add_prefix_space = add_prefix;
        s->use_regex = use_regex;
    } else {
        return qat_fail(QAT_ERR_UNSUPPORTED, "%s: pre_tokenizer '%.64s' is not supported (BertPreTokenizer, "
                        "WhitespaceSplit, Metaspace, ByteLevel and Sequence are)", c->where, type);
    }
    return QAT_OK;
}

/* ---- post-processor -------------------------------------------------- */

static qat_status pair_id(const qat_json_ctx *c, json_object *p, const char *key, int32_t *id)
{
    json_object *a;
    QAT_TRY(qat_json_get(c, p, "post_processor", key, json_type_array, 1, &a));
    json_object *v = json_object_array_length(a) == 2 ? json_object_array_get_idx(a, 1) : NULL;
    if (!v || !json_object_is_type(v, json_type_int))
        return qat_fail(QAT_ERR_FORMAT, "%s: post_processor.%s must be [\"token\", id]", c->where, key);
    int64_t x = json_object_get_int64(v);
    if (x < 0 || x >= INT32_MAX)
        return qat_fail(QAT_ERR_FORMAT, "%s: post_processor.%s id %lld is out of range", c->where, key,
                        (long long)x);
    *id = (int32_t)x;
    return QAT_OK;
}

/* TemplateProcessing's single template: at most one special token before
 * and one after the sequence $A. */
static qat_status template_single(const qat_json_ctx *c, json_object *p, qat_tokenizer *t)
{
    json_object *single, *specials;
    QAT_TRY(qat_json_get(c, p, "post_processor", "single", json_type_array, 1, &single));
    QAT_TRY(qat_json_get(c, p, "post_processor", "special_tokens", json_type_object, 0, &specials));
    int seen_seq = 0;
    for (size_t i = 0; i < json_object_array_length(single); i++) {
        json_object *item = json_object_array_get_idx(single, i), *x;
        if (item && json_object_is_type(item, json_type_object) && json_object_object_get_ex(item, "Sequence", &x)) {
            seen_seq = 1;
            continue;
        }
        const char *name;
        QAT_TRY(qat_json_get(c, item, "post_processor.single[]", "SpecialToken", json_type_object, 1, &x));
        QAT_TRY(qat_json_str(c, x, "post_processor.single[].SpecialToken", "id", &name, NULL));
        json_object *sp = NULL, *ids;
        if (!name || !specials || !json_object_object_get_ex(specials, name, &sp))
            return qat_fail(QAT_ERR_FORMAT, "%s: post_processor: special token '%.64s' is not in special_tokens",
                            c->where, name ? name : "(none)");
        QAT_TRY(qat_json_get(c, sp, "post_processor.special_tokens[]", "ids", json_type_array, 1, &ids));
        json_object *v = json_object_array_length(ids) == 1 ? json_object_array_get_idx(ids, 0) : NULL;
        if (!v || !json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0 ||
            json_object_get_int64(v) >= INT32_MAX)
            return qat_fail(QAT_ERR_UNSUPPORTED, "%s: post_processor: special token '%.64s' must have one id",
                            c->where, name);
        int32_t *slot = seen_seq ? &t->post_eos : &t->post_bos;
        if (*slot >= 0)
            return qat_fail(QAT_ERR_UNSUPPORTED, "%s: post_processor: templates with more than one special token "
                            "before or after the sequence are not supported", c->where);
        *slot = (int32_t)json_object_get_int64(v);
    }
    return QAT_OK;
}

/* TemplateProcessing's pair template, item by item (a special token with
 * several ids gives one item per id). Absent: the default layout. */
static qat_status template_pair(const qat_json_ctx *c, json_object *p, qat_tokenizer *t)
{
    json_object *pair, *specials;
    QAT_TRY(qat_json_get(c, p, "post_processor", "pair", json_type_array, 0, &pair));
    QAT_TRY(qat_json_get(c, p, "post_processor", "special_tokens", json_type_object, 0, &specials));
    if (!pair)
        return QAT_OK;
    int n = 0, seen_a = 0, seen_b = 0;
    for (size_t i = 0; i < json_object_array_length(pair); i++) {
        json_object *item = json_object_array_get_idx(pair, i), *x, *v;
        int is_seq = item && json_object_is_type(item, json_type_object) &&
                     json_object_object_get_ex(item, "Sequence", &x);
        if (!is_seq)
            QAT_TRY(qat_json_get(c, item, "post_processor.pair[]", "SpecialToken", json_type_object, 1, &x));
        const char *name;
        QAT_TRY(qat_json_str(c, x, "post_processor.pair[]", "id", &name, NULL));
        int32_t type_id = 0;
        if (json_object_object_get_ex(x, "type_id", &v)) {
            if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0 ||
                json_object_get_int64(v) > 255)
                return qat_fail(QAT_ERR_FORMAT, "%s: post_processor.pair[%zu].type_id must be an integer 0..255",
                                c->where, i);
            type_id = (int32_t)json_object_get_int64(v);
        }
        if (is_seq) {
            int is_a = name && strcmp(name, "A") == 0, is_b = name && strcmp(name, "B") == 0;
            if ((!is_a && !is_b) || (is_a && seen_a) || (is_b && seen_b))
                return qat_fail(QAT_ERR_FORMAT, "%s: post_processor.pair[%zu]: the sequences must be A and B, once "
                                "each", c->where, i);
            seen_a |= is_a;
            seen_b |= is_b;
            if (n == QAT_TOK_PAIR_MAX)
                return qat_fail(QAT_ERR_UNSUPPORTED, "%s: post_processor.pair: more than %d items",
                                c->where, QAT_TOK_PAIR_MAX);
            t->pair[n++] = (qat_tok_pair_item){is_a ? QAT_TOK_PAIR_A : QAT_TOK_PAIR_B, type_id};
            continue;
        }
        json_object *sp = NULL, *ids;
        if (!name || !specials || !json_object_object_get_ex(specials, name, &sp))
            return qat_fail(QAT_ERR_FORMAT, "%s: post_processor.pair: special token '%.64s' is not in "
                            "special_tokens", c->where, name ? name : "(none)");
        QAT_TRY(qat_json_get(c, sp, "post_processor.special_tokens[]", "ids", json_type_array, 1, &ids));
        for (size_t k = 0; k < json_object_array_length(ids); k++) {
            v = json_object_array_get_idx(ids, k);
            if (!v || !json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0 ||
                json_object_get_int64(v) >= t->vocab.n)
                return qat_fail(QAT_ERR_FORMAT, "%s: post_processor: special token '%.64s' has an id outside the "
                                "vocabulary", c->where, name);
            if (n == QAT_TOK_PAIR_MAX)
                return qat_fail(QAT_ERR_UNSUPPORTED, "%s: post_processor.pair: more than %d items",
                                c->where, QAT_TOK_PAIR_MAX);
            t->pair[n++] = (qat_tok_pair_item){(int32_t)json_object_get_int64(v), type_id};
        }
    }
    if (!seen_a || !seen_b)
        return qat_fail(QAT_ERR_FORMAT, "%s: post_processor.pair must hold both sequences $A and $B", c->where);
    t->n_pair = n;
    return QAT_OK;
}

static qat_status load_post(const qat_json_ctx *c, json_object *p, qat_tokenizer *t, int depth)
{
    if (!p)
        return QAT_OK;
    if (depth > 8 || !json_object_is_type(p, json_type_object))
        return qat_fail(QAT_ERR_FORMAT, "%s: post_processor must be an object or null", c->where);
    const char *type;
    QAT_TRY(qat_json_str(c, p, "post_processor", "type", &type, NULL));
    if (!type)
        return qat_fail(QAT_ERR_FORMAT, "%s: post_processor.type is missing", c->where);
    if (strcmp(type, "Sequence") == 0) {
        json_object *list;
        QAT_TRY(qat_json_get(c, p, "post_processor", "processors", json_type_array, 1, &list));
        for (size_t i = 0; i < json_object_array_length(list); i++)
            QAT_TRY(load_post(c, json_object_array_get_idx(list, i), t, depth + 1));
        return QAT_OK;
    }
    if (strcmp(type, "ByteLevel") == 0)
        return QAT_OK; /* offsets only */
    t->has_post = 1;
    if (strcmp(type, "RobertaProcessing") == 0 || strcmp(type, "BertProcessing") == 0) {
        QAT_TRY(pair_id(c, p, "cls", &t->post_bos));
        QAT_TRY(pair_id(c, p, "sep", &t->post_eos));
        if (type[0] == 'R')
            qat_tok_pair_roberta(t, t->post_bos, t->post_eos);
        else
            qat_tok_pair_bert(t, t->post_bos, t->post_eos);
        return QAT_OK;
    }
    if (strcmp(type, "TemplateProcessing") == 0) {
        QAT_TRY(template_single(c, p, t));
        return template_pair(c, p, t);
    }
    return qat_fail(QAT_ERR_UNSUPPORTED, "%s: post_processor '%.64s' is not supported (RobertaProcessing, "
                    "BertProcessing, TemplateProcessing, ByteLevel and Sequence are)", c->where, type);
}

/* ---- added tokens ---------------------------------------------------- */

static qat_status load_added(const qat_json_ctx *c, json_object *list, qat_tokenizer *t)
{
    QAT_TRY(qat_tok_trie_init(&t->added_trie));
    if (!list)
        return QAT_OK;
    size_t n = json_object_array_length(list);
    t->added = calloc(n ? n : 1, sizeof *t->added);
    if (!t->added)
        return oom();
    for (size_t i = 0; i < n; i++) {
        json_object *a = json_object_array_get_idx(list, i);
        if (!a || !json_object_is_type(a, json_type_object))
            return qat_fail(QAT_ERR_FORMAT, "%s: added_tokens[%zu] must be an object", c->where, i);
        int64_t id = -1;
        const char *content;
        size_t len;
        qat_tok_added x = {0, 0, 0, 0, 0};
        QAT_TRY(qat_json_int(c, a, "added_tokens[]", "id", 0, INT32_MAX - 1, &id));
        QAT_TRY(qat_json_str(c, a, "added_tokens[]", "content", &content, &len));
        if (id < 0 || !content)
            return qat_fail(QAT_ERR_FORMAT, "%s: added_tokens[%zu] needs an id and a content", c->where, i);
        QAT_TRY(qat_json_bool(c, a, "added_tokens[]", "lstrip", &x.lstrip));
        QAT_TRY(qat_json_bool(c, a, "added_tokens[]", "rstrip", &x.rstrip));
        QAT_TRY(qat_json_bool(c, a, "added_tokens[]", "single_word", &x.single_word));
        QAT_TRY(qat_json_bool(c, a, "added_tokens[]", "special", &x.special));
        x.id = (int32_t)id;
        if (id < t->vocab.n) {
            size_t pl;
            const char *p = qat_tok_vocab_piece(&t->vocab, (int32_t)id, &pl);
            if (pl != len || memcmp(p, content, len) != 0)
                return qat_fail(QAT_ERR_FORMAT, "%s: added_tokens[%zu]: id %lld is '%.64s' in the vocabulary, not "
                                "'%.64s'", c->where, i, (long long)id, p, content);
        } else if (id == t->vocab.n) {
            QAT_TRY(qat_tok_vocab_add(&t->vocab, content, len, 0.0f, QAT_TOK_NORMAL, c->where));
            if (t->dscore) {
                double *d = realloc(t->dscore, (size_t)t->vocab.n * sizeof *d);
                if (!d)
                    return oom();
                t->dscore = d;
                d[id] = 0.0;
            }
            qat_status st = qat_tok_vocab_finish(&t->vocab);
            if (st != QAT_OK)
                return qat_fail_prefix(st, "%s: added_tokens[%zu]", c->where, i);
        } else {
            return qat_fail(QAT_ERR_FORMAT, "%s: added_tokens[%zu]: id %lld leaves a gap after the vocabulary's %d "
                            "ids", c->where, i, (long long)id, t->vocab.n);
        }
        if (x.special && t->vocab.type[id] == QAT_TOK_NORMAL)
            t->vocab.type[id] = QAT_TOK_CONTROL;
        if (len == 0)
            continue;
        t->added[t->n_added] = x;
        QAT_TRY(qat_tok_trie_insert(&t->added_trie, content, len, t->n_added));
        t->n_added++;
    }
    return QAT_OK;
}

/* ---- decoder and special ids ----------------------------------------- */

static qat_status load_decoder(const qat_json_ctx *c, json_object *d, qat_tokenizer *t)
{
    const char *type = NULL;
    if (d)
        QAT_TRY(qat_json_str(c, d, "decoder", "type", &type, NULL));
    if (t->algo == QAT_TOK_ALGO_WORDPIECE)
        t->decoder = QAT_TOK_DEC_WORDPIECE;
    else if (!type)
        t->decoder = QAT_TOK_DEC_CONCAT;
    else if (strcmp(type, "ByteLevel") == 0)
        t->decoder = QAT_TOK_DEC_BYTELEVEL;
    else if (strcmp(type, "Metaspace") == 0 || strcmp(type, "Sequence") == 0)
        t->decoder = QAT_TOK_DEC_SPM;
    else
        t->decoder = QAT_TOK_DEC_CONCAT;
    return QAT_OK;
}

static int32_t first_of(const qat_tokenizer *t, const char *a, const char *b)
{
    int32_t id = qat_tok_vocab_find(&t->vocab, a, strlen(a));
    return id >= 0 ? id : qat_tok_vocab_find(&t->vocab, b, strlen(b));
}

static void set_specials(qat_tokenizer *t)
{
    t->special[QAT_TOKEN_PAD] = first_of(t, "<pad>", "[PAD]");
    t->special[QAT_TOKEN_UNK] = t->unk_id;
    t->special[QAT_TOKEN_MASK] = first_of(t, "<mask>", "[MASK]");
    t->special[QAT_TOKEN_BOS] = t->has_post && t->post_bos >= 0 ? t->post_bos : first_of(t, "<s>", "[CLS]");
    t->special[QAT_TOKEN_EOS] = t->has_post && t->post_eos >= 0 ? t->post_eos : first_of(t, "</s>", "[SEP]");
}

qat_status qat_tok_load_json(qat_tokenizer *t, const char *text, size_t size, const char *where)
{
    if (size > INT32_MAX - 1)
        return qat_fail(QAT_ERR_FORMAT, "%s: %zu bytes is too large for a tokenizer.json", where, size);
    json_tokener *tk = json_tokener_new_ex(64);
    if (!tk)
        return oom();
    json_object *root = json_tokener_parse_ex(tk, text, (int)size);
    enum json_tokener_error err = json_tokener_get_error(tk);
    qat_status st = QAT_OK;
    if (!root || err != json_tokener_success) {
        st = qat_fail(QAT_ERR_FORMAT, "%s: not valid JSON (%s at byte %zu)", where,
                      json_tokener_error_desc(err == json_tokener_success ? json_tokener_continue : err),
                      json_tokener_get_parse_end(tk));
    } else {
        for (size_t i = json_tokener_get_parse_end(tk); i < size && st == QAT_OK; i++)
            if (!strchr(" \t\r\n", text[i]) && text[i])
                st = qat_fail(QAT_ERR_FORMAT, "%s: trailing data after the JSON object at byte %zu", where, i);
    }
    json_tokener_free(tk);
    qat_json_ctx c = {where};
    if (st == QAT_OK && !json_object_is_type(root, json_type_object))
        st = qat_fail(QAT_ERR_FORMAT, "%s: the top level must be a JSON object", where);
    json_object *model = NULL, *added = NULL, *norm = NULL, *pre = NULL, *post = NULL, *dec = NULL;
    if (st == QAT_OK)
        st = qat_json_get(&c, root, "$", "model", json_type_object, 1, &model);
    if (st == QAT_OK)
        st = qat_json_get(&c, root, "$", "added_tokens", json_type_array, 0, &added);
    if (st == QAT_OK)
        st = qat_json_get(&c, root, "$", "normalizer", -1, 0, &norm);
    if (st == QAT_OK)
        st = qat_json_get(&c, root, "$", "pre_tokenizer", -1, 0, &pre);
    if (st == QAT_OK)
        st = qat_json_get(&c, root, "$", "post_processor", -1, 0, &post);
    if (st == QAT_OK)
        st = qat_json_get(&c, root, "$", "decoder", json_type_object, 0, &dec);
    t->unk_id = -1;
    t->post_bos = t->post_eos = -1;
    if (st == QAT_OK)
        st = qat_tok_json_model(&c, model, t);
    if (st == QAT_OK)
        st = load_added(&c, added, t);
    if (st == QAT_OK)
        st = load_normalizer(&c, norm, t, 0);
    if (st == QAT_OK)
        st = load_pretok(&c, pre, t, 0);
    if (st == QAT_OK)
        st = load_post(&c, post, t, 0);
    if (st == QAT_OK)
        st = load_decoder(&c, dec, t);
    if (st == QAT_OK) {
        for (int k = 0; k < 2; k++) {
            int32_t id = k ? t->post_eos : t->post_bos;
            if (id >= t->vocab.n)
                st = qat_fail(QAT_ERR_FORMAT, "%s: post_processor id %d is outside the vocabulary (%d ids)", where,
                              id, t->vocab.n);
        }
    }
    if (st == QAT_OK) {
        t->n_ids = t->vocab.n;
        set_specials(t);
        snprintf(t->kind_name, sizeof t->kind_name, "%s", t->algo == QAT_TOK_ALGO_UNIGRAM ? "json-unigram"
                                                         : t->algo == QAT_TOK_ALGO_BPE ? "json-bpe" : "wordpiece");
    }
    json_object_put(root);
    return st;
}
