/* safetensors: files written by the python safetensors package (F32, F16,
 * BF16 with special values, I64 skipped, scalars, empty and 8-d tensors),
 * every header defect the reader must refuse, truncations at every length,
 * and the writer (read back here; loaded by python in check_roundtrip.py). */
#include <string.h>

#include "core/file_io.h"
#include "formats/safetensors.h"
#include "formats_test_util.h"
#include "qat/core.h"
#include "test_main.h"

START_TEST(reads_python_file)
{
    char path[1024], ref[1024];
    qat_tensor_set *set;
    QAT_ASSERT_OK(qat_tensor_set_create(&set));
    QAT_ASSERT_OK(qat_safetensors_read(data_path(path, sizeof path, "safetensors/mixed.safetensors"), 0, set));
    assert_matches_ref(set, data_path(ref, sizeof ref, "safetensors/mixed.ref"));
    ck_assert_str_eq(qat_tensor_set_skipped(set, 0), "i64 (dtype I64 not loaded)");
    qat_tensor_set_free(set);

    QAT_ASSERT_OK(qat_tensor_set_create(&set));
    QAT_ASSERT_FAILS(qat_safetensors_read(path, QAT_SAFETENSORS_STRICT_DTYPES, set), QAT_ERR_UNSUPPORTED,
                     "tensor \"i64\" has dtype I64");
    qat_tensor_set_free(set);

    /* Loading into a set that already holds a name is a duplicate. */
    QAT_ASSERT_OK(qat_tensor_set_create(&set));
    int64_t one = 1;
    QAT_ASSERT_OK(qat_tensor_set_add(set, "f32", 1, &one, NULL));
    QAT_ASSERT_FAILS(qat_safetensors_read(path, 0, set), QAT_ERR_FORMAT, "duplicate tensor name 'f32'");
    qat_tensor_set_free(set);

    QAT_ASSERT_OK(qat_tensor_set_create(&set));
    QAT_ASSERT_FAILS(qat_safetensors_read("/nonexistent.safetensors", 0, set), QAT_ERR_IO, "/nonexistent");
    qat_tensor_set_free(set);
}
END_TEST

/* A file: 8-byte length of `header` (or `len_override` when non-zero),
 * the header, then n_data bytes 0, 1, 2... */
static uint8_t *make_file(const char *header, size_t n_data, uint64_t len_override, size_t *size)
{
    size_t h = strlen(header);
    *size = 8 + h + n_data;
    uint8_t *buf = malloc(*size);
    uint64_t len = len_override ? len_override : h;
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)(len >> (8 * i));
    memcpy(buf + 8, header, h);
    for (size_t i = 0; i < n_data; i++)
        buf[8 + h + i] = (uint8_t)i;
    return buf;
}

#define F32(n, b, e) "{\"dtype\":\"F32\",\"shape\":[" n "],\"data_offsets\":[" b "," e "]}"

