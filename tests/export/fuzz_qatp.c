/* Fuzz target for the .qatp reader: each input is loaded as given (the
 * CRC catches most mutations) and once more re-sealed (header size and
 * CRC32 fixed up) so that mutations reach the record and model checks
 * (tiny_labels.qatp carries the optional "labels" record). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "qat/packed.h"

static void try_load(const uint8_t *data, size_t size)
{
    qat_packed_model *m = NULL;
    if (qat_packed_model_load_memory(data, size, &m) == QAT_OK) {
        int32_t ids[3] = {0, 1, 2};
        size_t n = 0;
        if (qat_packed_model_logits_size(m, 1, 3, &n) == QAT_OK && n < (1u << 20)) {
            float *logits = malloc(n * sizeof(float));
            if (logits)
                (void)qat_packed_model_forward(m, ids, NULL, NULL, 1, 3, logits, n);
            free(logits);
        }
        /* Label names, when stored, must be readable strings. */
        int64_t classes = 0, has = 0;
        if (qat_packed_model_info(m, QAT_PACKED_INFO_NUM_LABELS, &classes) == QAT_OK &&
            qat_packed_model_info(m, QAT_PACKED_INFO_HAS_LABEL_NAMES, &has) == QAT_OK && has)
            for (int64_t c = 0; c < classes; c++) {
                const char *name = NULL;
                if (qat_packed_model_label_name(m, (size_t)c, &name) == QAT_OK && strlen(name) == 0)
                    abort();
            }
        qat_packed_model_free(m);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    try_load(data, size);
    if (size < 32 || size > (1u << 24))
        return 0;
    uint8_t *d = malloc(size);
    if (!d)
        return 0;
    memcpy(d, data, size);
    for (int i = 0; i < 8; i++)
        d[16 + i] = (uint8_t)((uint64_t)size >> (8 * i));
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), d, (uInt)(size - 8));
    for (int i = 0; i < 4; i++)
        d[size - 8 + i] = (uint8_t)(crc >> (8 * i));
    memcpy(d + size - 4, "QEND", 4);
    try_load(d, size);
    free(d);
    return 0;
}
