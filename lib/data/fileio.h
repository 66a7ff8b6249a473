/* File helpers shared by the data stages: crash-safe writes (a reader sees
 * the old file or the new one, never a torn one) and whole-file reads. */
#ifndef QAT_LIB_DATA_FILEIO_H
#define QAT_LIB_DATA_FILEIO_H

#include <stddef.h>

#include "qat/core.h"

/* Writes path.tmp, fsyncs it, renames it over path and fsyncs the folder. */
qat_status qat_data_write_atomic(const char *path, const void *data, size_t size);
/* Reads a whole file (gzip'ed or plain, through zlib) into a malloc'ed,
 * NUL-terminated buffer. */
qat_status qat_data_read_all(const char *path, char **data, size_t *size);
/* dir + "/" + name, malloc'ed. */
char *qat_data_join(const char *dir, const char *name);

#endif