static const struct {
    const char *header;
    size_t n_data;
    uint64_t len_override;
    const char *needle;
} bad[] = {
    {"{\"a\":" F32("2", "0", "8") "}", 8, 100000001, "exceeds the 100000000-byte limit"},
    {"{\"a\":" F32("2", "0", "8") "}", 8, 4096, "runs past the end"},
    {"[1,2]", 0, 0, "must be a JSON object"},
    {"{\"a\":" F32("2", "0", "8"), 8, 0, "truncated"},
    {"{\"a\":" F32("2", "0", "8") "}x", 8, 0, "unexpected data after the JSON value"},
    {"{\"a\":" F32("2", "0", "8") ",}", 8, 0, "invalid JSON"},
    {"{\"a\":" F32("1", "0", "4") ",\"a\":" F32("1", "4", "8") "}", 8, 0, "names tensor \"a\" more than once"},
    {"{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, 0, "\"dtype\" missing"},
    {"{\"a\":{\"dtype\":5,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, 0, "\"dtype\" missing or not a string"},
    {"{\"a\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, 0, "unknown dtype \"F33\""},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}", 4, 0, "\"shape\" missing or not an array"},
    {"{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, 0, "\"shape\" missing"},
    {"{\"a\":" F32("-1", "0", "4") "}", 4, 0, "shape[0] is not a non-negative integer"},
    {"{\"a\":" F32("1.0", "0", "4") "}", 4, 0, "shape[0] is not a non-negative integer"},
    {"{\"a\":" F32("1,1,1,1,1,1,1,1,1", "0", "4") "}", 4, 0, "9 dimensions"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, 0, "\"data_offsets\" missing"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, 0, "must be two non-negative integers"},
    {"{\"a\":" F32("1", "-4", "0") "}", 4, 0, "must be two non-negative integers"},
    {"{\"a\":" F32("1", "4", "0") "}", 4, 0, "end before they begin"},
    {"{\"a\":" F32("2", "0", "4") "}", 4, 0, "span 4 bytes, but shape x F32 size needs 8"},
    {"{\"a\":" F32("1", "0", "4") ",\"b\":" F32("2", "2", "10") "}", 10, 0, "overlaps"},
    {"{\"a\":" F32("1", "0", "4") ",\"b\":" F32("1", "0", "4") "}", 4, 0, "overlaps"},
    {"{\"a\":" F32("1", "0", "4") ",\"b\":" F32("1", "8", "12") "}", 12, 0, "4 unused bytes at data offset 4"},
    {"{\"a\":" F32("1", "4", "8") "}", 8, 0, "unused bytes at data offset 0"},
    {"{\"a\":" F32("1", "0", "4") "}", 8, 0, "4 bytes after the last tensor"},
    {"{\"a\":" F32("2", "0", "8") "}", 4, 0, "runs past the end of the data"},
    {"{\"a\":" F32("4611686018427387904,4", "0", "0") "}", 0, 0, "shape too large"},
    {"{\"a\":" F32("2", "0", "99999999999999999999999") "}", 8, 0, "\"a\""},
    {"{\"__metadata__\":{\"format\":1},\"a\":" F32("1", "0", "4") "}", 4, 0, "value of \"format\" must be a string"},
    {"{\"__metadata__\":[1],\"a\":" F32("1", "0", "4") "}", 4, 0, "\"__metadata__\" must be an object"},
    {"{\"a\":5}", 0, 0, "entry \"a\" must be an object"},
    {"{\"a\\u0000b\":" F32("1", "0", "4") "}", 4, 0, "NUL"},
    {"{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{}}}}}}}}}", 0, 0, "nested deeper"},
    {"{\"\":" F32("1", "0", "4") "}", 4, 0, "tensor name \"\" is empty"},
};

START_TEST(refuses_bad_headers)
{
    size_t size;
    uint8_t *buf = make_file(bad[_i].header, bad[_i].n_data, bad[_i].len_override, &size);
    qat_tensor_set *set;
    QAT_ASSERT_OK(qat_tensor_set_create(&set));
    QAT_ASSERT_FAILS(qat_safetensors_read_memory(buf, size, "bad.safetensors", 0, set), QAT_ERR_FORMAT,
                     bad[_i].needle);
    ck_assert_ptr_nonnull(strstr(qat_last_error(), "bad.safetensors"));
    ck_assert_uint_eq(qat_tensor_set_count(set), 0); /* nothing converted before validation */
    qat_tensor_set_free(set);
    free(buf);
}
END_TEST

