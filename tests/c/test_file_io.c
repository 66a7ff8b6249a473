/* The library's one file layer (lib/core/file_io.c): whole-file reads of
 * plain and gzip'ed files with their size bound, refusals (missing file,
 * directory, corrupt gzip, too large, also after decompression), atomic
 * writes (content, no temporary file left, the old file kept when a write
 * cannot start), mkdir -p and path joining. gzip data is made by zlib's
 * own gzwrite, independently of the reader. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/file_io.h"
#include "test_main.h"

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/qat-file-io-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static char *path_of(const char *name)
{
    static char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

static void write_plain(const char *name, const void *data, size_t n)
{
    FILE *f = fopen(path_of(name), "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

static void write_gzip(const char *name, const void *data, size_t n)
{
    gzFile gz = gzopen(path_of(name), "wb9");
    ck_assert_ptr_nonnull(gz);
    ck_assert_int_eq(gzwrite(gz, data, (unsigned)n), (int)n);
    ck_assert_int_eq(gzclose(gz), Z_OK);
}

/* Bytes that are not text: every value, NULs included. */
static void pattern(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)((i * 2654435761u + seed) >> 13);
}

START_TEST(reads_plain_and_gzip_files)
{
    static const size_t sizes[] = {0, 1, 65535, 65536, 65537, 300001};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        size_t n = sizes[k];
        unsigned char *want = malloc(n + 1);
        pattern(want, n, (unsigned)k);
        write_plain("plain.bin", want, n);
        write_gzip("packed.gz", want, n);
        const char *names[] = {"plain.bin", "packed.gz"};
        for (int g = 0; g < 2; g++) {
            char *got = NULL;
            size_t len = 12345;
            QAT_ASSERT_OK(qat_file_read(path_of(names[g]), QAT_FILE_ANY_SIZE, &got, &len));
            ck_assert_uint_eq(len, n);
            ck_assert(memcmp(got, want, n) == 0);
            ck_assert_int_eq(got[n], '\0');
            free(got);
            /* a bound equal to the size is accepted, one below refused */
            QAT_ASSERT_OK(qat_file_read(path_of(names[g]), n, &got, NULL));
            free(got);
            if (n > 0) {
                QAT_ASSERT_FAILS(qat_file_read(path_of(names[g]), n - 1, &got, &len), QAT_ERR_FORMAT,
                                 "more than the");
                ck_assert_ptr_null(got);
            }
        }
        free(want);
    }
}
END_TEST

START_TEST(refusals_name_the_file)
{
    char *got = (char *)1;
    QAT_ASSERT_FAILS(qat_file_read(path_of("missing.txt"), 100, &got, NULL), QAT_ERR_IO, "cannot open");
    ck_assert_ptr_null(got);
    QAT_ASSERT_FAILS(qat_file_read(dir, 100, &got, NULL), QAT_ERR_IO, "is not a regular file");
    ck_assert(strstr(qat_last_error(), dir) != NULL);
    /* a gzip stream cut in half */
    unsigned char text[4096];
    pattern(text, sizeof text, 7);
    write_gzip("whole.gz", text, sizeof text);
    char *gz = NULL;
    size_t n = 0;
    FILE *f = fopen(path_of("whole.gz"), "rb");
    gz = malloc(65536);
    n = fread(gz, 1, 65536, f);
    fclose(f);
    write_plain("cut.gz", gz, n / 2);
    QAT_ASSERT_FAILS(qat_file_read(path_of("cut.gz"), QAT_FILE_ANY_SIZE, &got, NULL), QAT_ERR_FORMAT,
                     "corrupt or truncated gzip data");
    ck_assert(strstr(qat_last_error(), "cut.gz") != NULL);
    free(gz);
    /* a small .gz of a large content: the bound is on what it decompresses to */
    char *zeros = calloc(1, 1 << 22);
    write_gzip("bomb.gz", zeros, 1 << 22);
    free(zeros);
    struct stat st;
    ck_assert_int_eq(stat(path_of("bomb.gz"), &st), 0);
    ck_assert_int_lt(st.st_size, 1 << 16);
    QAT_ASSERT_FAILS(qat_file_read(path_of("bomb.gz"), 1 << 20, &got, NULL), QAT_ERR_FORMAT,
                     "more than the 1048576 bytes accepted");
}
END_TEST

static int count_entries(void)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

START_TEST(atomic_writes)
{
    const char *p = path_of("out.json");
    QAT_ASSERT_OK(qat_file_write_atomic(p, "{\"a\": 1}", 8));
    char *got = NULL;
    size_t n = 0;
    QAT_ASSERT_OK(qat_file_read(p, 100, &got, &n));
    ck_assert_str_eq(got, "{\"a\": 1}");
    free(got);
    QAT_ASSERT_OK(qat_file_write_atomic(p, "new", 3)); /* replaces */
    QAT_ASSERT_OK(qat_file_read(p, 100, &got, &n));
    ck_assert_str_eq(got, "new");
    free(got);
    ck_assert_int_eq(count_entries(), 1); /* no temporary file left */
    struct stat st;
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0644);
    /* a writer that is aborted leaves the old content and nothing else */
    qat_atomic_file af;
    QAT_ASSERT_OK(qat_atomic_open(p, &af));
    QAT_ASSERT_OK(qat_atomic_write(&af, "half", 4));
    ck_assert_int_eq(count_entries(), 2);
    qat_atomic_abort(&af);
    qat_atomic_abort(&af); /* twice: harmless */
    ck_assert_int_eq(count_entries(), 1);
    QAT_ASSERT_OK(qat_file_read(p, 100, &got, &n));
    ck_assert_str_eq(got, "new");
    free(got);
    /* a destination whose directory does not exist */
    QAT_ASSERT_FAILS(qat_file_write_atomic(path_of("no/such/dir/x"), "x", 1), QAT_ERR_IO,
                     "cannot create a temporary file");
}
END_TEST

START_TEST(mkdirs_and_join)
{
    char *deep = qat_path_join(dir, "a/b/c");
    ck_assert_str_eq(deep + strlen(dir), "/a/b/c");
    QAT_ASSERT_OK(qat_mkdirs(deep));
    QAT_ASSERT_OK(qat_mkdirs(deep)); /* exists: fine */
    struct stat st;
    ck_assert_int_eq(stat(deep, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    char *file = qat_path_join(deep, "f");
    QAT_ASSERT_OK(qat_file_write_atomic(file, "", 0));
    QAT_ASSERT_FAILS(qat_mkdirs(file), QAT_ERR_IO, "is not a directory");
    char *below = qat_path_join(file, "x");
    QAT_ASSERT_FAILS(qat_mkdirs(below), QAT_ERR_IO, "cannot create");
    free(below);
    free(file);
    free(deep);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("file_io");
    TCase *t = tcase_create("file_io");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, reads_plain_and_gzip_files);
    tcase_add_test(t, refusals_name_the_file);
    tcase_add_test(t, atomic_writes);
    tcase_add_test(t, mkdirs_and_join);
    suite_add_tcase(s, t);
    return s;
}
