/* Fuzz target: the training-state reader (header, trailer, zlib stream,
 * CRC, layout) resuming into a small quantized model. Runs as a test
 * through tests/fuzz/standalone_driver.c, or under libFuzzer with
 * -Dfuzz=true. Seeds: tests/fuzz/corpus/train_state (gen_state_seed). */
#include <stdint.h>

#include "state_fuzz_model.h"
#include "train/trainer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qat_trainer *t = state_fuzz_trainer();
    if (!t)
        return 0;
    uint64_t pos[2];
    (void)qat_trainer_resume_memory(t, data, size, "fuzz.state", pos);
    return 0;
}
