/* The .qatp file: round trip with an embedded tokenizer, and malformed
 * files (bad magic, version, sizes, checksum, truncation, inconsistent
 * records) rejected with clear errors. */
#include <unistd.h>
#include <zlib.h>

#include "export_test_util.h"
#include "test_main.h"

static char dir[256];

static void make_dir(void)
{
    const char *d = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/qat-export-XXXXXX", d && d[0] ? d : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void path_in(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", dir, name);
}

static uint8_t *read_all(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *d = malloc(*size);
    ck_assert_uint_eq(fread(d, 1, *size, f), *size);
    fclose(f);
    return d;
}

/* A calibrated tiny model exported to dir/model.qatp; returns its bytes. */
static uint8_t *exported(const char *quant, qat_task task, const char *tokenizer, size_t *size)
{
    qat_context *ctx = NULL;
    QAT_ASSERT_OK(qat_context_create("ref", &ctx));
    qat_model *m = NULL;
    QAT_ASSERT_OK(tiny_model(ctx, QAT_ARCH_BERT, task, quant, &m));
    int32_t ids[TINY_B * TINY_L], mask[TINY_B * TINY_L], types[TINY_B * TINY_L];
    tiny_batch(QAT_ARCH_BERT, ids, mask, types);
    size_t n;
    QAT_ASSERT_OK(qat_model_logits_size(m, TINY_B, TINY_L, &n));
    float *logits = malloc(n * sizeof(float));
    QAT_ASSERT_OK(qat_model_forward(m, ids, mask, types, TINY_B, TINY_L, logits, n));
    free(logits);
    qat_export_options o;
    QAT_ASSERT_OK(qat_export_options_init(&o, QAT_EXPORT_OPTIONS_VERSION));
    o.tokenizer_path = tokenizer;
    char path[512];
    path_in(path, sizeof path, "model.qatp");
    QAT_ASSERT_OK(qat_packed_export(m, path, &o));
    qat_model_free(m);
    qat_context_free(ctx);
    return read_all(path, size);
}

static void write_vocab(char *path, size_t n)
{
    path_in(path, n, "vocab.txt");
    FILE *f = fopen(path, "w");
    fputs("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n##s\nqu\n##ant\n", f);
    fclose(f);
}

START_TEST(test_round_trip_tokenizer)
{
    make_dir();
    char vocab[512];
    write_vocab(vocab, sizeof vocab);
    size_t size;
    uint8_t *bytes = exported("E6W1.58A6", QAT_TASK_MLM, vocab, &size);
    qat_packed_model *pm = NULL;
    QAT_ASSERT_OK(qat_packed_model_load_memory(bytes, size, &pm));
    int64_t v;
    QAT_ASSERT_OK(qat_packed_model_info(pm, QAT_PACKED_INFO_HAS_TOKENIZER, &v));
    ck_assert_int_eq(v, 1);
    QAT_ASSERT_OK(qat_packed_model_info(pm, QAT_PACKED_INFO_FILE_BYTES, &v));
    ck_assert_int_eq(v, (int64_t)size);
    QAT_ASSERT_OK(qat_packed_model_info(pm, QAT_PACKED_INFO_ARCH, &v));
    ck_assert_int_eq(v, QAT_ARCH_BERT);
    QAT_ASSERT_OK(qat_packed_model_info(pm, QAT_PACKED_INFO_HIDDEN_SIZE, &v));
    ck_assert_int_eq(v, 32);
    const qat_tokenizer *tok = NULL;
    QAT_ASSERT_OK(qat_packed_model_tokenizer(pm, &tok));
    qat_tokenizer *orig = NULL;
    QAT_ASSERT_OK(qat_tokenizer_load(vocab, &orig));
    int32_t a[16], b[16];
    size_t na = 0, nb = 0;
    QAT_ASSERT_OK(qat_tokenizer_encode(tok, "hellos quant world", 18, a, 16, &na));
    QAT_ASSERT_OK(qat_tokenizer_encode(orig, "hellos quant world", 18, b, 16, &nb));
    ck_assert_uint_eq(na, nb);
    ck_assert_int_eq(memcmp(a, b, na * sizeof(int32_t)), 0);
    qat_tokenizer_free(orig);
    qat_packed_model_free(pm);
    /* The file loads from disk too; writing again is atomic over it. */
    char path[512];
    path_in(path, sizeof path, "model.qatp");
    QAT_ASSERT_OK(qat_packed_model_load(path, &pm));
    qat_packed_model_free(pm);
    unlink(path);
    unlink(vocab);
    rmdir(dir);
    free(bytes);
}
END_TEST

