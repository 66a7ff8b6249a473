/* SentencePiece models trained by python3-sentencepiece: ids and decoded
 * text identical to SentencePiece's on every fixture line, plus the API's
 * buffer, argument and thread-safety contracts. */
#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "qat/tokenizer.h"
#include "../c/test_main.h"
#include "tok_test_util.h"

/* viterbi: a vocabulary where SentencePiece's float scores segment unlike
 * tokenizers' doubles (viterbi_fixtures.py; json_viterbi in the json suite). */
static const char *const models[] = {"unigram", "bpe", "unigram_bytes", "bpe_bytes", "unigram_user", "bpe_raw",
                                     "viterbi"};

static void check_tokenizer(const char *name, const char *file, int check_decode)
{
    char model[4200];
    snprintf(model, sizeof model, file, name);
    qat_tokenizer *tok;
    QAT_ASSERT_OK(qat_tokenizer_load(fixture_path(model), &tok));
    size_t n;
    tcase *cases = read_cases(name, &n);
    ck_assert_msg(cases && n > 3000, "%s: fixture cases missing", name);
    int32_t ids[8192];
    char text[65536];
    size_t mismatches = 0;
    for (size_t i = 0; i < n; i += case_stride()) {
        size_t count;
        QAT_ASSERT_OK(qat_tokenizer_encode(tok, cases[i].text, cases[i].text_len, ids, 8192, &count));
        if (!ids_match(name, i, &cases[i], ids, count, &mismatches))
            continue;
        if (!check_decode)
            continue;
        size_t needed;
        QAT_ASSERT_OK(qat_tokenizer_decode(tok, cases[i].ids, cases[i].n_ids, text, sizeof text, &needed));
        if (needed != cases[i].decoded_len + 1 || memcmp(text, cases[i].decoded, cases[i].decoded_len) != 0) {
            if (mismatches++ < 5)
                fprintf(stderr, "%s line %zu: decoded '%s', expected '%s'\n", name, i, text, cases[i].decoded);
        }
    }
    ck_assert_msg(mismatches == 0, "%s: %zu of %zu lines differ from SentencePiece", name, mismatches, n);
    free_cases(cases, n);
    qat_tokenizer_free(tok);
}

START_TEST(ids_match_sentencepiece)
{
    check_tokenizer(models[_i], "%s.model", 1);
}
END_TEST

/* HF directories: transformers' CamembertTokenizer / XLMRobertaTokenizer ids. */
START_TEST(ids_match_hf_fairseq_conventions)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/hf_camembert.cases", fixture_dir());
    if (access(path, R_OK) != 0) {
        printf("transformers unavailable: HF directory checks skipped\n");
        return;
    }
    check_tokenizer("hf_camembert", "%s", 0);
    check_tokenizer("hf_xlmr", "%s", 0);
    qat_tokenizer *tok;
    QAT_ASSERT_OK(qat_tokenizer_load(fixture_path("hf_camembert"), &tok));
    int32_t id;
    size_t vs;
    QAT_ASSERT_OK(qat_tokenizer_vocab_size(tok, &vs));
    ck_assert_uint_eq(vs, 1005);
    QAT_ASSERT_OK(qat_tokenizer_special_id(tok, QAT_TOKEN_MASK, &id));
    ck_assert_int_eq(id, 1004);
    QAT_ASSERT_OK(qat_tokenizer_special_id(tok, QAT_TOKEN_BOS, &id));
    ck_assert_int_eq(id, 5);
    QAT_ASSERT_OK(qat_tokenizer_special_id(tok, QAT_TOKEN_PAD, &id));
    ck_assert_int_eq(id, 1);
    qat_tokenizer_free(tok);
}
END_TEST

