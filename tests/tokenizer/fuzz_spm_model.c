/* Fuzz target: the SentencePiece ModelProto reader, then an encode and a
 * decode with whatever loaded. Runs as a test through
 * tests/fuzz/standalone_driver.c, or under libFuzzer with -Dfuzz=true. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_encode_decode.h"
#include "tokenizer/tokenizer_impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qat_tokenizer *t = calloc(1, sizeof *t);
    if (!t)
        return 0;
    if (qat_tok_load_spm(t, data, size, "fuzz.model") == QAT_OK) {
        static const char text[] = "  Le médecin\ta prescrit 500 mg ﬁn 😀\xff\xc3 x  ";
        fuzz_encode_decode(t, qat_tok_spm_encode, text, sizeof text - 1);
    }
    qat_tok_clear(t);
    free(t);
    return 0;
}
