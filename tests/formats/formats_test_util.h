/* Helpers shared by the formats suites: fixture paths (QAT_FORMATS_DATA,
 * made by gen_checkpoints.py), the reference dumps of refdump.py, whole-file
 * reads and scratch directories. Included once per test program. */
#ifndef QAT_FORMATS_TEST_UTIL_H
#define QAT_FORMATS_TEST_UTIL_H

#include <check.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/tensor_set.h"

static inline const char *data_dir(void)
{
    const char *d = getenv("QAT_FORMATS_DATA");
    ck_assert_msg(d != NULL, "QAT_FORMATS_DATA is not set (run through meson test)");
    return d;
}

/* data_dir()/rel in a static buffer (one path at a time per call site). */
static inline char *data_path(char *buf, size_t cap, const char *rel)
{
    snprintf(buf, cap, "%s/%s", data_dir(), rel);
    return buf;
}

static inline uint8_t *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n + 1);
    ck_assert(buf != NULL);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    buf[n] = 0;
    *size = (size_t)n;
    return buf;
}

static inline void spit(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_uint_eq(fwrite(data, 1, size, f), size);
    fclose(f);
}

static inline uint32_t rd_u32(const uint8_t **p)
{
    uint32_t v;
    memcpy(&v, *p, 4);
    *p += 4;
    return v;
}

/* Compares `set` with a reference dump: same tensor names (no more, no
 * fewer), shapes and bit-identical float32 data; same skipped names. */
static inline void assert_matches_ref(const qat_tensor_set *set, const char *ref_path)
{
    size_t size;
    uint8_t *buf = slurp(ref_path, &size);
    const uint8_t *p = buf;
    ck_assert_msg(size >= 12 && memcmp(p, "QATREF01", 8) == 0, "%s: not a reference dump", ref_path);
    p += 8;
    uint32_t n = rd_u32(&p);
    ck_assert_msg(qat_tensor_set_count(set) == n, "%s: %zu tensors loaded, reference has %u", ref_path,
                  qat_tensor_set_count(set), n);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t len = rd_u32(&p);
        char name[QAT_TENSOR_MAX_NAME + 1];
        ck_assert(len <= QAT_TENSOR_MAX_NAME);
        memcpy(name, p, len);
        name[len] = 0;
        p += len;
        uint32_t ndim = rd_u32(&p);
        const qat_tensor *t = qat_tensor_set_find(set, name);
        ck_assert_msg(t != NULL, "%s: tensor '%s' not loaded", ref_path, name);
        ck_assert_msg(t->ndim == (int)ndim, "'%s': ndim %d, reference %u", name, t->ndim, ndim);
        int64_t numel = 1;
        for (uint32_t d = 0; d < ndim; d++) {
            int64_t s;
            memcpy(&s, p, 8);
            p += 8;
            ck_assert_msg(t->shape[d] == s, "'%s': dim %u is %lld, reference %lld", name, d,
                          (long long)t->shape[d], (long long)s);
            numel *= s;
        }
        ck_assert_int_eq(t->numel, numel);
        /* memcmp: bit-exact, NaN payloads and signed zeros included */
        ck_assert_msg(numel == 0 || memcmp(t->data, p, (size_t)numel * 4) == 0,
                      "'%s': data differs from the reference", name);
        p += numel * 4;
    }
    uint32_t n_skipped = rd_u32(&p);
    ck_assert_msg(qat_tensor_set_skipped_count(set) == n_skipped, "%s: %zu skipped, reference %u",
                  ref_path, qat_tensor_set_skipped_count(set), n_skipped);
    for (uint32_t i = 0; i < n_skipped; i++) {
        uint32_t len = rd_u32(&p);
        int found = 0;
        for (size_t k = 0; k < qat_tensor_set_skipped_count(set); k++) {
            const char *s = qat_tensor_set_skipped(set, k);
            found |= strncmp(s, (const char *)p, len) == 0 && s[len] == ' ';
        }
        ck_assert_msg(found, "%s: skipped tensor '%.*s' not reported", ref_path, (int)len, p);
        p += len;
    }
    ck_assert_msg(p == buf + size, "%s: trailing bytes", ref_path);
    free(buf);
}

/* A fresh directory under $TMPDIR (or /tmp). */
static inline char *scratch_dir(void)
{
    const char *tmp = getenv("TMPDIR");
    char *path = malloc(512);
    snprintf(path, 512, "%s/qat-formats-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    ck_assert(mkdtemp(path) != NULL);
    return path;
}

/* Removes a scratch directory and its (flat) contents. */
static inline void remove_scratch(char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char sub[1024];
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        unlink(sub);
    }
    if (d)
        closedir(d);
    rmdir(path);
    free(path);
}

/* Number of entries of a directory (to see that no temporary file is left). */
static inline int count_entries(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

#endif
