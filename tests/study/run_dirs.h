/* Scratch directories and whole-file reads for the pipeline tests (one copy
 * for test_pipeline, test_plan and test_seqcls_pipeline). */
#ifndef QAT_TESTS_TRAIN_RUN_DIRS_H
#define QAT_TESTS_TRAIN_RUN_DIRS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_main.h"

/* A new empty directory /tmp/qat-<tag>-XXXXXX; free() the name. */
static inline char *temp_dir(const char *tag)
{
    char *d = malloc(strlen(tag) + 32);
    ck_assert_ptr_nonnull(d);
    sprintf(d, "/tmp/qat-%s-XXXXXX", tag);
    ck_assert_ptr_nonnull(mkdtemp(d));
    return d;
}

static inline void remove_tree(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* The whole file (NUL-terminated one past *size); free() it. */
static inline unsigned char *slurp_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot read %s", path);
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *data = malloc(*size + 1);
    ck_assert_ptr_nonnull(data);
    ck_assert_uint_eq(fread(data, 1, *size, f), *size);
    data[*size] = '\0';
    fclose(f);
    return data;
}

#endif
