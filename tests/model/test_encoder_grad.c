/* Gradients by finite differences (independent of PyTorch), dropout
 * semantics, and rejection of bad inputs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qat/qat.h"
#include "test_main.h"

enum { B = 2, L = 6, V = 23, LABELS = 4 };

static const int32_t ids[B * L] = {0, 5, 9, 17, 2, 1, 0, 22, 3, 2, 1, 1};
static const int32_t mask[B * L] = {1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 0};

/* heads < B and heads >= B take the two ways graph_gemm_heads batches attention (per sequence over the heads,
 * per head over the sequences). */
static qat_model *small_model(qat_context *ctx, qat_task task, qat_arch arch, double dropout, int64_t heads)
{
    qat_model_options o;
    QAT_ASSERT_OK(qat_model_options_init(&o, QAT_MODEL_OPTIONS_VERSION));
    o.arch = arch;
    o.task = task;
    o.vocab_size = V;
    o.hidden_size = 12;
    o.num_layers = 2;
    o.num_heads = heads;
    o.intermediate_size = 20;
    o.max_position_embeddings = 16;
    o.type_vocab_size = 2;
    o.num_labels = LABELS;
    o.hidden_dropout = o.attention_dropout = o.classifier_dropout = dropout;
    qat_model *m = NULL;
    QAT_ASSERT_OK(qat_model_create(ctx, &o, &m));
    /* Larger weights than the 0.02 init make every path matter. */
    size_t n;
    QAT_ASSERT_OK(qat_model_parameter_count(m, &n));
    for (size_t i = 0; i < n; i++) {
        const char *name;
        QAT_ASSERT_OK(qat_model_parameter_info(m, i, &name, NULL, NULL));
        size_t size;
        QAT_ASSERT_OK(qat_model_parameter_size(m, name, &size));
        float *v = malloc(size * sizeof *v);
        QAT_ASSERT_OK(qat_model_get_parameter(m, name, v, size));
        for (size_t j = 0; j < size; j++)
            v[j] = v[j] * 4.0f + 0.05f * (float)((i * 7 + j * 13) % 11) - 0.25f;
        QAT_ASSERT_OK(qat_model_set_parameter(m, name, v, size));
        free(v);
    }
    return m;
}

static float loss_at(qat_context *ctx, qat_model *m, const int32_t *labels)
{
    float loss;
    QAT_ASSERT_OK(qat_context_set_int(ctx, QAT_CTX_SEED, 1234)); /* same dropout masks every time */
    QAT_ASSERT_OK(qat_model_backward(m, ids, mask, NULL, labels, B, L, &loss));
    return loss;
}

/* fused: QAT_CTX_FUSED_ATTENTION (the fused slots' forward and backward). */
static void finite_differences(qat_task task, qat_arch arch, double dropout, int64_t heads, int fused)
{
    qat_context *ctx = NULL;
    QAT_ASSERT_OK(qat_context_create("ref", &ctx));
    QAT_ASSERT_OK(qat_context_set_int(ctx, QAT_CTX_FUSED_ATTENTION, fused));
    qat_model *m = small_model(ctx, task, arch, dropout, heads);
    QAT_ASSERT_OK(qat_model_set_training(m, dropout > 0));
    int32_t labels[B * L];
    for (int i = 0; i < B * L; i++)
        labels[i] = mask[i] ? (task == QAT_TASK_MLM ? (i * 5) % V : i % LABELS) : -100;
    if (task == QAT_TASK_SEQUENCE_CLASSIFICATION) { /* one label per sequence */
        labels[0] = 1;
        labels[1] = 3;
    }
    loss_at(ctx, m, labels);
    size_t n;
    QAT_ASSERT_OK(qat_model_parameter_count(m, &n));
    int checked = 0;
    for (size_t i = 0; i < n; i++) {
        const char *pname;
        QAT_ASSERT_OK(qat_model_parameter_info(m, i, &pname, NULL, NULL));
        char name[200];
        strcpy(name, pname);
        size_t size;
        QAT_ASSERT_OK(qat_model_parameter_size(m, name, &size));
        float *v = malloc(size * sizeof *v), *g = malloc(size * sizeof *g);
        QAT_ASSERT_OK(qat_model_get_parameter(m, name, v, size));
        loss_at(ctx, m, labels);
        QAT_ASSERT_OK(qat_model_get_gradient(m, name, g, size));
        /* The coordinate with the largest gradient of each tensor. */
        size_t j = 0;
        for (size_t k = 1; k < size; k++)
            if (fabsf(g[k]) > fabsf(g[j]))
                j = k;
        if (fabsf(g[j]) > 1e-3f) {
            const float h = 2e-3f * fmaxf(1.0f, fabsf(v[j]));
            float keep = v[j];
            v[j] = keep + h;
            QAT_ASSERT_OK(qat_model_set_parameter(m, name, v, size));
            double up = loss_at(ctx, m, labels);
            v[j] = keep - h;
            QAT_ASSERT_OK(qat_model_set_parameter(m, name, v, size));
            double down = loss_at(ctx, m, labels);
            v[j] = keep;
            QAT_ASSERT_OK(qat_model_set_parameter(m, name, v, size));
            double numeric = (up - down) / (2.0 * h);
            ck_assert_msg(fabs(numeric - g[j]) <= 0.03 * fabs(g[j]) + 2e-4,
                          "%s[%zu]: analytic %g, finite differences %g", name, j, (double)g[j], numeric);
            checked++;
        }
        free(v);
        free(g);
    }
    ck_assert_int_gt(checked, 15);
    qat_model_free(m);
    qat_context_free(ctx);
}

