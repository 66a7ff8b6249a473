/* The pre-tokenizers of a tokenizer.json pipeline: they cut the normalized
 * text into words (and may rewrite it): BertPreTokenizer (whitespace and
 * punctuation), WhitespaceSplit, Metaspace (`▁` for spaces, prefix, split
 * before each `▁`) and ByteLevel (GPT-2's split pattern, then each byte as
 * a printable code point). */
#include <string.h>

#include "core/error.h"
#include "core/utf8.h"
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

uint32_t qat_tok_byte_to_unicode(unsigned char b)
{
    if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE))
        return b;
    if (b <= 32)
        return 256u + b;
    if (b >= 127 && b <= 160)
        return 256u + 33 + (b - 127u);
    return 256u + 67; /* 0xAD */
}

int qat_tok_unicode_to_byte(uint32_t cp)
{
    if (cp < 256)
        return qat_tok_byte_to_unicode((unsigned char)cp) == cp ? (int)cp : -1;
    if (cp <= 256 + 32)
        return (int)(cp - 256);
    if (cp <= 256 + 66)
        return (int)(cp - 256 - 33 + 127);
    return cp == 256 + 67 ? 0xAD : -1;
}

static qat_status push_span(qat_tok_ivec *spans, size_t start, size_t len)
{
    if (len == 0)
        return QAT_OK;
    QAT_TRY(qat_tok_ivec_reserve(spans, 2));
    spans->p[spans->n++] = (int32_t)start;
    spans->p[spans->n++] = (int32_t)len;
    return QAT_OK;
}

static uint32_t cp_at(const char *s, size_t left, size_t *cl)
{
    int32_t c = qat_tok_utf8_decode(s, left, cl);
    if (c < 0) {
        *cl = 1;
        return 0xFFFD;
    }
    return (uint32_t)c;
}

/* BERT (punct = 1) or WhitespaceSplit (punct = 0): text unchanged. */
static qat_status split_ws(const char *s, const qat_tok_ivec *in, int punct, qat_tok_ivec *out)
{
    for (size_t k = 0; k < in->n; k += 2) {
        size_t at = (size_t)in->p[k], end = at + (size_t)in->p[k + 1], word = at;
        while (at < end) {
            size_t cl;
            uint32_t c = cp_at(s + at, end - at, &cl);
            if (qat_tok_is_white_space(c)) {
                QAT_TRY(push_span(out, word, at - word));
                word = at + cl;
            } else if (punct && qat_tok_is_bert_punct(c)) {
                QAT_TRY(push_span(out, word, at - word));
                QAT_TRY(push_span(out, at, cl));
                word = at + cl;
            }
            at += cl;
        }
        QAT_TRY(push_span(out, word, end - word));
    }
    return QAT_OK;
}

static qat_status metaspace(const qat_tok_pre_step *p, const qat_tok_buf *text, const qat_tok_ivec *in,
                            int at_start, qat_tok_buf *out, qat_tok_ivec *spans)
{
    for (size_t k = 0; k < in->n; k += 2) {
        size_t at = (size_t)in->p[k], end = at + (size_t)in->p[k + 1], first = out->n;
        const char *s = text->p;
        int prepend = p->prepend == 1 || (p->prepend == 2 && at_start && at == 0);
        int starts = end > at && (s[at] == ' ' || (end - at >= p->replacement_len && p->replacement_len &&
                                                   memcmp(s + at, p->replacement, p->replacement_len) == 0));
        if (prepend && end > at && !starts)
            QAT_TRY(qat_tok_buf_append(out, p->replacement, p->replacement_len));
        for (; at < end; at++) {
            if (s[at] == ' ')
                QAT_TRY(qat_tok_buf_append(out, p->replacement, p->replacement_len));
            else
                QAT_TRY(qat_tok_buf_append(out, s + at, 1));
        }
        if (!p->split || !p->replacement_len) {
            QAT_TRY(push_span(spans, first, out->n - first));
            continue;
        }
        size_t word = first, rl = p->replacement_len;
        for (size_t i = first; i + rl <= out->n; i++)
            if (memcmp(out->p + i, p->replacement, rl) == 0 && i > word) {
                QAT_TRY(push_span(spans, word, i - word));
                word = i;
            }
        QAT_TRY(push_span(spans, word, out->n - word));
    }
    return QAT_OK;
}

enum { C_WS, C_L, C_N, C_O };

