/* HF tokenizer.json (ByteLevel BPE, Metaspace Unigram, WordPiece with BERT's
 * normalizer, lowercase and cased), BERT vocab.txt, and HF directories saved
 * by transformers' fast tokenizers: ids identical to the `tokenizers`
 * library's on every fixture line, and encode_words identical to
 * is_split_into_words=True (ids with special tokens, word_ids). */
#include <check.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "qat/tokenizer.h"
#include "../c/test_main.h"
#include "tok_test_util.h"

static const char *const cases_of[][2] = {
    {"json_bpe", "json_bpe.json"},           {"json_unigram", "json_unigram.json"},
    {"json_wp_lower", "json_wp_lower.json"}, {"json_wp_cased", "json_wp_cased.json"},
    {"hf_bert", "hf_bert"},                  {"hf_bert_cased", "hf_bert_cased"},
    {"hf_roberta", "hf_roberta"},            {"hf_camembert_fast", "hf_camembert_fast"},
    {"hf_bert_vocab", "hf_bert_vocab"},
    {"json_viterbi", "json_viterbi.json"}, /* tokenizers' doubles (viterbi_fixtures.py) */
    {"json_serde", "json_serde.json"},     /* scores read as serde_json reads them (viterbi_fixtures.py) */
};

/* Under valgrind every 8th line is enough (the suite stays fast). */
static int have_json_fixtures(void)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/json_bpe.cases", fixture_dir());
    if (access(path, R_OK) == 0)
        return 1;
    printf("tokenizers/transformers unavailable: tokenizer.json checks skipped\n");
    return 0;
}

START_TEST(ids_match_tokenizers)
{
    if (!have_json_fixtures())
        return;
    const char *name = cases_of[_i][0];
    qat_tokenizer *tok;
    QAT_ASSERT_OK(qat_tokenizer_load(fixture_path(cases_of[_i][1]), &tok));
    size_t n;
    tcase *cases = read_cases(name, &n);
    ck_assert_msg(cases && n > 3000, "%s: fixture cases missing", name);
    int32_t ids[8192];
    size_t mismatches = 0, step = case_stride();
    for (size_t i = 0; i < n; i += step) {
        size_t count;
        QAT_ASSERT_OK(qat_tokenizer_encode(tok, cases[i].text, cases[i].text_len, ids, 8192, &count));
        ids_match(name, i, &cases[i], ids, count, &mismatches);
    }
    ck_assert_msg(mismatches == 0, "%s: %zu of %zu lines differ from tokenizers", name, mismatches, n);
    free_cases(cases, n);
    qat_tokenizer_free(tok);
}
END_TEST

static size_t parse_ints(char *p, char *end, int32_t *out)
{
    size_t n = 0;
    while (p < end && *p && *p != '\t' && *p != '\n' && n < 8192) {
        char *q;
        out[n++] = (int32_t)strtol(p, &q, 10);
        if (q == p)
            break;
        p = q;
        while (*p == ' ')
            p++;
    }
    return n;
}

static const char *const words_of[] = {"hf_bert", "hf_bert_cased", "hf_roberta", "hf_camembert_fast"};

START_TEST(words_match_is_split_into_words)
{
    if (!have_json_fixtures())
        return;
    const char *name = words_of[_i];
    qat_tokenizer *tok;
    QAT_ASSERT_OK(qat_tokenizer_load(fixture_path(name), &tok));
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.words", fixture_dir(), name);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char *line = NULL;
    size_t lcap = 0, lines = 0, mismatches = 0, step = case_stride();
    ssize_t got;
    static int32_t want[8192], want_w[8192], ids[8192], widx[8192];
    while ((got = getline(&line, &lcap, f)) > 0) {
        char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        ck_assert_ptr_nonnull(t2);
        if (lines++ % step)
            continue;
        size_t tl;
        char *text = unhex(line, (size_t)(t1 - line), &tl);
        const char *words[1024];
        size_t lens[1024], nw = 0, at = 0;
        for (size_t i = 0; i <= tl; i++)
            if (i == tl || text[i] == '\x1f') {
                words[nw] = text + at;
                lens[nw++] = i - at;
                at = i + 1;
            }
        size_t n_want = parse_ints(t1 + 1, t2, want), n_w = parse_ints(t2 + 1, line + got, want_w);
        ck_assert_uint_eq(n_want, n_w);
        size_t count;
        QAT_ASSERT_OK(qat_tokenizer_encode_words(tok, words, lens, nw, QAT_TOKENIZE_ADD_SPECIAL, 0, ids, widx, 8192,
                                                 &count));
        if (count != n_want || memcmp(ids, want, count * 4) != 0 || memcmp(widx, want_w, count * 4) != 0) {
            if (mismatches++ < 3) {
                fprintf(stderr, "%s words line %zu '%s': got", name, lines, text);
                for (size_t k = 0; k < count; k++)
                    fprintf(stderr, " %d/%d", ids[k], widx[k]);
                fprintf(stderr, "\n  expected");
                for (size_t k = 0; k < n_want; k++)
                    fprintf(stderr, " %d/%d", want[k], want_w[k]);
                fprintf(stderr, "\n");
            }
        }
        free(text);
    }
    free(line);
    fclose(f);
    ck_assert_uint_gt(lines, 500);
    ck_assert_msg(mismatches == 0, "%s: %zu of %zu word lines differ from transformers", name, mismatches, lines);
    qat_tokenizer_free(tok);
}
END_TEST