/* Attention's GEMMs are batched per head over the sequences when B >= heads and per sequence otherwise: a
 * sequence's logits must not depend on the batch it came in (bit for bit: every block is the same GEMM). */
static void batch_logits_equal_single(const char *backend)
{
    qat_context *ctx = NULL;
    QAT_ASSERT_OK(qat_context_create(backend, &ctx));
    qat_model *m = small_model(ctx, QAT_TASK_TOKEN_CLASSIFICATION, QAT_ARCH_ROBERTA, 0.0, 2);
    float batch[B * L * LABELS], one[L * LABELS];
    QAT_ASSERT_OK(qat_model_forward(m, ids, mask, NULL, B, L, batch, B * L * LABELS));
    for (int i = 0; i < B; i++) {
        QAT_ASSERT_OK(qat_model_forward(m, ids + i * L, mask + i * L, NULL, 1, L, one, L * LABELS));
        for (int j = 0; j < L * LABELS; j++)
            ck_assert_msg(one[j] == batch[i * L * LABELS + j], "%s: sequence %d logit %d: %.9g alone, %.9g in the batch",
                          backend, i, j, (double)one[j], (double)batch[i * L * LABELS + j]);
    }
    qat_model_free(m);
    qat_context_free(ctx);
}

START_TEST(attention_batching_keeps_sequence_logits)
{
    batch_logits_equal_single("ref");
    batch_logits_equal_single("cpu");
}
END_TEST

START_TEST(float_gradients_match_finite_differences)
{
    finite_differences(QAT_TASK_TOKEN_CLASSIFICATION, QAT_ARCH_ROBERTA, 0.0, 3, 0);
    finite_differences(QAT_TASK_MLM, QAT_ARCH_BERT, 0.0, 3, 0);
    finite_differences(QAT_TASK_SEQUENCE_CLASSIFICATION, QAT_ARCH_ROBERTA, 0.0, 3, 0);
    finite_differences(QAT_TASK_SEQUENCE_CLASSIFICATION, QAT_ARCH_BERT, 0.0, 3, 0);
}
END_TEST

START_TEST(dropout_gradients_match_finite_differences)
{
    finite_differences(QAT_TASK_TOKEN_CLASSIFICATION, QAT_ARCH_BERT, 0.2, 2, 0);
    /* RoBERTa's head drops out before classifier.dense and out_proj */
    finite_differences(QAT_TASK_SEQUENCE_CLASSIFICATION, QAT_ARCH_ROBERTA, 0.2, 2, 0);
    finite_differences(QAT_TASK_SEQUENCE_CLASSIFICATION, QAT_ARCH_BERT, 0.2, 2, 0);
}
END_TEST

/* The fused attention's backward is the gradient of its own forward,
 * dropout included (its mask is a function of the seed). */
START_TEST(fused_attention_gradients_match_finite_differences)
{
    finite_differences(QAT_TASK_TOKEN_CLASSIFICATION, QAT_ARCH_ROBERTA, 0.0, 3, 1);
    finite_differences(QAT_TASK_MLM, QAT_ARCH_BERT, 0.2, 2, 1);
    finite_differences(QAT_TASK_SEQUENCE_CLASSIFICATION, QAT_ARCH_BERT, 0.2, 2, 1);
}
END_TEST

