/* Fuzz target: the config.json reader (and the writer on what it accepts). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "formats/hf_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qat_model_dims dims;
    qat_hf_labels labels;
    if (qat_hf_config_parse((const char *)data, size, "fuzz", &dims, &labels) == QAT_OK) {
        char *text = NULL;
        if (qat_hf_config_to_string(&dims, NULL, &labels, &text) == QAT_OK)
            free(text);
        qat_hf_labels_clear(&labels);
    }
    return 0;
}
