/* Reading the golden files that tests/c/gen_*_ref.py write with PyTorch: a
 * 4-byte magic, a uint32 case count, then each case's int32 header and its
 * raw little-endian arrays. The path comes from the environment variable
 * meson sets for the test. A short or foreign file fails the test. */
#ifndef QAT_TEST_GOLDEN_FILE_H
#define QAT_TEST_GOLDEN_FILE_H

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void golden_read(FILE *f, void *p, size_t bytes)
{
    ck_assert_msg(fread(p, 1, bytes, f) == bytes, "golden file truncated");
}

static float *golden_floats(FILE *f, size_t n)
{
    float *p = malloc(n * sizeof *p + 1); /* + 1: n may be 0 */
    golden_read(f, p, n * sizeof *p);
    return p;
}

/* Opens the file named by env_var and checks its magic; *count: its cases. */
static FILE *golden_open(const char *env_var, const char magic[4], uint32_t *count)
{
    const char *path = getenv(env_var);
    ck_assert_msg(path && *path, "%s is not set (meson sets it)", env_var);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    char got[4];
    golden_read(f, got, 4);
    ck_assert_msg(memcmp(got, magic, 4) == 0, "%s is not a %.4s golden file", path, magic);
    golden_read(f, count, sizeof *count);
    return f;
}

#endif