START_TEST(buffers_and_arguments)
{
    qat_tokenizer *tok;
    QAT_ASSERT_OK(qat_tokenizer_load(fixture_path("unigram.model"), &tok));
    const char *s = "Le patient a reçu 500 mg de paracétamol.";
    size_t need, count;
    QAT_ASSERT_FAILS(qat_tokenizer_encode(tok, s, strlen(s), NULL, 0, &need), QAT_ERR_BUFFER_TOO_SMALL, "fit");
    ck_assert_uint_gt(need, 3);
    int32_t ids[64];
    QAT_ASSERT_FAILS(qat_tokenizer_encode(tok, s, strlen(s), ids, need - 1, &count), QAT_ERR_BUFFER_TOO_SMALL,
                     "fit");
    ck_assert_uint_eq(count, need);
    QAT_ASSERT_OK(qat_tokenizer_encode(tok, s, strlen(s), ids, need, &count));
    ck_assert_uint_eq(count, need);
    char text[256];
    size_t tneed;
    QAT_ASSERT_FAILS(qat_tokenizer_decode(tok, ids, count, text, 3, &tneed), QAT_ERR_BUFFER_TOO_SMALL, "bytes");
    ck_assert_uint_eq(tneed, strlen(s) + 1);
    QAT_ASSERT_OK(qat_tokenizer_decode(tok, ids, count, text, sizeof text, &tneed));
    ck_assert_str_eq(text, s);
    int32_t bad = 1 << 20;
    QAT_ASSERT_FAILS(qat_tokenizer_decode(tok, &bad, 1, text, sizeof text, NULL), QAT_ERR_INVALID_ARGUMENT,
                     "out of range");
    QAT_ASSERT_FAILS(qat_tokenizer_encode(NULL, s, 1, ids, 64, &count), QAT_ERR_INVALID_ARGUMENT, "NULL");
    QAT_ASSERT_FAILS(qat_tokenizer_encode(tok, NULL, 1, ids, 64, &count), QAT_ERR_INVALID_ARGUMENT, "NULL");
    QAT_ASSERT_OK(qat_tokenizer_encode(tok, NULL, 0, ids, 64, &count));
    ck_assert_uint_eq(count, 0);
    /* specials and pieces */
    int32_t id;
    QAT_ASSERT_OK(qat_tokenizer_special_id(tok, QAT_TOKEN_UNK, &id));
    ck_assert_int_eq(id, 0);
    QAT_ASSERT_OK(qat_tokenizer_special_id(tok, QAT_TOKEN_BOS, &id));
    ck_assert_int_eq(id, 1);
    QAT_ASSERT_OK(qat_tokenizer_special_id(tok, QAT_TOKEN_EOS, &id));
    ck_assert_int_eq(id, 2);
    QAT_ASSERT_OK(qat_tokenizer_special_id(tok, QAT_TOKEN_PAD, &id));
    ck_assert_int_eq(id, -1);
    QAT_ASSERT_FAILS(qat_tokenizer_special_id(tok, (qat_token_special)9, &id), QAT_ERR_INVALID_ARGUMENT,
                     "unknown special");
    size_t vs;
    QAT_ASSERT_OK(qat_tokenizer_vocab_size(tok, &vs));
    ck_assert_uint_eq(vs, 1000);
    char piece[64];
    for (int32_t i = 0; i < (int32_t)vs; i++) {
        QAT_ASSERT_OK(qat_tokenizer_id_to_piece(tok, i, piece, sizeof piece, NULL));
        QAT_ASSERT_OK(qat_tokenizer_piece_to_id(tok, piece, strlen(piece), &id));
        ck_assert_int_eq(id, i);
    }
    QAT_ASSERT_FAILS(qat_tokenizer_piece_to_id(tok, "zzzzqqq", 7, &id), QAT_ERR_NOT_FOUND, "not in the vocabulary");
    const char *kind;
    QAT_ASSERT_OK(qat_tokenizer_kind(tok, &kind));
    ck_assert_str_eq(kind, "sentencepiece-unigram");
    qat_tokenizer_free(tok);
    qat_tokenizer_free(NULL);
}
END_TEST

