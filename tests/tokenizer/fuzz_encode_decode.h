/* What every tokenizer fuzz target does with a tokenizer that loaded: encode
 * a mixed text with the format's encoder, then decode the ids, so the
 * encoders and the decoder see every vocabulary the readers accept. */
#ifndef QAT_TEST_FUZZ_ENCODE_DECODE_H
#define QAT_TEST_FUZZ_ENCODE_DECODE_H

#include "tokenizer/tokenizer_impl.h"

typedef qat_status (*fuzz_encoder)(const qat_tokenizer *t, const char *text, size_t len, qat_tok_buf *scratch,
                                   qat_tok_ivec *ids);

static inline void fuzz_encode_decode(const qat_tokenizer *t, fuzz_encoder encode, const char *text, size_t len)
{
    qat_tok_buf scratch = {0};
    qat_tok_ivec ids = {0};
    if (encode(t, text, len, &scratch, &ids) == QAT_OK) {
        qat_tok_buf out = {0};
        (void)qat_tok_decode_model(t, ids.p, ids.n, &out);
        qat_tok_buf_free(&out);
    }
    qat_tok_buf_free(&scratch);
    qat_tok_ivec_free(&ids);
}

#endif
