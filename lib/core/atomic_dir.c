#define _GNU_SOURCE /* renameat2, nftw */
#include "core/atomic_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/file_io.h"

static qat_status fsync_path(const char *path, int flags)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | flags);
    if (fd < 0)
        return qat_fail(QAT_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    int ok = fsync(fd) == 0;
    int e = errno;
    close(fd);
    if (!ok)
        return qat_fail(QAT_ERR_IO, "cannot sync '%s': %s", path, strerror(e));
    return QAT_OK;
}

qat_status qat_sync_parent_dir(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "out of memory");
    char *slash = strrchr(copy, '/');
    const char *parent = ".";
    if (slash == copy)
        parent = "/";
    else if (slash) {
        *slash = '\0';
        parent = copy;
    }
    qat_status st = fsync_path(parent, O_DIRECTORY);
    free(copy);
    return st;
}

qat_status qat_atomic_dir_open(const char *path, qat_atomic_dir *out)
{
    QAT_CHECK_ARG(path != NULL && out != NULL, "atomic directory: NULL argument");
    memset(out, 0, sizeof *out);
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') /* "runs/x/model/" names runs/x/model */
        n--;
    out->path = strndup(path, n);
    out->tmp_path = malloc(n + 12);
    if (!out->path || !out->tmp_path) {
        qat_atomic_dir_abort(out);
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "atomic directory: out of memory");
    }
    snprintf(out->tmp_path, n + 12, "%s.tmp-XXXXXX", out->path);
    char *slash = strrchr(out->path, '/');
    if (slash && slash != out->path) {
        *slash = '\0';
        qat_status st = qat_mkdirs(out->path);
        *slash = '/';
        if (st != QAT_OK) {
            qat_atomic_dir_abort(out);
            return st;
        }
    }
    if (!mkdtemp(out->tmp_path)) {
        int e = errno;
        free(out->tmp_path);
        out->tmp_path = NULL;
        qat_status st = qat_fail(QAT_ERR_IO, "cannot create a temporary directory beside '%s': %s", out->path,
                                 strerror(e));
        qat_atomic_dir_abort(out);
        return st;
    }
    chmod(out->tmp_path, 0755); /* mkdtemp gives 0700; a model directory is an ordinary one */
    return QAT_OK;
}

static qat_status fsync_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return qat_fail(QAT_ERR_IO, "cannot open '%s': %s", dir, strerror(errno));
    qat_status st = QAT_OK;
    struct dirent *e;
    while (st == QAT_OK && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' && (e->d_name[1] == '\0' || (e->d_name[1] == '.' && e->d_name[2] == '\0')))
            continue;
        char *path = qat_path_join(dir, e->d_name);
        struct stat sb;
        if (!path)
            st = qat_fail(QAT_ERR_OUT_OF_MEMORY, "out of memory");
        else if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode))
            st = fsync_path(path, 0);
        else if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
            st = fsync_files(path);
        free(path);
    }
    closedir(d);
    return st == QAT_OK ? fsync_path(dir, O_DIRECTORY) : st;
}

qat_status qat_atomic_dir_commit(qat_atomic_dir *d)
{
    QAT_CHECK_ARG(d != NULL && d->tmp_path != NULL, "atomic directory: not open");
    qat_status st = fsync_files(d->tmp_path);
    if (st == QAT_OK && rename(d->tmp_path, d->path) != 0) {
        if (errno != ENOTEMPTY && errno != EEXIST)
            st = qat_fail(QAT_ERR_IO, "cannot rename '%s' to '%s': %s", d->tmp_path, d->path, strerror(errno));
        /* An older directory is there: swap them, then remove the old one
         * (now under the temporary name, which start-up cleaning also
         * removes should this process die first). */
        else if (renameat2(AT_FDCWD, d->tmp_path, AT_FDCWD, d->path, RENAME_EXCHANGE) != 0)
            st = qat_fail(QAT_ERR_IO, "cannot replace '%s' with '%s': %s", d->path, d->tmp_path, strerror(errno));
        else
            st = qat_remove_tree(d->tmp_path);
    } else if (st == QAT_OK) {
        free(d->tmp_path); /* renamed: nothing to remove */
        d->tmp_path = NULL;
    }
    if (st == QAT_OK)
        st = qat_sync_parent_dir(d->path);
    qat_atomic_dir_abort(d);
    return st;
}

void qat_atomic_dir_abort(qat_atomic_dir *d)
{
    if (!d)
        return;
    if (d->tmp_path)
        qat_remove_tree(d->tmp_path);
    free(d->tmp_path);
    free(d->path);
    memset(d, 0, sizeof *d);
}

static int remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    return (type == FTW_DP ? rmdir(path) : unlink(path)) != 0 && errno != ENOENT ? -1 : 0;
}

qat_status qat_remove_tree(const char *path)
{
    QAT_CHECK_ARG(path != NULL, "remove: NULL path");
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return errno == ENOENT ? QAT_OK : qat_fail(QAT_ERR_IO, "cannot stat '%s': %s", path, strerror(errno));
    if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return qat_fail(QAT_ERR_IO, "cannot remove '%s': %s", path, strerror(errno));
    return QAT_OK;
}

/* "<name>.tmp-" followed by mkstemp's six characters, at the end. */
static int is_temporary(const char *name)
{
    size_t n = strlen(name);
    if (n <= 11 || strncmp(name + n - 11, ".tmp-", 5) != 0)
        return 0;
    for (size_t i = n - 6; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
              (name[i] >= '0' && name[i] <= '9')))
            return 0;
    return 1;
}

qat_status qat_remove_temporaries(const char *dir)
{
    QAT_CHECK_ARG(dir != NULL, "remove temporaries: NULL directory");
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? QAT_OK : qat_fail(QAT_ERR_IO, "cannot open '%s': %s", dir, strerror(errno));
    qat_status st = QAT_OK;
    struct dirent *e;
    while (st == QAT_OK && (e = readdir(d)) != NULL) {
        if (!is_temporary(e->d_name))
            continue;
        char *path = qat_path_join(dir, e->d_name);
        st = path ? qat_remove_tree(path) : qat_fail(QAT_ERR_OUT_OF_MEMORY, "out of memory");
        free(path);
    }
    closedir(d);
    return st;
}
