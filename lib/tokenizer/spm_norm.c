#include "tokenizer/spm_norm.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

static const char kSpace[] = "\xe2\x96\x81"; /* U+2581, SentencePiece's whitespace mark */

qat_status qat_tok_charsmap_parse(qat_tok_charsmap *m, const uint8_t *blob, size_t len, const char *where)
{
    memset(m, 0, sizeof *m);
    /* Layout: <trie size: u32 LE><trie units><normalized strings>. */
    if (len <= 4)
        return qat_fail(QAT_ERR_FORMAT, "%s: precompiled charsmap of %zu bytes is too short", where, len);
    uint32_t trie_size = (uint32_t)blob[0] | (uint32_t)blob[1] << 8 | (uint32_t)blob[2] << 16 |
                         (uint32_t)blob[3] << 24;
    if (trie_size > len - 4)
        return qat_fail(QAT_ERR_FORMAT, "%s: precompiled charsmap declares a trie of %u bytes but holds %zu",
                        where, trie_size, len - 4);
    if (trie_size % 4 != 0 || trie_size == 0)
        return qat_fail(QAT_ERR_FORMAT, "%s: precompiled charsmap trie size %u is not a positive multiple of 4",
                        where, trie_size);
    m->n_units = trie_size / 4;
    m->units = malloc(trie_size);
    m->norm_len = len - 4 - trie_size;
    m->norm = malloc(m->norm_len + 1);
    if (!m->units || !m->norm) {
        qat_tok_charsmap_free(m);
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "%s: out of memory", where);
    }
    for (size_t i = 0; i < m->n_units; i++) {
        const uint8_t *u = blob + 4 + 4 * i;
        m->units[i] = (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
    }
    memcpy(m->norm, blob + 4 + trie_size, m->norm_len);
    m->norm[m->norm_len] = '\0'; /* every output is NUL-terminated, even a broken last one */
    return QAT_OK;
}

void qat_tok_charsmap_free(qat_tok_charsmap *m)
{
    free(m->units);
    free(m->norm);
    memset(m, 0, sizeof *m);
}

/* darts-clone unit accessors */
static inline uint32_t du_offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }
static inline uint32_t du_label(uint32_t u) { return u & ((1u << 31) | 0xFFu); }
static inline int du_has_leaf(uint32_t u) { return (u >> 8) & 1; }
static inline uint32_t du_value(uint32_t u) { return u & ((1u << 31) - 1); }

qat_status qat_tok_charsmap_prefix(const qat_tok_charsmap *m, const char *s, size_t len, const char **out,
                                   size_t *out_len, size_t *consumed)
{
    *consumed = 0;
    size_t pos = 0;
    uint32_t unit = m->units[0];
    pos ^= du_offset(unit);
    size_t best = 0;
    uint32_t best_value = 0;
    int n_results = 0;
    /* SentencePiece keeps the first 32 matches (kMaxTrieResultsSize). */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        pos ^= c;
        if (pos >= m->n_units)
            break;
        unit = m->units[pos];
        if (du_label(unit) != c)
            break;
        pos ^= du_offset(unit);
        if (pos >= m->n_units)
            break;
        if (du_has_leaf(unit)) {
            if (n_results < 32) {
                best = i + 1;
                best_value = du_value(m->units[pos]);
            }
            n_results++;
        }
    }
    if (best == 0)
        return QAT_OK;
    if (best_value >= m->norm_len)
        return qat_fail(QAT_ERR_FORMAT, "precompiled charsmap: rule output at %u is outside the %zu-byte table",
                        best_value, m->norm_len);
    *out = m->norm + best_value;
    *out_len = strlen(*out);
    *consumed = best;
    return QAT_OK;
}

/* One normalization step of SentencePiece's NormalizePrefix. */
static qat_status norm_prefix(const qat_tok_spm_norm *n, const char *s, size_t len, const char **out,
                              size_t *out_len, size_t *consumed)
{
    if (n->user) {
        int32_t v;
        size_t ml = qat_tok_trie_longest(n->user, s, len, &v);
        if (ml) {
            *out = s;
            *out_len = ml;
            *consumed = ml;
            return QAT_OK;
        }
    }
    if (n->has_map) {
        QAT_TRY(qat_tok_charsmap_prefix(&n->map, s, len, out, out_len, consumed));
        if (*consumed)
            return QAT_OK;
    }
    size_t cl;
    if (qat_tok_utf8_decode(s, len, &cl) < 0) {
        /* Malformed UTF-8 becomes U+FFFD, one byte at a time. */
        *out = "\xEF\xBF\xBD";
        *out_len = 3;
        *consumed = 1;
    } else {
        *out = s;
        *out_len = cl;
        *consumed = cl;
    }
    return QAT_OK;
}

qat_status qat_tok_spm_normalize(const qat_tok_spm_norm *n, const char *text, size_t len, qat_tok_buf *out)
{
    const char *out_s;
    size_t out_len, consumed;
    size_t start = out->n;
    if (n->remove_extra_ws) {
        while (len) {
            QAT_TRY(norm_prefix(n, text, len, &out_s, &out_len, &consumed));
            if (!(out_len == 1 && out_s[0] == ' '))
                break;
            text += consumed;
            len -= consumed;
        }
    }
    if (len == 0)
        return QAT_OK;
    QAT_TRY(qat_tok_buf_reserve(out, len * 3 + 8));
    const char *ws = n->escape_ws ? kSpace : " ";
    size_t ws_len = n->escape_ws ? 3 : 1;
    if (!n->ws_as_suffix && n->add_dummy_prefix)
        QAT_TRY(qat_tok_buf_append(out, ws, ws_len));
    int prev_space = n->remove_extra_ws;
    while (len) {
        QAT_TRY(norm_prefix(n, text, len, &out_s, &out_len, &consumed));
        if (prev_space)
            while (out_len && out_s[0] == ' ') {
                out_s++;
                out_len--;
            }
        if (out_len) {
            QAT_TRY(qat_tok_buf_reserve(out, out_len * 3 + 1));
            for (size_t i = 0; i < out_len; i++) {
                if (n->escape_ws && out_s[i] == ' ') {
                    memcpy(out->p + out->n, kSpace, 3);
                    out->n += 3;
                } else {
                    out->p[out->n++] = out_s[i];
                }
            }
            out->p[out->n] = '\0';
            prev_space = out_s[out_len - 1] == ' ';
        }
        text += consumed;
        len -= consumed;
        if (!n->remove_extra_ws)
            prev_space = 0;
    }
    if (n->remove_extra_ws) {
        while (out->n - start >= ws_len && memcmp(out->p + out->n - ws_len, ws, ws_len) == 0)
            out->n -= ws_len;
        out->p[out->n] = '\0';
    }
    if (n->ws_as_suffix && n->add_dummy_prefix)
        QAT_TRY(qat_tok_buf_append(out, ws, ws_len));
    return QAT_OK;
}
