/* Zip container reader (APPNOTE.TXT 6.3). Layout, from the end:
 *   end of central directory (EOCD, 22 bytes + comment), possibly preceded
 *   by a zip64 EOCD locator (20 bytes) pointing at a zip64 EOCD record;
 *   the central directory (one 46-byte header + name + extra + comment per
 *   entry); before it, per entry, a 30-byte local header + name + extra,
 *   then the (compressed) data.
 * All sizes come from the central directory (local headers may defer them
 * to a data descriptor); local headers are checked to agree on the name
 * and method, and every entry's bytes must lie before the directory
 * without overlapping another entry. */
#include "formats/zip_reader.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/crc32.h"
#include "core/error.h"
#include "formats/half.h"

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_LOCATOR64 0x07064b50u
#define EOCD_SIZE 22u
#define LOCATOR64_SIZE 20u
#define EOCD64_MIN_SIZE 56u
#define CENTRAL_SIZE 46u
#define LOCAL_SIZE 30u
/* deflate cannot expand data by more than about 1032:1 */
#define MAX_DEFLATE_RATIO 1032u
/* What an archive may inflate to in all, counting the bytes inflated only
 * to check a CRC: 32 times its size, or 64 MiB for small ones. Weights
 * compress to about 0.9 of their size, so a real checkpoint never comes
 * near; a bomb (4.5 MB inflating to 4.1 GB) is refused before any of it is
 * inflated. */
#define INFLATE_RATIO_LIMIT 32u
#define INFLATE_FLOOR ((uint64_t)64 << 20)
/* The window the part of an entry nobody reads is inflated through. */
#define DISCARD_WINDOW (1u << 16)

typedef struct zip_entry {
    char *name;
    uint64_t comp_size, size;
    uint64_t local_offset; /* of the local header */
    uint64_t data_offset;  /* of the entry's bytes */
    uint32_t crc;
    uint16_t method, flags;
} zip_entry;

struct qat_zip {
    const uint8_t *base;
    size_t size;
    char *label;
    zip_entry *entries;
    size_t count;
    uint64_t inflate_budget; /* bytes deflated entries may still inflate to */
};

static uint16_t rd16(const uint8_t *p) { return qat_load_le16(p); }
static uint32_t rd32(const uint8_t *p) { return qat_load_le32(p); }
static uint64_t rd64(const uint8_t *p) { return qat_load_le64(p); }

#define ZFAIL(z, ...) zip_fail((z), __VA_ARGS__)
static qat_status zip_fail(const qat_zip *z, const char *fmt, ...) QAT_PRINTF(2, 3);
static qat_status zip_fail(const qat_zip *z, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return qat_fail(QAT_ERR_FORMAT, "%s: bad zip archive: %s", z->label, msg);
}

typedef struct eocd_info {
    uint64_t entries, cd_size, cd_offset;
    uint64_t limit; /* where the directory must end: start of the end records */
} eocd_info;

