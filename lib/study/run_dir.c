#include "study/run_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/atomic_dir.h"
#include "core/error.h"
#include "core/file_io.h"
#include "core/json.h"

qat_status qat_run_dir_open(const char *out_dir, qat_run_dir *rd)
{
    rd->lock_fd = -1;
    QAT_TRY(qat_mkdirs(out_dir));
    char path[4200];
    snprintf(path, sizeof path, "%s/.lock", out_dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return qat_fail(QAT_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (e == EWOULDBLOCK) {
            close(fd);
            return qat_fail(QAT_ERR_STATE, "%s is in use by another run (it holds %s)", out_dir, path);
        }
        /* A file system without locks: run unguarded rather than not at all. */
    }
    rd->lock_fd = fd;
    static const char *const dirs[] = {"", "/snapshots", "/shards"};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        snprintf(path, sizeof path, "%s%s", out_dir, dirs[i]);
        qat_status st = qat_remove_temporaries(path);
        if (st != QAT_OK) {
            qat_run_dir_close(rd);
            return st;
        }
    }
    return QAT_OK;
}

void qat_run_dir_close(qat_run_dir *rd)
{
    if (rd->lock_fd >= 0)
        close(rd->lock_fd); /* releases the lock */
    rd->lock_fd = -1;
}

#define RNG_FILE "qat_run_rng.json"

static qat_status save_rng(const qat_rng *rng, const char *dir)
{
    json_object *j = json_object_new_object(), *a = json_object_new_array();
    for (int i = 0; i < 4; i++) {
        char hex[24];
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)rng->s[i]);
        json_object_array_add(a, json_object_new_string(hex));
    }
    json_object_object_add(j, "xoshiro256", a);
    char *path = qat_path_join(dir, RNG_FILE);
    qat_status st = path ? qat_json_write_file(path, j) : qat_fail(QAT_ERR_OUT_OF_MEMORY, "out of memory");
    free(path);
    json_object_put(j);
    return st;
}

qat_status qat_run_load_rng(const char *dir, qat_rng *rng, int *found)
{
    *found = 0;
    char *path = qat_path_join(dir, RNG_FILE);
    if (!path)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "out of memory");
    qat_status st = QAT_OK;
    if (qat_file_exists(path)) {
        json_object *j = json_object_from_file(path), *a = NULL;
        qat_rng r;
        int ok = j && json_object_object_get_ex(j, "xoshiro256", &a) && json_object_is_type(a, json_type_array) &&
                 json_object_array_length(a) == 4;
        for (int i = 0; ok && i < 4; i++) {
            const char *hex = json_object_get_string(json_object_array_get_idx(a, (size_t)i));
            char *end = NULL;
            r.s[i] = hex ? (uint64_t)strtoull(hex, &end, 16) : 0;
            ok = hex && *hex && end && *end == '\0';
        }
        json_object_put(j);
        if (ok) {
            *rng = r;
            *found = 1;
        } else {
            st = qat_fail(QAT_ERR_FORMAT, "%s: expected {\"xoshiro256\": [four hex strings]}", path);
        }
    }
    free(path);
    return st;
}

qat_status qat_run_save_model(const qat_model *model, const qat_tokenizer *tok, const qat_rng *rng,
                              const char *dir)
{
    qat_atomic_dir d;
    QAT_TRY(qat_atomic_dir_open(dir, &d));
    qat_status st = qat_model_save(model, d.tmp_path);
    if (st == QAT_OK && tok)
        st = qat_tokenizer_save(tok, d.tmp_path);
    if (st == QAT_OK && rng)
        st = save_rng(rng, d.tmp_path);
    if (st != QAT_OK) {
        qat_atomic_dir_abort(&d);
        return qat_fail_prefix(st, "saving %s", dir);
    }
    return qat_atomic_dir_commit(&d);
}

int qat_run_has_model(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    struct stat st;
    return stat(path, &st) == 0;
}
