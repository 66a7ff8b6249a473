/* Malformed tokenizer files: every one fails with a clear message and
 * neither crashes nor leaks (the suite runs under ASan and valgrind). */
#include <check.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "qat/tokenizer.h"
#include "../c/test_main.h"
#include "tok_test_util.h"

static char tmp_path[4096];

static void write_tmp(const void *data, size_t n, const char *suffix)
{
    snprintf(tmp_path, sizeof tmp_path, "%s/malformed_%d%s", fixture_dir(), (int)getpid(), suffix);
    FILE *f = fopen(tmp_path, "wb");
    ck_assert_ptr_nonnull(f);
    if (n)
        ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

static qat_status load_bytes(const void *data, size_t n, const char *suffix)
{
    write_tmp(data, n, suffix);
    qat_tokenizer *tok = (qat_tokenizer *)1;
    qat_status st = qat_tokenizer_load(tmp_path, &tok);
    if (st == QAT_OK) {
        qat_tokenizer_free(tok);
    } else {
        ck_assert_ptr_null(tok);
        ck_assert_msg(strlen(qat_last_error()) > 10, "no message for status %d", st);
    }
    unlink(tmp_path);
    return st;
}

static uint8_t *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *d = malloc(*n);
    ck_assert_uint_eq(fread(d, 1, *n, f), *n);
    fclose(f);
    return d;
}

START_TEST(truncated_models)
{
    size_t n;
    uint8_t *d = read_all(fixture_path("unigram_bytes.model"), &n);
    int failed = 0;
    /* every prefix length near the start, then a stride through the file */
    for (size_t len = 0; len < n; len += len < 4096 ? 1 + len / 64 : n / 97) {
        if (load_bytes(d, len, ".model") != QAT_OK)
            failed++;
    }
    ck_assert_int_gt(failed, 50);
    free(d);
}
END_TEST

