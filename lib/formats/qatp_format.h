/* The .qatp container (docs/formats.md, "Packed model (.qatp)"): a header,
 * named typed records, a CRC32 trailer; all little-endian. This file only
 * knows records; formats/qatp_schema.h gives them meaning. */
#ifndef QAT_LIB_FORMATS_QATP_FORMAT_H
#define QAT_LIB_FORMATS_QATP_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "qat/core.h"

#define QATP_MAGIC "QATPACK\0"
#define QATP_VERSION 1u
#define QATP_HEADER_BYTES 24u
#define QATP_TRAILER_MAGIC "QEND"
#define QATP_TRAILER_BYTES 8u
#define QATP_NAME_MAX 255u
#define QATP_MAX_RECORDS 1000000u

typedef enum qatp_kind {
    QATP_BYTES = 1,   /* raw bytes (strings, tokenizer files) */
    QATP_I64 = 2,     /* int64 array */
    QATP_F32 = 3,     /* u32 ndim (1..2), u32 0, i64 shape[ndim], f32 data */
    QATP_PACKED = 4,  /* packed weight matrix, see qatp_packed_view */
    QATP_ACTQ = 5     /* activation quantizer: u32 algo, bits, granularity, symmetric; f32 step; u32 0 */
} qatp_kind;

typedef struct qatp_record {
    uint32_t kind;
    char name[QATP_NAME_MAX + 1];
    const uint8_t *payload;   /* into the file's bytes (8-byte aligned offset) */
    uint64_t size;
} qatp_record;

typedef struct qatp_file {
    uint32_t version;
    size_t count;
    qatp_record *records;
} qatp_file;

/* Validates header, trailer, CRC32 and the record framing of data[size]
 * (kept, not copied: records point into it). */
qat_status qatp_parse(const uint8_t *data, size_t size, qatp_file *out);
void qatp_file_clear(qatp_file *f);
/* The record named `name` of `kind`: QAT_ERR_FORMAT naming it when absent
 * or of another kind. */
qat_status qatp_find(const qatp_file *f, const char *name, uint32_t kind, const qatp_record **rec);
/* 1 when a record of that name exists. */
int qatp_has(const qatp_file *f, const char *name);

/* Little-endian loads (payloads are only byte-aligned in general). */
uint32_t qatp_u32(const uint8_t *p);
uint64_t qatp_u64(const uint8_t *p);
float qatp_f32(const uint8_t *p);

/* ---- Writer: the whole file in a growing buffer ------------------------- */

typedef struct qatp_writer {
    uint8_t *data;
    size_t size, cap;
    uint32_t count;
    int failed;
} qatp_writer;

qat_status qatp_writer_init(qatp_writer *w);
void qatp_writer_free(qatp_writer *w);
/* Opens a record; the payload follows through qatp_put*, closed by
 * qatp_end (which pads to 8 bytes and fills the size). */
qat_status qatp_begin(qatp_writer *w, uint32_t kind, const char *name, size_t *mark);
qat_status qatp_put(qatp_writer *w, const void *bytes, size_t n);
qat_status qatp_put_u32(qatp_writer *w, uint32_t v);
qat_status qatp_put_u64(qatp_writer *w, uint64_t v);
qat_status qatp_put_f32s(qatp_writer *w, const float *v, size_t n);
qat_status qatp_pad8(qatp_writer *w);
qat_status qatp_end(qatp_writer *w, size_t mark);
/* Fills the header, appends the trailer and writes `path` atomically. */
qat_status qatp_writer_commit(qatp_writer *w, const char *path);

#endif
