/* Building a .qatp file in memory, then writing it atomically. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/crc32.h"
#include "core/error.h"
#include "core/file_io.h"
#include "formats/qatp_format.h"

qat_status qatp_writer_init(qatp_writer *w)
{
    memset(w, 0, sizeof *w);
    uint8_t header[QATP_HEADER_BYTES] = {0};
    return qatp_put(w, header, sizeof header);
}

void qatp_writer_free(qatp_writer *w)
{
    free(w->data);
    memset(w, 0, sizeof *w);
}

qat_status qatp_put(qatp_writer *w, const void *bytes, size_t n)
{
    if (w->size + n > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < w->size + n)
            cap *= 2;
        uint8_t *d = realloc(w->data, cap);
        if (!d)
            return qat_fail(QAT_ERR_OUT_OF_MEMORY, "export: out of memory (%zu bytes)", cap);
        w->data = d;
        w->cap = cap;
    }
    if (n)
        memcpy(w->data + w->size, bytes, n);
    w->size += n;
    return QAT_OK;
}

static void store_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void store_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

qat_status qatp_put_u32(qatp_writer *w, uint32_t v)
{
    uint8_t b[4];
    store_u32(b, v);
    return qatp_put(w, b, 4);
}

qat_status qatp_put_u64(qatp_writer *w, uint64_t v)
{
    uint8_t b[8];
    store_u64(b, v);
    return qatp_put(w, b, 8);
}

qat_status qatp_put_f32s(qatp_writer *w, const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        QAT_TRY(qatp_put_u32(w, u));
    }
    return QAT_OK;
}

qat_status qatp_pad8(qatp_writer *w)
{
    static const uint8_t zeros[8] = {0};
    return qatp_put(w, zeros, (8 - w->size % 8) % 8);
}

qat_status qatp_begin(qatp_writer *w, uint32_t kind, const char *name, size_t *mark)
{
    size_t len = strlen(name);
    if (len == 0 || len > QATP_NAME_MAX)
        return qat_fail(QAT_ERR_INVALID_ARGUMENT, "export: record name '%s' is empty or too long", name);
    QAT_TRY(qatp_put_u32(w, kind));
    QAT_TRY(qatp_put_u32(w, (uint32_t)len));
    *mark = w->size;
    QAT_TRY(qatp_put_u64(w, 0));
    QAT_TRY(qatp_put(w, name, len));
    return qatp_pad8(w);
}

qat_status qatp_end(qatp_writer *w, size_t mark)
{
    size_t name_len = qatp_u32(w->data + mark - 4);
    size_t start = mark + 8 + name_len;
    start += (8 - start % 8) % 8;
    store_u64(w->data + mark, (uint64_t)(w->size - start));
    w->count++;
    return qatp_pad8(w);
}

qat_status qatp_writer_commit(qatp_writer *w, const char *path)
{
    memcpy(w->data, QATP_MAGIC, 8);
    store_u32(w->data + 8, QATP_VERSION);
    store_u32(w->data + 12, w->count);
    store_u64(w->data + 16, (uint64_t)w->size + QATP_TRAILER_BYTES);
    uint32_t crc = qat_crc32(w->data, w->size);
    QAT_TRY(qatp_put_u32(w, crc));
    QAT_TRY(qatp_put(w, QATP_TRAILER_MAGIC, 4));
    qat_atomic_file af;
    QAT_TRY(qat_atomic_open(path, &af));
    qat_status st = qat_atomic_write(&af, w->data, w->size);
    if (st != QAT_OK) {
        qat_atomic_abort(&af);
        return st;
    }
    return qat_atomic_commit(&af);
}