START_TEST(refuses_short_and_nul)
{
    qat_tensor_set *set;
    QAT_ASSERT_OK(qat_tensor_set_create(&set));
    QAT_ASSERT_FAILS(qat_safetensors_read_memory((const uint8_t *)"\x02\0\0", 3, "s", 0, set),
                     QAT_ERR_FORMAT, "too short");
    QAT_ASSERT_FAILS(qat_safetensors_read_memory(NULL, 0, "s", 0, set), QAT_ERR_FORMAT, "too short");
    static const uint8_t nul[] = {4, 0, 0, 0, 0, 0, 0, 0, '{', 0, '}', ' '};
    QAT_ASSERT_FAILS(qat_safetensors_read_memory(nul, sizeof nul, "s", 0, set), QAT_ERR_FORMAT, "NUL byte");
    /* The smallest valid file: an empty header object and no data. */
    static const uint8_t empty[] = {2, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
    QAT_ASSERT_OK(qat_safetensors_read_memory(empty, sizeof empty, "s", 0, set));
    ck_assert_uint_eq(qat_tensor_set_count(set), 0);
    qat_tensor_set_free(set);
}
END_TEST

START_TEST(truncations_fail_cleanly)
{
    char path[1024];
    size_t size;
    uint8_t *full = slurp(data_path(path, sizeof path, "safetensors/mixed.safetensors"), &size);
    for (size_t n = 0; n < size; n++) {
        uint8_t *cut = malloc(n ? n : 1); /* exact size: ASan sees any over-read */
        memcpy(cut, full, n);
        qat_tensor_set *set;
        QAT_ASSERT_OK(qat_tensor_set_create(&set));
        qat_status st = qat_safetensors_read_memory(cut, n, "cut", 0, set);
        ck_assert_msg(st == QAT_ERR_FORMAT, "truncated to %zu bytes: %s", n, qat_status_string(st));
        qat_tensor_set_free(set);
        free(cut);
    }
    free(full);
}
END_TEST

static qat_tensor_set *sample_set(float *view_data)
{
    qat_tensor_set *set;
    QAT_ASSERT_OK(qat_tensor_set_create(&set));
    int64_t s2[2] = {3, 4}, s1[1] = {5}, s0[2] = {0, 3}, s8[8] = {1, 2, 1, 2, 1, 2, 1, 1};
    qat_tensor *t;
    QAT_ASSERT_OK(qat_tensor_set_add(set, "z.last", 2, s2, &t));
    for (int i = 0; i < 12; i++)
        t->data[i] = (float)i / 3.0f - 1.0f;
    QAT_ASSERT_OK(qat_tensor_set_add(set, "a.first", 1, s1, &t));
    t->data[0] = -0.0f;
    t->data[1] = 1e-42f; /* subnormal */
    t->data[2] = 3.4e38f;
    QAT_ASSERT_OK(qat_tensor_set_add_view(set, "m.view", 1, s1, view_data));
    QAT_ASSERT_OK(qat_tensor_set_add(set, "b.scalar", 0, NULL, &t));
    t->data[0] = 7.25f;
    QAT_ASSERT_OK(qat_tensor_set_add(set, "c.empty", 2, s0, NULL));
    QAT_ASSERT_OK(qat_tensor_set_add(set, "d.deep8/é", 8, s8, &t));
    for (int i = 0; i < 8; i++)
        t->data[i] = (float)(i * i);
    return set;
}

START_TEST(writer_round_trip)
{
    float view_data[5] = {10, 20, 30, 40, 50};
    qat_tensor_set *set = sample_set(view_data);
    char *dir = scratch_dir();
    char path[1024];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    spit(path, "old contents", 12); /* replaced atomically */
    const char *meta[][2] = {{"libqat", "0.1.0"}, {"quant", "E6W1.58A6"}};
    QAT_ASSERT_OK(qat_safetensors_write(path, set, meta, 2));
    ck_assert_int_eq(count_entries(dir), 1);

    size_t size;
    uint8_t *file = slurp(path, &size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = (n << 8) | file[i];
    ck_assert_uint_eq(n % 8, 0);
    const char *head = "{\"__metadata__\":{\"format\":\"pt\",\"libqat\":\"0.1.0\",\"quant\":\"E6W1.58A6\"},"
                       "\"a.first\":{\"dtype\":\"F32\",\"shape\":[5],\"data_offsets\":[0,20]},";
    ck_assert_msg(memcmp(file + 8, head, strlen(head)) == 0, "header: %.200s", file + 8);
    ck_assert_int_eq(file[8 + n - 1] == ' ' || file[8 + n - 1] == '}', 1);
    ck_assert_uint_eq(size, 8 + n + 4 * (12 + 5 + 5 + 1 + 0 + 8));
    free(file);

    qat_tensor_set *back;
    QAT_ASSERT_OK(qat_tensor_set_create(&back));
    QAT_ASSERT_OK(qat_safetensors_read(path, QAT_SAFETENSORS_STRICT_DTYPES, back));
    ck_assert_uint_eq(qat_tensor_set_count(back), qat_tensor_set_count(set));
    for (size_t i = 0; i < qat_tensor_set_count(set); i++) {
        const qat_tensor *a = qat_tensor_set_at(set, i);
        const qat_tensor *b = qat_tensor_set_find(back, a->name);
        ck_assert_ptr_nonnull(b);
        ck_assert_int_eq(a->ndim, b->ndim);
        ck_assert_mem_eq(a->shape, b->shape, sizeof a->shape);
        ck_assert(a->numel == 0 || memcmp(a->data, b->data, (size_t)a->numel * 4) == 0);
    }
    /* The file is in name order, so the reader (offset order) sees a.first first. */
    ck_assert_str_eq(qat_tensor_set_at(back, 0)->name, "a.first");
    qat_tensor_set_free(back);

    /* An empty set is a valid file too. */
    qat_tensor_set *none;
    QAT_ASSERT_OK(qat_tensor_set_create(&none));
    QAT_ASSERT_OK(qat_safetensors_write(path, none, NULL, 0));
    QAT_ASSERT_OK(qat_safetensors_read(path, 0, none));
    ck_assert_uint_eq(qat_tensor_set_count(none), 0);
    qat_tensor_set_free(none);

    const char *reserved[][2] = {{"format", "np"}};
    QAT_ASSERT_FAILS(qat_safetensors_write(path, set, reserved, 1), QAT_ERR_INVALID_ARGUMENT, "reserved");
    const char *twice[][2] = {{"k", "1"}, {"k", "2"}};
    QAT_ASSERT_FAILS(qat_safetensors_write(path, set, twice, 2), QAT_ERR_INVALID_ARGUMENT, "given twice");
    char bad_dir[1100];
    snprintf(bad_dir, sizeof bad_dir, "%s/missing/model.safetensors", dir);
    QAT_ASSERT_FAILS(qat_safetensors_write(bad_dir, set, NULL, 0), QAT_ERR_IO, "missing");
    int64_t one = 1;
    QAT_ASSERT_OK(qat_tensor_set_add(set, "__metadata__", 1, &one, NULL));
    QAT_ASSERT_FAILS(qat_safetensors_write(path, set, NULL, 0), QAT_ERR_INVALID_ARGUMENT, "__metadata__");
    ck_assert_int_eq(count_entries(dir), 1);
    qat_tensor_set_free(set);
    remove_scratch(dir);
}
END_TEST

/* The atomic writer on its own: commit and abort each end it (so callers
 * that skip abort after commit leak nothing: ASan/valgrind check). */
START_TEST(atomic_writer)
{
    char *dir = scratch_dir();
    char path[1024];
    snprintf(path, sizeof path, "%s/out.json", dir);
    qat_atomic_file af;
    QAT_ASSERT_OK(qat_atomic_open(path, &af));
    QAT_ASSERT_OK(qat_atomic_write(&af, "{}", 2));
    ck_assert_int_eq(count_entries(dir), 1); /* only the temporary file */
    QAT_ASSERT_OK(qat_atomic_commit(&af));
    qat_atomic_abort(&af); /* a no-op now */
    size_t size;
    uint8_t *text = slurp(path, &size);
    ck_assert_uint_eq(size, 2);
    free(text);
    QAT_ASSERT_OK(qat_atomic_open(path, &af));
    QAT_ASSERT_OK(qat_atomic_write(&af, "partial", 7));
    qat_atomic_abort(&af);
    ck_assert_int_eq(count_entries(dir), 1); /* temp removed, old file intact */
    text = slurp(path, &size);
    ck_assert_uint_eq(size, 2);
    free(text);
    QAT_ASSERT_FAILS(qat_atomic_commit(&af), QAT_ERR_INVALID_ARGUMENT, "not open");
    memset(&af, 0, sizeof af);
    qat_atomic_abort(&af);
    remove_scratch(dir);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("formats_safetensors");
    TCase *tc = tcase_create("safetensors");
    tcase_add_test(tc, reads_python_file);
    tcase_add_loop_test(tc, refuses_bad_headers, 0, (int)(sizeof bad / sizeof bad[0]));
    tcase_add_test(tc, refuses_short_and_nul);
    tcase_add_test(tc, truncations_fail_cleanly);
    tcase_add_test(tc, writer_round_trip);
    tcase_add_test(tc, atomic_writer);
    suite_add_tcase(s, tc);
    return s;
}
