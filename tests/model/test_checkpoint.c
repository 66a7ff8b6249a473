/* qat_model_load / qat_model_save on real HF layouts written by
 * transformers' save_pretrained (gen_golden.py): the logits of the loaded
 * model, the save/load round trip, and clear failures. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "golden.h"
#include "qat/qat.h"
#include "test_main.h"

static const char *const dirs[] = {"hf-roberta-mlm", "hf-bert-token-classification",
                                   "hf-bert-sequence-classification", "hf-roberta-sequence-classification"};

static void forward_expected(qat_model *m, const golden *g, float *out, size_t n)
{
    const golden_record *ids = golden_find(g, "input_ids");
    QAT_ASSERT_OK(qat_model_forward(m, ids->data, golden_find(g, "attention_mask")->data,
                                    golden_find(g, "token_type_ids")->data, ids->dims[0], ids->dims[1], out, n));
}

START_TEST(loads_and_round_trips)
{
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/%s", GOLDEN_DIR, dirs[_i]);
    snprintf(path, sizeof path, "%s/expected.golden", dir);
    golden g;
    ck_assert_int_eq(golden_load(path, &g), 0);
    const golden_record *want = golden_find(&g, "logits");
    qat_context *ctx;
    QAT_ASSERT_OK(qat_context_create("ref", &ctx));
    qat_load_options o;
    QAT_ASSERT_OK(qat_load_options_init(&o, QAT_LOAD_OPTIONS_VERSION));
    o.task = *(const int32_t *)golden_find(&g, "task")->data;
    qat_model *m;
    QAT_ASSERT_OK(qat_model_load(ctx, dir, &o, &m));
    size_t missing;
    QAT_ASSERT_OK(qat_model_load_report_count(m, QAT_LOAD_MISSING, &missing));
    ck_assert_uint_eq(missing, 0);
    float *got = malloc(want->count * sizeof *got), *again = malloc(want->count * sizeof *again);
    forward_expected(m, &g, got, want->count);
    double num = 0, den = 0;
    for (size_t i = 0; i < want->count; i++) {
        double d = got[i] - ((const float *)want->data)[i];
        num += d * d;
        den += (double)((const float *)want->data)[i] * ((const float *)want->data)[i];
    }
    ck_assert_msg(sqrt(num / den) <= 1e-5, "%s: logits differ from transformers (%g)", dirs[_i], sqrt(num / den));

    /* Quantized, saved, reloaded: the same model, for the study's configs
     * and the quantizer variants (shared and frozen steps, per-row steps,
     * LSQ+ offsets), whose switches travel in qat_config.json. */
    const char *configs[] = {"E8W4A8", "E6W1.58A6@seed-code", "E4W4(row)A4(lsq+)", "E8W8A8(lsq+)@shared,frozen-step"};
    for (int c = 0; c < 4; c++) {
        qat_quant_config *q;
        QAT_ASSERT_OK(qat_quant_config_parse(configs[c], &q));
        QAT_ASSERT_OK(qat_model_set_quant(m, q));
        qat_quant_config_free(q);
        forward_expected(m, &g, got, want->count);
        char tmp[] = "/tmp/qat-ckpt-XXXXXX";
        ck_assert_ptr_nonnull(mkdtemp(tmp));
        QAT_ASSERT_OK(qat_model_save(m, tmp));
        qat_model *back;
        QAT_ASSERT_OK(qat_model_load(ctx, tmp, &o, &back));
        forward_expected(back, &g, again, want->count);
        ck_assert_msg(memcmp(got, again, want->count * sizeof *got) == 0, "%s %s: reloaded logits differ", dirs[_i],
                      configs[c]);
        size_t n_m, n_back;
        QAT_ASSERT_OK(qat_model_parameter_count(m, &n_m));
        QAT_ASSERT_OK(qat_model_parameter_count(back, &n_back));
        ck_assert_uint_eq(n_m, n_back);
        const char *files[] = {"config.json", "model.safetensors", "qat_config.json", "qat_quantizers.safetensors"};
        for (int i = 0; i < 4; i++) {
            snprintf(path, sizeof path, "%s/%s", tmp, files[i]);
            ck_assert_msg(unlink(path) == 0, "%s was not written", files[i]);
        }
        rmdir(tmp);
        qat_model_free(back);
    }
    qat_model_free(m);
    free(got);
    free(again);
    golden_free(&g);
    qat_context_free(ctx);
}
END_TEST

