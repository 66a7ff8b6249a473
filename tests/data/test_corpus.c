/* The corpus reader: records, CRLF, blank lines, the long-line sanitizer on
 * pathological lines, invalid UTF-8 (replace and error), gzip (plain,
 * truncated), and resumption from every position. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "data/corpus.h"
#include "core/utf8.h"
#include "data_test_util.h"
#include "test_main.h"

typedef struct recs {
    char **text;
    qat_data_corpus_pos *after;
    size_t n;
} recs;

static void free_recs(recs *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->text[i]);
    free(r->text);
    free(r->after);
}

static void read_all(qat_data_corpus *c, recs *r)
{
    memset(r, 0, sizeof *r);
    for (;;) {
        const char *t;
        size_t n;
        QAT_ASSERT_OK(qat_data_corpus_next(c, &t, &n));
        if (!t)
            break;
        ck_assert_uint_eq(strlen(t), n);
        r->text = realloc(r->text, (r->n + 1) * sizeof *r->text);
        r->after = realloc(r->after, (r->n + 1) * sizeof *r->after);
        r->text[r->n] = strdup(t);
        qat_data_corpus_position(c, &r->after[r->n]);
        r->n++;
    }
}

static void read_mem(const char *s, size_t n, const qat_data_corpus_options *o, recs *r)
{
    qat_data_corpus *c = NULL;
    QAT_ASSERT_OK(qat_data_corpus_open_memory(s, n, "mem", o, &c));
    read_all(c, r);
    qat_data_corpus_close(c);
}

static size_t chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static int is_ws_byte(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Every record is valid UTF-8, within max_chars, without edge spaces. */
static void check_invariants(const recs *r, size_t max_chars)
{
    for (size_t i = 0; i < r->n; i++) {
        const char *t = r->text[i];
        size_t n = strlen(t);
        ck_assert_uint_gt(n, 0);
        ck_assert_uint_eq(qat_utf8_validate(t, n), n);
        ck_assert_msg(chars(t) <= max_chars, "record %zu has %zu characters", i, chars(t));
        ck_assert(!is_ws_byte(t[0]) && !is_ws_byte(t[n - 1]));
    }
}

START_TEST(test_lines_crlf_blank)
{
    const char *s = "hello world\r\n\r\n   \n  second\tline  \nthird";
    recs r;
    read_mem(s, strlen(s), NULL, &r);
    ck_assert_uint_eq(r.n, 3);
    ck_assert_str_eq(r.text[0], "hello world");
    ck_assert_str_eq(r.text[1], "second\tline");
    ck_assert_str_eq(r.text[2], "third");
    ck_assert_uint_eq(r.after[0].line, 1);
    ck_assert_uint_eq(r.after[0].offset, 13);
    ck_assert_uint_eq(r.after[2].line, 5);
    ck_assert_uint_eq(r.after[2].offset, strlen(s));
    free_recs(&r);
    /* Empty input, only blank lines, an embedded NUL. */
    read_mem("", 0, NULL, &r);
    ck_assert_uint_eq(r.n, 0);
    free_recs(&r);
    read_mem("\n\n \r\n", 5, NULL, &r);
    ck_assert_uint_eq(r.n, 0);
    free_recs(&r);
    read_mem("a\0b\n", 4, NULL, &r);
    ck_assert_str_eq(r.text[0], "a b");
    free_recs(&r);
}
END_TEST

/* Joins records with single spaces, for comparison with a normalised line. */
static char *join(const recs *r)
{
    size_t total = 1;
    for (size_t i = 0; i < r->n; i++)
        total += strlen(r->text[i]) + 1;
    char *s = calloc(total, 1);
    for (size_t i = 0; i < r->n; i++) {
        if (i)
            strcat(s, " ");
        strcat(s, r->text[i]);
    }
    return s;
}

