/* qat_tokenizer_save: every kind of tokenizer written into a directory
 * (holding another model's config.json and stale tokenizer files of other
 * kinds) loads back from that directory with the oracle's ids (the
 * fixtures' .cases, from sentencepiece / transformers / tokenizers). */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qat/tokenizer.h"
#include "../c/test_main.h"
#include "tok_test_util.h"

typedef struct fixture {
    const char *source; /* in the fixture dir */
    const char *cases;
    const char *saved_as; /* the file qat_tokenizer_save must write */
} fixture;

static const fixture fixtures[] = {
    {"unigram.model", "unigram", "spiece.model"},
    {"bpe.model", "bpe", "spiece.model"},
    {"hf_camembert", "hf_camembert", "sentencepiece.bpe.model"},
    {"hf_xlmr", "hf_xlmr", "sentencepiece.bpe.model"},
    {"hf_camembert_fast", "hf_camembert_fast", "tokenizer.json"},
    {"hf_bert_vocab", "hf_bert_vocab", "vocab.txt"},
    {"hf_bert_cased", "hf_bert_cased", "tokenizer.json"},
    {"json_wp_lower.json", "json_wp_lower", "tokenizer.json"},
    {"json_bpe.json", "json_bpe", "tokenizer.json"},
    {"json_unigram.json", "json_unigram", "tokenizer.json"},
};

static void write_text(const char *dir, const char *name, const char *text)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static int has_file(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

START_TEST(saved_tokenizer_loads_back_with_the_oracle_ids)
{
    skip_without_fixtures();
    const fixture *fx = &fixtures[_i];
    char dir[] = "/tmp/qat-toksave-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    /* A model directory of another family, with files of every other kind
     * a loader could prefer. */
    write_text(dir, "config.json", "{\"model_type\": \"roberta\"}\n");
    static const char *const stale[] = {"tokenizer.json", "vocab.txt", "sentencepiece.bpe.model", "spiece.model"};
    for (int i = 0; i < 4; i++)
        if (strcmp(stale[i], fx->saved_as) != 0)
            write_text(dir, stale[i], "stale\n");
    write_text(dir, "tokenizer_config.json", "{\"tokenizer_class\": \"BertTokenizer\", \"do_lower_case\": false}\n");

    qat_tokenizer *tok, *back;
    QAT_ASSERT_OK(qat_tokenizer_load(fixture_path(fx->source), &tok));
    QAT_ASSERT_OK(qat_tokenizer_save(tok, dir));
    ck_assert_msg(has_file(dir, fx->saved_as), "%s: %s not written", fx->source, fx->saved_as);
    for (int i = 0; i < 4; i++)
        if (strcmp(stale[i], fx->saved_as) != 0)
            ck_assert_msg(!has_file(dir, stale[i]), "%s: stale %s left", fx->source, stale[i]);
    QAT_ASSERT_OK(qat_tokenizer_load(dir, &back));

    size_t n = 0, v1, v2;
    tcase *cases = read_cases(fx->cases, &n);
    ck_assert_msg(cases && n > 100, "%s: fixture cases missing", fx->cases);
    QAT_ASSERT_OK(qat_tokenizer_vocab_size(tok, &v1));
    QAT_ASSERT_OK(qat_tokenizer_vocab_size(back, &v2));
    ck_assert_uint_eq(v1, v2);
    for (int s = 0; s < QAT_TOKEN_SPECIAL_COUNT; s++) {
        int32_t a, b;
        QAT_ASSERT_OK(qat_tokenizer_special_id(tok, (qat_token_special)s, &a));
        QAT_ASSERT_OK(qat_tokenizer_special_id(back, (qat_token_special)s, &b));
        ck_assert_int_eq(a, b);
    }
    static int32_t ids[8192];
    size_t bad = 0;
    for (size_t i = 0; i < n; i += case_stride()) {
        size_t count = 0;
        QAT_ASSERT_OK(qat_tokenizer_encode(back, cases[i].text, cases[i].text_len, ids, 8192, &count));
        if (count != cases[i].n_ids || memcmp(ids, cases[i].ids, count * sizeof *ids) != 0)
            bad++;
    }
    ck_assert_msg(bad == 0, "%s saved as %s: %zu of %zu lines differ from the oracle", fx->source, fx->saved_as, bad,
                  n);
    free_cases(cases, n);
    qat_tokenizer_free(back);
    qat_tokenizer_free(tok);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(bad_arguments)
{
    QAT_ASSERT_FAILS(qat_tokenizer_save(NULL, "/tmp"), QAT_ERR_INVALID_ARGUMENT, "NULL");
    skip_without_fixtures();
    qat_tokenizer *tok;
    QAT_ASSERT_OK(qat_tokenizer_load(fixture_path("unigram.model"), &tok));
    QAT_ASSERT_FAILS(qat_tokenizer_save(tok, NULL), QAT_ERR_INVALID_ARGUMENT, "NULL");
    ck_assert_int_ne(qat_tokenizer_save(tok, "/proc/qat-no-such-dir"), QAT_OK);
    qat_tokenizer_free(tok);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("tokenizer_save");
    TCase *tc = tcase_create("save");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, saved_tokenizer_loads_back_with_the_oracle_ids, 0,
                        (int)(sizeof fixtures / sizeof *fixtures));
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}