static int cls(uint32_t c)
{
    if (c < 128) {
        if (c == ' ' || (c >= 9 && c <= 13))
            return C_WS;
        if ((c | 32) >= 'a' && (c | 32) <= 'z')
            return C_L;
        return c >= '0' && c <= '9' ? C_N : C_O;
    }
    if (qat_tok_is_white_space(c))
        return C_WS;
    return qat_tok_is_letter(c) ? C_L : qat_tok_is_number(c) ? C_N : C_O;
}

/* Length of the next match of GPT-2's pattern
 * 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
static size_t gpt2_match(const char *s, size_t len)
{
    if (s[0] == '\'' && len >= 2) {
        char a = s[1], b = len >= 3 ? s[2] : 0;
        if (a == 's' || a == 't' || a == 'm' || a == 'd')
            return 2;
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
            return 3;
    }
    size_t cl, at = 0;
    uint32_t c = cp_at(s, len, &cl);
    int k = cls(c);
    if (c == ' ' && len > 1) {
        size_t cl2;
        int k2 = cls(cp_at(s + 1, len - 1, &cl2));
        if (k2 != C_WS) {
            at = 1;
            k = k2;
            cl = cl2;
        }
    }
    if (k != C_WS) {
        at += cl;
        while (at < len) {
            uint32_t d = cp_at(s + at, len - at, &cl);
            if (cls(d) != k)
                break;
            at += cl;
        }
        return at;
    }
    /* whitespace run; if something follows, leave its last char to it */
    size_t last = 0;
    at = cl;
    while (at < len) {
        uint32_t d = cp_at(s + at, len - at, &cl);
        if (cls(d) != C_WS)
            return last ? last : at;
        last = at;
        at += cl;
    }
    return at;
}

static qat_status bytelevel(const qat_tok_pre_step *p, const qat_tok_buf *text, const qat_tok_ivec *in,
                            qat_tok_buf *out, qat_tok_ivec *spans)
{
    char sp[1] = {' '};
    qat_tok_buf word = {0};
    qat_status st = QAT_OK;
    for (size_t k = 0; k < in->n && st == QAT_OK; k += 2) {
        size_t at = (size_t)in->p[k], n = (size_t)in->p[k + 1];
        word.n = 0;
        if (p->add_prefix_space && n && text->p[at] != ' ')
            st = qat_tok_buf_append(&word, sp, 1);
        if (st == QAT_OK)
            st = qat_tok_buf_append(&word, text->p + at, n);
        size_t i = 0;
        while (st == QAT_OK && i < word.n) {
            size_t m = p->use_regex ? gpt2_match(word.p + i, word.n - i) : word.n - i;
            size_t first = out->n;
            st = qat_tok_buf_reserve(out, m * 2 + 1);
            for (size_t j = 0; j < m && st == QAT_OK; j++)
                out->n += qat_utf8_encode(qat_tok_byte_to_unicode((unsigned char)word.p[i + j]), out->p + out->n);
            if (st == QAT_OK)
                st = push_span(spans, first, out->n - first);
            i += m;
        }
    }
    qat_tok_buf_free(&word);
    return st;
}

qat_status qat_tok_json_pretokenize(const qat_tokenizer *t, qat_tok_buf *text, qat_tok_buf *tmp,
                                    qat_tok_ivec *spans, int at_start)
{
    if (text->n > INT32_MAX / 4)
        return qat_fail(QAT_ERR_INVALID_ARGUMENT, "tokenizer: text of %zu bytes is too long", text->n);
    spans->n = 0;
    QAT_TRY(push_span(spans, 0, text->n));
    qat_tok_ivec next = {0};
    qat_status st = QAT_OK;
    for (int i = 0; i < t->n_pres && st == QAT_OK; i++) {
        const qat_tok_pre_step *p = &t->pres[i];
        next.n = 0;
        tmp->n = 0;
        int rewrites = p->kind == QAT_TOK_P_METASPACE || p->kind == QAT_TOK_P_BYTELEVEL;
        if (p->kind == QAT_TOK_P_BERT || p->kind == QAT_TOK_P_WHITESPACE_SPLIT)
            st = split_ws(text->p, spans, p->kind == QAT_TOK_P_BERT, &next);
        else if (p->kind == QAT_TOK_P_METASPACE)
            st = metaspace(p, text, spans, at_start, tmp, &next);
        else
            st = bytelevel(p, text, spans, tmp, &next);
        if (st != QAT_OK)
            break;
        if (rewrites) {
            qat_tok_buf swap = *text;
            *text = *tmp;
            *tmp = swap;
        }
        qat_tok_ivec swap = *spans;
        *spans = next;
        next = swap;
    }
    qat_tok_ivec_free(&next);
    return st;
}
