/* The tokenizer inside a .qatp file: its source file(s) stored verbatim
 * ("tokenizer/<file name>" records, "tokenizer.mode" 1 = one file,
 * 2 = the files qat_tokenizer_save writes for a directory's tokenizer);
 * re-created on load by writing them to a private temporary directory and
 * loading that (removed at once). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/file_io.h"
#include "export/export_internal.h"
#include "export/packed_model.h"
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

/* A stored file name: plain, no directory part, not hidden. */
static int safe_name(const char *s)
{
    if (!s[0] || s[0] == '.')
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '.' ||
              *s == '_' || *s == '-'))
            return 0;
    return 1;
}

static qat_status write_all(const char *path, const uint8_t *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return qat_fail(QAT_ERR_IO, "packed model: cannot create '%s'", path);
    size_t done = n ? fwrite(data, 1, n, f) : 0;
    int bad = fclose(f) != 0 || done != n;
    return bad ? qat_fail(QAT_ERR_IO, "packed model: cannot write '%s'", path) : QAT_OK;
}

qat_status pm_load_tokenizer(const qatp_file *f, qat_packed_model *m)
{
    if (!qatp_has(f, "tokenizer.mode"))
        return QAT_OK;
    const qatp_record *mode_rec;
    QAT_TRY(qatp_find(f, "tokenizer.mode", QATP_I64, &mode_rec));
    if (mode_rec->size != 8)
        return qat_fail(QAT_ERR_FORMAT, "packed model: record 'tokenizer.mode' has %llu bytes, expected 8",
                        (unsigned long long)mode_rec->size);
    uint64_t mode = qatp_u64(mode_rec->payload);
    if (mode != 1 && mode != 2)
        return qat_fail(QAT_ERR_FORMAT, "packed model: unknown tokenizer mode %llu", (unsigned long long)mode);
    const char *tmp = getenv("TMPDIR");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/qatp-tok-XXXXXX", tmp && tmp[0] && strlen(tmp) < 400 ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return qat_fail(QAT_ERR_IO, "packed model: cannot create a temporary directory for the tokenizer");
    char path[800], first[800] = "";
    qat_status st = QAT_OK;
    size_t files = 0;
    for (size_t i = 0; st == QAT_OK && i < f->count; i++) {
        const qatp_record *r = &f->records[i];
        if (strncmp(r->name, "tokenizer/", 10) != 0)
            continue;
        const char *name = r->name + 10;
        if (r->kind != QATP_BYTES || !safe_name(name) || strlen(name) > 200) {
            st = qat_fail(QAT_ERR_FORMAT, "packed model: bad tokenizer record '%s'", r->name);
            break;
        }
        snprintf(path, sizeof path, "%s/%s", dir, name);
        st = write_all(path, r->payload, (size_t)r->size);
        if (st == QAT_OK && files++ == 0)
            snprintf(first, sizeof first, "%s", path);
    }
    if (st == QAT_OK && files == 0)
        st = qat_fail(QAT_ERR_FORMAT, "packed model: tokenizer mode set but no tokenizer file stored");
    if (st == QAT_OK && mode == 1 && files != 1)
        st = qat_fail(QAT_ERR_FORMAT, "packed model: single-file tokenizer with %zu files", files);
    if (st == QAT_OK) {
        st = qat_tokenizer_load(mode == 1 ? first : dir, &m->tokenizer);
        if (st != QAT_OK)
            st = qat_fail_prefix(QAT_ERR_FORMAT, "packed model: embedded tokenizer");
    }
    /* Remove what was written (names we created, nothing else). */
    for (size_t i = 0; i < f->count; i++) {
        const qatp_record *r = &f->records[i];
        if (strncmp(r->name, "tokenizer/", 10) == 0 && safe_name(r->name + 10) && strlen(r->name + 10) <= 200) {
            snprintf(path, sizeof path, "%s/%s", dir, r->name + 10);
            unlink(path);
        }
    }
    rmdir(dir);
    return st;
}