START_TEST(specials_kind_and_decode)
{
    if (!have_json_fixtures())
        return;
    qat_tokenizer *tok;
    const char *kind;
    int32_t id, ids[64];
    char text[256];
    size_t count;
    QAT_ASSERT_OK(qat_tokenizer_load(fixture_path("hf_bert"), &tok));
    QAT_ASSERT_OK(qat_tokenizer_kind(tok, &kind));
    ck_assert_str_eq(kind, "wordpiece");
    QAT_ASSERT_OK(qat_tokenizer_special_id(tok, QAT_TOKEN_BOS, &id));
    ck_assert_int_eq(id, 2); /* [CLS] */
    QAT_ASSERT_OK(qat_tokenizer_special_id(tok, QAT_TOKEN_MASK, &id));
    ck_assert_int_eq(id, 4);
    const char *s = "Le patient [MASK] hospitalisé à Strasbourg.";
    QAT_ASSERT_OK(qat_tokenizer_encode(tok, s, strlen(s), ids, 64, &count));
    int has_mask = 0;
    for (size_t i = 0; i < count; i++)
        has_mask |= ids[i] == 4;
    ck_assert(has_mask);
    QAT_ASSERT_OK(qat_tokenizer_decode(tok, ids, count, text, sizeof text, NULL));
    ck_assert_str_eq(text, "le patient hospitalise a strasbourg .");
    qat_tokenizer_free(tok);

    QAT_ASSERT_OK(qat_tokenizer_load(fixture_path("hf_roberta"), &tok));
    QAT_ASSERT_OK(qat_tokenizer_kind(tok, &kind));
    ck_assert_str_eq(kind, "json-bpe");
    s = "Le médecin a prescrit 500 mg 😀 !";
    QAT_ASSERT_OK(qat_tokenizer_encode(tok, s, strlen(s), ids, 64, &count));
    QAT_ASSERT_OK(qat_tokenizer_decode(tok, ids, count, text, sizeof text, NULL));
    ck_assert_str_eq(text, " Le médecin a prescrit 500 mg 😀 !");
    qat_tokenizer_free(tok);

    QAT_ASSERT_OK(qat_tokenizer_load(fixture_path("json_unigram.json"), &tok));
    QAT_ASSERT_OK(qat_tokenizer_kind(tok, &kind));
    ck_assert_str_eq(kind, "json-unigram");
    s = "Le médecin a prescrit 500 mg.";
    QAT_ASSERT_OK(qat_tokenizer_encode(tok, s, strlen(s), ids, 64, &count));
    QAT_ASSERT_OK(qat_tokenizer_decode(tok, ids, count, text, sizeof text, NULL));
    ck_assert_str_eq(text, s);
    qat_tokenizer_free(tok);
}
END_TEST

Suite *make_suite(void)
{
    skip_without_fixtures();
    Suite *s = suite_create("tokenizer_json");
    TCase *tc = tcase_create("json");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, ids_match_tokenizers, 0, (int)(sizeof cases_of / sizeof *cases_of));
    tcase_add_loop_test(tc, words_match_is_split_into_words, 0, (int)(sizeof words_of / sizeof *words_of));
    tcase_add_test(tc, specials_kind_and_decode);
    suite_add_tcase(s, tc);
    return s;
}
