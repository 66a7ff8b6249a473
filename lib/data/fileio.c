#include "data/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "core/error.h"

char *qat_data_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p)
        return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

static qat_status fsync_parent(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "out of memory");
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    free(copy);
    if (fd < 0)
        return QAT_OK; /* best effort: some file systems refuse it */
    fsync(fd);
    close(fd);
    return QAT_OK;
}

qat_status qat_data_write_atomic(const char *path, const void *data, size_t size)
{
    size_t n = strlen(path);
    char *tmp = malloc(n + 5);
    if (!tmp)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "out of memory");
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".tmp", 5);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        qat_status st = qat_fail(QAT_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
        free(tmp);
        return st;
    }
    const char *p = data;
    size_t left = size;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            qat_status st = qat_fail(QAT_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
            close(fd);
            unlink(tmp);
            free(tmp);
            return st;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        qat_status st = qat_fail(QAT_ERR_IO, "cannot flush %s: %s", tmp, strerror(errno));
        unlink(tmp);
        free(tmp);
        return st;
    }
    if (rename(tmp, path) != 0) {
        qat_status st = qat_fail(QAT_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return st;
    }
    free(tmp);
    return fsync_parent(path);
}

qat_status qat_data_read_all(const char *path, char **data, size_t *size)
{
    *data = NULL;
    *size = 0;
    gzFile gz = gzopen(path, "rb");
    if (!gz)
        return qat_fail(QAT_ERR_IO, "cannot open %s: %s", path, strerror(errno ? errno : ENOENT));
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            gzclose(gz);
            return qat_fail(QAT_ERR_OUT_OF_MEMORY, "out of memory reading %s", path);
        }
        if (cap - len < (1 << 15)) {
            char *nb = cap > ((size_t)1 << 40) ? NULL : realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                gzclose(gz);
                return qat_fail(QAT_ERR_OUT_OF_MEMORY, "out of memory reading %s", path);
            }
            buf = nb;
            cap *= 2;
        }
        int r = gzread(gz, buf + len, (unsigned)(cap - len - 1));
        if (r > 0) {
            len += (size_t)r;
            continue;
        }
        int err = Z_OK;
        const char *msg = gzerror(gz, &err);
        if (r < 0 || (err != Z_OK && err != Z_STREAM_END)) {
            qat_status st = qat_fail(QAT_ERR_FORMAT, "%s: corrupt or truncated gzip data after %zu bytes: %s", path,
                                     len, msg);
            free(buf);
            gzclose(gz);
            return st;
        }
        break;
    }
    gzclose(gz);
    buf[len] = '\0';
    *data = buf;
    *size = len;
    return QAT_OK;
}
