/* qat_tokenizer_encode_pair against transformers' tokenizers (pair_fixtures.py):
 * RoBERTa / CamemBERT / BERT layouts, token type ids, and `longest_first`
 * truncation as the fast tokenizers do it and, with
 * QAT_TOKENIZE_SLOW_TRUNCATION, as the Python ones do. */
#include <check.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "qat/tokenizer.h"
#include "../c/test_main.h"
#include "tok_test_util.h"

static const char *const dirs[] = {"hf_roberta", "hf_camembert_fast", "hf_bert", "hf_bert_vocab",
                                   "hf_camembert", "hf_xlmr"};

static size_t parse_ints(const char *p, const char *end, int32_t *out)
{
    size_t n = 0;
    while (p < end && *p) {
        char *next;
        long v = strtol(p, &next, 10);
        if (next == p)
            break;
        out[n++] = (int32_t)v;
        p = next;
    }
    return n;
}

START_TEST(pairs_match_transformers)
{
    const char *name = dirs[_i];
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.pairs", fixture_dir(), name);
    FILE *f = fopen(path, "r");
    if (!f) {
        printf("%s: no pair fixtures (transformers unavailable), skipped\n", name);
        return;
    }
    qat_tokenizer *tok = NULL;
    QAT_ASSERT_OK(qat_tokenizer_load(fixture_path(name), &tok));
    char *line = NULL;
    size_t lcap = 0, lines = 0, truncated = 0, other_differs = 0, step = case_stride();
    ssize_t got;
    static int32_t want_ids[4096], want_types[4096], ids[4096], types[4096];
    while ((got = getline(&line, &lcap, f)) > 0) {
        if (line[got - 1] == '\n')
            line[--got] = '\0';
        if (lines++ % step)
            continue;
        char *col[6] = {line};
        for (int c = 1; c < 6; c++) {
            col[c] = strchr(col[c - 1], '\t');
            ck_assert_ptr_nonnull(col[c]);
            *col[c]++ = '\0';
        }
        size_t la, lb = 0;
        char *a = unhex(col[0], strlen(col[0]), &la);
        char *b = strcmp(col[1], "*") == 0 ? NULL : unhex(col[1], strlen(col[1]), &lb);
        size_t max_len = strtoul(col[2], NULL, 10);
        unsigned flags = atoi(col[3]) ? QAT_TOKENIZE_SLOW_TRUNCATION : 0;
        size_t n_want = parse_ints(col[4], col[4] + strlen(col[4]), want_ids);
        size_t n_types = parse_ints(col[5], col[5] + strlen(col[5]), want_types);
        ck_assert_uint_eq(n_want, n_types);
        size_t n = 0;
        QAT_ASSERT_OK(qat_tokenizer_encode_pair(tok, a, la, b, lb, flags, max_len, ids, types, 4096, &n));
        int same = n == n_want && memcmp(ids, want_ids, n * sizeof *ids) == 0 &&
                   memcmp(types, want_types, n * sizeof *types) == 0;
        if (!same) {
            fprintf(stderr, "%s line %zu (max_length %zu, flags %u): a='%s' b='%s'\n got ", name, lines, max_len,
                    flags, a, b ? b : "(none)");
            for (size_t i = 0; i < n; i++)
                fprintf(stderr, "%d/%d ", ids[i], types[i]);
            fprintf(stderr, "\nwant ");
            for (size_t i = 0; i < n_want; i++)
                fprintf(stderr, "%d/%d ", want_ids[i], want_types[i]);
            fprintf(stderr, "\n");
        }
        ck_assert_msg(same, "%s: line %zu differs from transformers", name, lines);
        /* The size query (capacity 0) agrees, and type_ids may be NULL. */
        size_t need = 0;
        ck_assert_int_eq(qat_tokenizer_encode_pair(tok, a, la, b, lb, flags, max_len, NULL, NULL, 0, &need),
                         n ? QAT_ERR_BUFFER_TOO_SMALL : QAT_OK);
        ck_assert_uint_eq(need, n);
        truncated += max_len > 0 && b && n == max_len;
        /* The other truncation differs on some cases (odd budgets, ties). */
        size_t n_other = 0;
        QAT_ASSERT_OK(qat_tokenizer_encode_pair(tok, a, la, b, lb, flags ^ QAT_TOKENIZE_SLOW_TRUNCATION, max_len, ids,
                                                types, 4096, &n_other));
        other_differs += n_other != n || memcmp(ids, want_ids, n * sizeof *ids) != 0;
        free(a);
        free(b);
    }
    free(line);
    fclose(f);
    ck_assert_uint_gt(lines, 1000);
    /* The cases do exercise truncation, and the two kinds differ on some
     * (a few dozen lines: counted where every line is checked, not on
     * valgrind's sample). */
    if (step == 1) {
        ck_assert_uint_gt(truncated, 100);
        ck_assert_uint_gt(other_differs, 10);
    }
    qat_tokenizer_free(tok);
}
END_TEST