START_TEST(bad_directories_fail_clearly)
{
    qat_context *ctx;
    QAT_ASSERT_OK(qat_context_create("ref", &ctx));
    qat_model *m = (qat_model *)1;
    QAT_ASSERT_FAILS(qat_model_load(ctx, "/nonexistent/model", NULL, &m), QAT_ERR_NOT_FOUND, "no config.json");
    ck_assert_ptr_null(m);
    char tmp[] = "/tmp/qat-bad-XXXXXX", path[600];
    ck_assert_ptr_nonnull(mkdtemp(tmp));
    snprintf(path, sizeof path, "%s/config.json", tmp);
    FILE *f = fopen(path, "w");
    fputs("{\"model_type\": \"roberta\", \"vocab_size\": 10, \"hidden_size\": 8, \"num_hidden_layers\": 1,"
          " \"num_attention_heads\": 2, \"intermediate_size\": 8, \"max_position_embeddings\": 12}",
          f);
    fclose(f);
    QAT_ASSERT_FAILS(qat_model_load(ctx, tmp, NULL, &m), QAT_ERR_NOT_FOUND, "model.safetensors");
    qat_load_options o;
    QAT_ASSERT_OK(qat_load_options_init(&o, QAT_LOAD_OPTIONS_VERSION));
    o.quant = "E9W9A9";
    QAT_ASSERT_FAILS(qat_model_load(ctx, tmp, &o, &m), QAT_ERR_INVALID_ARGUMENT, "E9");
    unlink(path);
    rmdir(tmp);
    qat_context_free(ctx);
}
END_TEST

/* A context seeded with `seed`, and the options of a small RoBERTa. */
static qat_context *seeded(int64_t seed, qat_task task, qat_model_options *o)
{
    qat_context *ctx;
    QAT_ASSERT_OK(qat_context_create("ref", &ctx));
    QAT_ASSERT_OK(qat_context_set_int(ctx, QAT_CTX_SEED, seed));
    QAT_ASSERT_OK(qat_model_options_init(o, QAT_MODEL_OPTIONS_VERSION));
    o->task = task;
    o->num_labels = 3;
    o->vocab_size = 50;
    o->hidden_size = 16;
    o->num_layers = 2;
    o->num_heads = 2;
    o->intermediate_size = 24;
    o->max_position_embeddings = 20;
    return ctx;
}

/* A load skips drawing what the checkpoint overwrites, but a new head gets
 * the values it would get with every matrix drawn: those of a model created
 * from scratch under the same seed (the draws run in parameter order). */
START_TEST(new_head_draws_as_a_created_model)
{
    qat_model_options o;
    qat_context *ctx = seeded(1, QAT_TASK_MLM, &o);
    qat_model *base;
    QAT_ASSERT_OK(qat_model_create(ctx, &o, &base));
    char tmp[] = "/tmp/qat-head-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(tmp));
    QAT_ASSERT_OK(qat_model_save(base, tmp));
    qat_model_free(base);
    qat_context_free(ctx);

    ctx = seeded(7, QAT_TASK_TOKEN_CLASSIFICATION, &o);
    qat_model *created;
    QAT_ASSERT_OK(qat_model_create(ctx, &o, &created));
    float want[3 * 16], got[3 * 16], other[3 * 16];
    QAT_ASSERT_OK(qat_model_get_parameter(created, "classifier.weight", want, 3 * 16));
    qat_model_free(created);
    qat_context_free(ctx);

    ctx = seeded(7, QAT_TASK_TOKEN_CLASSIFICATION, &o);
    qat_load_options lo;
    QAT_ASSERT_OK(qat_load_options_init(&lo, QAT_LOAD_OPTIONS_VERSION));
    lo.task = QAT_TASK_TOKEN_CLASSIFICATION;
    lo.num_labels = 3;
    qat_model *loaded;
    QAT_ASSERT_OK(qat_model_load(ctx, tmp, &lo, &loaded));
    QAT_ASSERT_OK(qat_model_get_parameter(loaded, "classifier.weight", got, 3 * 16));
    ck_assert_msg(memcmp(got, want, sizeof want) == 0, "the new head's draws moved");
    qat_model_free(loaded);
    qat_context_free(ctx);

    /* The check can fail: another seed gives another head. */
    ctx = seeded(8, QAT_TASK_TOKEN_CLASSIFICATION, &o);
    QAT_ASSERT_OK(qat_model_load(ctx, tmp, &lo, &loaded));
    QAT_ASSERT_OK(qat_model_get_parameter(loaded, "classifier.weight", other, 3 * 16));
    ck_assert_int_ne(memcmp(other, want, sizeof want), 0);
    qat_model_free(loaded);
    qat_context_free(ctx);
    char rm[64];
    snprintf(rm, sizeof rm, "rm -rf '%s'", tmp);
    ck_assert_int_eq(system(rm), 0);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("checkpoint");
    TCase *tc = tcase_create("hf");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, loads_and_round_trips, 0, 4);
    tcase_add_test(tc, bad_directories_fail_clearly);
    tcase_add_test(tc, new_head_draws_as_a_created_model);
    suite_add_tcase(s, tc);
    return s;
}
