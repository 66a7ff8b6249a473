/* The tokenizer inside a .qatp file: its source file(s) stored verbatim
 * ("tokenizer/<file name>" records, "tokenizer.mode" 1 = one file,
 * 2 = the files qat_tokenizer_save writes for a directory's tokenizer).
 * lib/packed_model/load_tokenizer.c reads them back from memory. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/file_io.h"
#include "export/export_internal.h"
#include "qat/tokenizer.h"

#define TOK_MAX_FILE_BYTES (256u << 20)

static qat_status put_file(qatp_writer *w, const char *path, const char *name)
{
    char *bytes = NULL;
    size_t size = 0;
    QAT_TRY(qat_file_read(path, TOK_MAX_FILE_BYTES, &bytes, &size));
    char rec[QATP_NAME_MAX + 1];
    snprintf(rec, sizeof rec, "tokenizer/%s", name);
    size_t mark;
    qat_status st = qatp_begin(w, QATP_BYTES, rec, &mark);
    if (st == QAT_OK)
        st = qatp_put(w, bytes, size);
    if (st == QAT_OK)
        st = qatp_end(w, mark);
    free(bytes);
    return st;
}

static qat_status put_mode(qatp_writer *w, int64_t mode)
{
    size_t mark;
    QAT_TRY(qatp_begin(w, QATP_I64, "tokenizer.mode", &mark));
    QAT_TRY(qatp_put_u64(w, (uint64_t)mode));
    return qatp_end(w, mark);
}

/* Every regular file of dir, as "tokenizer/<name>" records. */
static qat_status put_dir(qatp_writer *w, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return qat_fail(QAT_ERR_IO, "export: cannot read '%s'", dir);
    qat_status st = QAT_OK;
    struct dirent *e;
    char full[800];
    while (st == QAT_OK && (e = readdir(d)) != NULL) {
        struct stat sb;
        snprintf(full, sizeof full, "%s/%s", dir, e->d_name);
        if (e->d_name[0] != '.' && stat(full, &sb) == 0 && S_ISREG(sb.st_mode))
            st = put_file(w, full, e->d_name);
    }
    closedir(d);
    return st;
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char full[800];
    while (d && (e = readdir(d)) != NULL) {
        snprintf(full, sizeof full, "%s/%s", dir, e->d_name);
        if (e->d_name[0] != '.')
            unlink(full);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

qat_status pm_put_tokenizer(qatp_writer *w, const char *path)
{
    if (!path)
        return QAT_OK;
    /* Check it loads before embedding it. */
    qat_tokenizer *tok = NULL;
    QAT_TRY(qat_tokenizer_load(path, &tok));
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        qat_tokenizer_free(tok);
        if (stat(path, &sb) != 0)
            return qat_fail(QAT_ERR_IO, "export: cannot stat tokenizer path '%s'", path);
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        QAT_TRY(put_mode(w, 1));
        return put_file(w, path, base);
    }
    /* A directory: the files qat_tokenizer_save writes for what its loader
     * read there (the one file it chose, with what pins its ids). */
    const char *tmp = getenv("TMPDIR");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/qatp-tok-XXXXXX", tmp && tmp[0] && strlen(tmp) < 400 ? tmp : "/tmp");
    qat_status st = mkdtemp(dir) ? QAT_OK : qat_fail(QAT_ERR_IO, "export: cannot create a temporary directory");
    if (st == QAT_OK) {
        st = qat_tokenizer_save(tok, dir);
        if (st == QAT_OK)
            st = put_mode(w, 2);
        if (st == QAT_OK)
            st = put_dir(w, dir);
        remove_dir(dir);
    }
    qat_tokenizer_free(tok);
    return st;
}