/* The layouts spelled out, on one tokenizer of each family. */
START_TEST(layouts_and_errors)
{
    qat_tokenizer *rob = NULL, *bert = NULL;
    QAT_ASSERT_OK(qat_tokenizer_load(fixture_path("hf_roberta"), &rob));
    QAT_ASSERT_OK(qat_tokenizer_load(fixture_path("hf_bert"), &bert));
    int32_t cls, sep, ids[64], types[64], a[32], b[32];
    size_t n, na, nb;
    QAT_ASSERT_OK(qat_tokenizer_special_id(rob, QAT_TOKEN_BOS, &cls));
    QAT_ASSERT_OK(qat_tokenizer_special_id(rob, QAT_TOKEN_EOS, &sep));
    QAT_ASSERT_OK(qat_tokenizer_encode(rob, "le chat", 7, a, 32, &na));
    QAT_ASSERT_OK(qat_tokenizer_encode(rob, "dort", 4, b, 32, &nb));
    QAT_ASSERT_OK(qat_tokenizer_encode_pair(rob, "le chat", 7, "dort", 4, 0, 0, ids, types, 64, &n));
    ck_assert_uint_eq(n, na + nb + 4);
    ck_assert_int_eq(ids[0], cls);
    ck_assert_int_eq(ids[na + 1], sep);
    ck_assert_int_eq(ids[na + 2], sep);
    ck_assert_int_eq(ids[n - 1], sep);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(types[i], 0);
    QAT_ASSERT_OK(qat_tokenizer_special_id(bert, QAT_TOKEN_BOS, &cls));
    QAT_ASSERT_OK(qat_tokenizer_special_id(bert, QAT_TOKEN_EOS, &sep));
    QAT_ASSERT_OK(qat_tokenizer_encode(bert, "le chat", 7, a, 32, &na));
    QAT_ASSERT_OK(qat_tokenizer_encode(bert, "dort", 4, b, 32, &nb));
    QAT_ASSERT_OK(qat_tokenizer_encode_pair(bert, "le chat", 7, "dort", 4, 0, 0, ids, types, 64, &n));
    ck_assert_uint_eq(n, na + nb + 3);
    ck_assert_int_eq(ids[0], cls);
    ck_assert_int_eq(ids[na + 1], sep);
    ck_assert_int_eq(ids[n - 1], sep);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(types[i], i <= na + 1 ? 0 : 1);
    /* single text: [CLS] A [SEP], type 0 */
    QAT_ASSERT_OK(qat_tokenizer_encode_pair(bert, "le chat", 7, NULL, 0, 0, 0, ids, types, 64, &n));
    ck_assert_uint_eq(n, na + 2);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(types[i], 0);
    QAT_ASSERT_FAILS(qat_tokenizer_encode_pair(bert, "le chat", 7, "dort", 4, 0, 2, ids, types, 64, &n),
                     QAT_ERR_INVALID_ARGUMENT, "special tokens");
    QAT_ASSERT_FAILS(qat_tokenizer_encode_pair(bert, "le chat", 7, "dort", 4, 8u, 0, ids, types, 64, &n),
                     QAT_ERR_INVALID_ARGUMENT, "flags");
    QAT_ASSERT_FAILS(qat_tokenizer_encode_pair(bert, "le chat", 7, "dort", 4, 0, 0, ids, types, 3, &n),
                     QAT_ERR_BUFFER_TOO_SMALL, "do not fit");
    ck_assert_uint_eq(n, na + nb + 3);
    qat_tokenizer_free(rob);
    qat_tokenizer_free(bert);
}
END_TEST

Suite *make_suite(void)
{
    skip_without_fixtures();
    char path[4200];
    snprintf(path, sizeof path, "%s/hf_bert", fixture_dir());
    if (access(path, R_OK) != 0) {
        printf("SKIP: transformers fixtures unavailable\n");
        exit(77);
    }
    Suite *s = suite_create("tokenizer_pair");
    TCase *tc = tcase_create("pair");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, pairs_match_transformers, 0, (int)(sizeof dirs / sizeof *dirs));
    tcase_add_test(tc, layouts_and_errors);
    suite_add_tcase(s, tc);
    return s;
}
