/* Fuzz target: the CoNLL reader on arbitrary bytes. The first byte picks
 * the options (scheme, strict IOB2); a parse must either fail cleanly with a
 * message or yield sentences whose tags pass the scheme's checks. */
#include <stdint.h>
#include <string.h>

#include "core/error.h"
#include "data/conll.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    qat_data_conll_options o = {(data[0] & 1) ? QAT_DATA_TAGS_IOB2 : QAT_DATA_TAGS_ANY, (data[0] >> 1) & 1};
    qat_data_conll *c = NULL;
    qat_status st = qat_data_conll_read_memory((const char *)data + 1, size - 1, "fuzz", &o, &c);
    if (st != QAT_OK) {
        if (c != NULL || qat_last_error()[0] == '\0')
            __builtin_trap();
        return 0;
    }
    size_t total = 0;
    for (size_t s = 0; s < qat_data_conll_sentence_count(c); s++) {
        size_t n = qat_data_conll_sentence_length(c, s);
        if (n == 0 || qat_data_conll_sentence_first(c, s) != total)
            __builtin_trap();
        for (size_t t = total; t < total + n; t++) {
            const char *tag = qat_data_conll_tag(c, t);
            if (!tag[0] || !qat_data_conll_token(c, t)[0])
                __builtin_trap();
            if (o.scheme == QAT_DATA_TAGS_IOB2 && strcmp(tag, "O") != 0 && tag[1] != '-')
                __builtin_trap();
        }
        total += n;
    }
    if (total != qat_data_conll_token_count(c))
        __builtin_trap();
    qat_data_conll_free(c);
    return 0;
}