static qat_status find_end_records(const qat_zip *z, eocd_info *info)
{
    const uint8_t *b = z->base;
    size_t n = z->size;
    if (n < EOCD_SIZE)
        return ZFAIL(z, "%zu bytes, too short for an end-of-central-directory record", n);
    /* The EOCD is the last record; only a comment of <= 65535 bytes may
     * follow it. Take the last signature whose comment fits the file. */
    size_t lowest = n - EOCD_SIZE > 0xffff ? n - EOCD_SIZE - 0xffff : 0;
    size_t pos = n - EOCD_SIZE + 1;
    int found = 0;
    while (pos-- > lowest) {
        if (rd32(b + pos) == SIG_EOCD && pos + EOCD_SIZE + rd16(b + pos + 20) <= n) {
            found = 1;
            break;
        }
    }
    if (!found)
        return ZFAIL(z, "no end-of-central-directory record (truncated, or not a zip file)");
    const uint8_t *e = b + pos;
    uint16_t disk = rd16(e + 4), cd_disk = rd16(e + 6);
    uint64_t entries_disk = rd16(e + 8);
    info->entries = rd16(e + 10);
    info->cd_size = rd32(e + 12);
    info->cd_offset = rd32(e + 16);
    info->limit = pos;
    int wants64 = info->entries == 0xffff || entries_disk == 0xffff ||
                  info->cd_size == 0xffffffffu || info->cd_offset == 0xffffffffu;
    if (pos >= LOCATOR64_SIZE && rd32(b + pos - LOCATOR64_SIZE) == SIG_LOCATOR64) {
        const uint8_t *loc = b + pos - LOCATOR64_SIZE;
        uint64_t off = rd64(loc + 8);
        if (rd32(loc + 4) != 0 || rd32(loc + 16) > 1)
            return ZFAIL(z, "multi-disk archives are not supported");
        if (off > pos - LOCATOR64_SIZE || pos - LOCATOR64_SIZE - off < EOCD64_MIN_SIZE)
            return ZFAIL(z, "zip64 end record offset %llu is out of range", (unsigned long long)off);
        const uint8_t *r = b + off;
        if (rd32(r) != SIG_EOCD64)
            return ZFAIL(z, "no zip64 end record at offset %llu", (unsigned long long)off);
        disk = (uint16_t)(rd32(r + 16) != 0);
        cd_disk = (uint16_t)(rd32(r + 20) != 0);
        entries_disk = rd64(r + 24);
        info->entries = rd64(r + 32);
        info->cd_size = rd64(r + 40);
        info->cd_offset = rd64(r + 48);
        info->limit = off;
    } else if (wants64) {
        return ZFAIL(z, "end record has zip64 markers but no zip64 end record locator");
    }
    if (disk != 0 || cd_disk != 0 || entries_disk != info->entries)
        return ZFAIL(z, "multi-disk archives are not supported");
    if (info->cd_offset > info->limit || info->cd_size > info->limit - info->cd_offset)
        return ZFAIL(z, "central directory [%llu, +%llu) runs past its end record at %llu",
                     (unsigned long long)info->cd_offset, (unsigned long long)info->cd_size,
                     (unsigned long long)info->limit);
    if (info->entries > info->cd_size / CENTRAL_SIZE)
        return ZFAIL(z, "%llu entries cannot fit a %llu-byte central directory",
                     (unsigned long long)info->entries, (unsigned long long)info->cd_size);
    return QAT_OK;
}

/* Applies the zip64 extended information extra field (id 1): it holds, in
 * this order, exactly the fields saturated in the fixed header. */
static qat_status apply_zip64_extra(const qat_zip *z, const uint8_t *extra, size_t len,
                                    zip_entry *e, int need_size, int need_comp, int need_off,
                                    int need_disk)
{
    size_t at = 0;
    int seen = 0;
    while (at + 4 <= len) {
        uint16_t id = rd16(extra + at), sz = rd16(extra + at + 2);
        if (sz > len - at - 4)
            return ZFAIL(z, "entry \"%s\": extra field runs past its end", e->name);
        const uint8_t *p = extra + at + 4;
        if (id == 0x0001) {
            size_t need = 8u * (size_t)(need_size + need_comp + need_off) + 4u * (size_t)need_disk;
            if (sz < need)
                return ZFAIL(z, "entry \"%s\": zip64 extra field too short", e->name);
            if (need_size) { e->size = rd64(p); p += 8; }
            if (need_comp) { e->comp_size = rd64(p); p += 8; }
            if (need_off) { e->local_offset = rd64(p); p += 8; }
            if (need_disk && rd32(p) != 0)
                return ZFAIL(z, "entry \"%s\": multi-disk archives are not supported", e->name);
            seen = 1;
        }
        at += 4u + sz;
    }
    if ((need_size || need_comp || need_off || need_disk) && !seen)
        return ZFAIL(z, "entry \"%s\": zip64 sizes announced but no zip64 extra field", e->name);
    return QAT_OK;
}