/* Loss, logits and every gradient of a training step with attention
 * dropout, fused against the kept probabilities: the same masks, so the
 * same numbers up to the order of accumulation; on backend `backend`, with
 * the model's activation memory checked to shrink. */
static void fused_matches_unfused(const char *backend, qat_task task)
{
    float loss[2];
    float *grads[2] = {NULL, NULL};
    size_t total = 0;
    for (int fused = 0; fused < 2; fused++) {
        qat_context *ctx = NULL;
        QAT_ASSERT_OK(qat_context_create(backend, &ctx));
        QAT_ASSERT_OK(qat_context_set_int(ctx, QAT_CTX_FUSED_ATTENTION, fused));
        int64_t v;
        QAT_ASSERT_OK(qat_context_get_int(ctx, QAT_CTX_FUSED_ATTENTION, &v));
        ck_assert_int_eq(v, fused);
        qat_model *m = small_model(ctx, task, QAT_ARCH_BERT, 0.2, 3);
        QAT_ASSERT_OK(qat_model_set_training(m, 1));
        int32_t labels[B * L];
        for (int i = 0; i < B * L; i++)
            labels[i] = mask[i] ? (task == QAT_TASK_MLM ? (i * 5) % V : i % LABELS) : -100;
        loss[fused] = loss_at(ctx, m, labels);
        size_t n;
        QAT_ASSERT_OK(qat_model_parameter_count(m, &n));
        total = 0;
        for (size_t i = 0; i < n; i++) {
            const char *name;
            size_t size;
            QAT_ASSERT_OK(qat_model_parameter_info(m, i, &name, NULL, NULL));
            QAT_ASSERT_OK(qat_model_parameter_size(m, name, &size));
            grads[fused] = realloc(grads[fused], (total + size) * sizeof(float));
            QAT_ASSERT_OK(qat_model_get_gradient(m, name, grads[fused] + total, size));
            total += size;
        }
        qat_model_free(m);
        qat_context_free(ctx);
    }
    ck_assert_msg(fabsf(loss[1] - loss[0]) <= 1e-5f * fabsf(loss[0]), "%s: loss %.9g fused, %.9g unfused", backend,
                  (double)loss[1], (double)loss[0]);
    float scale = 0.0f;
    for (size_t i = 0; i < total; i++)
        scale = fmaxf(scale, fabsf(grads[0][i]));
    for (size_t i = 0; i < total; i++)
        ck_assert_msg(fabsf(grads[1][i] - grads[0][i]) <= 1e-5f * scale + 1e-4f * fabsf(grads[0][i]),
                      "%s: gradient %zu: %.9g fused, %.9g unfused (largest %.3g)", backend, i, (double)grads[1][i],
                      (double)grads[0][i], (double)scale);
    free(grads[0]);
    free(grads[1]);
}

START_TEST(fused_attention_matches_the_kept_probabilities)
{
    fused_matches_unfused("ref", QAT_TASK_TOKEN_CLASSIFICATION);
    fused_matches_unfused("ref", QAT_TASK_MLM);
    fused_matches_unfused("cpu", QAT_TASK_SEQUENCE_CLASSIFICATION);
    fused_matches_unfused("ref-sealed", QAT_TASK_TOKEN_CLASSIFICATION);
}
END_TEST

