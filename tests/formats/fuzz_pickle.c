/* Fuzz target: the restricted pickle VM. */
#include <stddef.h>
#include <stdint.h>

#include "formats/pickle_vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qat_torch_state_dict sd;
    if (qat_torch_pickle_load(data, size, "fuzz", &sd) == QAT_OK)
        qat_torch_state_dict_clear(&sd);
    return 0;
}
