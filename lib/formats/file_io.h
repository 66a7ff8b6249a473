/* File access shared by the checkpoint readers and writers: read-only
 * memory maps (checkpoints are large and read once) and atomic writes
 * (a temporary file in the destination directory, fsync'ed, then renamed
 * over the destination, so a crash never leaves a half-written model). */
#ifndef QAT_LIB_FORMATS_FILE_IO_H
#define QAT_LIB_FORMATS_FILE_IO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "qat/core.h"

typedef struct qat_mapped_file {
    const uint8_t *data; /* NULL for an empty file */
    size_t size;
    void *map_base;      /* private: what munmap receives */
} qat_mapped_file;

/* Maps `path` read-only. Fails with QAT_ERR_IO naming the path and errno. */
qat_status qat_formats_map_file(const char *path, qat_mapped_file *out);
void qat_formats_unmap_file(qat_mapped_file *file);

/* An atomic writer: open creates "<path>.tmp-XXXXXX" beside `path`;
 * commit flushes, fsyncs, renames it over `path` and fsyncs the directory;
 * abort removes the temporary file. Commit and abort both release
 * everything, whatever the outcome (a failed commit removes the temporary
 * file too), so either ends the writer; calling abort afterwards, or on a
 * zeroed struct, is a harmless no-op. Writes go through `file` (stdio). */
typedef struct qat_atomic_file {
    FILE *file;
    char *tmp_path;
    char *path;
} qat_atomic_file;

qat_status qat_formats_atomic_open(const char *path, qat_atomic_file *out);
/* Writes n bytes, failing with QAT_ERR_IO on a short write. */
qat_status qat_formats_atomic_write(qat_atomic_file *af, const void *data, size_t n);
qat_status qat_formats_atomic_commit(qat_atomic_file *af);
void qat_formats_atomic_abort(qat_atomic_file *af);

/* Creates a directory and its missing parents (mkdir -p). */
qat_status qat_formats_mkdirs(const char *path);

/* Reads a whole (small, text) file into a NUL-terminated malloc'ed buffer;
 * refuses files over max_size bytes. */
qat_status qat_formats_read_small_file(const char *path, size_t max_size, char **text,
                                       size_t *size);

#endif