/* Sequence classification: logits [B, C], labels [B], their checks. */
START_TEST(sequence_classification_shapes_and_labels)
{
    qat_context *ctx = NULL;
    QAT_ASSERT_OK(qat_context_create("ref", &ctx));
    qat_model *m = small_model(ctx, QAT_TASK_SEQUENCE_CLASSIFICATION, QAT_ARCH_BERT, 0.0, 3);
    size_t n;
    QAT_ASSERT_OK(qat_model_logits_size(m, B, L, &n));
    ck_assert_uint_eq(n, B * LABELS);
    float logits[B * LABELS], loss;
    QAT_ASSERT_FAILS(qat_model_forward(m, ids, mask, NULL, B, L, logits, B * LABELS - 1), QAT_ERR_INVALID_ARGUMENT,
                     "needed");
    QAT_ASSERT_OK(qat_model_forward(m, ids, mask, NULL, B, L, logits, B * LABELS));
    /* Only the first token counts: changing a later one changes the logits
     * (attention), padding beyond the mask does not. */
    int32_t other[B * L];
    memcpy(other, ids, sizeof other);
    other[5] = 7; /* padding of sequence 0 */
    float again[B * LABELS];
    QAT_ASSERT_OK(qat_model_forward(m, other, mask, NULL, B, L, again, B * LABELS));
    ck_assert(memcmp(logits, again, sizeof logits) == 0);
    int32_t labels[B] = {LABELS, 0};
    QAT_ASSERT_FAILS(qat_model_backward(m, ids, mask, NULL, labels, B, L, &loss), QAT_ERR_INVALID_ARGUMENT,
                     "labels[0]");
    labels[0] = -100;
    labels[1] = -100;
    QAT_ASSERT_OK(qat_model_backward(m, ids, mask, NULL, labels, B, L, &loss));
    ck_assert_float_eq(loss, 0.0f);
    labels[1] = 2;
    QAT_ASSERT_OK(qat_model_backward(m, ids, mask, NULL, labels, B, L, &loss));
    /* the mean over the labelled sequence only: -log softmax(logits[1])[2] */
    double mx = logits[LABELS], sum = 0.0;
    for (int c = 1; c < LABELS; c++)
        mx = fmax(mx, logits[LABELS + c]);
    for (int c = 0; c < LABELS; c++)
        sum += exp(logits[LABELS + c] - mx);
    ck_assert_double_eq_tol(loss, log(sum) + mx - logits[LABELS + 2], 1e-5);
    const char *names[] = {"bert.pooler.dense.weight", "bert.pooler.dense.bias", "classifier.weight"};
    for (int i = 0; i < 3; i++)
        QAT_ASSERT_OK(qat_model_parameter_size(m, names[i], &n));
    qat_model_free(m);
    qat_model_options o;
    QAT_ASSERT_OK(qat_model_options_init(&o, QAT_MODEL_OPTIONS_VERSION));
    o.task = QAT_TASK_SEQUENCE_CLASSIFICATION;
    o.num_labels = 1;
    qat_model *bad = (qat_model *)1;
    QAT_ASSERT_FAILS(qat_model_create(ctx, &o, &bad), QAT_ERR_INVALID_ARGUMENT, "regression");
    o.task = (qat_task)4;
    QAT_ASSERT_FAILS(qat_model_create(ctx, &o, &bad), QAT_ERR_INVALID_ARGUMENT, "unknown task");
    qat_context_free(ctx);
}
END_TEST

START_TEST(dropout_only_when_training_and_seeded)
{
    qat_context *ctx = NULL;
    QAT_ASSERT_OK(qat_context_create("ref", &ctx));
    qat_model *m = small_model(ctx, QAT_TASK_TOKEN_CLASSIFICATION, QAT_ARCH_ROBERTA, 0.3, 3);
    float eval1[B * L * LABELS], eval2[B * L * LABELS], train1[B * L * LABELS], train2[B * L * LABELS];
    QAT_ASSERT_OK(qat_model_forward(m, ids, mask, NULL, B, L, eval1, B * L * LABELS));
    QAT_ASSERT_OK(qat_model_forward(m, ids, mask, NULL, B, L, eval2, B * L * LABELS));
    ck_assert(memcmp(eval1, eval2, sizeof eval1) == 0);
    QAT_ASSERT_OK(qat_model_set_training(m, 1));
    QAT_ASSERT_OK(qat_context_set_int(ctx, QAT_CTX_SEED, 5));
    QAT_ASSERT_OK(qat_model_forward(m, ids, mask, NULL, B, L, train1, B * L * LABELS));
    ck_assert(memcmp(train1, eval1, sizeof eval1) != 0);
    QAT_ASSERT_OK(qat_model_forward(m, ids, mask, NULL, B, L, train2, B * L * LABELS));
    ck_assert(memcmp(train1, train2, sizeof eval1) != 0); /* fresh masks each step */
    QAT_ASSERT_OK(qat_context_set_int(ctx, QAT_CTX_SEED, 5));
    QAT_ASSERT_OK(qat_model_forward(m, ids, mask, NULL, B, L, train2, B * L * LABELS));
    ck_assert(memcmp(train1, train2, sizeof eval1) == 0); /* same seed, same masks */
    QAT_ASSERT_FAILS(qat_model_set_training(m, 2), QAT_ERR_INVALID_ARGUMENT, "0 or 1");
    qat_model_free(m);
    qat_context_free(ctx);
}
END_TEST