static qat_status parse_central(qat_zip *z, const eocd_info *info)
{
    const uint8_t *b = z->base;
    uint64_t at = info->cd_offset, end = info->cd_offset + info->cd_size;
    for (uint64_t i = 0; i < info->entries; i++) {
        if (end - at < CENTRAL_SIZE || rd32(b + at) != SIG_CENTRAL)
            return ZFAIL(z, "central directory entry %llu at offset %llu is missing or corrupt",
                         (unsigned long long)i, (unsigned long long)at);
        const uint8_t *h = b + at;
        uint16_t name_len = rd16(h + 28), extra_len = rd16(h + 30), comment_len = rd16(h + 32);
        uint64_t total = (uint64_t)CENTRAL_SIZE + name_len + extra_len + comment_len;
        if (total > end - at)
            return ZFAIL(z, "central directory entry %llu runs past the directory",
                         (unsigned long long)i);
        zip_entry *e = &z->entries[z->count];
        memset(e, 0, sizeof *e);
        if (name_len == 0 || memchr(h + CENTRAL_SIZE, 0, name_len))
            return ZFAIL(z, "entry %llu has an empty name or a NUL in its name", (unsigned long long)i);
        e->name = malloc((size_t)name_len + 1);
        if (!e->name)
            return qat_fail(QAT_ERR_OUT_OF_MEMORY, "%s: out of memory", z->label);
        memcpy(e->name, h + CENTRAL_SIZE, name_len);
        e->name[name_len] = '\0';
        z->count++;
        e->flags = rd16(h + 8);
        e->method = rd16(h + 10);
        e->crc = rd32(h + 16);
        e->comp_size = rd32(h + 20);
        e->size = rd32(h + 24);
        e->local_offset = rd32(h + 42);
        QAT_TRY(apply_zip64_extra(z, h + CENTRAL_SIZE + name_len, extra_len, e,
                                  e->size == 0xffffffffu, e->comp_size == 0xffffffffu,
                                  e->local_offset == 0xffffffffu, rd16(h + 34) == 0xffff));
        if (rd16(h + 34) != 0 && rd16(h + 34) != 0xffff)
            return ZFAIL(z, "entry \"%s\": multi-disk archives are not supported", e->name);
        at += total;
    }
    if (at != end)
        return ZFAIL(z, "%llu unexpected bytes at the end of the central directory",
                     (unsigned long long)(end - at));
    return QAT_OK;
}

/* Local header of e: must lie before the directory, agree with the central
 * entry, and be followed by the entry's bytes (also before the directory). */
static qat_status check_local(const qat_zip *z, zip_entry *e, uint64_t cd_offset)
{
    const uint8_t *b = z->base;
    if (e->local_offset > cd_offset || cd_offset - e->local_offset < LOCAL_SIZE ||
        rd32(b + e->local_offset) != SIG_LOCAL)
        return ZFAIL(z, "entry \"%s\": no local header at offset %llu", e->name,
                     (unsigned long long)e->local_offset);
    const uint8_t *h = b + e->local_offset;
    uint16_t name_len = rd16(h + 26), extra_len = rd16(h + 28);
    uint64_t data = e->local_offset + LOCAL_SIZE + name_len + extra_len;
    if (data > cd_offset)
        return ZFAIL(z, "entry \"%s\": local header runs into the central directory", e->name);
    if (name_len != strlen(e->name) || memcmp(h + LOCAL_SIZE, e->name, name_len) != 0)
        return ZFAIL(z, "entry \"%s\": local header names a different file", e->name);
    if (rd16(h + 8) != e->method)
        return ZFAIL(z, "entry \"%s\": local and central headers disagree on the compression method",
                     e->name);
    if (e->comp_size > cd_offset - data)
        return ZFAIL(z, "entry \"%s\": %llu bytes of data at offset %llu run past the archive's "
                     "entries (truncated?)", e->name, (unsigned long long)e->comp_size,
                     (unsigned long long)data);
    e->data_offset = data;
    return QAT_OK;
}

static int by_offset(const void *a, const void *b)
{
    const zip_entry *x = *(const zip_entry *const *)a, *y = *(const zip_entry *const *)b;
    return x->local_offset < y->local_offset ? -1 : x->local_offset > y->local_offset;
}
static int by_name(const void *a, const void *b)
{
    return strcmp((*(const zip_entry *const *)a)->name, (*(const zip_entry *const *)b)->name);
}

/* Overlapping entries are how "zip bombs" multiply one compressed stream;
 * duplicate names make "which one?" ambiguous. Both are refused. */
static qat_status check_layout(const qat_zip *z)
{
    if (z->count < 2)
        return QAT_OK;
    const zip_entry **order = malloc(z->count * sizeof *order);
    if (!order)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "%s: out of memory", z->label);
    for (size_t i = 0; i < z->count; i++)
        order[i] = &z->entries[i];
    qat_status st = QAT_OK;
    qsort(order, z->count, sizeof *order, by_name);
    for (size_t i = 1; i < z->count && st == QAT_OK; i++)
        if (strcmp(order[i - 1]->name, order[i]->name) == 0)
            st = ZFAIL(z, "two entries are named \"%s\"", order[i]->name);
    qsort(order, z->count, sizeof *order, by_offset);
    for (size_t i = 1; i < z->count && st == QAT_OK; i++)
        if (order[i - 1]->data_offset + order[i - 1]->comp_size > order[i]->local_offset)
            st = ZFAIL(z, "entries \"%s\" and \"%s\" overlap", order[i - 1]->name, order[i]->name);
    free(order);
    return st;
}

