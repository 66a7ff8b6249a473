/* safetensors (https://github.com/huggingface/safetensors): 8-byte
 * little-endian header length N, N bytes of JSON header, then the data.
 *
 * Reading validates the whole header before touching any data, as the
 * reference crate does: N <= QAT_SAFETENSORS_MAX_HEADER and within the
 * file; the header one well-formed JSON object without duplicate keys;
 * "__metadata__" (optional) a map of strings; every other entry an object
 * with "dtype" (a known dtype string), "shape" (non-negative integers, at
 * most 8) and "data_offsets" ([begin, end], end >= begin); the entries'
 * byte ranges, sorted, tiling the data exactly (no overlap, no gap, nothing
 * after the last one) with end - begin == numel * dtype size.
 * F32, F16 and BF16 tensors are loaded as float32 (exactly); other dtypes
 * (I64 position_ids buffers, F64, BOOL...) are skipped and listed in the
 * set's skipped list, or refused with QAT_SAFETENSORS_STRICT_DTYPES.
 *
 * Writing produces what safetensors.torch.save_file produces for float32
 * tensors: entries sorted by name, {"__metadata__": {"format": "pt"}}, the
 * header padded with spaces to a multiple of 8 bytes; the file is written
 * atomically (temporary file, fsync, rename). */
#ifndef QAT_LIB_FORMATS_SAFETENSORS_H
#define QAT_LIB_FORMATS_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "formats/tensor_set.h"
#include "qat/core.h"

/* The reference crate's limit on the header length. */
#define QAT_SAFETENSORS_MAX_HEADER (100u * 1000u * 1000u)

enum {
    /* Refuse (QAT_ERR_UNSUPPORTED) instead of skipping non-float dtypes. */
    QAT_SAFETENSORS_STRICT_DTYPES = 1u << 0
};

/* Maps `path` and adds its tensors to `set` (names must not already be in
 * it). On failure the set may hold some of the file's tensors. */
qat_status qat_safetensors_read(const char *path, unsigned flags, qat_tensor_set *set);
/* The same over a buffer; `label` names it in messages. */
qat_status qat_safetensors_read_memory(const uint8_t *data, size_t size, const char *label,
                                       unsigned flags, qat_tensor_set *set);

/* Writes every tensor of `set` as F32. metadata: n_metadata (key, value)
 * string pairs stored in "__metadata__" after "format": "pt" (may be NULL
 * when n_metadata is 0; a "format" key is refused). */
qat_status qat_safetensors_write(const char *path, const qat_tensor_set *set,
                                 const char *const (*metadata)[2], size_t n_metadata);

#endif
