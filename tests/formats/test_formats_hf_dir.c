/* HF checkpoint directories written by save_pretrained: single and sharded,
 * safetensors and pytorch_model.bin, tied and untied; plus directories that
 * lack files or hold hostile indexes. */
#include <string.h>

#include "formats/hf_dir.h"
#include "formats_test_util.h"
#include "qat/core.h"
#include "test_main.h"

static const char *const cases[] = {
    "camembert_mlm_st", "camembert_mlm_bin", "roberta_tok_st",
    "bert_mlm_untied_bin", "xlmr_mlm_sharded_st", "bert_tok_sharded_bin",
};

START_TEST(reads_save_pretrained_dirs)
{
    char dir[1024], ref[1024], rel[256];
    snprintf(rel, sizeof rel, "models/%s", cases[_i]);
    data_path(dir, sizeof dir, rel);
    snprintf(rel, sizeof rel, "models/%s.ref", cases[_i]);
    data_path(ref, sizeof ref, rel);
    qat_model_dims d;
    qat_hf_labels labels;
    qat_tensor_set *set;
    QAT_ASSERT_OK(qat_formats_hf_dir_read(dir, QAT_HF_DIR_STRICT_DTYPES, &d, &labels, &set));
    assert_matches_ref(set, ref);
    ck_assert_int_eq(d.hidden_size, 32);
    ck_assert_int_eq(d.num_layers, 2);
    const qat_tensor *emb = qat_tensor_set_find(set, strncmp(cases[_i], "bert", 4) == 0
                                                         ? "bert.embeddings.word_embeddings.weight"
                                                         : strncmp(cases[_i], "xlmr", 4) == 0
                                                               ? "roberta.embeddings.word_embeddings.weight"
                                                               : "roberta.embeddings.word_embeddings.weight");
    ck_assert_ptr_nonnull(emb);
    ck_assert_int_eq(emb->shape[0], 96);
    ck_assert_int_eq(emb->shape[1], 32);
    /* pytorch_model.bin keeps the tied decoder as a second name of the
     * same storage: both names, identical data. */
    if (strcmp(cases[_i], "camembert_mlm_bin") == 0) {
        const qat_tensor *dec = qat_tensor_set_find(set, "lm_head.decoder.weight");
        ck_assert_ptr_nonnull(dec);
        ck_assert(memcmp(dec->data, emb->data, (size_t)emb->numel * 4) == 0);
    }
    qat_tensor_set_free(set);
    qat_hf_labels_clear(&labels);
}
END_TEST

static void write_text(const char *dir, const char *name, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    spit(path, text, strlen(text));
}

static void copy_file(const char *from, const char *dir, const char *name)
{
    size_t size;
    uint8_t *buf = slurp(from, &size);
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    spit(path, buf, size);
    free(buf);
}

START_TEST(refuses_incomplete_dirs)
{
    char *dir = scratch_dir();
    char src[1024];
    qat_model_dims d;
    qat_tensor_set *set = (qat_tensor_set *)1;
    QAT_ASSERT_FAILS(qat_formats_hf_dir_read(dir, 0, &d, NULL, &set), QAT_ERR_NOT_FOUND, "no config.json");
    ck_assert_ptr_null(set);
    copy_file(data_path(src, sizeof src, "models/camembert_mlm_st/config.json"), dir, "config.json");
    QAT_ASSERT_FAILS(qat_formats_hf_dir_read(dir, 0, &d, NULL, &set), QAT_ERR_NOT_FOUND,
                     "looked for model.safetensors, model.safetensors.index.json, pytorch_model.bin and "
                     "pytorch_model.bin.index.json");
    int kind;
    QAT_ASSERT_FAILS(qat_formats_hf_dir_find_weights(dir, &kind), QAT_ERR_NOT_FOUND, "no model weights");
    ck_assert_int_eq(kind, -1);

    /* Sharded indexes: escapes from the directory, missing tensors, junk. */
    write_text(dir, "model.safetensors.index.json", "{\"weight_map\": {\"a\": \"../../etc/passwd\"}}");
    QAT_ASSERT_OK(qat_formats_hf_dir_find_weights(dir, &kind));
    ck_assert_int_eq(kind, 1);
    QAT_ASSERT_FAILS(qat_formats_hf_dir_read(dir, 0, &d, NULL, &set), QAT_ERR_FORMAT,
                     "weight_map[\"a\"] must be a file name inside the checkpoint directory");
    write_text(dir, "model.safetensors.index.json", "{\"weight_map\": {\"a\": \"..\"}}");
    QAT_ASSERT_FAILS(qat_formats_hf_dir_read(dir, 0, &d, NULL, &set), QAT_ERR_FORMAT, "file name inside");
    write_text(dir, "model.safetensors.index.json", "{\"metadata\": {}}");
    QAT_ASSERT_FAILS(qat_formats_hf_dir_read(dir, 0, &d, NULL, &set), QAT_ERR_FORMAT, "\"weight_map\"");
    write_text(dir, "model.safetensors.index.json", "{\"weight_map\": {\"a\": 3}}");
    QAT_ASSERT_FAILS(qat_formats_hf_dir_read(dir, 0, &d, NULL, &set), QAT_ERR_FORMAT, "weight_map[\"a\"]");
    copy_file(data_path(src, sizeof src, "safetensors/tiny.safetensors"), dir, "shard1.safetensors");
    write_text(dir, "model.safetensors.index.json",
               "{\"weight_map\": {\"a\": \"shard1.safetensors\", \"b\": \"shard1.safetensors\"}}");
    QAT_ASSERT_FAILS(qat_formats_hf_dir_read(dir, 0, &d, NULL, &set), QAT_ERR_FORMAT,
                     "tensor \"b\" is listed in weight_map but missing");
    write_text(dir, "model.safetensors.index.json",
               "{\"weight_map\": {\"a\": \"shard1.safetensors\", \"b\": \"shard2.safetensors\"}}");
    QAT_ASSERT_FAILS(qat_formats_hf_dir_read(dir, 0, &d, NULL, &set), QAT_ERR_IO, "shard 2 of 2");
    /* The same tensor in two shards is a duplicate. */
    copy_file(data_path(src, sizeof src, "safetensors/tiny.safetensors"), dir, "shard2.safetensors");
    QAT_ASSERT_FAILS(qat_formats_hf_dir_read(dir, 0, &d, NULL, &set), QAT_ERR_FORMAT, "duplicate tensor name 'a'");
    write_text(dir, "model.safetensors.index.json", "{\"weight_map\": {\"a\": \"shard1.safetensors\"}}");
    QAT_ASSERT_OK(qat_formats_hf_dir_read(dir, 0, &d, NULL, &set));
    ck_assert_uint_eq(qat_tensor_set_count(set), 1);
    qat_tensor_set_free(set);

    /* A broken config stops everything, naming the file. */
    write_text(dir, "config.json", "{\"model_type\": \"bert\"}");
    QAT_ASSERT_FAILS(qat_formats_hf_dir_read(dir, 0, &d, NULL, &set), QAT_ERR_FORMAT, "config.json");
    remove_scratch(dir);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("formats_hf_dir");
    TCase *tc = tcase_create("hf_dir");
    tcase_add_loop_test(tc, reads_save_pretrained_dirs, 0, (int)(sizeof cases / sizeof cases[0]));
    tcase_add_test(tc, refuses_incomplete_dirs);
    suite_add_tcase(s, tc);
    return s;
}
