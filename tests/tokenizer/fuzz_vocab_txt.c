/* Fuzz target: the BERT vocab.txt reader (the first byte picks the
 * lowercasing, accent-stripping and CJK flags), then an encode of a mixed
 * text and a decode of the ids. Runs as a test through
 * tests/fuzz/standalone_driver.c, or under libFuzzer with -Dfuzz=true. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_encode_decode.h"
#include "tokenizer/tokenizer_impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    qat_tokenizer *t = calloc(1, sizeof *t);
    if (!t)
        return 0;
    for (int i = 0; i < QAT_TOKEN_SPECIAL_COUNT; i++)
        t->special[i] = -1;
    const uint8_t flags = data[0];
    if (qat_tok_load_vocab_txt(t, (const char *)data + 1, size - 1, "fuzz vocab.txt", flags & 1, (flags >> 1) & 1,
                               (flags >> 2) & 1) == QAT_OK) {
        static const char text[] = "  Le [MASK] Médecin\ta [CLS]prescrit 500 mg ﬁn 😀\xff\xc3 x l'été 中文 ##s  ";
        fuzz_encode_decode(t, qat_tok_encode_text, text, sizeof text - 1);
    }
    qat_tok_clear(t);
    free(t);
    return 0;
}