START_TEST(bad_inputs_rejected)
{
    qat_context *ctx = NULL;
    QAT_ASSERT_OK(qat_context_create("ref", &ctx));
    qat_model *m = small_model(ctx, QAT_TASK_TOKEN_CLASSIFICATION, QAT_ARCH_ROBERTA, 0.0, 3);
    float logits[B * L * LABELS], loss;
    int32_t bad[B * L];
    memcpy(bad, ids, sizeof bad);
    bad[3] = V;
    QAT_ASSERT_FAILS(qat_model_forward(m, bad, mask, NULL, B, L, logits, B * L * LABELS), QAT_ERR_INVALID_ARGUMENT,
                     "input_ids[3]");
    bad[3] = -1;
    QAT_ASSERT_FAILS(qat_model_forward(m, bad, mask, NULL, B, L, logits, B * L * LABELS), QAT_ERR_INVALID_ARGUMENT,
                     "vocabulary");
    int32_t bad_mask[B * L];
    memcpy(bad_mask, mask, sizeof bad_mask);
    bad_mask[0] = 2;
    QAT_ASSERT_FAILS(qat_model_forward(m, ids, bad_mask, NULL, B, L, logits, B * L * LABELS),
                     QAT_ERR_INVALID_ARGUMENT, "attention_mask");
    int32_t types[B * L] = {0};
    types[4] = 2;
    QAT_ASSERT_FAILS(qat_model_forward(m, ids, mask, types, B, L, logits, B * L * LABELS), QAT_ERR_INVALID_ARGUMENT,
                     "token_type_ids");
    QAT_ASSERT_FAILS(qat_model_forward(m, ids, mask, NULL, B, L, logits, 3), QAT_ERR_INVALID_ARGUMENT, "needed");
    int32_t labels[B * L];
    for (int i = 0; i < B * L; i++)
        labels[i] = -100;
    labels[2] = LABELS;
    QAT_ASSERT_FAILS(qat_model_backward(m, ids, mask, NULL, labels, B, L, &loss), QAT_ERR_INVALID_ARGUMENT,
                     "labels[2]");
    labels[2] = -100;
    QAT_ASSERT_OK(qat_model_backward(m, ids, mask, NULL, labels, B, L, &loss));
    ck_assert_float_eq(loss, 0.0f); /* no label: zero loss, zero gradients */
    float g[LABELS * 12];
    QAT_ASSERT_OK(qat_model_get_gradient(m, "classifier.weight", g, LABELS * 12));
    for (int i = 0; i < LABELS * 12; i++)
        ck_assert_float_eq(g[i], 0.0f);
    int32_t long_ids[20] = {0};
    QAT_ASSERT_FAILS(qat_model_forward(m, long_ids, NULL, NULL, 1, 20, logits, sizeof logits / sizeof *logits),
                     QAT_ERR_INVALID_ARGUMENT, "positions");
    QAT_ASSERT_FAILS(qat_model_forward(m, ids, mask, NULL, 0, L, logits, 1), QAT_ERR_INVALID_ARGUMENT, "batch");
    float one = 0.0f;
    QAT_ASSERT_FAILS(qat_model_get_parameter(m, "classifier.nope", &one, 1), QAT_ERR_NOT_FOUND, "classifier.nope");
    qat_quant_config *cfg = NULL;
    /* Per-channel LSQ: one step per output row, s_r = 2 mean|W_r| / sqrt(Qp). */
    QAT_ASSERT_OK(qat_quant_config_parse("E8W4(row)A8", &cfg));
    QAT_ASSERT_OK(qat_model_set_quant(m, cfg));
    qat_quant_config_free(cfg);
    const char *wstep = "roberta.encoder.layer.0.attention.self.query.weight_quantizer.step";
    size_t n_steps = 0;
    QAT_ASSERT_OK(qat_model_parameter_size(m, wstep, &n_steps));
    ck_assert_uint_eq(n_steps, 12);
    float steps[12], w[12 * 12];
    QAT_ASSERT_OK(qat_model_get_parameter(m, wstep, steps, 12));
    QAT_ASSERT_OK(qat_model_get_parameter(m, "roberta.encoder.layer.0.attention.self.query.weight", w, 144));
    for (int r = 0; r < 12; r++) {
        double mean = 0.0;
        for (int c = 0; c < 12; c++)
            mean += fabs(w[r * 12 + c]) / 12.0;
        ck_assert_msg(fabs(steps[r] - 2.0 * mean / sqrt(7.0)) <= 1e-6 * steps[r], "row %d: step %g", r,
                      (double)steps[r]);
    }
    float bad_steps[12] = {0.1f, -0.1f};
    QAT_ASSERT_FAILS(qat_model_set_parameter(m, wstep, bad_steps, 12), QAT_ERR_INVALID_ARGUMENT, "> 0");
    QAT_ASSERT_OK(qat_model_set_parameter(m, "classifier.bias", (float[LABELS]){0}, LABELS));
    qat_model_options o;
    QAT_ASSERT_FAILS(qat_model_options_init(&o, 99), QAT_ERR_INVALID_ARGUMENT, "version");
    QAT_ASSERT_OK(qat_model_options_init(&o, QAT_MODEL_OPTIONS_VERSION));
    o.hidden_size = 10;
    o.num_heads = 3;
    qat_model *bad_model = (qat_model *)1;
    QAT_ASSERT_FAILS(qat_model_create(ctx, &o, &bad_model), QAT_ERR_INVALID_ARGUMENT, "num_heads");
    ck_assert_ptr_null(bad_model);
    qat_model_free(m);
    qat_context_free(ctx);
}
END_TEST