static void store_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Re-seals a modified file: header size, CRC trailer. */
static void reseal(uint8_t *d, size_t size)
{
    store_u32(d + 16, (uint32_t)size);
    store_u32(d + 20, 0);
    store_u32(d + size - 8, (uint32_t)crc32(crc32(0L, Z_NULL, 0), d, (uInt)(size - 8)));
}

static void expect_reject(const uint8_t *d, size_t size, const char *needle, const char *what)
{
    qat_packed_model *pm = (qat_packed_model *)1;
    qat_status st = qat_packed_model_load_memory(d, size, &pm);
    ck_assert_msg(st == QAT_ERR_FORMAT, "%s: loaded with %s (%s)", what, qat_status_string(st), qat_last_error());
    ck_assert_ptr_null(pm);
    ck_assert_msg(strstr(qat_last_error(), needle) != NULL, "%s: message '%s' lacks '%s'", what, qat_last_error(),
                  needle);
}

/* Offset of the first occurrence of a record name in the file. */
static size_t find_name(const uint8_t *d, size_t size, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i + n <= size; i++)
        if (memcmp(d + i, name, n) == 0)
            return i;
    ck_abort_msg("record %s not found", name);
    return 0;
}

START_TEST(test_malformed)
{
    make_dir();
    size_t size;
    uint8_t *good = exported("E8W4A8", QAT_TASK_TOKEN_CLASSIFICATION, NULL, &size);
    uint8_t *d = malloc(size);
    /* bad magic */
    memcpy(d, good, size);
    d[0] = 'X';
    expect_reject(d, size, "bad magic", "magic");
    /* version */
    memcpy(d, good, size);
    store_u32(d + 8, 99);
    expect_reject(d, size, "version 99", "version");
    /* truncations at every record boundary region and a few bytes */
    for (size_t cut = 0; cut < size; cut += (cut < 64 ? 1 : 97))
        expect_reject(good, cut, cut < 32 ? "too short" : "bytes", "truncated");
    /* one flipped bit anywhere after the header: checksum */
    for (size_t at = 24; at < size - 8; at += 101) {
        memcpy(d, good, size);
        d[at] ^= 0x10;
        expect_reject(d, size, "checksum", "bit flip");
    }
    /* Sealed but inconsistent contents. */
    memcpy(d, good, size);
    size_t cfg = find_name(d, size, "config");
    d[cfg + 8 + 3 * 8] = 33; /* hidden_size 32 -> 33 */
    reseal(d, size);
    expect_reject(d, size, "", "hidden size");
    memcpy(d, good, size);
    size_t rec = find_name(d, size, "encoder.layer.0.attention.self.query.weight");
    /* payload starts after the 8-aligned name: format u32 -> 7 */
    size_t payload = (rec + strlen("encoder.layer.0.attention.self.query.weight") + 7) & ~(size_t)7;
    store_u32(d + payload, 7);
    reseal(d, size);
    expect_reject(d, size, "format 7", "packed format");
    memcpy(d, good, size);
    store_u32(d + payload + 4, 3); /* LSQ bits 4 -> 3 */
    reseal(d, size);
    expect_reject(d, size, "the quant config wants", "bits");
    memcpy(d, good, size);
    store_u32(d + payload + 40, 0xff800000u); /* scale -inf */
    reseal(d, size);
    expect_reject(d, size, "scale", "scale");
    memcpy(d, good, size);
    size_t q = find_name(d, size, "E8W4A8");
    d[q + 3] = '5'; /* E8W5A8: records disagree */
    reseal(d, size);
    expect_reject(d, size, "wants LSQ 5", "quant mismatch");
    memcpy(d, good, size);
    d[q] = 'Z';
    reseal(d, size);
    expect_reject(d, size, "quant config", "quant parse");
    memcpy(d, good, size);
    store_u32(d + 12, 100000); /* record count */
    reseal(d, size);
    expect_reject(d, size, "record", "record count");
    memcpy(d, good, size);
    store_u32(d + 32, 0xffffffffu); /* first record's payload size */
    store_u32(d + 36, 0xffffffffu);
    reseal(d, size);
    expect_reject(d, size, "past the end", "payload size");
    memcpy(d, good, size);
    store_u32(d + 24, 42); /* first record kind */
    reseal(d, size);
    expect_reject(d, size, "unknown kind", "kind");
    char path[512];
    path_in(path, sizeof path, "model.qatp");
    unlink(path);
    path_in(path, sizeof path, "missing.qatp");
    qat_packed_model *pm = NULL;
    QAT_ASSERT_FAILS(qat_packed_model_load(path, &pm), QAT_ERR_IO, "missing.qatp");
    rmdir(dir);
    free(d);
    free(good);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("export_format");
    TCase *tc = tcase_create("format");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_round_trip_tokenizer);
    tcase_add_test(tc, test_malformed);
    suite_add_tcase(s, tc);
    return s;
}
