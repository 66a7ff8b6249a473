/* The normalizers of a tokenizer.json pipeline, applied in order to one
 * segment of text: BertNormalizer (clean text, CJK padding, NFD + accent
 * stripping, lowercase), Lowercase, NFD, StripAccents, Precompiled (the
 * SentencePiece charsmap), Replace, Strip, Prepend. */
#include <string.h>

#include "core/error.h"
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

static qat_status bert(const qat_tok_norm_step *n, qat_tok_ivec *cps, qat_tok_ivec *tmp)
{
    tmp->n = 0;
    QAT_TRY(qat_tok_ivec_reserve(tmp, cps->n * 3));
    for (size_t i = 0; i < cps->n; i++) {
        uint32_t c = (uint32_t)cps->p[i];
        if (n->clean_text) {
            if (c == 0 || c == 0xFFFD || qat_tok_is_bert_control(c))
                continue;
            if (qat_tok_is_white_space(c))
                c = ' ';
        }
        if (n->chinese && qat_tok_is_chinese(c)) {
            tmp->p[tmp->n++] = ' ';
            tmp->p[tmp->n++] = (int32_t)c;
            tmp->p[tmp->n++] = ' ';
        } else {
            tmp->p[tmp->n++] = (int32_t)c;
        }
    }
    qat_tok_ivec swap = *cps;
    *cps = *tmp;
    *tmp = swap;
    if (n->strip_accents) {
        QAT_TRY(qat_tok_nfd(cps));
        size_t w = 0;
        for (size_t i = 0; i < cps->n; i++)
            if (cps->p[i] < 0x300 || qat_tok_ucategory((uint32_t)cps->p[i]) != QAT_UC_Mn)
                cps->p[w++] = cps->p[i];
        cps->n = w;
    }
    return QAT_OK;
}

static qat_status lowercase(qat_tok_ivec *cps, qat_tok_ivec *tmp)
{
    tmp->n = 0;
    QAT_TRY(qat_tok_ivec_reserve(tmp, cps->n * 3));
    for (size_t i = 0; i < cps->n; i++) {
        uint32_t lo[3];
        size_t k = qat_tok_ulower((uint32_t)cps->p[i], lo);
        for (size_t j = 0; j < k; j++)
            tmp->p[tmp->n++] = (int32_t)lo[j];
    }
    qat_tok_ivec swap = *cps;
    *cps = *tmp;
    *tmp = swap;
    return QAT_OK;
}

/* Steps working on code points. */
static qat_status unicode_step(const qat_tok_norm_step *n, qat_tok_buf *text, qat_tok_buf *tmp)
{
    qat_tok_ivec cps = {0}, aux = {0};
    qat_status st = qat_tok_utf8_to_cps(text->p, text->n, &cps);
    if (st == QAT_OK) {
        switch (n->kind) {
        case QAT_TOK_N_BERT:
            st = bert(n, &cps, &aux);
            if (st == QAT_OK && n->lowercase)
                st = lowercase(&cps, &aux);
            break;
        case QAT_TOK_N_LOWERCASE:
            st = lowercase(&cps, &aux);
            break;
        case QAT_TOK_N_NFD:
            st = qat_tok_nfd(&cps);
            break;
        default: { /* STRIP_ACCENTS: combining marks (M*) go */
            size_t w = 0;
            for (size_t i = 0; i < cps.n; i++) {
                qat_tok_ucat c = cps.p[i] < 0x300 ? QAT_UC_Cn : qat_tok_ucategory((uint32_t)cps.p[i]);
                if (c != QAT_UC_Mn && c != QAT_UC_Mc && c != QAT_UC_Me)
                    cps.p[w++] = cps.p[i];
            }
            cps.n = w;
        }
        }
    }
    if (st == QAT_OK) {
        tmp->n = 0;
        st = qat_tok_cps_to_utf8(cps.p, cps.n, tmp);
    }
    qat_tok_ivec_free(&cps);
    qat_tok_ivec_free(&aux);
    return st;
}