qat_status qat_formats_zip_open(const uint8_t *data, size_t size, const char *label, qat_zip **out)
{
    QAT_CHECK_ARG(out != NULL && (data != NULL || size == 0), "zip: NULL argument");
    *out = NULL;
    qat_zip *z = calloc(1, sizeof *z);
    if (!z || !(z->label = strdup(label ? label : "zip archive"))) {
        free(z);
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "zip: out of memory");
    }
    z->base = data;
    z->size = size;
    z->inflate_budget = (uint64_t)size * INFLATE_RATIO_LIMIT;
    if (z->inflate_budget < INFLATE_FLOOR)
        z->inflate_budget = INFLATE_FLOOR;
    eocd_info info = {0, 0, 0, 0};
    qat_status st = find_end_records(z, &info);
    if (st == QAT_OK) {
        z->entries = calloc(info.entries ? (size_t)info.entries : 1, sizeof *z->entries);
        if (!z->entries)
            st = qat_fail(QAT_ERR_OUT_OF_MEMORY, "%s: out of memory", z->label);
    }
    if (st == QAT_OK)
        st = parse_central(z, &info);
    for (size_t i = 0; st == QAT_OK && i < z->count; i++)
        st = check_local(z, &z->entries[i], info.cd_offset);
    if (st == QAT_OK)
        st = check_layout(z);
    if (st != QAT_OK) {
        qat_formats_zip_free(z);
        return st;
    }
    *out = z;
    return QAT_OK;
}

void qat_formats_zip_free(qat_zip *zip)
{
    if (!zip)
        return;
    for (size_t i = 0; i < zip->count; i++)
        free(zip->entries[i].name);
    free(zip->entries);
    free(zip->label);
    free(zip);
}

size_t qat_formats_zip_count(const qat_zip *zip)
{
    return zip ? zip->count : 0;
}

const char *qat_formats_zip_name(const qat_zip *zip, size_t i)
{
    return zip && i < zip->count ? zip->entries[i].name : NULL;
}

uint64_t qat_formats_zip_size(const qat_zip *zip, size_t i)
{
    return zip && i < zip->count ? zip->entries[i].size : 0;
}

int qat_formats_zip_find(const qat_zip *zip, const char *name, size_t *index)
{
    for (size_t i = 0; zip && name && i < zip->count; i++) {
        if (strcmp(zip->entries[i].name, name) == 0) {
            if (index)
                *index = i;
            return 1;
        }
    }
    return 0;
}

/* Inflates entry e, its first `keep` bytes into dst and the rest through a
 * small window (checked, never held), and returns the CRC-32 of all of it. */
static qat_status inflate_entry(const qat_zip *z, const zip_entry *e, uint8_t *dst, uint64_t keep, uint32_t *crc_out)
{
    z_stream s;
    memset(&s, 0, sizeof s);
    if (inflateInit2(&s, -MAX_WBITS) != Z_OK) /* raw deflate, no zlib header */
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "%s: cannot start zlib", z->label);
    uint8_t *window = malloc(DISCARD_WINDOW); /* also where a longer stream shows */
    if (!window) {
        inflateEnd(&s);
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "%s: out of memory", z->label);
    }
    const uint8_t *src = z->base + e->data_offset;
    uint64_t in_left = e->comp_size, produced = 0;
    uLong crc = crc32(0L, Z_NULL, 0);
    int ret = Z_OK, overrun = 0;
    while (ret == Z_OK) {
        if (s.avail_in == 0 && in_left) {
            s.avail_in = in_left > (1u << 30) ? (1u << 30) : (uInt)in_left;
            s.next_in = (Bytef *)(uintptr_t)src;
            src += s.avail_in;
            in_left -= s.avail_in;
        }
        /* one byte of room past the declared size shows a longer stream */
        uint64_t room = produced < keep ? keep - produced : e->size - produced + 1;
        uint8_t *out = produced < keep ? dst + produced : window;
        if (produced >= keep && room > DISCARD_WINDOW)
            room = DISCARD_WINDOW;
        if (room > (1u << 30))
            room = 1u << 30;
        s.next_out = out;
        s.avail_out = (uInt)room;
        ret = inflate(&s, Z_NO_FLUSH);
        uInt got = (uInt)room - s.avail_out;
        produced += got;
        if (produced > e->size) {
            overrun = 1;
            break;
        }
        crc = crc32(crc, out, got);
        if (ret == Z_BUF_ERROR && s.avail_in == 0 && in_left == 0)
            break; /* input exhausted before the end of the stream */
        if (ret == Z_BUF_ERROR)
            ret = Z_OK;
    }
    inflateEnd(&s);
    free(window);
    if (overrun || ret != Z_STREAM_END)
        return ZFAIL(z, "entry \"%s\": corrupt deflate data (%s)", e->name,
                     ret == Z_DATA_ERROR ? "invalid stream"
                     : overrun || ret == Z_BUF_ERROR ? "truncated, or larger than its declared size"
                                                     : "zlib error");
    if (produced != e->size)
        return ZFAIL(z, "entry \"%s\": inflates to %llu bytes, the directory says %llu", e->name,
                     (unsigned long long)produced, (unsigned long long)e->size);
    *crc_out = (uint32_t)crc;
    return QAT_OK;
}

