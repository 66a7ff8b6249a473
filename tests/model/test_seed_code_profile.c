/* The seed code's profile in training (docs/method.md section 10): one quantizer per
 * class shared by every layer, initialised on the first tensor it sees in
 * forward order, and steps that a DAPT step leaves bit-identical. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qat/qat.h"
#include "test_main.h"

enum { B = 2, L = 8, V = 29, H = 16 };

static qat_model *mlm_model(qat_context *ctx, const char *quant)
{
    qat_model_options o;
    QAT_ASSERT_OK(qat_model_options_init(&o, QAT_MODEL_OPTIONS_VERSION));
    o.task = QAT_TASK_MLM;
    o.vocab_size = V;
    o.hidden_size = H;
    o.num_layers = 2;
    o.num_heads = 2;
    o.intermediate_size = 24;
    o.max_position_embeddings = 16;
    qat_model *m = NULL;
    QAT_ASSERT_OK(qat_model_create(ctx, &o, &m));
    qat_quant_config *cfg = NULL;
    QAT_ASSERT_OK(qat_quant_config_parse(quant, &cfg));
    QAT_ASSERT_OK(qat_model_set_quant(m, cfg));
    qat_quant_config_free(cfg);
    return m;
}

/* Names of the model's quantizer steps, as a count. */
static size_t count_named(const qat_model *m, const char *needle)
{
    size_t n, found = 0;
    QAT_ASSERT_OK(qat_model_parameter_count(m, &n));
    for (size_t i = 0; i < n; i++) {
        const char *name;
        QAT_ASSERT_OK(qat_model_parameter_info(m, i, &name, NULL, NULL));
        found += strstr(name, needle) != NULL;
    }
    return found;
}

static float mean_abs(qat_model *m, const char *name, size_t count)
{
    float *v = malloc(count * sizeof *v);
    QAT_ASSERT_OK(qat_model_get_parameter(m, name, v, count));
    double acc = 0.0;
    for (size_t i = 0; i < count; i++)
        acc += fabsf(v[i]);
    free(v);
    return (float)(acc / (double)count);
}

START_TEST(steps_are_shared_and_frozen)
{
    qat_context *ctx = NULL;
    QAT_ASSERT_OK(qat_context_create("ref", &ctx));
    qat_model *m = mlm_model(ctx, "E8W8A8@seed-code");
    /* One step per class, nothing per tensor. */
    ck_assert_uint_eq(count_named(m, "quantizer"), 3);
    const char *steps[3] = {"roberta.shared_quantizers.embedding.step", "roberta.shared_quantizers.weight.step",
                            "roberta.shared_quantizers.activation.step"};
    ck_assert_uint_eq(count_named(m, "shared_quantizers."), 3);
    /* Initialised on the first tensor in forward order: the word table and
     * layer 0's query weight (the activation step on the first batch). */
    float e, w;
    QAT_ASSERT_OK(qat_model_get_parameter(m, steps[0], &e, 1));
    QAT_ASSERT_OK(qat_model_get_parameter(m, steps[1], &w, 1));
    ck_assert_float_eq_tol(e, 2.0f * mean_abs(m, "roberta.embeddings.word_embeddings.weight", V * H) / sqrtf(127.0f),
                           1e-6f * e);
    ck_assert_float_eq_tol(w, 2.0f * mean_abs(m, "roberta.encoder.layer.0.attention.self.query.weight", H * H) /
                                  sqrtf(127.0f), 1e-6f * w);

    int32_t ids[B * L], mask[B * L], labels[B * L];
    for (int i = 0; i < B * L; i++) {
        ids[i] = 3 + (i * 7) % (V - 3);
        mask[i] = 1;
        labels[i] = i % 3 == 0 ? (i * 5) % V : -100;
    }
    qat_train_options opt;
    QAT_ASSERT_OK(qat_train_options_init(&opt, QAT_TRAIN_OPTIONS_VERSION));
    opt.learning_rate = 1e-2;
    opt.batch_size = B;
    qat_trainer *t = NULL;
    QAT_ASSERT_OK(qat_trainer_create(m, &opt, 10, &t));
    float loss, before[3], after[3], word_before, word_after;
    QAT_ASSERT_OK(qat_trainer_step(t, ids, mask, labels, B, L, &loss)); /* initialises the A step */
    for (int i = 0; i < 3; i++)
        QAT_ASSERT_OK(qat_model_get_parameter(m, steps[i], &before[i], 1));
    word_before = mean_abs(m, "roberta.embeddings.word_embeddings.weight", V * H);
    for (int k = 0; k < 3; k++)
        QAT_ASSERT_OK(qat_trainer_step(t, ids, mask, labels, B, L, &loss));
    for (int i = 0; i < 3; i++) {
        QAT_ASSERT_OK(qat_model_get_parameter(m, steps[i], &after[i], 1));
        ck_assert_msg(memcmp(&before[i], &after[i], sizeof(float)) == 0, "%s moved: %.9g -> %.9g", steps[i],
                      (double)before[i], (double)after[i]);
        float g;
        QAT_ASSERT_OK(qat_model_get_gradient(m, steps[i], &g, 1));
        ck_assert_float_eq(g, 0.0f);
    }
    word_after = mean_abs(m, "roberta.embeddings.word_embeddings.weight", V * H);
    ck_assert_float_ne(word_before, word_after); /* the weights did train */
    qat_trainer_free(t);
    qat_model_free(m);

    /* The paper's profile on the same model: a step per tensor, and they learn. */
    m = mlm_model(ctx, "E8W8A8");
    ck_assert_uint_eq(count_named(m, "shared_quantizers."), 0);
    ck_assert_uint_eq(count_named(m, "quantizer.step"), 3 + 2 * 6 * 2);
    QAT_ASSERT_OK(qat_trainer_create(m, &opt, 10, &t));
    const char *own = "roberta.encoder.layer.0.attention.self.query.weight_quantizer.step";
    QAT_ASSERT_OK(qat_model_get_parameter(m, own, &before[0], 1));
    for (int k = 0; k < 2; k++) /* the first step's learning rate is 0 (warm-up) */
        QAT_ASSERT_OK(qat_trainer_step(t, ids, mask, labels, B, L, &loss));
    QAT_ASSERT_OK(qat_model_get_parameter(m, own, &after[0], 1));
    ck_assert_float_ne(before[0], after[0]);
    qat_trainer_free(t);
    qat_model_free(m);
    qat_context_free(ctx);
}
END_TEST

START_TEST(quantized_head_and_bitnet_variants)
{
    qat_context *ctx = NULL;
    QAT_ASSERT_OK(qat_context_create("ref", &ctx));
    /* E6W1.58A6@seed-code: BitNet has no state; only E shares a step. The
     * MLM head is quantized: it has no own step either (W, A are BitNet). */
    qat_model *m = mlm_model(ctx, "E6W1.58A6@seed-code");
    ck_assert_uint_eq(count_named(m, "quantizer"), 1);
    qat_model_free(m);
    /* The mlm-head switch alone gives the head's dense and decoder their own quantizers. */
    m = mlm_model(ctx, "E8W8A8@mlm-head");
    ck_assert_uint_eq(count_named(m, "lm_head.dense.weight_quantizer.step"), 1);
    ck_assert_uint_eq(count_named(m, "lm_head.decoder.input_quantizer.step"), 1);
    qat_model_free(m);
    qat_context_free(ctx);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("seed_code_profile");
    TCase *tc = tcase_create("training");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, steps_are_shared_and_frozen);
    tcase_add_test(tc, quantized_head_and_bitnet_variants);
    suite_add_tcase(s, tc);
    return s;
}
