/* File access for every part of the library, written once: read-only
 * memory maps (checkpoints are large and read once), atomic writes (a
 * temporary file beside the destination, fsync'ed, renamed over it, the
 * directory fsync'ed: a reader or a crash sees the old file or the whole
 * new one, never a torn one), whole-file reads (plain or gzip'ed, with a
 * size bound), mkdir -p and path joining. Every failure names the path. */
#ifndef QAT_LIB_CORE_FILE_IO_H
#define QAT_LIB_CORE_FILE_IO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "qat/core.h"

typedef struct qat_mapped_file {
    const uint8_t *data; /* NULL for an empty file */
    size_t size;
    void *map_base;      /* private: what munmap receives */
} qat_mapped_file;

/* Maps a regular file read-only. Fails with QAT_ERR_IO naming the path and errno. */
qat_status qat_file_map(const char *path, qat_mapped_file *out);
void qat_file_unmap(qat_mapped_file *file);

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

qat_status qat_atomic_open(const char *path, qat_atomic_file *out);
/* Writes n bytes, failing with QAT_ERR_IO on a short write. */
qat_status qat_atomic_write(qat_atomic_file *af, const void *data, size_t n);
qat_status qat_atomic_commit(qat_atomic_file *af);
void qat_atomic_abort(qat_atomic_file *af);

/* The whole of data as path's new content, atomically (the writer above). */
qat_status qat_file_write_atomic(const char *path, const void *data, size_t size);

/* No bound on qat_file_read's size: for files the caller made or that are
 * meant to be large (task files); parsers of outside files pass a bound. */
#define QAT_FILE_ANY_SIZE SIZE_MAX

/* Reads a whole regular file into a malloc'ed buffer with a NUL after its
 * *size bytes (size may be NULL). A gzip'ed file is decompressed (zlib
 * reads a plain one as it is). Refuses content over max_size bytes (after
 * decompression: a small .gz cannot exhaust memory) with QAT_ERR_FORMAT;
 * corrupt gzip data also fails with QAT_ERR_FORMAT, I/O with QAT_ERR_IO. */
qat_status qat_file_read(const char *path, size_t max_size, char **data, size_t *size);

/* Creates a directory and its missing parents (mkdir -p). */
qat_status qat_mkdirs(const char *path);

/* 1 when something exists at path (a file, a directory...). */
int qat_file_exists(const char *path);

/* dir + "/" + name, malloc'ed; NULL when out of memory. */
char *qat_path_join(const char *dir, const char *name);

#endif
