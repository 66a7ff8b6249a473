/* config.json: the reader against transformers' view of generated configs,
 * every refusal, and the writer (round trip; HF loading is checked by
 * check_roundtrip.py). */
#include <math.h>
#include <string.h>

#include "formats/hf_config.h"
#include "formats_test_util.h"
#include "qat/core.h"
#include "test_main.h"

static const char *const cases[] = {
    "camembert_mlm_st", "camembert_mlm_bin", "roberta_tok_st",
    "bert_mlm_untied_bin", "xlmr_mlm_sharded_st", "bert_tok_sharded_bin",
};

/* The "key value" lines written by gen_checkpoints.py from AutoConfig. */
static void check_expect(const qat_model_dims *d, const char *path)
{
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    char key[64], value[128];
    while (fscanf(f, "%63s %127s", key, value) == 2) {
        long long iv = atoll(value);
        float fv = strtof(value, NULL);
        if (strcmp(key, "model_type") == 0) ck_assert_str_eq(d->model_type, value);
        else if (strcmp(key, "vocab_size") == 0) ck_assert_int_eq(d->vocab_size, iv);
        else if (strcmp(key, "hidden_size") == 0) ck_assert_int_eq(d->hidden_size, iv);
        else if (strcmp(key, "num_hidden_layers") == 0) ck_assert_int_eq(d->num_layers, iv);
        else if (strcmp(key, "num_attention_heads") == 0) ck_assert_int_eq(d->num_heads, iv);
        else if (strcmp(key, "intermediate_size") == 0) ck_assert_int_eq(d->intermediate_size, iv);
        else if (strcmp(key, "max_position_embeddings") == 0) ck_assert_int_eq(d->max_position_embeddings, iv);
        else if (strcmp(key, "type_vocab_size") == 0) ck_assert_int_eq(d->type_vocab_size, iv);
        else if (strcmp(key, "pad_token_id") == 0) ck_assert_int_eq(d->pad_token_id, iv);
        else if (strcmp(key, "bos_token_id") == 0) ck_assert_int_eq(d->bos_token_id, iv);
        else if (strcmp(key, "eos_token_id") == 0) ck_assert_int_eq(d->eos_token_id, iv);
        else if (strcmp(key, "layer_norm_eps") == 0) ck_assert_float_eq(d->layer_norm_eps, fv);
        else if (strcmp(key, "tie_word_embeddings") == 0) ck_assert_int_eq(d->tie_word_embeddings, iv);
        else if (strcmp(key, "hidden_dropout_prob") == 0) ck_assert_float_eq(d->hidden_dropout_prob, fv);
        else if (strcmp(key, "attention_probs_dropout_prob") == 0) ck_assert_float_eq(d->attention_dropout_prob, fv);
        else if (strcmp(key, "num_labels") == 0) ck_assert_int_eq(d->num_labels, iv);
    }
    fclose(f);
}

START_TEST(reads_generated_configs)
{
    char path[1024], expect[1024], rel[256];
    snprintf(rel, sizeof rel, "models/%s/config.json", cases[_i]);
    data_path(path, sizeof path, rel);
    snprintf(rel, sizeof rel, "models/%s.expect", cases[_i]);
    data_path(expect, sizeof expect, rel);
    qat_model_dims d;
    qat_hf_labels labels;
    QAT_ASSERT_OK(qat_hf_config_read(path, &d, &labels));
    check_expect(&d, expect);
    ck_assert_uint_eq(labels.count, (size_t)d.num_labels);
    ck_assert_int_eq(d.arch, strcmp(d.model_type, "bert") == 0 ? QAT_ARCH_BERT : QAT_ARCH_ROBERTA);
    if (strcmp(cases[_i], "roberta_tok_st") == 0) {
        ck_assert_str_eq(labels.names[0], "O");
        ck_assert_str_eq(labels.names[4], "I-LOC");
    }
    qat_hf_labels_clear(&labels);
}
END_TEST

static qat_status parse(const char *json, qat_model_dims *d)
{
    return qat_hf_config_parse(json, strlen(json), "test.json", d, NULL);
}

#define BASE "\"vocab_size\": 100, \"hidden_size\": 64, \"num_hidden_layers\": 2, " \
             "\"num_attention_heads\": 4, \"intermediate_size\": 128, \"max_position_embeddings\": 66"

