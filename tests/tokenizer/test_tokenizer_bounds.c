/* Tokenizer files built to exhaust memory (issue #17): a tokenizer.json
 * whose vocabulary holds a 100 MB token, and a vocab.txt with a 100 MB
 * line, took 5.2 GB and 20 s (the tries use tens of bytes per piece byte);
 * now both fail at once naming the piece, under a 1 GiB address-space
 * limit. The longest piece accepted still loads and encodes. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../c/memory_limit.h"
#include "../c/test_main.h"
#include "qat/tokenizer.h"
#include "tok_test_util.h"

/* The 100 MB, where the address-space limit holds the test to
 * account; under valgrind, which checks the refusal's frees, 4 MB (still
 * 4096 times the cap), since copying 100 MB there took 8 s a case. */
static size_t huge_token(void)
{
    return test_under_valgrind() ? (size_t)4 << 20 : (size_t)100 << 20;
}

/* The message naming a piece of huge_token() bytes. */
static const char *huge_message(void)
{
    static char msg[64];
    snprintf(msg, sizeof msg, "has %zu bytes, more than the 1024", huge_token());
    return msg;
}

static char out_path[4096];

static char *read_fixture(const char *name, size_t *n)
{
    FILE *f = fopen(fixture_path(name), "rb");
    ck_assert_msg(f != NULL, "fixture %s missing", name);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc(*n + 1);
    ck_assert_uint_eq(fread(text, 1, *n, f), *n);
    text[*n] = '\0';
    fclose(f);
    return text;
}

/* The fixture with its piece `old` (a JSON key with its id) replaced by a
 * piece of `len` bytes 'x', written to out_path. */
static void write_with_piece(const char *fixture, const char *old, size_t len, const char *suffix)
{
    size_t n;
    char *text = read_fixture(fixture, &n);
    char *at = strstr(text, old);
    ck_assert_msg(at != NULL, "%s lacks %s", fixture, old);
    snprintf(out_path, sizeof out_path, "/tmp/qat-tokbounds-%d%s", (int)getpid(), suffix);
    FILE *f = fopen(out_path, "wb");
    ck_assert_ptr_nonnull(f);
    fwrite(text, 1, (size_t)(at - text), f);
    char *x = malloc(len);
    memset(x, 'x', len);
    fputc('"', f);
    fwrite(x, 1, len, f);
    fputs(strchr(at + 1, '"'), f); /* the rest, from the key's closing quote */
    fclose(f);
    free(x);
    free(text);
}

START_TEST(huge_token_in_tokenizer_json)
{
    skip_without_fixtures();
    write_with_piece("json_wp_lower.json", "\"%\": 7,", huge_token(), ".json");
    qat_tokenizer *tok = (qat_tokenizer *)1;
    QAT_ASSERT_FAILS(qat_tokenizer_load(out_path, &tok), QAT_ERR_FORMAT, "piece 7 ('xxxxxxxx");
    ck_assert_msg(strstr(qat_last_error(), huge_message()), "%s", qat_last_error());
    ck_assert_ptr_null(tok);
    /* the longest accepted piece: loads, and is found whole */
    write_with_piece("json_wp_lower.json", "\"%\": 7,", 1024, ".json");
    QAT_ASSERT_OK(qat_tokenizer_load(out_path, &tok));
    char piece[1025];
    memset(piece, 'x', 1024);
    piece[1024] = '\0';
    int32_t id;
    QAT_ASSERT_OK(qat_tokenizer_piece_to_id(tok, piece, 1024, &id));
    ck_assert_int_eq(id, 7);
    qat_tokenizer_free(tok);
    unlink(out_path);
}
END_TEST

START_TEST(huge_line_in_vocab_txt)
{
    skip_without_fixtures();
    size_t n;
    char *text = read_fixture("hf_bert_vocab/vocab.txt", &n);
    snprintf(out_path, sizeof out_path, "/tmp/qat-tokbounds-%d-vocab.txt", (int)getpid());
    FILE *f = fopen(out_path, "wb");
    fwrite(text, 1, n, f);
    char *x = malloc(huge_token());
    memset(x, 'y', huge_token());
    fwrite(x, 1, huge_token(), f);
    fputc('\n', f);
    fclose(f);
    free(x);
    free(text);
    qat_tokenizer *tok = (qat_tokenizer *)1;
    QAT_ASSERT_FAILS(qat_tokenizer_load(out_path, &tok), QAT_ERR_FORMAT, huge_message());
    ck_assert_msg(strstr(qat_last_error(), "vocab.txt"), "%s", qat_last_error());
    ck_assert_ptr_null(tok);
    unlink(out_path);
}
END_TEST

Suite *make_suite(void)
{
    qat_test_limit_memory((size_t)1 << 30);
    Suite *s = suite_create("tokenizer_bounds");
    TCase *tc = tcase_create("bounds");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, huge_token_in_tokenizer_json);
    tcase_add_test(tc, huge_line_in_vocab_txt);
    suite_add_tcase(s, tc);
    return s;
}
