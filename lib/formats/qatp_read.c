/* Validating a .qatp file: header, trailer, CRC32, record framing. Every
 * length is checked against what remains before it is used. */
#include <stdlib.h>
#include <string.h>

#include "core/crc32.h"
#include "core/error.h"
#include "formats/qatp_format.h"

uint32_t qatp_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t qatp_u64(const uint8_t *p)
{
    return (uint64_t)qatp_u32(p) | (uint64_t)qatp_u32(p + 4) << 32;
}

float qatp_f32(const uint8_t *p)
{
    uint32_t u = qatp_u32(p);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

void qatp_file_clear(qatp_file *f)
{
    free(f->records);
    memset(f, 0, sizeof *f);
}

/* Frees the record table after the message (which may name a record) is set. */
static qat_status bail(qatp_record *recs, qat_status st)
{
    free(recs);
    return st;
}

static size_t pad8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

qat_status qatp_parse(const uint8_t *data, size_t size, qatp_file *out)
{
    memset(out, 0, sizeof *out);
    if (size < QATP_HEADER_BYTES + QATP_TRAILER_BYTES)
        return qat_fail(QAT_ERR_FORMAT, "packed model: file too short (%zu bytes): truncated or not a .qatp file",
                        size);
    if (memcmp(data, QATP_MAGIC, 8) != 0)
        return qat_fail(QAT_ERR_FORMAT, "packed model: bad magic (not a .qatp file)");
    uint32_t version = qatp_u32(data + 8);
    if (version != QATP_VERSION)
        return qat_fail(QAT_ERR_FORMAT, "packed model: unsupported format version %u (this library reads %u)",
                        version, QATP_VERSION);
    uint64_t declared = qatp_u64(data + 16);
    if (declared != size)
        return qat_fail(QAT_ERR_FORMAT, "packed model: header says %llu bytes, file has %zu (truncated?)",
                        (unsigned long long)declared, size);
    if (memcmp(data + size - 4, QATP_TRAILER_MAGIC, 4) != 0)
        return qat_fail(QAT_ERR_FORMAT, "packed model: missing trailer (truncated file?)");
    uint32_t crc = qatp_u32(data + size - 8);
    uint32_t have = qat_crc32(data, size - QATP_TRAILER_BYTES);
    if (crc != have)
        return qat_fail(QAT_ERR_FORMAT, "packed model: checksum mismatch (CRC32 %08x stored, %08x computed): corrupted file",
                        crc, have);
    uint32_t count = qatp_u32(data + 12);
    size_t end = size - QATP_TRAILER_BYTES;
    if (count > QATP_MAX_RECORDS || count > (end - QATP_HEADER_BYTES) / 16)
        return qat_fail(QAT_ERR_FORMAT, "packed model: implausible record count %u", count);
    qatp_record *recs = calloc(count ? count : 1, sizeof *recs);
    if (!recs)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "packed model: out of memory");
    size_t pos = QATP_HEADER_BYTES;
    for (uint32_t i = 0; i < count; i++) {
        qatp_record *r = &recs[i];
        if (end - pos < 16) {
            return bail(recs, qat_fail(QAT_ERR_FORMAT, "packed model: record %u: header past the end of the file", i));
        }
        r->kind = qatp_u32(data + pos);
        uint32_t name_len = qatp_u32(data + pos + 4);
        uint64_t psize = qatp_u64(data + pos + 8);
        pos += 16;
        if (name_len == 0 || name_len > QATP_NAME_MAX || name_len > end - pos) {
            return bail(recs, qat_fail(QAT_ERR_FORMAT, "packed model: record %u: bad name length %u", i, name_len));
        }
        memcpy(r->name, data + pos, name_len);
        r->name[name_len] = '\0';
        if (strlen(r->name) != name_len) {
            return bail(recs, qat_fail(QAT_ERR_FORMAT, "packed model: record %u: NUL byte in its name", i));
        }
        pos = pad8(pos + name_len);
        if (pos > end || psize > end - pos) {
            return bail(recs, qat_fail(QAT_ERR_FORMAT, "packed model: record '%s': payload of %llu bytes past the end of the file",
                            r->name, (unsigned long long)psize));
        }
        r->payload = data + pos;
        r->size = psize;
        pos = pad8(pos + (size_t)psize);
        if (pos > end) {
            return bail(recs, qat_fail(QAT_ERR_FORMAT, "packed model: record '%s': padding past the end of the file", r->name));
        }
        if (r->kind < QATP_BYTES || r->kind > QATP_ACTQ) {
            return bail(recs, qat_fail(QAT_ERR_FORMAT, "packed model: record '%s': unknown kind %u", r->name, r->kind));
        }
    }
    if (pos != end) {
        return bail(recs, qat_fail(QAT_ERR_FORMAT, "packed model: %zu unexpected bytes after the last record", end - pos));
    }
    out->version = version;
    out->count = count;
    out->records = recs;
    return QAT_OK;
}

qat_status qatp_find(const qatp_file *f, const char *name, uint32_t kind, const qatp_record **rec)
{
    for (size_t i = 0; i < f->count; i++)
        if (strcmp(f->records[i].name, name) == 0) {
            if (f->records[i].kind != kind)
                return qat_fail(QAT_ERR_FORMAT, "packed model: record '%s' has kind %u, expected %u", name,
                                f->records[i].kind, kind);
            *rec = &f->records[i];
            return QAT_OK;
        }
    return qat_fail(QAT_ERR_FORMAT, "packed model: missing record '%s'", name);
}

int qatp_has(const qatp_file *f, const char *name)
{
    for (size_t i = 0; i < f->count; i++)
        if (strcmp(f->records[i].name, name) == 0)
            return 1;
    return 0;
}
