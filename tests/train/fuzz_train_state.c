/* Fuzz target: the training-state reader (header, trailer, zlib stream,
 * CRC, layout) resuming into a small quantized model, then one training
 * step from what was read (weights, moments, step count, quantizer flags
 * as the file gave them). Runs as a test through
 * tests/fuzz/standalone_driver.c, or under libFuzzer with -Dfuzz=true.
 * Seeds: tests/fuzz/corpus/train_state (gen_state_seed). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "state_fuzz_model.h"
#include "train/trainer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qat_trainer *t = state_fuzz_trainer();
    if (!t)
        return 0;
    uint64_t pos[2];
    if (qat_trainer_resume_memory(t, data, size, "fuzz.state", pos) == QAT_OK) {
        int32_t ids[12] = {0, 5, 6, 7, 8, 9, 10, 11, 4, 3, 2, 1}, labels[12];
        for (int i = 0; i < 12; i++)
            labels[i] = i % 3 == 0 ? ids[i] : -100;
        float loss;
        (void)qat_trainer_step(t, ids, NULL, labels, 2, 6, &loss);
    }
    return 0;
}

/* The file layout of lib/train/state.c: 16 bytes of magic and version, a
 * zlib stream, then the payload's u64 size and u32 CRC-32. */
enum { HEAD = 16, TAIL = 12, MAX_PAYLOAD = 1 << 20 };

/* Blind mutations of a deflated, CRC-guarded file die at inflate or the
 * CRC: libFuzzer saw 32 edges. So most mutations inflate the payload,
 * mutate that (at its size, mostly: the reader wants exactly this model's),
 * deflate it again and write the size and CRC that match; one in eight
 * mutates the file's bytes as they are, for the header and trailer checks,
 * as does any input that does not inflate. */
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    uint64_t raw = 0;
    if (size >= HEAD + TAIL)
        memcpy(&raw, data + size - TAIL, 8);
    if (seed % 8 == 0 || size < HEAD + TAIL || raw == 0 || raw > MAX_PAYLOAD)
        return LLVMFuzzerMutate(data, size, max_size);
    uint8_t *payload = malloc(raw), *original = malloc(raw);
    uLong bound = compressBound((uLong)raw);
    uint8_t *file = malloc(HEAD + bound + TAIL);
    uLongf got = (uLongf)raw;
    size_t out_size = 0;
    if (payload && original && file &&
        uncompress(payload, &got, data + HEAD, (uLong)(size - HEAD - TAIL)) == Z_OK && got == raw) {
        memcpy(original, payload, raw);
        size_t n = LLVMFuzzerMutate(payload, raw, raw);
        if (n < raw && seed % 16 != 1) { /* back to the model's size with the original's bytes */
            memcpy(payload + n, original + n, raw - n);
            n = raw;
        }
        uLongf packed = bound;
        if (compress2(file + HEAD, &packed, payload, (uLong)n, 6) == Z_OK && HEAD + packed + TAIL <= max_size) {
            uint64_t n64 = n;
            uint32_t crc = (uint32_t)crc32(crc32(0, NULL, 0), payload, (uInt)n);
            memcpy(file, data, HEAD);
            memcpy(file + HEAD + packed, &n64, 8);
            memcpy(file + HEAD + packed + 8, &crc, 4);
            out_size = HEAD + packed + TAIL;
            memcpy(data, file, out_size);
        }
    }
    free(payload);
    free(original);
    free(file);
    return out_size ? out_size : LLVMFuzzerMutate(data, size, max_size);
}
