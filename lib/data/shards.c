#include "data/shards.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/file_io.h"

static const char magic[8] = {'Q', 'A', 'T', 'T', 'O', 'K', 'S', '1'};

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p)
{
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

qat_status qat_data_shard_encode(const int32_t *ids, uint64_t n_seqs, uint32_t seq_len, uint32_t token_bytes,
                                 uint8_t **image, size_t *size)
{
    QAT_CHECK_ARG(token_bytes == 2 || token_bytes == 4, "shard: token size must be 2 or 4 bytes");
    size_t n = (size_t)n_seqs * seq_len;
    size_t bytes = QAT_DATA_SHARD_HEADER + n * token_bytes;
    uint8_t *p = malloc(bytes);
    if (!p)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "shard: out of memory (%zu bytes)", bytes);
    memcpy(p, magic, 8);
    put_u32(p + 8, 1);
    put_u32(p + 12, token_bytes);
    put_u32(p + 16, seq_len);
    put_u32(p + 20, 0);
    put_u64(p + 24, n_seqs);
    uint8_t *t = p + QAT_DATA_SHARD_HEADER;
    for (size_t i = 0; i < n; i++) {
        uint32_t v = (uint32_t)ids[i];
        t[i * token_bytes] = (uint8_t)v;
        t[i * token_bytes + 1] = (uint8_t)(v >> 8);
        if (token_bytes == 4) {
            t[i * 4 + 2] = (uint8_t)(v >> 16);
            t[i * 4 + 3] = (uint8_t)(v >> 24);
        }
    }
    *image = p;
    *size = bytes;
    return QAT_OK;
}

typedef struct mapped {
    const uint8_t *base;
    size_t size;
    uint64_t n_seqs;
    uint64_t first; /* global index of its first sequence */
} mapped;

struct qat_data_shards {
    mapped *maps;
    size_t n_maps;
    uint64_t total;
    uint32_t seq_len, token_bytes;
    int64_t vocab;
};

void qat_data_shards_close(qat_data_shards *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_maps; i++)
        if (s->maps[i].base)
            munmap((void *)s->maps[i].base, s->maps[i].size);
    free(s->maps);
    free(s);
}

static int64_t jint(json_object *o, const char *key, int *ok)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int)) {
        *ok = 0;
        return 0;
    }
    return json_object_get_int64(v);
}

static qat_status map_shard(const char *dir, const char *file, mapped *m, const qat_data_shards *s)
{
    if (strchr(file, '/') || strcmp(file, "..") == 0)
        return qat_fail(QAT_ERR_FORMAT, "shards in %s: manifest names '%s', which is not a file of the folder", dir,
                        file);
    char *path = qat_path_join(dir, file);
    if (!path)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "out of memory");
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        qat_status e = qat_fail(QAT_ERR_IO, "cannot open shard %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        free(path);
        return e;
    }
    size_t want = QAT_DATA_SHARD_HEADER + (size_t)m->n_seqs * s->seq_len * s->token_bytes;
    if ((size_t)st.st_size != want) {
        close(fd);
        qat_status e = qat_fail(QAT_ERR_FORMAT, "shard %s has %lld bytes, the manifest implies %zu (truncated?)",
                                path, (long long)st.st_size, want);
        free(path);
        return e;
    }
    void *p = mmap(NULL, want, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        qat_status e = qat_fail(QAT_ERR_IO, "cannot map shard %s: %s", path, strerror(errno));
        free(path);
        return e;
    }
    m->base = p;
    m->size = want;
    const uint8_t *h = p;
    if (memcmp(h, magic, 8) != 0 || get_u32(h + 8) != 1 || get_u32(h + 12) != s->token_bytes ||
        get_u32(h + 16) != s->seq_len || get_u64(h + 24) != m->n_seqs) {
        qat_status e = qat_fail(QAT_ERR_FORMAT, "shard %s: header does not match the manifest", path);
        free(path);
        return e;
    }
    free(path);
    return QAT_OK;
}

