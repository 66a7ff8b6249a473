/* Text -> model ids for SentencePiece models: normalize, segment, then the
 * unknown-piece rules of SentencePieceProcessor::PopulateSentencePieceText. */
#include "core/error.h"
#include "tokenizer/tokenizer_impl.h"

qat_status qat_tok_emit_unk(const qat_tokenizer *t, const char *s, size_t len, int prev_was_unk,
                            qat_tok_ivec *out)
{
    if (t->byte_fallback) {
        int all = 1;
        for (size_t i = 0; i < len; i++)
            all &= t->byte_id[(unsigned char)s[i]] >= 0;
        if (all) {
            QAT_TRY(qat_tok_ivec_reserve(out, len));
            for (size_t i = 0; i < len; i++)
                out->p[out->n++] = t->byte_id[(unsigned char)s[i]];
            return QAT_OK;
        }
    }
    if (t->unk_id < 0)
        return qat_fail(QAT_ERR_FORMAT, "tokenizer: '%.*s' is not in the vocabulary and the model has no "
                        "unknown token", (int)(len > 32 ? 32 : len), s);
    /* Consecutive unknown pieces become one. */
    if (prev_was_unk && t->fuse_unk && out->n && out->p[out->n - 1] == t->unk_id)
        return QAT_OK;
    return qat_tok_ivec_push(out, t->unk_id);
}

qat_status qat_tok_spm_encode(const qat_tokenizer *t, const char *text, size_t len, qat_tok_buf *scratch,
                              qat_tok_ivec *out)
{
    scratch->n = 0;
    QAT_TRY(qat_tok_spm_normalize(&t->spm_norm, text, len, scratch));
    if (t->algo == QAT_TOK_ALGO_UNIGRAM)
        return qat_tok_unigram(t, scratch->p, scratch->n, out);
    return qat_tok_bpe_spm(t, scratch->p, scratch->n, out);
}