static qat_status precompiled(const qat_tok_norm_step *n, const qat_tok_buf *text, qat_tok_buf *out)
{
    out->n = 0;
    QAT_TRY(qat_tok_buf_append(out, "", 0));
    size_t at = 0;
    while (at < text->n) {
        const char *rep;
        size_t rep_len, used;
        QAT_TRY(qat_tok_charsmap_prefix(&n->map, text->p + at, text->n - at, &rep, &rep_len, &used));
        if (used) {
            QAT_TRY(qat_tok_buf_append(out, rep, rep_len));
            at += used;
        } else {
            size_t cl = qat_tok_one_char_len(text->p + at, text->n - at);
            QAT_TRY(qat_tok_buf_append(out, text->p + at, cl));
            at += cl;
        }
    }
    return QAT_OK;
}

static qat_status replace(const qat_tok_norm_step *n, const qat_tok_buf *text, qat_tok_buf *out)
{
    out->n = 0;
    QAT_TRY(qat_tok_buf_append(out, "", 0));
    const char *s = text->p;
    size_t len = text->n, at = 0, pl = n->pattern_len;
    while (at < len) {
        size_t match = 0;
        if (n->repeat_min == 0) {
            if (pl && len - at >= pl && memcmp(s + at, n->pattern, pl) == 0)
                match = pl;
        } else {
            size_t k = 0;
            while (at + (k + 1) * pl <= len && memcmp(s + at + k * pl, n->pattern, pl) == 0)
                k++;
            if (k >= (size_t)n->repeat_min)
                match = k * pl;
        }
        if (match) {
            QAT_TRY(qat_tok_buf_append(out, n->content, n->content_len));
            at += match;
        } else {
            size_t cl = qat_tok_one_char_len(s + at, len - at);
            QAT_TRY(qat_tok_buf_append(out, s + at, cl));
            at += cl;
        }
    }
    return QAT_OK;
}

static size_t ws_len_at(const char *s, size_t len)
{
    size_t cl;
    int32_t c = qat_tok_utf8_decode(s, len, &cl);
    return c >= 0 && qat_tok_is_white_space((uint32_t)c) ? cl : 0;
}

static qat_status strip(const qat_tok_norm_step *n, const qat_tok_buf *text, qat_tok_buf *out)
{
    size_t b = 0, e = text->n;
    if (n->left)
        for (size_t k; b < e && (k = ws_len_at(text->p + b, e - b)) > 0;)
            b += k;
    if (n->right)
        while (e > b) {
            size_t s = e - 1;
            while (s > b && ((unsigned char)text->p[s] & 0xC0) == 0x80)
                s--;
            if (!ws_len_at(text->p + s, e - s))
                break;
            e = s;
        }
    out->n = 0;
    return qat_tok_buf_append(out, text->p + b, e - b);
}

qat_status qat_tok_json_normalize(const qat_tokenizer *t, const char *s, size_t len, qat_tok_buf *out,
                                  qat_tok_buf *tmp)
{
    out->n = 0;
    QAT_TRY(qat_tok_buf_append(out, s, len));
    for (int i = 0; i < t->n_norms; i++) {
        const qat_tok_norm_step *n = &t->norms[i];
        switch (n->kind) {
        case QAT_TOK_N_PRECOMPILED: QAT_TRY(precompiled(n, out, tmp)); break;
        case QAT_TOK_N_REPLACE: QAT_TRY(replace(n, out, tmp)); break;
        case QAT_TOK_N_STRIP: QAT_TRY(strip(n, out, tmp)); break;
        case QAT_TOK_N_PREPEND:
            if (out->n == 0)
                continue;
            tmp->n = 0;
            QAT_TRY(qat_tok_buf_append(tmp, n->content, n->content_len));
            QAT_TRY(qat_tok_buf_append(tmp, out->p, out->n));
            break;
        default: QAT_TRY(unicode_step(n, out, tmp)); break;
        }
        qat_tok_buf swap = *out;
        *out = *tmp;
        *tmp = swap;
    }
    return QAT_OK;
}