START_TEST(defaults_follow_transformers)
{
    qat_model_dims d;
    QAT_ASSERT_OK(parse("{\"model_type\": \"roberta\", " BASE ", \"unknown_field\": [1, {\"x\": null}]}", &d));
    ck_assert_int_eq(d.arch, QAT_ARCH_ROBERTA);
    ck_assert_int_eq(d.pad_token_id, 1);
    ck_assert_int_eq(d.bos_token_id, 0);
    ck_assert_int_eq(d.eos_token_id, 2);
    ck_assert_int_eq(d.type_vocab_size, 2);
    ck_assert_float_eq(d.layer_norm_eps, 1e-12f);
    ck_assert_int_eq(d.tie_word_embeddings, 1);
    ck_assert_float_eq(d.hidden_dropout_prob, 0.1f);
    ck_assert_float_eq(d.attention_dropout_prob, 0.1f);
    ck_assert_int_eq(d.num_labels, 2); /* transformers' default */
    QAT_ASSERT_OK(parse("{\"model_type\": \"bert\", " BASE ", \"bos_token_id\": null}", &d));
    ck_assert_int_eq(d.arch, QAT_ARCH_BERT);
    ck_assert_int_eq(d.pad_token_id, 0);
    ck_assert_int_eq(d.bos_token_id, -1);
    ck_assert_int_eq(d.eos_token_id, -1);
    /* No model_type: inferred from architectures (old BERT exports). */
    QAT_ASSERT_OK(parse("{\"architectures\": [\"XLMRobertaForMaskedLM\"], " BASE "}", &d));
    ck_assert_str_eq(d.model_type, "xlm-roberta");
    QAT_ASSERT_OK(parse("{\"architectures\": [\"BertModel\"], " BASE "}", &d));
    ck_assert_str_eq(d.model_type, "bert");
    QAT_ASSERT_OK(parse("{\"model_type\": \"camembert\", " BASE ", \"num_labels\": 7, \"hidden_act\": \"gelu\", "
                        "\"position_embedding_type\": \"absolute\", \"tie_word_embeddings\": false, "
                        "\"layer_norm_eps\": 1e-05, \"hidden_dropout_prob\": 0}", &d));
    ck_assert_int_eq(d.num_labels, 7);
    ck_assert_int_eq(d.tie_word_embeddings, 0);
    ck_assert_float_eq(d.layer_norm_eps, 1e-5f);
    ck_assert_float_eq(d.hidden_dropout_prob, 0.0f);
}
END_TEST

