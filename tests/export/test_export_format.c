/* The .qatp file: round trip with an embedded tokenizer, and malformed
 * files (bad magic, version, sizes, checksum, truncation, inconsistent
 * records) rejected with clear errors; the optional label names record:
 * round trip, absence, corruption; the model's own pooling record: round
 * trip (packed embeddings equal the model's), absence, corruption. */
#define _GNU_SOURCE /* memmem */
#include <unistd.h>
#include <zlib.h>

#include "export_test_util.h"
#include "test_main.h"

/* The record kinds of docs/formats.md (the test reads files as bytes). */
#define QATP_KIND_I64_FOR_TEST 2

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
/* One forward of the tiny batch: calibrates the LSQ activation steps. */
static void calibrate(qat_model *m, qat_arch arch)
{
    int32_t ids[TINY_B * TINY_L], mask[TINY_B * TINY_L], types[TINY_B * TINY_L];
    tiny_batch(arch, ids, mask, types);
    size_t n;
    QAT_ASSERT_OK(qat_model_logits_size(m, TINY_B, TINY_L, &n));
    float *logits = malloc(n * sizeof(float));
    QAT_ASSERT_OK(qat_model_forward(m, ids, mask, types, TINY_B, TINY_L, logits, n));
    free(logits);
}

static uint8_t *exported(const char *quant, qat_task task, const char *tokenizer, size_t *size)
{
    qat_context *ctx = NULL;
    QAT_ASSERT_OK(qat_context_create("ref", &ctx));
    qat_model *m = NULL;
    QAT_ASSERT_OK(tiny_model(ctx, QAT_ARCH_BERT, task, quant, &m));
    calibrate(m, QAT_ARCH_BERT);
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

/* The embedded tokenizer is read from the file's bytes: opening a .qatp
 * writes nothing, so it loads with TMPDIR pointing nowhere (the loader
 * once wrote the files to a temporary directory). A directory's tokenizer
 * keeps what its tokenizer_config.json says (here: no lower-casing). */
START_TEST(test_tokenizer_from_memory)
{
    make_dir();
    char vocab[512], cfg[512];
    write_vocab(vocab, sizeof vocab);
    path_in(cfg, sizeof cfg, "tokenizer_config.json");
    FILE *f = fopen(cfg, "w");
    fputs("{\"do_lower_case\": false}", f);
    fclose(f);
    const char *text = "Hellos quant world";
    for (int as_dir = 0; as_dir < 2; as_dir++) {
        const char *source = as_dir ? dir : vocab;
        size_t size;
        uint8_t *bytes = exported("E8W8A8", QAT_TASK_MLM, source, &size);
        qat_tokenizer *orig = NULL;
        QAT_ASSERT_OK(qat_tokenizer_load(source, &orig));
        int32_t want[16], got[16];
        size_t nwant = 0, ngot = 0;
        QAT_ASSERT_OK(qat_tokenizer_encode(orig, text, strlen(text), want, 16, &nwant));
        char *saved = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
        setenv("TMPDIR", "/nonexistent/qat-no-temporary-files", 1);
        char path[512];
        path_in(path, sizeof path, "model.qatp");
        for (int from_file = 0; from_file < 2; from_file++) {
            qat_packed_model *pm = NULL;
            if (from_file)
                QAT_ASSERT_OK(qat_packed_model_load(path, &pm));
            else
                QAT_ASSERT_OK(qat_packed_model_load_memory(bytes, size, &pm));
            const qat_tokenizer *tok = NULL;
            QAT_ASSERT_OK(qat_packed_model_tokenizer(pm, &tok));
            QAT_ASSERT_OK(qat_tokenizer_encode(tok, text, strlen(text), got, 16, &ngot));
            ck_assert_uint_eq(ngot, nwant);
            ck_assert_int_eq(memcmp(got, want, ngot * sizeof(int32_t)), 0);
            qat_packed_model_free(pm);
        }
        if (saved)
            setenv("TMPDIR", saved, 1);
        else
            unsetenv("TMPDIR");
        free(saved);
        qat_tokenizer_free(orig);
        unlink(path);
        free(bytes);
    }
    /* Without the config the directory's vocab.txt lower-cases: the test
     * above would see other ids, so it checks the config travelled. */
    unlink(cfg);
    qat_tokenizer *lower = NULL;
    QAT_ASSERT_OK(qat_tokenizer_load(dir, &lower));
    int32_t a[16];
    size_t na = 0;
    QAT_ASSERT_OK(qat_tokenizer_encode(lower, "Hello", 5, a, 16, &na));
    ck_assert_uint_eq(na, 1);
    ck_assert_int_eq(a[0], 5); /* "hello" */
    qat_tokenizer_free(lower);
    unlink(vocab);
    rmdir(dir);
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

/* ---- Label names ("labels" record) ----------------------------------- */

static const char *const label_set[5] = {"O", "B-MÉD", "I-MÉD", "B-PER", "I-PER"};

/* A calibrated tiny classifier (5 labels) exported to dir/model.qatp with
 * `names` as its label names (NULL: none); returns the file's bytes. */
static uint8_t *exported_named(qat_task task, const char *const *names, size_t *size)
{
    qat_context *ctx = NULL;
    QAT_ASSERT_OK(qat_context_create("ref", &ctx));
    qat_model *m = NULL;
    QAT_ASSERT_OK(tiny_model(ctx, QAT_ARCH_ROBERTA, task, "E8W4A8", &m));
    if (names)
        QAT_ASSERT_OK(qat_model_set_label_names(m, names, 5));
    calibrate(m, QAT_ARCH_ROBERTA);
    char path[512];
    path_in(path, sizeof path, "model.qatp");
    QAT_ASSERT_OK(qat_packed_export(m, path, NULL));
    /* What the exported model says, so the test compares against it. */
    for (size_t i = 0; names && i < 5; i++) {
        const char *name = NULL;
        QAT_ASSERT_OK(qat_model_label_name(m, i, &name));
        ck_assert_str_eq(name, names[i]);
    }
    qat_model_free(m);
    qat_context_free(ctx);
    uint8_t *d = read_all(path, size);
    unlink(path);
    return d;
}

/* The loaded model runs (a file with or without names is a working model). */
static void forward_ok(qat_packed_model *pm)
{
    int32_t ids[TINY_B * TINY_L], mask[TINY_B * TINY_L], types[TINY_B * TINY_L];
    tiny_batch(QAT_ARCH_ROBERTA, ids, mask, types);
    size_t n;
    QAT_ASSERT_OK(qat_packed_model_logits_size(pm, TINY_B, TINY_L, &n));
    float *logits = malloc(n * sizeof(float));
    QAT_ASSERT_OK(qat_packed_model_forward(pm, ids, mask, types, TINY_B, TINY_L, logits, n));
    free(logits);
}

START_TEST(test_labels_round_trip)
{
    make_dir();
    const qat_task tasks[2] = {QAT_TASK_TOKEN_CLASSIFICATION, QAT_TASK_SEQUENCE_CLASSIFICATION};
    for (int t = 0; t < 2; t++) {
        size_t size;
        uint8_t *bytes = exported_named(tasks[t], label_set, &size);
        qat_packed_model *pm = NULL;
        QAT_ASSERT_OK(qat_packed_model_load_memory(bytes, size, &pm));
        int64_t v = 0;
        QAT_ASSERT_OK(qat_packed_model_info(pm, QAT_PACKED_INFO_HAS_LABEL_NAMES, &v));
        ck_assert_int_eq(v, 1);
        for (size_t i = 0; i < 5; i++) {
            const char *name = NULL;
            QAT_ASSERT_OK(qat_packed_model_label_name(pm, i, &name));
            ck_assert_str_eq(name, label_set[i]);
        }
        const char *name = NULL;
        QAT_ASSERT_FAILS(qat_packed_model_label_name(pm, 5, &name), QAT_ERR_INVALID_ARGUMENT, "5 >= 5 labels");
        QAT_ASSERT_FAILS(qat_packed_model_label_name(pm, 0, NULL), QAT_ERR_INVALID_ARGUMENT, "NULL");
        forward_ok(pm);
        qat_packed_model_free(pm);
        free(bytes);
    }
    rmdir(dir);
}
END_TEST

START_TEST(test_labels_absent)
{
    make_dir();
    /* A classifier without names, and an MLM model: no record, NOT_FOUND. */
    size_t size;
    uint8_t *bytes = exported_named(QAT_TASK_TOKEN_CLASSIFICATION, NULL, &size);
    ck_assert_msg(memmem(bytes, size, "labels", 6) == NULL, "a model without names wrote a labels record");
    qat_packed_model *pm = NULL;
    QAT_ASSERT_OK(qat_packed_model_load_memory(bytes, size, &pm));
    int64_t v = 1;
    QAT_ASSERT_OK(qat_packed_model_info(pm, QAT_PACKED_INFO_HAS_LABEL_NAMES, &v));
    ck_assert_int_eq(v, 0);
    const char *name = "x";
    QAT_ASSERT_FAILS(qat_packed_model_label_name(pm, 0, &name), QAT_ERR_NOT_FOUND, "no label names");
    ck_assert_ptr_null(name);
    forward_ok(pm);
    qat_packed_model_free(pm);
    free(bytes);
    bytes = exported("E8W4A8", QAT_TASK_MLM, NULL, &size);
    QAT_ASSERT_OK(qat_packed_model_load_memory(bytes, size, &pm));
    QAT_ASSERT_FAILS(qat_packed_model_label_name(pm, 0, &name), QAT_ERR_NOT_FOUND, "no label names");
    qat_packed_model_free(pm);
    free(bytes);
    char path[512];
    path_in(path, sizeof path, "model.qatp");
    unlink(path);
    rmdir(dir);
}
END_TEST

START_TEST(test_labels_malformed)
{
    make_dir();
    size_t size;
    uint8_t *good = exported_named(QAT_TASK_SEQUENCE_CLASSIFICATION, label_set, &size);
    uint8_t *d = malloc(size);
    size_t rec = find_name(good, size, "labels");
    size_t payload = (rec + strlen("labels") + 7) & ~(size_t)7;
    /* payload: u32 5, u32 1 "O", u32 6 "B-MÉD", ... */
    size_t first = payload + 4, second = payload + 4 + 4 + 1;
    memcpy(d, good, size);
    store_u32(d + payload, 4);
    reseal(d, size);
    expect_reject(d, size, "'labels' has 4 names for 5 labels", "count");
    memcpy(d, good, size);
    store_u32(d + first, 0);
    reseal(d, size);
    expect_reject(d, size, "'labels': name 0 is empty", "empty name");
    memcpy(d, good, size);
    store_u32(d + second, 0x7fffffffu);
    reseal(d, size);
    expect_reject(d, size, "'labels': name 1 of 2147483647 bytes runs past", "long name");
    memcpy(d, good, size);
    d[second + 4 + 3] = (char)0xff; /* inside "MÉD" */
    reseal(d, size);
    expect_reject(d, size, "'labels': name 1 is not valid UTF-8", "UTF-8");
    memcpy(d, good, size);
    d[first + 4] = '\t';
    reseal(d, size);
    expect_reject(d, size, "'labels': name 0 contains a control character", "control");
    memcpy(d, good, size);
    store_u32(d + first, 2); /* "O" + the next length's first byte: the framing no longer adds up */
    reseal(d, size);
    expect_reject(d, size, "'labels'", "framing");
    memcpy(d, good, size);
    store_u32(d + rec - 16, QATP_KIND_I64_FOR_TEST); /* the record's kind */
    reseal(d, size);
    expect_reject(d, size, "labels", "kind");
    free(d);
    free(good);
    /* Export refuses a name the loader would refuse, saying which. */
    static const char *const bad[5] = {"O", "B\tX", "I-X", "B-Y", "I-Y"};
    qat_context *ctx = NULL;
    QAT_ASSERT_OK(qat_context_create("ref", &ctx));
    qat_model *m = NULL;
    QAT_ASSERT_OK(tiny_model(ctx, QAT_ARCH_BERT, QAT_TASK_TOKEN_CLASSIFICATION, NULL, &m));
    QAT_ASSERT_OK(qat_model_set_label_names(m, bad, 5));
    char path[512];
    path_in(path, sizeof path, "bad.qatp");
    QAT_ASSERT_FAILS(qat_packed_export(m, path, NULL), QAT_ERR_INVALID_ARGUMENT, "label 1 name");
    ck_assert_int_ne(access(path, F_OK), 0);
    qat_model_free(m);
    qat_context_free(ctx);
    rmdir(dir);
}
END_TEST

/* ---- The model's own pooling ("pooling" record) ------------------------- */

/* A calibrated tiny token classifier with `pooling` + `flags` as its own
 * (set < 0: none), exported; returns the bytes, and the model's embeddings
 * of the tiny batch by its own pooling in want [TINY_B * hidden]. */
static uint8_t *exported_pooling(int set, uint32_t flags, float *want, size_t *size)
{
    qat_context *ctx = NULL;
    QAT_ASSERT_OK(qat_context_create("ref", &ctx));
    qat_model *m = NULL;
    QAT_ASSERT_OK(tiny_model(ctx, QAT_ARCH_ROBERTA, QAT_TASK_TOKEN_CLASSIFICATION, "E8W4A8", &m));
    if (set >= 0)
        QAT_ASSERT_OK(qat_model_set_pooling(m, (qat_pooling)set, flags));
    calibrate(m, QAT_ARCH_ROBERTA);
    int32_t ids[TINY_B * TINY_L], mask[TINY_B * TINY_L], types[TINY_B * TINY_L];
    tiny_batch(QAT_ARCH_ROBERTA, ids, mask, types);
    QAT_ASSERT_OK(qat_model_embed(m, ids, mask, types, TINY_B, TINY_L, QAT_POOLING_MODEL, 0, want, TINY_B * TINY_H));
    char path[512];
    path_in(path, sizeof path, "model.qatp");
    QAT_ASSERT_OK(qat_packed_export(m, path, NULL));
    qat_model_free(m);
    qat_context_free(ctx);
    uint8_t *d = read_all(path, size);
    unlink(path);
    return d;
}

/* The packed model's own embeddings of the tiny batch against want. */
static void embeds_as(qat_packed_model *pm, const float *want)
{
    int32_t ids[TINY_B * TINY_L], mask[TINY_B * TINY_L], types[TINY_B * TINY_L];
    tiny_batch(QAT_ARCH_ROBERTA, ids, mask, types);
    float got[TINY_B * TINY_H];
    QAT_ASSERT_OK(qat_packed_model_embed(pm, ids, mask, types, TINY_B, TINY_L, QAT_POOLING_MODEL, 0, got,
                                         TINY_B * TINY_H));
    double err = 0, norm = 0;
    for (int i = 0; i < TINY_B * TINY_H; i++) {
        err += (got[i] - want[i]) * (double)(got[i] - want[i]);
        norm += want[i] * (double)want[i];
    }
    ck_assert_msg(err <= 1e-8 * norm, "packed embeddings differ from the model's: %g of %g", err, norm);
}

START_TEST(test_pooling_round_trip)
{
    make_dir();
    const struct {
        int set;
        uint32_t flags;
        qat_pooling pooling;
    } cases[] = {{QAT_POOLING_CLS, QAT_EMBED_NORMALIZE, QAT_POOLING_CLS},
                 {QAT_POOLING_MEAN, 0, QAT_POOLING_MEAN},
                 {-1, 0, QAT_POOLING_MEAN}}; /* none: mean, no record */
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t size;
        float want[TINY_B * TINY_H];
        uint8_t *d = exported_pooling(cases[c].set, cases[c].flags, want, &size);
        ck_assert_int_eq(memmem(d, size, "pooling", 7) != NULL, cases[c].set >= 0);
        qat_packed_model *pm = NULL;
        QAT_ASSERT_OK(qat_packed_model_load_memory(d, size, &pm));
        qat_pooling p = (qat_pooling)-1;
        uint32_t f = 7;
        QAT_ASSERT_OK(qat_packed_model_pooling(pm, &p, &f));
        ck_assert_int_eq(p, cases[c].pooling);
        ck_assert_uint_eq(f, cases[c].flags);
        embeds_as(pm, want);
        qat_packed_model_free(pm);
        free(d);
    }
    rmdir(dir);
}
END_TEST

START_TEST(test_pooling_bad_arguments)
{
    qat_context *ctx = NULL;
    QAT_ASSERT_OK(qat_context_create("ref", &ctx));
    qat_model *m = NULL;
    QAT_ASSERT_OK(tiny_model(ctx, QAT_ARCH_ROBERTA, QAT_TASK_TOKEN_CLASSIFICATION, NULL, &m));
    QAT_ASSERT_FAILS(qat_model_set_pooling(m, QAT_POOLING_MODEL, 0), QAT_ERR_INVALID_ARGUMENT, "neither");
    QAT_ASSERT_FAILS(qat_model_set_pooling(m, QAT_POOLING_CLS, 4), QAT_ERR_INVALID_ARGUMENT, "unknown flags 0x4");
    qat_pooling p;
    uint32_t f;
    QAT_ASSERT_FAILS(qat_model_pooling(m, NULL, &f), QAT_ERR_INVALID_ARGUMENT, "NULL");
    QAT_ASSERT_OK(qat_model_pooling(m, &p, &f));
    ck_assert_int_eq(p, QAT_POOLING_MEAN); /* a model nothing said about pools by the mean */
    ck_assert_uint_eq(f, 0);
    int32_t ids[TINY_B * TINY_L], mask[TINY_B * TINY_L], types[TINY_B * TINY_L];
    tiny_batch(QAT_ARCH_ROBERTA, ids, mask, types);
    float e[TINY_B * TINY_H];
    QAT_ASSERT_FAILS(qat_model_embed(m, ids, mask, types, TINY_B, TINY_L, (qat_pooling)3, 0, e, TINY_B * TINY_H),
                     QAT_ERR_INVALID_ARGUMENT, "pooling 3");
    char path[512];
    make_dir();
    path_in(path, sizeof path, "fp32.qatp");
    QAT_ASSERT_OK(qat_packed_export(m, path, NULL));
    qat_packed_model *pm = NULL;
    QAT_ASSERT_OK(qat_packed_model_load(path, &pm));
    QAT_ASSERT_FAILS(qat_packed_model_embed(pm, ids, mask, types, TINY_B, TINY_L, (qat_pooling)3, 0, e,
                                            TINY_B * TINY_H),
                     QAT_ERR_INVALID_ARGUMENT, "pooling 3");
    QAT_ASSERT_FAILS(qat_packed_model_embed(pm, ids, mask, types, TINY_B, TINY_L, QAT_POOLING_CLS, 2, e,
                                            TINY_B * TINY_H),
                     QAT_ERR_INVALID_ARGUMENT, "unknown flags 0x2");
    QAT_ASSERT_FAILS(qat_packed_model_embed(pm, ids, mask, types, TINY_B, TINY_L, QAT_POOLING_CLS, 0, e,
                                            TINY_B * TINY_H - 1),
                     QAT_ERR_INVALID_ARGUMENT, "needed");
    mask[1] = 2;
    QAT_ASSERT_FAILS(qat_packed_model_embed(pm, ids, mask, types, TINY_B, TINY_L, QAT_POOLING_MEAN, 0, e,
                                            TINY_B * TINY_H),
                     QAT_ERR_INVALID_ARGUMENT, "attention_mask[1] is 2");
    qat_packed_model_free(pm);
    unlink(path);
    rmdir(dir);
    qat_model_free(m);
    qat_context_free(ctx);
}
END_TEST

START_TEST(test_pooling_malformed)
{
    make_dir();
    size_t size;
    float want[TINY_B * TINY_H];
    uint8_t *good = exported_pooling(QAT_POOLING_CLS, QAT_EMBED_NORMALIZE, want, &size);
    uint8_t *d = malloc(size);
    size_t rec = find_name(good, size, "pooling");
    size_t payload = (rec + strlen("pooling") + 7) & ~(size_t)7; /* u32 mode, u32 flags */
    memcpy(d, good, size);
    store_u32(d + payload, 3);
    reseal(d, size);
    expect_reject(d, size, "'pooling': unknown mode 3", "mode");
    memcpy(d, good, size);
    store_u32(d + payload + 4, 2);
    reseal(d, size);
    expect_reject(d, size, "'pooling': unknown flags 0x2", "flags");
    memcpy(d, good, size);
    store_u32(d + payload, 2); /* "unsupported" without its reason */
    reseal(d, size);
    expect_reject(d, size, "'pooling' has 0 bytes after its mode", "reason");
    memcpy(d, good, size);
    store_u32(d + rec - 16, QATP_KIND_I64_FOR_TEST);
    reseal(d, size);
    expect_reject(d, size, "pooling", "kind");
    free(d);
    free(good);
    rmdir(dir);
}
END_TEST

/* ---- The checkpoint's max_seq_length ("max_seq_length" record) --------- */

/* A tiny model saved, given a sentence_bert_config.json saying 12, loaded
 * back and exported: the file's bytes. */
static uint8_t *exported_max_seq_length(size_t *size)
{
    qat_context *ctx = NULL;
    QAT_ASSERT_OK(qat_context_create("ref", &ctx));
    qat_model *m = NULL;
    QAT_ASSERT_OK(tiny_model(ctx, QAT_ARCH_BERT, QAT_TASK_TOKEN_CLASSIFICATION, NULL, &m));
    char ckpt[512], path[600];
    path_in(ckpt, sizeof ckpt, "st");
    QAT_ASSERT_OK(qat_model_save(m, ckpt));
    qat_model_free(m);
    snprintf(path, sizeof path, "%s/sentence_bert_config.json", ckpt);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"max_seq_length\": 12, \"do_lower_case\": false}", f);
    fclose(f);
    qat_load_options o;
    qat_load_options_init(&o, QAT_LOAD_OPTIONS_VERSION);
    o.task = QAT_TASK_TOKEN_CLASSIFICATION;
    QAT_ASSERT_OK(qat_model_load(ctx, ckpt, &o, &m));
    int64_t n = 0;
    QAT_ASSERT_OK(qat_model_max_seq_length(m, &n));
    ck_assert_int_eq(n, 12);
    path_in(path, sizeof path, "m.qatp");
    QAT_ASSERT_OK(qat_packed_export(m, path, NULL));
    qat_model_free(m);
    qat_context_free(ctx);
    uint8_t *d = read_all(path, size);
    unlink(path);
    char rm[700];
    snprintf(rm, sizeof rm, "rm -rf '%s'", ckpt);
    ck_assert_int_eq(system(rm), 0);
    return d;
}

