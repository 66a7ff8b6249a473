#include "core/file_io.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/error.h"

/* Opens a regular file read-only: its descriptor and stat, or a failure
 * naming the path (a directory or a device is refused). */
static qat_status open_regular(const char *path, int *fd, struct stat *st)
{
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0)
        return qat_fail(QAT_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    if (fstat(*fd, st) != 0) {
        int e = errno;
        close(*fd);
        return qat_fail(QAT_ERR_IO, "cannot stat '%s': %s", path, strerror(e));
    }
    if (!S_ISREG(st->st_mode)) {
        close(*fd);
        return qat_fail(QAT_ERR_IO, "'%s' is not a regular file", path);
    }
    return QAT_OK;
}

qat_status qat_file_map(const char *path, qat_mapped_file *out)
{
    QAT_CHECK_ARG(path != NULL && out != NULL, "map file: NULL argument");
    memset(out, 0, sizeof *out);
    int fd;
    struct stat st;
    QAT_TRY(open_regular(path, &fd, &st));
    if (st.st_size == 0) { /* mmap of length 0 fails; an empty map is valid */
        close(fd);
        return QAT_OK;
    }
    if ((uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        return qat_fail(QAT_ERR_IO, "'%s' is too large to map", path);
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd); /* the mapping keeps the file alive */
    if (p == MAP_FAILED)
        return qat_fail(QAT_ERR_IO, "cannot map '%s': %s", path, strerror(e));
    out->map_base = p;
    out->data = p;
    out->size = (size_t)st.st_size;
    return QAT_OK;
}

void qat_file_unmap(qat_mapped_file *file)
{
    if (file && file->map_base)
        munmap(file->map_base, file->size);
    if (file)
        memset(file, 0, sizeof *file);
}

qat_status qat_atomic_open(const char *path, qat_atomic_file *out)
{
    QAT_CHECK_ARG(path != NULL && out != NULL, "atomic write: NULL argument");
    memset(out, 0, sizeof *out);
    size_t n = strlen(path);
    out->path = strdup(path);
    out->tmp_path = malloc(n + 16);
    if (!out->path || !out->tmp_path) {
        qat_atomic_abort(out);
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "atomic write: out of memory");
    }
    snprintf(out->tmp_path, n + 16, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(out->tmp_path);
    if (fd < 0) {
        int e = errno;
        free(out->tmp_path);
        out->tmp_path = NULL;
        qat_atomic_abort(out);
        return qat_fail(QAT_ERR_IO, "cannot create a temporary file beside '%s': %s", path,
                        strerror(e));
    }
    /* mkstemp gives 0600; a saved model should be as readable as an ordinary
     * file. (Reading the umask would mean changing it: process-wide state.) */
    fchmod(fd, 0644);
    out->file = fdopen(fd, "wb");
    if (!out->file) {
        int e = errno;
        close(fd);
        qat_atomic_abort(out);
        return qat_fail(QAT_ERR_IO, "cannot open '%s': %s", path, strerror(e));
    }
    return QAT_OK;
}

qat_status qat_atomic_write(qat_atomic_file *af, const void *data, size_t n)
{
    if (n && fwrite(data, 1, n, af->file) != n)
        return qat_fail(QAT_ERR_IO, "cannot write '%s': %s", af->tmp_path, strerror(errno));
    return QAT_OK;
}

qat_status qat_atomic_commit(qat_atomic_file *af)
{
    QAT_CHECK_ARG(af != NULL && af->file != NULL, "atomic write: not open");
    int ok = fflush(af->file) == 0 && fsync(fileno(af->file)) == 0;
    int e = errno;
    if (fclose(af->file) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    af->file = NULL;
    qat_status st = QAT_OK;
    if (!ok)
        st = qat_fail(QAT_ERR_IO, "cannot write '%s': %s", af->tmp_path, strerror(e));
    else if (rename(af->tmp_path, af->path) != 0)
        st = qat_fail(QAT_ERR_IO, "cannot rename '%s' to '%s': %s", af->tmp_path, af->path,
                      strerror(errno));
    if (st != QAT_OK) {
        qat_atomic_abort(af); /* removes the temporary file */
        return st;
    }
    free(af->tmp_path);
    af->tmp_path = NULL;
    /* The rename is durable only once the directory entry is synced. */
    char *dir_copy = strdup(af->path);
    if (dir_copy) {
        int dfd = open(dirname(dir_copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        free(dir_copy);
    }
    qat_atomic_abort(af); /* nothing left to remove: frees the strings */
    return QAT_OK;
}

void qat_atomic_abort(qat_atomic_file *af)
{
    if (!af)
        return;
    if (af->file)
        fclose(af->file);
    if (af->tmp_path)
        unlink(af->tmp_path);
    free(af->tmp_path);
    free(af->path);
    memset(af, 0, sizeof *af);
}

qat_status qat_file_write_atomic(const char *path, const void *data, size_t size)
{
    qat_atomic_file f;
    QAT_TRY(qat_atomic_open(path, &f));
    qat_status st = qat_atomic_write(&f, data, size);
    if (st != QAT_OK) {
        qat_atomic_abort(&f);
        return st;
    }
    return qat_atomic_commit(&f);
}

/* gzread's count is an int: read in chunks well below INT_MAX. */
#define READ_CHUNK ((size_t)1 << 24)

/* Reads the open gz stream into a growing buffer: 0 or a status. */
static qat_status read_stream(gzFile gz, const char *path, size_t hint, size_t max_size, char **data, size_t *size)
{
    /* A plain file fits at once (its size and the NUL, one byte to see the end) */
    size_t cap = (hint < max_size ? hint : max_size < 65536 ? max_size : 65536) + 2, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf)
            return qat_fail(QAT_ERR_OUT_OF_MEMORY, "reading '%s': out of memory", path);
        if (len + 1 == cap) { /* full: grow, but never past max_size + 1 (one byte shows an overflow) */
            size_t want = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
            if (max_size < SIZE_MAX && want > max_size + 2)
                want = max_size + 2;
            char *bigger = want > cap ? realloc(buf, want) : NULL;
            if (!bigger) {
                free(buf);
                return want > cap ? qat_fail(QAT_ERR_OUT_OF_MEMORY, "reading '%s': out of memory", path)
                                  : qat_fail(QAT_ERR_FORMAT, "'%s' holds more than the %zu bytes accepted", path,
                                             max_size);
            }
            buf = bigger;
            cap = want;
        }
        size_t room = cap - 1 - len;
        int r = gzread(gz, buf + len, (unsigned)(room < READ_CHUNK ? room : READ_CHUNK));
        if (r > 0) {
            len += (size_t)r;
            if (len > max_size) {
                free(buf);
                return qat_fail(QAT_ERR_FORMAT, "'%s' holds more than the %zu bytes accepted", path, max_size);
            }
            continue;
        }
        int err = Z_OK;
        const char *msg = gzerror(gz, &err);
        if (r < 0 || (err != Z_OK && err != Z_STREAM_END)) {
            free(buf);
            return err == Z_ERRNO ? qat_fail(QAT_ERR_IO, "cannot read '%s': %s", path, strerror(errno))
                                  : qat_fail(QAT_ERR_FORMAT, "'%s': corrupt or truncated gzip data after %zu bytes: %s",
                                             path, len, msg);
        }
        break;
    }
    buf[len] = '\0';
    *data = buf;
    *size = len;
    return QAT_OK;
}

qat_status qat_file_read(const char *path, size_t max_size, char **data, size_t *size)
{
    QAT_CHECK_ARG(path != NULL && data != NULL, "read file: NULL argument");
    *data = NULL;
    if (size)
        *size = 0;
    int fd;
    struct stat st;
    QAT_TRY(open_regular(path, &fd, &st));
    gzFile gz = gzdopen(fd, "rb"); /* owns fd from here */
    if (!gz) {
        close(fd);
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "reading '%s': out of memory", path);
    }
    gzbuffer(gz, 1 << 17);
    size_t len = 0;
    qat_status rc = read_stream(gz, path, (size_t)st.st_size, max_size, data, &len);
    gzclose(gz);
    if (rc == QAT_OK && size)
        *size = len;
    return rc;
}

qat_status qat_mkdirs(const char *path)
{
    QAT_CHECK_ARG(path != NULL && *path, "mkdirs: empty path");
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return qat_fail(QAT_ERR_INVALID_ARGUMENT, "mkdirs: path too long: %s", path);
    /* Create each missing component in turn, like mkdir -p. */
    for (char *p = buf + 1; ; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return qat_fail(QAT_ERR_IO, "cannot create %s: %s", buf, strerror(errno));
        *p = saved;
        if (saved == '\0')
            break;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return qat_fail(QAT_ERR_IO, "%s exists and is not a directory", path);
    return QAT_OK;
}

char *qat_path_join(const char *dir, const char *name)
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

int qat_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}