START_TEST(test_long_lines)
{
    /* Words: cut at white space, nothing lost but the spaces at cuts. */
    size_t cap = 1 << 20;
    char *s = malloc(cap);
    size_t n = 0;
    for (int w = 0; w < 2500; w++)
        n += (size_t)sprintf(s + n, "%s%d", w ? " " : "", w * 7919 % 100003);
    s[n++] = '\n';
    recs r;
    read_mem(s, n, NULL, &r);
    ck_assert_uint_gt(r.n, 4);
    check_invariants(&r, 2000);
    for (size_t i = 0; i + 1 < r.n; i++) /* a cut at the last space: no room for the next word */
        ck_assert_uint_gt(chars(r.text[i]) + 1 + strcspn(r.text[i + 1], " "), 2000);
    char *joined = join(&r);
    s[n - 1] = '\0';
    ck_assert_str_eq(joined, s);
    free(joined);
    free_recs(&r);

    /* No white space at all, 2-byte characters: cut every 2000 characters. */
    n = 0;
    for (int i = 0; i < 5001; i++) {
        s[n++] = (char)0xC3;
        s[n++] = (char)0xA9; /* é */
    }
    s[n++] = '\n';
    memcpy(s + n, "next\n", 5);
    n += 5;
    read_mem(s, n, NULL, &r);
    ck_assert_uint_eq(r.n, 4);
    ck_assert_uint_eq(chars(r.text[0]), 2000);
    ck_assert_uint_eq(chars(r.text[1]), 2000);
    ck_assert_uint_eq(chars(r.text[2]), 1001);
    ck_assert_str_eq(r.text[3], "next");
    check_invariants(&r, 2000);
    free_recs(&r);

    /* 4-byte characters mixed with rare spaces, a small max_chars. */
    qat_data_corpus_options o;
    qat_data_corpus_options_init(&o);
    o.max_chars = 7;
    n = 0;
    for (int i = 0; i < 300; i++) {
        memcpy(s + n, "\xF0\x9F\x98\x80", 4); /* U+1F600 */
        n += 4;
        if (i % 11 == 10)
            s[n++] = ' ';
    }
    read_mem(s, n, &o, &r);
    check_invariants(&r, 7);
    free_recs(&r);

    /* A white space exactly at character max_chars: the segment is full. */
    o.max_chars = 5;
    read_mem("abcde fghij klm", 15, &o, &r);
    ck_assert_uint_eq(r.n, 3);
    ck_assert_str_eq(r.text[0], "abcde");
    ck_assert_str_eq(r.text[1], "fghij");
    ck_assert_str_eq(r.text[2], "klm");
    free_recs(&r);

    /* Runs of white space longer than the limit vanish. */
    n = 0;
    s[n++] = 'x';
    for (int i = 0; i < 5000; i++)
        s[n++] = i % 2 ? ' ' : '\t';
    s[n++] = 'y';
    read_mem(s, n, NULL, &r);
    ck_assert_uint_eq(r.n, 2);
    ck_assert_str_eq(r.text[0], "x");
    ck_assert_str_eq(r.text[1], "y");
    free_recs(&r);
    free(s);
}
END_TEST

