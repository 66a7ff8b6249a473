#include "formats/file_io.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

qat_status qat_formats_map_file(const char *path, qat_mapped_file *out)
{
    QAT_CHECK_ARG(path != NULL && out != NULL, "map file: NULL argument");
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return qat_fail(QAT_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return qat_fail(QAT_ERR_IO, "cannot stat '%s': %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return qat_fail(QAT_ERR_IO, "'%s' is not a regular file", path);
    }
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

void qat_formats_unmap_file(qat_mapped_file *file)
{
    if (file && file->map_base)
        munmap(file->map_base, file->size);
    if (file)
        memset(file, 0, sizeof *file);
}

qat_status qat_formats_atomic_open(const char *path, qat_atomic_file *out)
{
    QAT_CHECK_ARG(path != NULL && out != NULL, "atomic write: NULL argument");
    memset(out, 0, sizeof *out);
    size_t n = strlen(path);
    out->path = strdup(path);
    out->tmp_path = malloc(n + 16);
    if (!out->path || !out->tmp_path) {
        qat_formats_atomic_abort(out);
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "atomic write: out of memory");
    }
    snprintf(out->tmp_path, n + 16, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(out->tmp_path);
    if (fd < 0) {
        int e = errno;
        free(out->tmp_path);
        out->tmp_path = NULL;
        qat_formats_atomic_abort(out);
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
        qat_formats_atomic_abort(out);
        return qat_fail(QAT_ERR_IO, "cannot open '%s': %s", path, strerror(e));
    }
    return QAT_OK;
}

qat_status qat_formats_atomic_write(qat_atomic_file *af, const void *data, size_t n)
{
    if (n && fwrite(data, 1, n, af->file) != n)
        return qat_fail(QAT_ERR_IO, "cannot write '%s': %s", af->tmp_path, strerror(errno));
    return QAT_OK;
}

qat_status qat_formats_atomic_commit(qat_atomic_file *af)
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
        qat_formats_atomic_abort(af); /* removes the temporary file */
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
    qat_formats_atomic_abort(af); /* nothing left to remove: frees the strings */
    return QAT_OK;
}

void qat_formats_atomic_abort(qat_atomic_file *af)
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

qat_status qat_formats_read_small_file(const char *path, size_t max_size, char **text,
                                       size_t *size)
{
    QAT_CHECK_ARG(path != NULL && text != NULL, "read file: NULL argument");
    *text = NULL;
    qat_mapped_file mf;
    QAT_TRY(qat_formats_map_file(path, &mf));
    if (mf.size > max_size) {
        size_t n = mf.size;
        qat_formats_unmap_file(&mf);
        return qat_fail(QAT_ERR_FORMAT, "'%s' has %zu bytes, more than the %zu accepted", path, n,
                        max_size);
    }
    char *buf = malloc(mf.size + 1);
    if (!buf) {
        qat_formats_unmap_file(&mf);
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "read '%s': out of memory", path);
    }
    if (mf.size)
        memcpy(buf, mf.data, mf.size);
    buf[mf.size] = '\0';
    if (size)
        *size = mf.size;
    qat_formats_unmap_file(&mf);
    *text = buf;
    return QAT_OK;
}
