#include "tokenizer/pb.h"

#include "core/error.h"

static const char *wire_name(int wire)
{
    switch (wire) {
    case QAT_PB_VARINT: return "varint";
    case QAT_PB_I64: return "fixed64";
    case QAT_PB_LEN: return "length-delimited";
    case QAT_PB_I32: return "fixed32";
    default: return "invalid";
    }
}

static qat_status read_varint(qat_pb_reader *r, uint64_t *out, const char *what)
{
    uint64_t v = 0;
    size_t at = (size_t)(r->p - r->base);
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end)
            return qat_fail(QAT_ERR_FORMAT, "%s: %s: truncated varint (%s) at offset %zu",
                            r->file, r->what, what, at);
        uint8_t b = *r->p++;
        /* The 10th byte may only carry the top bit of a 64-bit value. */
        if (shift == 63 && b > 1)
            break;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return QAT_OK;
        }
    }
    return qat_fail(QAT_ERR_FORMAT, "%s: %s: varint (%s) longer than 64 bits at offset %zu",
                    r->file, r->what, what, at);
}

qat_status qat_pb_next(qat_pb_reader *r, qat_pb_field *f, int *done)
{
    *done = 0;
    if (r->p >= r->end) {
        *done = 1;
        return QAT_OK;
    }
    f->offset = (size_t)(r->p - r->base);
    uint64_t tag;
    QAT_TRY(read_varint(r, &tag, "field tag"));
    f->number = (uint32_t)(tag >> 3);
    f->wire = (int)(tag & 7);
    if (tag >> 3 == 0 || tag >> 3 > 0x1fffffff)
        return qat_fail(QAT_ERR_FORMAT, "%s: %s: invalid field number %llu at offset %zu",
                        r->file, r->what, (unsigned long long)(tag >> 3), f->offset);
    size_t left;
    switch (f->wire) {
    case QAT_PB_VARINT:
        return read_varint(r, &f->varint, "field value");
    case QAT_PB_I64:
        if (r->end - r->p < 8)
            return qat_fail(QAT_ERR_FORMAT, "%s: %s: field %u: truncated fixed64 at offset %zu",
                            r->file, r->what, f->number, f->offset);
        f->varint = 0;
        for (int i = 7; i >= 0; i--)
            f->varint = (f->varint << 8) | r->p[i];
        r->p += 8;
        return QAT_OK;
    case QAT_PB_I32:
        if (r->end - r->p < 4)
            return qat_fail(QAT_ERR_FORMAT, "%s: %s: field %u: truncated fixed32 at offset %zu",
                            r->file, r->what, f->number, f->offset);
        f->fixed32 = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 |
                     (uint32_t)r->p[3] << 24;
        r->p += 4;
        return QAT_OK;
    case QAT_PB_LEN: {
        uint64_t len;
        QAT_TRY(read_varint(r, &len, "length"));
        left = (size_t)(r->end - r->p);
        if (len > left)
            return qat_fail(QAT_ERR_FORMAT,
                            "%s: %s: field %u at offset %zu declares %llu bytes but only %zu remain",
                            r->file, r->what, f->number, f->offset, (unsigned long long)len, left);
        f->data = r->p;
        f->len = (size_t)len;
        r->p += len;
        return QAT_OK;
    }
    default:
        /* Groups (3, 4) are deprecated and never used by SentencePiece. */
        return qat_fail(QAT_ERR_FORMAT, "%s: %s: field %u at offset %zu has unsupported wire type %d",
                        r->file, r->what, f->number, f->offset, f->wire);
    }
}

qat_pb_reader qat_pb_sub(const qat_pb_reader *r, const qat_pb_field *f, const char *what)
{
    qat_pb_reader s = {r->base, f->data, f->data + f->len, what, r->file};
    return s;
}

qat_status qat_pb_expect(const qat_pb_reader *r, const qat_pb_field *f, int wire, const char *name)
{
    if (f->wire == wire)
        return QAT_OK;
    return qat_fail(QAT_ERR_FORMAT, "%s: %s.%s (field %u, offset %zu): expected a %s field, found %s",
                    r->file, r->what, name, f->number, f->offset, wire_name(wire), wire_name(f->wire));
}