START_TEST(words_alignment_and_truncation)
{
    qat_tokenizer *tok;
    QAT_ASSERT_OK(qat_tokenizer_load(fixture_path("bpe.model"), &tok));
    const char *words[] = {"Le", "patient", "hospitalisé", "à", "Strasbourg", "."};
    int32_t ids[64], widx[64], single[64];
    size_t count, n1;
    QAT_ASSERT_OK(qat_tokenizer_encode_words(tok, words, NULL, 6, QAT_TOKENIZE_ADD_SPECIAL, 0, ids, widx, 64,
                                             &count));
    ck_assert_int_eq(ids[0], 1);
    ck_assert_int_eq(widx[0], -1);
    ck_assert_int_eq(ids[count - 1], 2);
    ck_assert_int_eq(widx[count - 1], -1);
    /* every word's sub-tokens are those of the word encoded alone */
    size_t at = 1;
    for (int w = 0; w < 6; w++) {
        QAT_ASSERT_OK(qat_tokenizer_encode(tok, words[w], strlen(words[w]), single, 64, &n1));
        for (size_t k = 0; k < n1; k++, at++) {
            ck_assert_int_eq(ids[at], single[k]);
            ck_assert_int_eq(widx[at], w);
        }
    }
    ck_assert_uint_eq(at, count - 1);
    size_t full = count;
    QAT_ASSERT_OK(qat_tokenizer_encode_words(tok, words, NULL, 6, QAT_TOKENIZE_ADD_SPECIAL, 5, ids, widx, 64,
                                             &count));
    ck_assert_uint_eq(count, 5);
    ck_assert_int_eq(ids[4], 2);
    ck_assert_int_eq(widx[4], -1);
    QAT_ASSERT_OK(qat_tokenizer_encode_words(tok, words, NULL, 6, 0, 0, ids, NULL, 64, &count));
    ck_assert_uint_eq(count, full - 2);
    QAT_ASSERT_FAILS(qat_tokenizer_encode_words(tok, words, NULL, 6, 0, 0, ids, widx, 2, &count),
                     QAT_ERR_BUFFER_TOO_SMALL, "fit");
    ck_assert_uint_eq(count, full - 2);
    QAT_ASSERT_FAILS(qat_tokenizer_encode_words(tok, words, NULL, 6, 8, 0, ids, widx, 64, &count),
                     QAT_ERR_INVALID_ARGUMENT, "flags");
    qat_tokenizer_free(tok);
}
END_TEST

typedef struct thread_job {
    const qat_tokenizer *tok;
    tcase *cases;
    size_t n;
    int failures;
} thread_job;

static void *encode_all(void *arg)
{
    thread_job *job = arg;
    int32_t ids[8192];
    for (size_t i = 0; i < job->n; i++) {
        size_t count;
        if (qat_tokenizer_encode(job->tok, job->cases[i].text, job->cases[i].text_len, ids, 8192, &count) != QAT_OK ||
            count != job->cases[i].n_ids || memcmp(ids, job->cases[i].ids, count * sizeof *ids) != 0)
            job->failures++;
    }
    return NULL;
}

START_TEST(concurrent_encode)
{
    qat_tokenizer *tok;
    QAT_ASSERT_OK(qat_tokenizer_load(fixture_path("bpe_bytes.model"), &tok));
    size_t n_all;
    tcase *cases = read_cases("bpe_bytes", &n_all);
    ck_assert_ptr_nonnull(cases);
    size_t n = n_all > 600 ? 600 : n_all;
    pthread_t th[4];
    thread_job jobs[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (thread_job){tok, cases, n, 0};
        ck_assert_int_eq(pthread_create(&th[i], NULL, encode_all, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(jobs[i].failures, 0);
    }
    free_cases(cases, n_all);
    qat_tokenizer_free(tok);
}
END_TEST

Suite *make_suite(void)
{
    skip_without_fixtures();
    Suite *s = suite_create("tokenizer_spm");
    TCase *tc = tcase_create("spm");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, ids_match_sentencepiece, 0, (int)(sizeof models / sizeof *models));
    tcase_add_test(tc, ids_match_hf_fairseq_conventions);
    tcase_add_test(tc, buffers_and_arguments);
    tcase_add_test(tc, words_alignment_and_truncation);
    tcase_add_test(tc, concurrent_encode);
    suite_add_tcase(s, tc);
    return s;
}
