/* Fuzz target: the tokenizer.json reader, then an encode and a decode with
 * whatever loaded. Runs as a test through tests/fuzz/standalone_driver.c,
 * or under libFuzzer with -Dfuzz=true. */
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
    for (int i = 0; i < QAT_TOKEN_SPECIAL_COUNT; i++)
        t->special[i] = -1;
    if (qat_tok_load_json(t, (const char *)data, size, "fuzz.json") == QAT_OK) {
        static const char text[] = "  Le [MASK] médecin\ta <s>prescrit 500 mg ﬁn 😀\xff\xc3 x l'été  ";
        fuzz_encode_decode(t, qat_tok_json_encode, text, sizeof text - 1);
    }
    qat_tok_clear(t);
    free(t);
    return 0;
}
