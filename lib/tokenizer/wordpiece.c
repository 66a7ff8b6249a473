/* WordPiece (BERT vocab.txt): not implemented yet; the loader says so. */
#include "core/error.h"
#include "tokenizer/tokenizer_impl.h"

qat_status qat_tok_load_vocab_txt(qat_tokenizer *t, const char *text, size_t size, const char *where,
                                  int lowercase, int strip_accents, int chinese)
{
    (void)t; (void)text; (void)size; (void)lowercase; (void)strip_accents; (void)chinese;
    return qat_fail(QAT_ERR_UNSUPPORTED, "%s: WordPiece (BERT vocab.txt) is not supported yet", where);
}

qat_status qat_tok_wordpiece(const qat_tokenizer *t, const char *s, size_t len, qat_tok_ivec *out)
{
    (void)t; (void)s; (void)len; (void)out;
    return QAT_OK;
}