qat_status qat_formats_zip_read(qat_zip *zip, size_t i, qat_zip_data *out)
{
    return qat_formats_zip_read_prefix(zip, i, UINT64_MAX, out);
}

qat_status qat_formats_zip_read_prefix(qat_zip *zip, size_t i, uint64_t prefix, qat_zip_data *out)
{
    QAT_CHECK_ARG(zip != NULL && out != NULL && i < zip->count, "zip read: bad argument");
    memset(out, 0, sizeof *out);
    const zip_entry *e = &zip->entries[i];
    if (e->flags & 0x41)
        return qat_fail(QAT_ERR_UNSUPPORTED, "%s: entry \"%s\" is encrypted", zip->label, e->name);
    if (e->size > SIZE_MAX - 1)
        return qat_fail(QAT_ERR_UNSUPPORTED, "%s: entry \"%s\" is too large", zip->label, e->name);
    uint32_t crc = 0;
    if (e->method == 0) {
        if (e->comp_size != e->size)
            return ZFAIL(zip, "stored entry \"%s\" has %llu bytes but declares %llu", e->name,
                         (unsigned long long)e->comp_size, (unsigned long long)e->size);
        out->data = zip->base + e->data_offset;
        out->size = (size_t)(prefix < e->size ? prefix : e->size);
        crc = qat_crc32(out->data, (size_t)e->size);
    } else if (e->method == 8) {
        if (e->size / MAX_DEFLATE_RATIO > e->comp_size + 1)
            return ZFAIL(zip, "entry \"%s\" claims %llu bytes from %llu compressed, more than "
                         "deflate can produce", e->name, (unsigned long long)e->size,
                         (unsigned long long)e->comp_size);
        if (e->size > zip->inflate_budget)
            return ZFAIL(zip, "entry \"%s\" inflates to %llu bytes, past the %llu that %zu bytes of archive may "
                         "inflate to (%ux, or 64 MiB): refused as a likely decompression bomb", e->name,
                         (unsigned long long)e->size, (unsigned long long)zip->inflate_budget, zip->size,
                         INFLATE_RATIO_LIMIT);
        zip->inflate_budget -= e->size;
        uint64_t keep = prefix < e->size ? prefix : e->size;
        uint8_t *buf = malloc(keep ? (size_t)keep : 1);
        if (!buf)
            return qat_fail(QAT_ERR_OUT_OF_MEMORY, "%s: out of memory for entry \"%s\" (%llu bytes)",
                            zip->label, e->name, (unsigned long long)keep);
        qat_status st = inflate_entry(zip, e, buf, keep, &crc);
        if (st != QAT_OK) {
            free(buf);
            return st;
        }
        out->data = buf;
        out->owned = buf;
        out->size = (size_t)keep;
    } else {
        return qat_fail(QAT_ERR_UNSUPPORTED, "%s: entry \"%s\" uses compression method %u; only "
                        "stored (0) and deflate (8) are supported", zip->label, e->name, e->method);
    }
    if (crc != e->crc) {
        qat_formats_zip_data_free(out);
        return ZFAIL(zip, "entry \"%s\": CRC-32 mismatch (stored %08x, computed %08x): the file is "
                     "corrupt", e->name, e->crc, crc);
    }
    return QAT_OK;
}

void qat_formats_zip_data_free(qat_zip_data *d)
{
    if (!d)
        return;
    free(d->owned);
    memset(d, 0, sizeof *d);
}