static const struct {
    const char *json;
    qat_status status;
    const char *needle;
} bad[] = {
    {"{\"model_type\": \"gpt2\", " BASE "}", QAT_ERR_UNSUPPORTED, "model_type \"gpt2\" is not supported"},
    {"{" BASE "}", QAT_ERR_FORMAT, "\"model_type\" is missing"},
    {"{\"architectures\": [\"GPT2LMHeadModel\"], " BASE "}", QAT_ERR_UNSUPPORTED, "GPT2LMHeadModel"},
    {"{\"model_type\": 3, " BASE "}", QAT_ERR_FORMAT, "\"model_type\" must be a string, found an integer"},
    {"{\"model_type\": \"bert\", \"vocab_size\": 100}", QAT_ERR_FORMAT, "required field \"hidden_size\" is missing"},
    {"{\"model_type\": \"bert\", " BASE ", \"hidden_act\": \"gelu_new\"}", QAT_ERR_UNSUPPORTED, "hidden_act \"gelu_new\""},
    {"{\"model_type\": \"bert\", " BASE ", \"hidden_act\": \"relu\"}", QAT_ERR_UNSUPPORTED, "exact erf GELU"},
    {"{\"model_type\": \"bert\", " BASE ", \"position_embedding_type\": \"relative_key\"}", QAT_ERR_UNSUPPORTED,
     "position_embedding_type \"relative_key\""},
    {"{\"model_type\": \"bert\", " BASE ", \"tie_word_embeddings\": 1}", QAT_ERR_FORMAT,
     "\"tie_word_embeddings\" must be a boolean"},
    {"{\"model_type\": \"bert\", \"vocab_size\": \"100\", \"hidden_size\": 64}", QAT_ERR_FORMAT,
     "\"vocab_size\" must be an integer, found a string"},
    {"{\"model_type\": \"bert\", \"vocab_size\": 100.0, \"hidden_size\": 64}", QAT_ERR_FORMAT,
     "\"vocab_size\" must be an integer"},
    {"{\"model_type\": \"bert\", \"vocab_size\": -5, \"hidden_size\": 64}", QAT_ERR_FORMAT, "\"vocab_size\" is -5"},
    {"{\"model_type\": \"bert\", \"vocab_size\": 99999999999999999999999, \"hidden_size\": 64}", QAT_ERR_FORMAT,
     "vocab_size"},
    {"{\"model_type\": \"bert\", \"vocab_size\": 100, \"hidden_size\": 65, \"num_hidden_layers\": 2, "
     "\"num_attention_heads\": 4, \"intermediate_size\": 128, \"max_position_embeddings\": 66}", QAT_ERR_FORMAT,
     "not a multiple of num_attention_heads"},
    {"{\"model_type\": \"bert\", " BASE ", \"layer_norm_eps\": 0}", QAT_ERR_FORMAT, "\"layer_norm_eps\" is 0"},
    {"{\"model_type\": \"bert\", " BASE ", \"layer_norm_eps\": \"1e-5\"}", QAT_ERR_FORMAT,
     "\"layer_norm_eps\" must be a number"},
    {"{\"model_type\": \"bert\", " BASE ", \"hidden_dropout_prob\": 1.0}", QAT_ERR_FORMAT, "hidden_dropout_prob"},
    {"{\"model_type\": \"bert\", " BASE ", \"attention_probs_dropout_prob\": -0.1}", QAT_ERR_FORMAT,
     "attention_probs_dropout_prob"},
    {"{\"model_type\": \"bert\", " BASE ", \"pad_token_id\": 100}", QAT_ERR_FORMAT, "\"pad_token_id\" is 100"},
    {"{\"model_type\": \"roberta\", " BASE ", \"pad_token_id\": null}", QAT_ERR_FORMAT, "\"pad_token_id\" must be"},
    {"{\"model_type\": \"bert\", " BASE ", \"id2label\": [\"O\"]}", QAT_ERR_FORMAT, "\"id2label\" must be an object"},
    {"{\"model_type\": \"bert\", " BASE ", \"id2label\": {\"0\": \"O\", \"2\": \"B\"}}", QAT_ERR_FORMAT,
     "id2label key \"2\""},
    {"{\"model_type\": \"bert\", " BASE ", \"id2label\": {\"x\": \"O\"}}", QAT_ERR_FORMAT, "id2label key \"x\""},
    {"{\"model_type\": \"bert\", " BASE ", \"id2label\": {\"0\": 5}}", QAT_ERR_FORMAT, "id2label[\"0\"] must be a string"},
    {"{\"model_type\": \"bert\", " BASE ", }", QAT_ERR_FORMAT, "invalid JSON"},
    {"{\"model_type\": \"bert\", " BASE "} trailing", QAT_ERR_FORMAT, "unexpected data after the JSON value"},
    {"{\"model_type\": \"bert\", " BASE, QAT_ERR_FORMAT, "truncated"},
    {"[1, 2]", QAT_ERR_FORMAT, "must hold a JSON object, found an array"},
    {"", QAT_ERR_FORMAT, "test.json"},
    {"{\"model_type\": \"bert\", \"vocab_size\": NaN}", QAT_ERR_FORMAT, "test.json"},
    {"{'model_type': 'bert'}", QAT_ERR_FORMAT, "invalid JSON"},
    {"{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
     QAT_ERR_FORMAT, "nested deeper"},
};

START_TEST(refuses_bad_configs)
{
    qat_model_dims d;
    memset(&d, 0x5a, sizeof d);
    qat_model_dims before = d;
    QAT_ASSERT_FAILS(parse(bad[_i].json, &d), bad[_i].status, bad[_i].needle);
    ck_assert_msg(memcmp(&d, &before, sizeof d) == 0, "dims written on failure");
}
END_TEST

