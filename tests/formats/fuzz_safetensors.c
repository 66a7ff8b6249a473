/* Fuzz target: the safetensors header parser and data validation. */
#include <stddef.h>
#include <stdint.h>

#include "formats/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qat_tensor_set *set;
    if (qat_tensor_set_create(&set) != QAT_OK)
        return 0;
    qat_safetensors_read_memory(data, size, "fuzz", 0, set);
    qat_tensor_set_free(set);
    return 0;
}