START_TEST(test_invalid_utf8)
{
    /* Replacement follows Python's errors="replace" (maximal subparts). */
    static const struct { const char *in; const char *out; } cases[] = {
        {"a\xff" "b", "a\xEF\xBF\xBD" "b"},
        {"\xe2\x82" "A", "\xEF\xBF\xBD" "A"},
        {"\xf0\x80\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
        {"\xed\xa0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}, /* a surrogate */
        {"ok\xc3", "ok\xEF\xBF\xBD"},                               /* cut at the end */
        {"\xc0\xaf", "\xEF\xBF\xBD\xEF\xBF\xBD"},                   /* overlong */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        recs r;
        read_mem(cases[i].in, strlen(cases[i].in), NULL, &r);
        ck_assert_uint_eq(r.n, 1);
        ck_assert_msg(strcmp(r.text[0], cases[i].out) == 0, "case %zu", i);
        free_recs(&r);
    }
    qat_data_corpus_options o;
    qat_data_corpus_options_init(&o);
    o.utf8 = QAT_DATA_UTF8_ERROR;
    const char *bad = "fine\nbad \xff here\n";
    qat_data_corpus *c = NULL;
    QAT_ASSERT_OK(qat_data_corpus_open_memory(bad, strlen(bad), "bad.txt", &o, &c));
    const char *t;
    size_t n;
    QAT_ASSERT_OK(qat_data_corpus_next(c, &t, &n));
    ck_assert_str_eq(t, "fine");
    QAT_ASSERT_FAILS(qat_data_corpus_next(c, &t, &n), QAT_ERR_FORMAT, "bad.txt: line 2: invalid UTF-8");
    qat_data_corpus_close(c);
}
END_TEST

/* Reading from each recorded position gives the rest of the records. */
static void check_resume(qat_data_corpus *c, const recs *all)
{
    for (size_t k = 0; k < all->n; k += 1 + all->n / 17) {
        QAT_ASSERT_OK(qat_data_corpus_seek(c, &all->after[k]));
        recs rest;
        read_all(c, &rest);
        ck_assert_uint_eq(rest.n, all->n - k - 1);
        for (size_t i = 0; i < rest.n; i++)
            ck_assert_str_eq(rest.text[i], all->text[k + 1 + i]);
        free_recs(&rest);
    }
    qat_data_corpus_pos start = {0, 0, 0};
    QAT_ASSERT_OK(qat_data_corpus_seek(c, &start));
    recs again;
    read_all(c, &again);
    ck_assert_uint_eq(again.n, all->n);
    free_recs(&again);
}

static char *mixed_corpus(size_t *n)
{
    size_t cap = 1 << 20;
    char *s = malloc(cap);
    size_t k = 0;
    for (int line = 0; line < 400; line++) {
        int words = line % 37 == 0 ? 900 : line % 5;
        for (int w = 0; w < words; w++)
            k += (size_t)snprintf(s + k, cap - k, "%sw%d", w ? " " : "", (line * 31 + w) % 997);
        if (line % 9 == 0)
            s[k++] = '\r';
        s[k++] = '\n';
    }
    *n = k;
    return s;
}

START_TEST(test_gzip_and_resume)
{
    char *dir = scratch_dir();
    size_t n;
    char *s = mixed_corpus(&n);
    recs mem;
    read_mem(s, n, NULL, &mem);
    check_invariants(&mem, 2000);
    char *plain = path_in(dir, "c.txt"), *gz = path_in(dir, "c.txt.gz");
    write_bytes(plain, s, n);
    write_gz(gz, s, n);
    const char *paths[2] = {plain, gz};
    for (int p = 0; p < 2; p++) {
        qat_data_corpus *c = NULL;
        QAT_ASSERT_OK(qat_data_corpus_open(paths[p], NULL, &c));
        recs r;
        read_all(c, &r);
        ck_assert_uint_eq(r.n, mem.n);
        for (size_t i = 0; i < r.n; i++)
            ck_assert_str_eq(r.text[i], mem.text[i]);
        qat_data_corpus_stats st;
        qat_data_corpus_stats_get(c, &st);
        ck_assert_uint_eq(st.lines, 400);
        ck_assert_uint_gt(st.cut_lines, 5);
        check_resume(c, &r);
        free_recs(&r);
        qat_data_corpus_close(c);
    }
    /* Memory source resumes the same way. */
    qat_data_corpus *c = NULL;
    QAT_ASSERT_OK(qat_data_corpus_open_memory(s, n, "mem", NULL, &c));
    check_resume(c, &mem);
    qat_data_corpus_close(c);

    /* A truncated gzip file fails with a clear message. */
    size_t gz_n;
    char *gz_bytes = read_bytes(gz, &gz_n);
    char *cut = path_in(dir, "cut.txt.gz");
    write_bytes(cut, gz_bytes, gz_n / 2);
    QAT_ASSERT_OK(qat_data_corpus_open(cut, NULL, &c));
    qat_status st = QAT_OK;
    for (;;) {
        const char *t;
        size_t len;
        st = qat_data_corpus_next(c, &t, &len);
        if (st != QAT_OK || !t)
            break;
    }
    ck_assert_int_eq(st, QAT_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(qat_last_error(), "truncated"));
    qat_data_corpus_close(c);
    QAT_ASSERT_FAILS(qat_data_corpus_open("/nonexistent/corpus.txt", NULL, &c), QAT_ERR_IO, "cannot open");
    ck_assert_ptr_null(c);

    free(gz_bytes);
    free(cut);
    free(plain);
    free(gz);
    free(s);
    free_recs(&mem);
    remove_dir(dir);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("data_corpus");
    TCase *tc = tcase_create("corpus");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_lines_crlf_blank);
    tcase_add_test(tc, test_long_lines);
    tcase_add_test(tc, test_invalid_utf8);
    tcase_add_test(tc, test_gzip_and_resume);
    suite_add_tcase(s, tc);
    return s;
}
