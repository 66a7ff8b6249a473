/* Text -> model ids for tokenizer.json pipelines: added tokens are split
 * out of the raw text first (leftmost-longest, with their lstrip / rstrip /
 * single_word options); each remaining segment is normalized,
 * pre-tokenized into words, and each word goes through the model. */
#include <string.h>

#include "core/error.h"
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

static qat_status model_word(const qat_tokenizer *t, const char *s, size_t len, qat_tok_ivec *out)
{
    switch (t->algo) {
    case QAT_TOK_ALGO_UNIGRAM: return qat_tok_unigram_hf(t, s, len, out);
    case QAT_TOK_ALGO_BPE: return qat_tok_bpe_hf(t, s, len, out);
    default: return qat_tok_wordpiece(t, s, len, out);
    }
}

static qat_status segment(const qat_tokenizer *t, const char *s, size_t len, int at_start, qat_tok_buf *norm,
                          qat_tok_buf *tmp, qat_tok_ivec *spans, qat_tok_ivec *out)
{
    if (len == 0)
        return QAT_OK;
    QAT_TRY(qat_tok_json_normalize(t, s, len, norm, tmp));
    QAT_TRY(qat_tok_json_pretokenize(t, norm, tmp, spans, at_start));
    for (size_t k = 0; k < spans->n; k += 2)
        QAT_TRY(model_word(t, norm->p + spans->p[k], (size_t)spans->p[k + 1], out));
    return QAT_OK;
}

static int is_word_char(const char *s, size_t left)
{
    size_t cl;
    int32_t c = qat_tok_utf8_decode(s, left, &cl);
    return c >= 0 && (c == '_' || qat_tok_is_letter((uint32_t)c) || qat_tok_is_number((uint32_t)c));
}

/* The char ending just before s + at, or NULL. */
static const char *prev_char(const char *s, size_t at)
{
    if (at == 0)
        return NULL;
    size_t i = at - 1;
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
        i--;
    return s + i;
}

static size_t ws_at(const char *s, size_t left)
{
    size_t cl;
    int32_t c = qat_tok_utf8_decode(s, left, &cl);
    return c >= 0 && qat_tok_is_white_space((uint32_t)c) ? cl : 0;
}

/* Finds the first added token in s[from..len): its span (with stripped
 * whitespace) in [*b, *e) and its index; 0 when none. */
static int find_added(const qat_tokenizer *t, const char *s, size_t from, size_t len, size_t *b, size_t *e,
                      int32_t *which)
{
    for (size_t at = from; at < len; at++) {
        if (((unsigned char)s[at] & 0xC0) == 0x80)
            continue;
        int32_t k;
        size_t m = qat_tok_trie_longest(&t->added_trie, s + at, len - at, &k);
        if (!m)
            continue;
        const qat_tok_added *a = &t->added[k];
        if (a->single_word) {
            const char *p = prev_char(s, at);
            if ((p && is_word_char(p, (size_t)(s + at - p))) || (at + m < len && is_word_char(s + at + m, len - at - m)))
                continue;
        }
        size_t bb = at, ee = at + m;
        if (a->lstrip)
            for (const char *p; (p = prev_char(s, bb)) != NULL && (size_t)(p - s) >= from &&
                                ws_at(p, (size_t)(s + bb - p));)
                bb = (size_t)(p - s);
        if (a->rstrip)
            for (size_t w; ee < len && (w = ws_at(s + ee, len - ee)) > 0;)
                ee += w;
        *b = bb;
        *e = ee;
        *which = k;
        return 1;
    }
    return 0;
}

qat_status qat_tok_json_encode(const qat_tokenizer *t, const char *text, size_t len, qat_tok_buf *scratch,
                               qat_tok_ivec *out)
{
    qat_tok_buf tmp = {0}, clean = {0};
    qat_tok_ivec spans = {0};
    qat_status st = QAT_OK;
    size_t at = 0;
    /* invalid UTF-8: each ill-formed sequence becomes U+FFFD first */
    for (size_t i = 0, cl; i < len && st == QAT_OK; i += cl) {
        if (qat_tok_utf8_decode(text + i, len - i, &cl) >= 0)
            continue;
        qat_tok_ivec cps = {0};
        st = qat_tok_utf8_to_cps(text, len, &cps);
        if (st == QAT_OK)
            st = qat_tok_cps_to_utf8(cps.p, cps.n, &clean);
        qat_tok_ivec_free(&cps);
        text = clean.p;
        len = clean.n;
        break;
    }
    while (st == QAT_OK && at < len) {
        size_t b = len, e = len;
        int32_t k = -1;
        if (t->n_added)
            find_added(t, text, at, len, &b, &e, &k);
        st = segment(t, text + at, b - at, at == 0, scratch, &tmp, &spans, out);
        if (st == QAT_OK && k >= 0)
            st = qat_tok_ivec_push(out, t->added[k].id);
        at = e;
    }
    qat_tok_buf_free(&tmp);
    qat_tok_buf_free(&clean);
    qat_tok_ivec_free(&spans);
    return st;
}
