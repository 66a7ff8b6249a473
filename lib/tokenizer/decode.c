/* Model ids -> text: SentencePiece's Decode (control pieces vanish, <unk>
 * shows its surface, runs of <0xXX> pieces are reassembled as UTF-8 with
 * U+FFFD per invalid byte, `▁` becomes a space and the first one is
 * dropped), and the WordPiece join ("##" glues to the previous piece). */
#include <string.h>

#include "core/error.h"
#include "tokenizer/tokenizer_impl.h"

static const char kSpace[] = "\xe2\x96\x81";

static qat_status flush_bytes(qat_tok_buf *bytes, qat_tok_buf *out)
{
    size_t at = 0;
    while (at < bytes->n) {
        size_t cl;
        if (qat_tok_utf8_decode(bytes->p + at, bytes->n - at, &cl) < 0) {
            QAT_TRY(qat_tok_buf_append(out, "\xEF\xBF\xBD", 3));
            at += 1;
        } else {
            QAT_TRY(qat_tok_buf_append(out, bytes->p + at, cl));
            at += cl;
        }
    }
    bytes->n = 0;
    return QAT_OK;
}

/* Appends piece with every `▁` replaced by a space. */
static qat_status append_unescaped(qat_tok_buf *out, const char *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        const char *hit = NULL;
        for (size_t j = i; j + 3 <= len; j++)
            if (memcmp(p + j, kSpace, 3) == 0) {
                hit = p + j;
                break;
            }
        size_t stop = hit ? (size_t)(hit - p) : len;
        QAT_TRY(qat_tok_buf_append(out, p + i, stop - i));
        if (!hit)
            break;
        QAT_TRY(qat_tok_buf_append(out, " ", 1));
        i = stop + 3;
    }
    return QAT_OK;
}

static qat_status decode_spm(const qat_tokenizer *t, const int32_t *ids, size_t n, qat_tok_buf *out)
{
    qat_tok_buf bytes = {0};
    qat_status st = QAT_OK;
    int is_bos_ws = 1, bos_ws_seen = 0;
    size_t start = out->n;
    int strip_first = t->is_spm ? (t->spm_norm.add_dummy_prefix || t->spm_norm.remove_extra_ws) : 1;
    int remove_extra = t->is_spm ? t->spm_norm.remove_extra_ws : 0;
    for (size_t i = 0; i < n && st == QAT_OK; i++) {
        int32_t id = ids[i];
        int type = t->vocab.type[id];
        size_t len;
        const char *p = qat_tok_vocab_piece(&t->vocab, id, &len);
        if (type == QAT_TOK_BYTE) {
            st = qat_tok_buf_append(&bytes, "", 0);
            if (st == QAT_OK) {
                bytes.p[bytes.n++] = (char)qat_tok_piece_to_byte(p, len);
                bytes.p[bytes.n] = '\0';
            }
            continue;
        }
        st = flush_bytes(&bytes, out);
        if (st != QAT_OK)
            break;
        if (bos_ws_seen || out->n > start)
            is_bos_ws = 0;
        bos_ws_seen = 0;
        if (type == QAT_TOK_CONTROL)
            continue;
        if (type == QAT_TOK_UNKNOWN) {
            st = qat_tok_buf_append(out, t->unk_surface ? t->unk_surface : p,
                                    t->unk_surface ? strlen(t->unk_surface) : len);
            continue;
        }
        if (is_bos_ws && strip_first && len >= 3 && memcmp(p, kSpace, 3) == 0) {
            p += 3;
            len -= 3;
            bos_ws_seen = !remove_extra;
        }
        st = append_unescaped(out, p, len);
    }
    if (st == QAT_OK)
        st = flush_bytes(&bytes, out);
    qat_tok_buf_free(&bytes);
    return st;
}

static qat_status decode_wordpiece(const qat_tokenizer *t, const int32_t *ids, size_t n, qat_tok_buf *out)
{
    size_t start = out->n;
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *p = qat_tok_vocab_piece(&t->vocab, ids[i], &len);
        if (t->vocab.type[ids[i]] == QAT_TOK_CONTROL)
            continue;
        if (t->cont_prefix_len && len >= t->cont_prefix_len &&
            memcmp(p, t->cont_prefix, t->cont_prefix_len) == 0) {
            p += t->cont_prefix_len;
            len -= t->cont_prefix_len;
        } else if (out->n > start) {
            QAT_TRY(qat_tok_buf_append(out, " ", 1));
        }
        QAT_TRY(qat_tok_buf_append(out, p, len));
    }
    return QAT_OK;
}

/* ByteLevel: every char of a piece is one byte; CONCAT: pieces as they are.
 * The bytes are then read as UTF-8, U+FFFD per invalid byte. */
static qat_status decode_bytes(const qat_tokenizer *t, const int32_t *ids, size_t n, int bytelevel,
                               qat_tok_buf *out)
{
    qat_tok_buf bytes = {0};
    qat_status st = qat_tok_buf_append(&bytes, "", 0);
    for (size_t i = 0; i < n && st == QAT_OK; i++) {
        size_t len;
        const char *p = qat_tok_vocab_piece(&t->vocab, ids[i], &len);
        if (t->vocab.type[ids[i]] == QAT_TOK_CONTROL)
            continue;
        if (!bytelevel) {
            st = qat_tok_buf_append(&bytes, p, len);
            continue;
        }
        for (size_t at = 0; at < len && st == QAT_OK;) {
            size_t cl;
            int32_t cp = qat_tok_utf8_decode(p + at, len - at, &cl);
            int b = cp < 0 ? -1 : qat_tok_unicode_to_byte((uint32_t)cp);
            if (b >= 0) {
                char c = (char)b;
                st = qat_tok_buf_append(&bytes, &c, 1);
            } else { /* an added token outside the byte alphabet */
                st = qat_tok_buf_append(&bytes, p + at, cp < 0 ? 1 : cl);
            }
            at += cp < 0 ? 1 : cl;
        }
    }
    if (st == QAT_OK)
        st = flush_bytes(&bytes, out);
    qat_tok_buf_free(&bytes);
    return st;
}

qat_status qat_tok_decode_model(const qat_tokenizer *t, const int32_t *ids, size_t n, qat_tok_buf *out)
{
    QAT_TRY(qat_tok_buf_append(out, "", 0));
    switch (t->decoder) {
    case QAT_TOK_DEC_WORDPIECE: return decode_wordpiece(t, ids, n, out);
    case QAT_TOK_DEC_BYTELEVEL: return decode_bytes(t, ids, n, 1, out);
    case QAT_TOK_DEC_CONCAT: return decode_bytes(t, ids, n, 0, out);
    default: return decode_spm(t, ids, n, out);
    }
}