qat_status qat_data_shards_open(const char *dir, int allow_incomplete, qat_data_shards **out)
{
    QAT_CHECK_ARG(out != NULL && dir != NULL, "shards: NULL argument");
    *out = NULL;
    char *mpath = qat_path_join(dir, QAT_DATA_MANIFEST);
    if (!mpath)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "out of memory");
    json_object *root = json_object_from_file(mpath);
    if (!root) {
        qat_status e = qat_fail(access(mpath, F_OK) == 0 ? QAT_ERR_FORMAT : QAT_ERR_NOT_FOUND,
                                "shards: cannot read %s (%s)", mpath, json_util_get_last_err());
        free(mpath);
        return e;
    }
    qat_status st = QAT_OK;
    qat_data_shards *s = calloc(1, sizeof *s);
    json_object *shards = NULL, *done = NULL, *fmt = NULL;
    int ok = 1;
    if (!s) {
        st = qat_fail(QAT_ERR_OUT_OF_MEMORY, "out of memory");
        goto fail;
    }
    s->seq_len = (uint32_t)jint(root, "seq_len", &ok);
    s->token_bytes = (uint32_t)jint(root, "token_bytes", &ok);
    s->vocab = jint(root, "vocab_size", &ok);
    if (!ok || !json_object_object_get_ex(root, "format", &fmt) ||
        strcmp(json_object_get_string(fmt), "qat-token-shards") != 0 ||
        !json_object_object_get_ex(root, "shards", &shards) || !json_object_is_type(shards, json_type_array) ||
        !json_object_object_get_ex(root, "done", &done) || s->seq_len == 0 ||
        (s->token_bytes != 2 && s->token_bytes != 4) || s->vocab <= 0) {
        st = qat_fail(QAT_ERR_FORMAT, "shards: %s is not a valid token-shard manifest", mpath);
        goto fail;
    }
    if (!json_object_get_boolean(done) && !allow_incomplete) {
        st = qat_fail(QAT_ERR_STATE, "shards: pre-tokenization into %s is unfinished; run it again to complete it",
                      dir);
        goto fail;
    }
    s->n_maps = json_object_array_length(shards);
    s->maps = calloc(s->n_maps ? s->n_maps : 1, sizeof *s->maps);
    if (!s->maps) {
        st = qat_fail(QAT_ERR_OUT_OF_MEMORY, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < s->n_maps; i++) {
        json_object *e = json_object_array_get_idx(shards, i), *file;
        int eok = 1;
        int64_t n = jint(e, "sequences", &eok);
        if (!eok || n < 0 || !json_object_object_get_ex(e, "file", &file)) {
            st = qat_fail(QAT_ERR_FORMAT, "shards: entry %zu of %s is malformed", i, mpath);
            goto fail;
        }
        s->maps[i].n_seqs = (uint64_t)n;
        s->maps[i].first = s->total;
        s->total += (uint64_t)n;
        st = map_shard(dir, json_object_get_string(file), &s->maps[i], s);
        if (st != QAT_OK)
            goto fail;
    }
    json_object_put(root);
    free(mpath);
    *out = s;
    return QAT_OK;
fail:
    json_object_put(root);
    free(mpath);
    qat_data_shards_close(s);
    return st;
}

uint64_t qat_data_shards_count(const qat_data_shards *s)
{
    return s->total;
}

uint32_t qat_data_shards_seq_len(const qat_data_shards *s)
{
    return s->seq_len;
}

int64_t qat_data_shards_vocab_size(const qat_data_shards *s)
{
    return s->vocab;
}

qat_status qat_data_shards_get(const qat_data_shards *s, uint64_t index, int32_t *ids)
{
    QAT_CHECK_ARG(s != NULL && ids != NULL, "shards: NULL argument");
    QAT_CHECK_ARG(index < s->total, "shards: sequence %llu out of range (%llu sequences)",
                  (unsigned long long)index, (unsigned long long)s->total);
    size_t lo = 0, hi = s->n_maps; /* last map with first <= index */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (s->maps[mid].first <= index)
            lo = mid;
        else
            hi = mid;
    }
    while (s->maps[lo].n_seqs == 0 || index >= s->maps[lo].first + s->maps[lo].n_seqs)
        lo++;
    const mapped *m = &s->maps[lo];
    const uint8_t *t = m->base + QAT_DATA_SHARD_HEADER +
                       (size_t)(index - m->first) * s->seq_len * s->token_bytes;
    for (uint32_t i = 0; i < s->seq_len; i++) {
        uint32_t v = s->token_bytes == 2 ? (uint32_t)t[2 * i] | (uint32_t)t[2 * i + 1] << 8 : get_u32(t + 4 * i);
        if ((int64_t)v >= s->vocab)
            return qat_fail(QAT_ERR_FORMAT, "shards: token %u of sequence %llu is outside the vocabulary (%lld)", v,
                            (unsigned long long)index, (long long)s->vocab);
        ids[i] = (int32_t)v;
    }
    return QAT_OK;
}
