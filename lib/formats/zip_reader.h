/* A small, read-only zip reader over a memory buffer (a mapped file), for
 * PyTorch's zip checkpoints (torch.save since 1.6). It handles what torch
 * and python's zipfile write: stored and deflated entries (inflated with
 * zlib), data descriptors, zip64 extra fields and zip64 end records; CRC-32
 * is checked on every read, and deflated entries inflate to at most 32
 * times the archive's size in all (decompression bombs). Refused:
 * encryption, multi-disk archives, other compression methods (at read
 * time), duplicate names, entries that overlap each other or the central
 * directory, sizes that disagree.
 *
 * Every offset and length read from the file is checked against the buffer
 * before use; the archive is hostile until proven otherwise. */
#ifndef QAT_LIB_FORMATS_ZIP_READER_H
#define QAT_LIB_FORMATS_ZIP_READER_H

#include <stddef.h>
#include <stdint.h>

#include "qat/core.h"

typedef struct qat_zip qat_zip;

/* Parses the end record(s) and the central directory and validates every
 * local header. `data` is borrowed and must outlive the archive. `label`
 * (copied) names the archive in messages. */
qat_status qat_formats_zip_open(const uint8_t *data, size_t size, const char *label,
                                qat_zip **out);
void qat_formats_zip_free(qat_zip *zip);

size_t qat_formats_zip_count(const qat_zip *zip);
/* Name of entry i (NUL-terminated), or NULL when out of range. */
const char *qat_formats_zip_name(const qat_zip *zip, size_t i);
/* Uncompressed size of entry i (0 when out of range). */
uint64_t qat_formats_zip_size(const qat_zip *zip, size_t i);
/* 1 and *index when an entry is named `name`, else 0. */
int qat_formats_zip_find(const qat_zip *zip, const char *name, size_t *index);

/* The bytes of an entry: stored entries point into the archive's buffer
 * (no copy); deflated ones into `owned`, a malloc'ed buffer. */
typedef struct qat_zip_data {
    const uint8_t *data;
    size_t size;
    void *owned;
} qat_zip_data;

/* Reads entry i, checking its size and CRC-32. Deflated entries draw on
 * the archive's inflate budget (32 times its size, at least 64 MiB, in
 * all): past it, a read fails with QAT_ERR_FORMAT before inflating. */
qat_status qat_formats_zip_read(qat_zip *zip, size_t i, qat_zip_data *out);
/* The same, keeping only the first `prefix` bytes (out->size); the rest of
 * a deflated entry is inflated through a small window to check its size
 * and CRC, never held: memory follows what the caller uses. */
qat_status qat_formats_zip_read_prefix(qat_zip *zip, size_t i, uint64_t prefix, qat_zip_data *out);
void qat_formats_zip_data_free(qat_zip_data *d);

#endif
