/* Reader of the golden files written by golden_io.py. */
#ifndef QAT_TEST_GOLDEN_H
#define QAT_TEST_GOLDEN_H

#include <stddef.h>
#include <stdint.h>

typedef struct golden_record {
    char *name;
    int dtype; /* 0 float32, 1 int32, 2 bytes */
    int ndim;
    int64_t dims[8];
    size_t count;
    void *data;
} golden_record;

typedef struct golden {
    golden_record *records;
    size_t n;
} golden;

/* Returns 0 on success. */
int golden_load(const char *path, golden *out);
void golden_free(golden *g);
const golden_record *golden_find(const golden *g, const char *name);

#endif