START_TEST(hand_made_protobufs)
{
    /* truncated varint */
    static const uint8_t bad_varint[] = {0x0a, 0xff, 0xff};
    QAT_ASSERT_FAILS(load_bytes(bad_varint, sizeof bad_varint, ".model"), QAT_ERR_FORMAT, "truncated varint");
    /* 11-byte varint */
    static const uint8_t long_varint[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    QAT_ASSERT_FAILS(load_bytes(long_varint, sizeof long_varint, ".model"), QAT_ERR_FORMAT, "longer than 64 bits");
    /* pieces (field 1) as a varint */
    static const uint8_t wrong_type[] = {0x08, 0x01};
    QAT_ASSERT_FAILS(load_bytes(wrong_type, sizeof wrong_type, ".model"), QAT_ERR_FORMAT,
                     "ModelProto.pieces (field 1, offset 0): expected a length-delimited field");
    /* a length far beyond the file */
    static const uint8_t huge_len[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00};
    QAT_ASSERT_FAILS(load_bytes(huge_len, sizeof huge_len, ".model"), QAT_ERR_FORMAT, "declares 4294967295 bytes");
    /* group wire type */
    static const uint8_t group[] = {0x0b, 0x0c};
    QAT_ASSERT_FAILS(load_bytes(group, sizeof group, ".model"), QAT_ERR_FORMAT, "unsupported wire type 3");
    /* field number 0 */
    static const uint8_t field0[] = {0x00, 0x00};
    QAT_ASSERT_FAILS(load_bytes(field0, sizeof field0, ".model"), QAT_ERR_FORMAT, "invalid field number");
    /* empty file */
    QAT_ASSERT_FAILS(load_bytes("", 0, ".model"), QAT_ERR_FORMAT, "no pieces");
    /* one piece that is not <unk> */
    static const uint8_t no_unk[] = {0x0a, 0x03, 0x0a, 0x01, 'a'};
    QAT_ASSERT_FAILS(load_bytes(no_unk, sizeof no_unk, ".model"), QAT_ERR_FORMAT, "unk is not defined");
    /* an empty piece */
    static const uint8_t empty_piece[] = {0x0a, 0x02, 0x18, 0x02};
    QAT_ASSERT_FAILS(load_bytes(empty_piece, sizeof empty_piece, ".model"), QAT_ERR_FORMAT, "is empty");
    /* unknown piece type 9 */
    static const uint8_t bad_type[] = {0x0a, 0x05, 0x0a, 0x01, 'a', 0x18, 0x09};
    QAT_ASSERT_FAILS(load_bytes(bad_type, sizeof bad_type, ".model"), QAT_ERR_FORMAT, "unknown type 9");
    /* score as a varint */
    static const uint8_t bad_score[] = {0x0a, 0x05, 0x0a, 0x01, 'a', 0x10, 0x01};
    QAT_ASSERT_FAILS(load_bytes(bad_score, sizeof bad_score, ".model"), QAT_ERR_FORMAT, "SentencePiece.score");
    /* two unknown pieces */
    static const uint8_t two_unk[] = {0x0a, 0x05, 0x0a, 0x01, 'a', 0x18, 0x02, 0x0a, 0x05, 0x0a, 0x01, 'b', 0x18, 0x02};
    QAT_ASSERT_FAILS(load_bytes(two_unk, sizeof two_unk, ".model"), QAT_ERR_FORMAT, "unk is already defined");
    /* duplicate pieces */
    static const uint8_t dup[] = {0x0a, 0x05, 0x0a, 0x01, 'a', 0x18, 0x02, 0x0a, 0x03, 0x0a, 0x01, 'a'};
    QAT_ASSERT_FAILS(load_bytes(dup, sizeof dup, ".model"), QAT_ERR_FORMAT, "already defined");
    /* a byte piece without byte_fallback */
    static const uint8_t byte_piece[] = {0x0a, 0x05, 0x0a, 0x01, 'a', 0x18, 0x02, 0x0a, 0x0a, 0x0a, 0x06, '<', '0',
                                         'x', '4', '1', '>', 0x18, 0x06};
    QAT_ASSERT_FAILS(load_bytes(byte_piece, sizeof byte_piece, ".model"), QAT_ERR_FORMAT, "byte_fallback is false");
    /* byte_fallback without 256 byte pieces */
    static const uint8_t few_bytes[] = {0x0a, 0x05, 0x0a, 0x01, 'a', 0x18, 0x02, 0x12, 0x02, 0x98, 0x02, 0x01};
    uint8_t fb[sizeof few_bytes];
    memcpy(fb, few_bytes, sizeof fb);
    fb[8] = 0x98; /* field 35 varint: tag = 35 << 3 = 280 = 0x98 0x02 */
    static const uint8_t few_bytes2[] = {0x0a, 0x05, 0x0a, 0x01, 'a', 0x18, 0x02, 0x12, 0x03, 0x98, 0x02, 0x01};
    QAT_ASSERT_FAILS(load_bytes(few_bytes2, sizeof few_bytes2, ".model"), QAT_ERR_FORMAT, "not 256");
    /* WORD model type */
    static const uint8_t word[] = {0x0a, 0x05, 0x0a, 0x01, 'a', 0x18, 0x02, 0x12, 0x02, 0x18, 0x03};
    QAT_ASSERT_FAILS(load_bytes(word, sizeof word, ".model"), QAT_ERR_UNSUPPORTED, "model_type 3");
    /* broken charsmaps: too short, trie larger than the blob, odd size */
    static const uint8_t cm_short[] = {0x0a, 0x05, 0x0a, 0x01, 'a', 0x18, 0x02, 0x1a, 0x04, 0x12, 0x02, 0x01, 0x00};
    QAT_ASSERT_FAILS(load_bytes(cm_short, sizeof cm_short, ".model"), QAT_ERR_FORMAT, "too short");
    static const uint8_t cm_big[] = {0x0a, 0x05, 0x0a, 0x01, 'a', 0x18, 0x02, 0x1a, 0x08, 0x12, 0x06,
                                     0xff, 0x00, 0x00, 0x00, 0x01, 0x02};
    QAT_ASSERT_FAILS(load_bytes(cm_big, sizeof cm_big, ".model"), QAT_ERR_FORMAT, "declares a trie of 255 bytes");
    static const uint8_t cm_odd[] = {0x0a, 0x05, 0x0a, 0x01, 'a', 0x18, 0x02, 0x1a, 0x08, 0x12, 0x06,
                                     0x02, 0x00, 0x00, 0x00, 0x01, 0x02};
    QAT_ASSERT_FAILS(load_bytes(cm_odd, sizeof cm_odd, ".model"), QAT_ERR_FORMAT, "multiple of 4");
    (void)fb;
}
END_TEST

START_TEST(bit_flips_in_a_model)
{
    size_t n;
    uint8_t *d = read_all(fixture_path("bpe_bytes.model"), &n);
    uint64_t rng = 12345;
    for (int it = 0; it < 300; it++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        uint8_t *c = malloc(n);
        memcpy(c, d, n);
        /* flips concentrated in the header region, where structure is dense */
        size_t at = (size_t)(rng >> 16) % (it % 2 ? n : (n < 2048 ? n : 2048));
        c[at] ^= (uint8_t)(1u << (rng % 8));
        write_tmp(c, n, ".model");
        qat_tokenizer *tok;
        if (qat_tokenizer_load(tmp_path, &tok) == QAT_OK) {
            /* whatever loaded must encode and decode without harm */
            int32_t ids[512];
            size_t count;
            const char *s = "Le médecin a prescrit 😀 ﬁn  \t x";
            if (qat_tokenizer_encode(tok, s, strlen(s), ids, 512, &count) == QAT_OK) {
                char text[2048];
                (void)qat_tokenizer_decode(tok, ids, count, text, sizeof text, NULL);
            }
            qat_tokenizer_free(tok);
        }
        unlink(tmp_path);
        free(c);
    }
    free(d);
}
END_TEST

START_TEST(missing_paths)
{
    qat_tokenizer *tok;
    QAT_ASSERT_FAILS(qat_tokenizer_load("/nonexistent/x.model", &tok), QAT_ERR_IO, "/nonexistent/x.model");
    QAT_ASSERT_FAILS(qat_tokenizer_load(NULL, &tok), QAT_ERR_INVALID_ARGUMENT, "NULL path");
    QAT_ASSERT_FAILS(qat_tokenizer_load("x", NULL), QAT_ERR_INVALID_ARGUMENT, "NULL out");
    QAT_ASSERT_FAILS(qat_tokenizer_load(fixture_dir(), &tok), QAT_ERR_NOT_FOUND, "no tokenizer found");
}
END_TEST

#define JSON_FAILS(text, status, msg) QAT_ASSERT_FAILS(load_bytes(text, strlen(text), ".json"), status, msg)

START_TEST(malformed_tokenizer_json)
{
    JSON_FAILS("", QAT_ERR_FORMAT, "not valid JSON");
    JSON_FAILS("{\"model\": ", QAT_ERR_FORMAT, "not valid JSON");
    JSON_FAILS("{\"model\": {}} trailing", QAT_ERR_FORMAT, "trailing data");
    JSON_FAILS("[1, 2]", QAT_ERR_FORMAT, "top level must be a JSON object");
    JSON_FAILS("{\"version\": \"1.0\"}", QAT_ERR_FORMAT, "model is missing");
    JSON_FAILS("{\"model\": []}", QAT_ERR_FORMAT, "model must be an object, not an array");
    JSON_FAILS("{\"model\": {}}", QAT_ERR_FORMAT, "model.vocab is missing");
    JSON_FAILS("{\"model\": {\"type\": \"WordLevel\", \"vocab\": {}}}", QAT_ERR_UNSUPPORTED,
               "model.type 'WordLevel' is not supported");
    JSON_FAILS("{\"model\": {\"type\": 3}}", QAT_ERR_FORMAT, "model.type must be a string");
    JSON_FAILS("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}}}", QAT_ERR_FORMAT,
               "model.merges is missing");
    JSON_FAILS("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": \"x\"}, \"merges\": []}}", QAT_ERR_FORMAT,
               "must be an integer id");
    JSON_FAILS("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 5}, \"merges\": []}}",
               QAT_ERR_FORMAT, "outside [0, 2)");
    JSON_FAILS("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 0}, \"merges\": []}}",
               QAT_ERR_FORMAT, "is given to both");
    JSON_FAILS("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"a b\"]}}",
               QAT_ERR_FORMAT, "merged token 'ab' is not in the vocabulary");
    JSON_FAILS("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"a c\"]}}",
               QAT_ERR_FORMAT, "merges[0]: 'c' is not in the vocabulary");
    JSON_FAILS("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"ab\"]}}",
               QAT_ERR_FORMAT, "merges[0] must be");
    JSON_FAILS("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [7]}}", QAT_ERR_FORMAT,
               "merges[0] must be");
    JSON_FAILS("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [], \"unk_token\": \"<unk>\"}}",
               QAT_ERR_FORMAT, "unk_token '<unk>' is not in the vocabulary");
    JSON_FAILS("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [], \"dropout\": 0.1}}",
               QAT_ERR_UNSUPPORTED, "dropout");
    JSON_FAILS("{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\"]]}}", QAT_ERR_FORMAT,
               "model.vocab[0] must be [\"piece\", score]");
    JSON_FAILS("{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\", -1.0]], \"unk_id\": 4}}", QAT_ERR_FORMAT,
               "unk_id = 4 is out of range");
    JSON_FAILS("{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\", -1], [\"a\", -2]]}}", QAT_ERR_FORMAT,
               "already defined");
    JSON_FAILS("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}}}", QAT_ERR_FORMAT,
               "unk_token '[UNK]' is not in the vocabulary");
    static const char wp[] = "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": 0, \"a\": 1}}";
    char buf[1024];
    snprintf(buf, sizeof buf, "%s, \"normalizer\": {\"type\": \"NFKC\"}}", wp);
    JSON_FAILS(buf, QAT_ERR_UNSUPPORTED, "normalizer 'NFKC' is not supported");
    snprintf(buf, sizeof buf, "%s, \"normalizer\": 5}", wp);
    JSON_FAILS(buf, QAT_ERR_FORMAT, "normalizer must be an object or null");
    snprintf(buf, sizeof buf, "%s, \"normalizer\": {\"type\": \"Replace\", \"pattern\": {\"Regex\": \"[a-z]+\"}, "
             "\"content\": \"x\"}}", wp);
    JSON_FAILS(buf, QAT_ERR_UNSUPPORTED, "regex '[a-z]+' is not supported");
    snprintf(buf, sizeof buf, "%s, \"normalizer\": {\"type\": \"Precompiled\", \"precompiled_charsmap\": \"@@@\"}}", wp);
    JSON_FAILS(buf, QAT_ERR_FORMAT, "not base64");
    snprintf(buf, sizeof buf, "%s, \"pre_tokenizer\": {\"type\": \"Digits\"}}", wp);
    JSON_FAILS(buf, QAT_ERR_UNSUPPORTED, "pre_tokenizer 'Digits' is not supported");
    snprintf(buf, sizeof buf, "%s, \"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\": \"ab\"}}", wp);
    JSON_FAILS(buf, QAT_ERR_FORMAT, "replacement must be one character");
    snprintf(buf, sizeof buf, "%s, \"post_processor\": {\"type\": \"BertProcessing\", \"sep\": [\"a\"], "
             "\"cls\": [\"a\", 1]}}", wp);
    JSON_FAILS(buf, QAT_ERR_FORMAT, "post_processor.sep must be");
    snprintf(buf, sizeof buf, "%s, \"post_processor\": {\"type\": \"BertProcessing\", \"sep\": [\"a\", 9], "
             "\"cls\": [\"a\", 1]}}", wp);
    JSON_FAILS(buf, QAT_ERR_FORMAT, "outside the vocabulary");
    snprintf(buf, sizeof buf, "%s, \"added_tokens\": [{\"id\": 1, \"content\": \"b\"}]}", wp);
    JSON_FAILS(buf, QAT_ERR_FORMAT, "id 1 is 'a' in the vocabulary");
    snprintf(buf, sizeof buf, "%s, \"added_tokens\": [{\"id\": 7, \"content\": \"b\"}]}", wp);
    JSON_FAILS(buf, QAT_ERR_FORMAT, "leaves a gap");
    snprintf(buf, sizeof buf, "%s, \"added_tokens\": [{\"id\": 2, \"content\": \"[X]\", \"lstrip\": \"yes\"}]}", wp);
    JSON_FAILS(buf, QAT_ERR_FORMAT, "lstrip must be a boolean");
    snprintf(buf, sizeof buf, "%s}", wp);
    ck_assert_int_eq(load_bytes(buf, strlen(buf), ".json"), QAT_OK);
    /* vocab.txt */
    QAT_ASSERT_FAILS(load_bytes("[PAD]\n[UNK]\n[PAD]\n", 18, ".txt"), QAT_ERR_FORMAT, "already defined");
    QAT_ASSERT_FAILS(load_bytes("[PAD]\na\n", 8, ".txt"), QAT_ERR_FORMAT, "unk_token '[UNK]'");
    ck_assert_int_eq(load_bytes("[PAD]\n[UNK]\n", 12, ".txt"), QAT_OK);
}
END_TEST

Suite *make_suite(void)
{
    skip_without_fixtures();
    Suite *s = suite_create("tokenizer_malformed");
    TCase *tc = tcase_create("malformed");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, truncated_models);
    tcase_add_test(tc, hand_made_protobufs);
    tcase_add_test(tc, bit_flips_in_a_model);
    tcase_add_test(tc, missing_paths);
    tcase_add_test(tc, malformed_tokenizer_json);
    suite_add_tcase(s, tc);
    return s;
}
