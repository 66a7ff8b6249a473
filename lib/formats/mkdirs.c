#include "formats/file_io.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"

qat_status qat_formats_mkdirs(const char *path)
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
