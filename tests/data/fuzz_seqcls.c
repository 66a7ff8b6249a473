/* Fuzz target: the sequence-classification readers on arbitrary bytes. The
 * first byte picks the format ('j' JSONL, else TSV); a parse must either
 * fail cleanly with a message or yield examples whose fields are non-empty
 * valid UTF-8, and whose second text is present on all lines or none. */
#include <stdint.h>
#include <string.h>

#include "core/error.h"
#include "data/seqcls.h"
#include "core/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *name = data[0] == 'j' ? "fuzz.jsonl" : "fuzz.tsv";
    qat_data_seqcls *c = NULL;
    qat_status st = qat_data_seqcls_read_memory((const char *)data + 1, size - 1, name, &c);
    if (st != QAT_OK) {
        if (c != NULL || qat_last_error()[0] == '\0')
            __builtin_trap();
        return 0;
    }
    int pairs = qat_data_seqcls_pairs(c);
    if (qat_data_seqcls_count(c) == 0)
        __builtin_trap();
    for (size_t i = 0; i < qat_data_seqcls_count(c); i++) {
        const qat_data_seqcls_example *e = qat_data_seqcls_get(c, i);
        if (e->len_a == 0 || !e->label[0] || (e->text_b != NULL) != pairs || (pairs && e->len_b == 0))
            __builtin_trap();
        if (qat_utf8_validate(e->text_a, e->len_a) != e->len_a || strlen(e->text_a) != e->len_a)
            __builtin_trap();
    }
    qat_data_labels *labels = NULL;
    const qat_data_seqcls *sets[1] = {c};
    if (qat_data_seqcls_labels(sets, 1, &labels) == QAT_OK) {
        for (size_t i = 0; i < qat_data_seqcls_count(c); i++) {
            int32_t id;
            if (qat_data_seqcls_label_id(c, i, labels, &id) != QAT_OK || id < 0 ||
                (size_t)id >= qat_data_labels_count(labels))
                __builtin_trap();
        }
    }
    qat_data_labels_free(labels);
    qat_data_seqcls_free(c);
    return 0;
}