START_TEST(refuses_unreadable_files)
{
    qat_model_dims d;
    QAT_ASSERT_FAILS(qat_hf_config_read("/nonexistent/config.json", &d, NULL), QAT_ERR_IO,
                     "/nonexistent/config.json");
    char *dir = scratch_dir();
    char path[1024];
    snprintf(path, sizeof path, "%s/config.json", dir);
    spit(path, "{\"model_type\": \"bert\"\0}", 23);
    QAT_ASSERT_FAILS(qat_hf_config_read(path, &d, NULL), QAT_ERR_FORMAT, "NUL byte");
    remove_scratch(dir);
}
END_TEST

START_TEST(writer_round_trip)
{
    char *dir = scratch_dir();
    char path[1024];
    snprintf(path, sizeof path, "%s/config.json", dir);
    const char *src = "{\"model_type\": \"camembert\", " BASE ", \"layer_norm_eps\": 1e-05, "
                      "\"pad_token_id\": 1, \"bos_token_id\": 5, \"eos_token_id\": 6, \"type_vocab_size\": 1, "
                      "\"tie_word_embeddings\": false, \"hidden_dropout_prob\": 0.15, "
                      "\"id2label\": {\"0\": \"O\", \"1\": \"B-PER\", \"2\": \"I-PER/x\"}}";
    qat_model_dims d, back;
    qat_hf_labels labels, labels_back;
    QAT_ASSERT_OK(qat_hf_config_parse(src, strlen(src), "src", &d, &labels));
    QAT_ASSERT_OK(qat_hf_config_write(path, &d, "CamembertForTokenClassification", &labels));
    ck_assert_int_eq(count_entries(dir), 1); /* no temporary file left behind */
    QAT_ASSERT_OK(qat_hf_config_read(path, &back, &labels_back));
    ck_assert_mem_eq(&d, &back, sizeof d);
    ck_assert_uint_eq(labels_back.count, 3);
    ck_assert_str_eq(labels_back.names[2], "I-PER/x");
    size_t size;
    char *text = (char *)slurp(path, &size);
    ck_assert_ptr_nonnull(strstr(text, "\"layer_norm_eps\": 1e-05"));
    ck_assert_ptr_nonnull(strstr(text, "\"hidden_dropout_prob\": 0.15,"));
    ck_assert_ptr_nonnull(strstr(text, "\"CamembertForTokenClassification\""));
    ck_assert_ptr_nonnull(strstr(text, "\"I-PER/x\": 2"));
    free(text);

    /* Default architecture, generated label names, absent token ids. */
    d.num_labels = 2;
    d.bos_token_id = -1;
    strcpy(d.model_type, "xlm-roberta");
    char *s;
    QAT_ASSERT_OK(qat_hf_config_to_string(&d, NULL, NULL, &s));
    ck_assert_ptr_nonnull(strstr(s, "\"XLMRobertaForMaskedLM\""));
    ck_assert_ptr_nonnull(strstr(s, "\"LABEL_1\""));
    ck_assert_ptr_nonnull(strstr(s, "\"bos_token_id\": null"));
    QAT_ASSERT_OK(qat_hf_config_parse(s, strlen(s), "s", &back, NULL));
    ck_assert_int_eq(back.bos_token_id, -1);
    free(s);

    strcpy(d.model_type, "gpt2");
    QAT_ASSERT_FAILS(qat_hf_config_to_string(&d, NULL, NULL, &s), QAT_ERR_INVALID_ARGUMENT, "gpt2");
    strcpy(d.model_type, "bert");
    QAT_ASSERT_FAILS(qat_hf_config_to_string(&d, NULL, &labels, &s), QAT_ERR_INVALID_ARGUMENT,
                     "3 label names for num_labels 2");
    QAT_ASSERT_FAILS(qat_hf_config_write("/nonexistent-dir/config.json", &d, NULL, NULL), QAT_ERR_IO,
                     "nonexistent-dir");
    qat_hf_labels_clear(&labels);
    qat_hf_labels_clear(&labels_back);
    remove_scratch(dir);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("formats_config");
    TCase *tc = tcase_create("config");
    tcase_add_loop_test(tc, reads_generated_configs, 0, (int)(sizeof cases / sizeof cases[0]));
    tcase_add_test(tc, defaults_follow_transformers);
    tcase_add_loop_test(tc, refuses_bad_configs, 0, (int)(sizeof bad / sizeof bad[0]));
    tcase_add_test(tc, refuses_unreadable_files);
    tcase_add_test(tc, writer_round_trip);
    suite_add_tcase(s, tc);
    return s;
}
