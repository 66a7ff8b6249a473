/* Pre-tokenization: packing, shards by mmap, interruption and resumption
 * (same bytes as an uninterrupted run), skip when done, settings checks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "data/corpus.h"
#include "data/pretok.h"
#include "data/shards.h"
#include "data_test_util.h"
#include "test_main.h"

#define VOCAB 1000

/* A toy tokenizer: one id per word (5 + hash % (vocab - 5)), optionally
 * failing after `budget` calls to simulate an interruption. */
typedef struct toy {
    long calls;
    long budget; /* < 0: unlimited */
    int64_t vocab;
    int small_first; /* ask for a bigger buffer once, exercising the retry */
} toy;

static qat_status toy_encode(void *user, const char *text, size_t len, int32_t *ids, size_t cap, size_t *count)
{
    toy *t = user;
    if (t->budget >= 0 && t->calls >= t->budget)
        return qat_fail(QAT_ERR_INTERNAL, "simulated crash");
    t->calls++;
    size_t n = 0;
    uint32_t h = 2166136261u;
    int in_word = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || text[i] == ' ' || text[i] == '\t') {
            if (in_word) {
                if (n < cap)
                    ids[n] = (int32_t)(5 + h % (uint32_t)(t->vocab - 5));
                n++;
            }
            in_word = 0;
            h = 2166136261u;
        } else {
            in_word = 1;
            h = (h ^ (unsigned char)text[i]) * 16777619u;
        }
    }
    *count = n;
    return QAT_OK;
}

static char *make_corpus(const char *dir, int gz, size_t *size)
{
    size_t cap = 1 << 20, k = 0;
    char *s = malloc(cap);
    for (int line = 0; line < 300; line++) {
        int words = line % 41 == 0 ? 1200 : 1 + line % 23;
        for (int w = 0; w < words; w++)
            k += (size_t)snprintf(s + k, cap - k, "%sw%d", w ? " " : "", (line * 131 + w * 7) % 5003);
        if (line % 3 == 0)
            s[k++] = '\r'; /* CRLF on some lines */
        s[k++] = '\n';
        if (line % 50 == 0)
            s[k++] = '\n';
    }
    char *p = path_in(dir, gz ? "corpus.txt.gz" : "corpus.txt");
    if (gz)
        write_gz(p, s, k);
    else
        write_bytes(p, s, k);
    *size = k;
    free(s);
    return p;
}

static void options(qat_data_pretok_options *o, const char *corpus, const char *out, toy *t)
{
    qat_data_pretok_options_init(o);
    o->corpus_path = corpus;
    o->out_dir = out;
    o->encode = toy_encode;
    o->encode_user = t;
    o->tokenizer_id = "toy-v1";
    o->vocab_size = t->vocab;
    o->bos_id = 0;
    o->eos_id = 2;
    o->seq_len = 16;
    o->seqs_per_shard = 40;
}

static void same_file(const char *a_dir, const char *b_dir, const char *name)
{
    char *a = path_in(a_dir, name), *b = path_in(b_dir, name);
    size_t na, nb;
    char *x = read_bytes(a, &na), *y = read_bytes(b, &nb);
    ck_assert_msg(na == nb && memcmp(x, y, na) == 0, "%s differs between the runs", name);
    free(x);
    free(y);
    free(a);
    free(b);
}

/* The token stream the shards must hold: <s> ids </s> per record. */
static int32_t *expected_stream(const char *corpus, toy *t, size_t *n)
{
    qat_data_corpus *c = NULL;
    QAT_ASSERT_OK(qat_data_corpus_open(corpus, NULL, &c));
    size_t cap = 1 << 16, k = 0;
    int32_t *v = malloc(cap * sizeof *v);
    int32_t ids[4096];
    for (;;) {
        const char *text;
        size_t len, cnt = 0;
        QAT_ASSERT_OK(qat_data_corpus_next(c, &text, &len));
        if (!text)
            break;
        QAT_ASSERT_OK(toy_encode(t, text, len, ids, 4096, &cnt));
        if (k + cnt + 2 > cap)
            v = realloc(v, (cap *= 2) * sizeof *v);
        v[k++] = 0;
        memcpy(v + k, ids, cnt * sizeof *ids);
        k += cnt;
        v[k++] = 2;
    }
    qat_data_corpus_close(c);
    *n = k;
    return v;
}