/* Forwards reuse the quantized weights until a parameter changes. */
START_TEST(quantized_weights_follow_parameter_writes)
{
    qat_context *ctx = NULL;
    QAT_ASSERT_OK(qat_context_create("ref", &ctx));
    qat_model *m = small_model(ctx, QAT_TASK_TOKEN_CLASSIFICATION, QAT_ARCH_ROBERTA, 0.0, 3);
    qat_quant_config *cfg = NULL;
    QAT_ASSERT_OK(qat_quant_config_parse("E6W1.58A6", &cfg));
    QAT_ASSERT_OK(qat_model_set_quant(m, cfg));
    enum { NL = B * L * LABELS };
    float first[NL], changed[NL], again[NL];
    QAT_ASSERT_OK(qat_model_forward(m, ids, mask, NULL, B, L, first, NL));
    const char *name = "roberta.encoder.layer.1.output.dense.weight";
    size_t n;
    QAT_ASSERT_OK(qat_model_parameter_size(m, name, &n));
    float *w = malloc(n * sizeof *w), *w2 = malloc(n * sizeof *w2);
    QAT_ASSERT_OK(qat_model_get_parameter(m, name, w, n));
    for (size_t i = 0; i < n; i++)
        w2[i] = -3.0f * w[i];
    QAT_ASSERT_OK(qat_model_set_parameter(m, name, w2, n));
    QAT_ASSERT_OK(qat_model_forward(m, ids, mask, NULL, B, L, changed, NL));
    ck_assert(memcmp(first, changed, sizeof first) != 0);
    QAT_ASSERT_OK(qat_model_set_parameter(m, name, w, n));
    QAT_ASSERT_OK(qat_model_forward(m, ids, mask, NULL, B, L, again, NL));
    ck_assert(memcmp(first, again, sizeof first) == 0);
    free(w);
    free(w2);
    qat_quant_config_free(cfg);
    qat_model_free(m);
    qat_context_free(ctx);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("encoder_grad");
    TCase *tc = tcase_create("grad");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, float_gradients_match_finite_differences);
    tcase_add_test(tc, attention_batching_keeps_sequence_logits);
    tcase_add_test(tc, dropout_gradients_match_finite_differences);
    tcase_add_test(tc, fused_attention_gradients_match_finite_differences);
    tcase_add_test(tc, fused_attention_matches_the_kept_probabilities);
    tcase_add_test(tc, dropout_only_when_training_and_seeded);
    tcase_add_test(tc, bad_inputs_rejected);
    tcase_add_test(tc, quantized_weights_follow_parameter_writes);
    tcase_add_test(tc, sequence_classification_shapes_and_labels);
    suite_add_tcase(s, tc);
    return s;
}
