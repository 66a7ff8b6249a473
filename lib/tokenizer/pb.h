/* A bounded reader of the protobuf wire format: just enough to walk a
 * SentencePiece ModelProto without protobuf-c. Every read checks the
 * remaining length, so a truncated or hostile file can only make it fail. */
#ifndef QAT_TOK_PB_H
#define QAT_TOK_PB_H

#include <stddef.h>
#include <stdint.h>

#include "qat/core.h"

enum { QAT_PB_VARINT = 0, QAT_PB_I64 = 1, QAT_PB_LEN = 2, QAT_PB_I32 = 5 };

typedef struct qat_pb_reader {
    const uint8_t *base; /* start of the whole file, for offsets in messages */
    const uint8_t *p;
    const uint8_t *end;
    const char *what;    /* "ModelProto", "NormalizerSpec"... for messages */
    const char *file;    /* file name for messages */
} qat_pb_reader;

/* One field: its number, wire type and value (varint, fixed32 or bytes). */
typedef struct qat_pb_field {
    uint32_t number;
    int wire;
    uint64_t varint;          /* QAT_PB_VARINT, QAT_PB_I64 */
    uint32_t fixed32;         /* QAT_PB_I32 */
    const uint8_t *data;      /* QAT_PB_LEN */
    size_t len;
    size_t offset;            /* where the field's tag starts, in the file */
} qat_pb_field;

/* Reads the next field; *done is set to 1 at the end of the message. */
qat_status qat_pb_next(qat_pb_reader *r, qat_pb_field *f, int *done);

/* A reader over a length-delimited field (a nested message). */
qat_pb_reader qat_pb_sub(const qat_pb_reader *r, const qat_pb_field *f, const char *what);

/* Checks a field's wire type, failing with a message naming the field. */
qat_status qat_pb_expect(const qat_pb_reader *r, const qat_pb_field *f, int wire, const char *name);

#endif