static void run_case(int gz, int64_t vocab)
{
    char *dir = scratch_dir();
    size_t size;
    char *corpus = make_corpus(dir, gz, &size);
    char *a = path_in(dir, "a"), *b = path_in(dir, "b");
    ck_assert_int_eq(mkdir(a, 0755), 0);
    ck_assert_int_eq(mkdir(b, 0755), 0);

    toy ta = {0, -1, vocab, 0};
    qat_data_pretok_options o;
    qat_data_pretok_report rep;
    options(&o, corpus, a, &ta);
    QAT_ASSERT_OK(qat_data_pretokenize(&o, &rep));
    ck_assert(!rep.skipped && !rep.resumed);
    ck_assert_uint_gt(rep.shards, 10);
    ck_assert_uint_lt(rep.dropped_tail_tokens, 16);

    /* Interrupted twice (once inside the first shard), then completed. */
    toy tb = {0, 3, vocab, 0};
    options(&o, corpus, b, &tb);
    QAT_ASSERT_FAILS(qat_data_pretokenize(&o, &rep), QAT_ERR_INTERNAL, "simulated crash");
    ck_assert_ptr_nonnull(strstr(qat_last_error(), "encoding line"));
    tb.calls = 0;
    tb.budget = 140;
    QAT_ASSERT_FAILS(qat_data_pretokenize(&o, &rep), QAT_ERR_INTERNAL, "simulated crash");
    /* A leftover temporary file from a crash does no harm. */
    char *junk = path_in(b, "shard-00099.bin.tmp");
    write_bytes(junk, "junk", 4);
    unlink(junk);
    free(junk);
    tb.calls = 0;
    tb.budget = -1;
    QAT_ASSERT_OK(qat_data_pretokenize(&o, &rep));
    ck_assert(rep.resumed && !rep.skipped);
    ck_assert_int_lt(tb.calls, ta.calls); /* it did not start over */
    for (uint64_t i = 0; i < rep.shards; i++) {
        char name[64];
        snprintf(name, sizeof name, "shard-%05llu.bin", (unsigned long long)i);
        same_file(a, b, name);
    }
    same_file(a, b, "manifest.json");

    /* Done: skipped without calling the encoder. */
    tb.calls = 0;
    QAT_ASSERT_OK(qat_data_pretokenize(&o, &rep));
    ck_assert(rep.skipped);
    ck_assert_int_eq(tb.calls, 0);
    /* Other settings on the same folder are refused. */
    o.seq_len = 32;
    QAT_ASSERT_FAILS(qat_data_pretokenize(&o, &rep), QAT_ERR_STATE, "other settings");
    o.seq_len = 16;
    o.tokenizer_id = "toy-v2";
    QAT_ASSERT_FAILS(qat_data_pretokenize(&o, &rep), QAT_ERR_STATE, "other settings");

    /* The shards hold the packed stream, sequence after sequence. */
    qat_data_shards *sh = NULL;
    QAT_ASSERT_OK(qat_data_shards_open(a, 0, &sh));
    ck_assert_uint_eq(qat_data_shards_seq_len(sh), 16);
    size_t n_stream;
    toy tc = {0, -1, vocab, 0};
    int32_t *stream = expected_stream(corpus, &tc, &n_stream);
    uint64_t n_seq = qat_data_shards_count(sh);
    ck_assert_uint_eq(n_seq, n_stream / 16);
    int32_t seq[16];
    for (uint64_t i = 0; i < n_seq; i++) {
        QAT_ASSERT_OK(qat_data_shards_get(sh, i, seq));
        ck_assert_msg(memcmp(seq, stream + i * 16, sizeof seq) == 0, "sequence %llu differs",
                      (unsigned long long)i);
    }
    QAT_ASSERT_FAILS(qat_data_shards_get(sh, n_seq, seq), QAT_ERR_INVALID_ARGUMENT, "out of range");
    qat_data_shards_close(sh);
    /* Token width follows the vocabulary size. */
    char *first = path_in(a, "shard-00000.bin");
    size_t fn;
    char *img = read_bytes(first, &fn);
    ck_assert_int_eq(img[12], vocab <= 65536 ? 2 : 4);
    ck_assert_uint_eq(fn, 32 + 40 * 16 * (size_t)(vocab <= 65536 ? 2 : 4));
    /* A damaged shard is refused when opened. */
    write_bytes(first, img, fn - 1);
    QAT_ASSERT_FAILS(qat_data_shards_open(a, 0, &sh), QAT_ERR_FORMAT, "truncated");
    free(img);
    free(first);
    free(stream);

    remove_dir(a);
    remove_dir(b);
    free(corpus);
    remove_dir(dir);
}

START_TEST(test_resume_plain)
{
    run_case(0, VOCAB);
}
END_TEST

START_TEST(test_resume_gzip_wide_vocab)
{
    run_case(1, 100000);
}
END_TEST

START_TEST(test_errors)
{
    char *dir = scratch_dir();
    char *empty = path_in(dir, "empty.txt");
    write_bytes(empty, "\n\n", 2);
    toy t = {0, -1, VOCAB, 0};
    qat_data_pretok_options o;
    qat_data_pretok_report rep;
    options(&o, empty, dir, &t);
    QAT_ASSERT_FAILS(qat_data_pretokenize(&o, &rep), QAT_ERR_FORMAT, "no complete sequence");
    /* The unfinished folder is refused by the reader. */
    qat_data_shards *sh = NULL;
    QAT_ASSERT_FAILS(qat_data_shards_open(dir, 0, &sh), QAT_ERR_STATE, "unfinished");
    QAT_ASSERT_OK(qat_data_shards_open(dir, 1, &sh));
    ck_assert_uint_eq(qat_data_shards_count(sh), 0);
    qat_data_shards_close(sh);
    o.out_dir = "/nonexistent/out";
    QAT_ASSERT_FAILS(qat_data_pretokenize(&o, &rep), QAT_ERR_IO, "does not exist");
    o.out_dir = dir;
    o.bos_id = VOCAB;
    QAT_ASSERT_FAILS(qat_data_pretokenize(&o, &rep), QAT_ERR_INVALID_ARGUMENT, "outside the vocabulary");
    QAT_ASSERT_FAILS(qat_data_shards_open("/nonexistent", 0, &sh), QAT_ERR_NOT_FOUND, "cannot read");
    free(empty);
    remove_dir(dir);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("data_pretok");
    TCase *tc = tcase_create("pretok");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_resume_plain);
    tcase_add_test(tc, test_resume_gzip_wide_vocab);
    tcase_add_test(tc, test_errors);
    suite_add_tcase(s, tc);
    return s;
}