START_TEST(test_max_seq_length_record)
{
    make_dir();
    size_t size;
    uint8_t *good = exported_max_seq_length(&size);
    qat_packed_model *pm = NULL;
    QAT_ASSERT_OK(qat_packed_model_load_memory(good, size, &pm));
    int64_t n = 0;
    QAT_ASSERT_OK(qat_packed_model_max_seq_length(pm, &n));
    ck_assert_int_eq(n, 12);
    QAT_ASSERT_FAILS(qat_packed_model_max_seq_length(pm, NULL), QAT_ERR_INVALID_ARGUMENT, "NULL");
    qat_packed_model_free(pm);
    uint8_t *d = malloc(size);
    size_t rec = find_name(good, size, "max_seq_length");
    size_t payload = (rec + strlen("max_seq_length") + 7) & ~(size_t)7; /* one int64 */
    const uint32_t bad[2] = {0, 70000};
    for (int i = 0; i < 2; i++) {
        memcpy(d, good, size);
        store_u32(d + payload, bad[i]);
        reseal(d, size);
        expect_reject(d, size, "'max_seq_length' is", "value");
    }
    memcpy(d, good, size);
    store_u32(d + rec - 16, 1); /* BYTES, not INT64 */
    reseal(d, size);
    expect_reject(d, size, "max_seq_length", "kind");
    free(d);
    free(good);
    rmdir(dir);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("export_format");
    TCase *tc = tcase_create("format");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_round_trip_tokenizer);
    tcase_add_test(tc, test_tokenizer_from_memory);
    tcase_add_test(tc, test_malformed);
    tcase_add_test(tc, test_labels_round_trip);
    tcase_add_test(tc, test_labels_absent);
    tcase_add_test(tc, test_labels_malformed);
    tcase_add_test(tc, test_pooling_round_trip);
    tcase_add_test(tc, test_pooling_bad_arguments);
    tcase_add_test(tc, test_pooling_malformed);
    tcase_add_test(tc, test_max_seq_length_record);
    suite_add_tcase(s, tc);
    return s;
}
