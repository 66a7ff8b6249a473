/* qat_model_embed / qat_model_embed_backward on a small random model
 * (parity with transformers on a real checkpoint is in
 * bindings/python/tests/test_embed.py): mean pooling over one attended
 * token is CLS pooling, normalised rows have norm 1, the backward's
 * gradient matches central differences of sum(d * embed), bad arguments
 * are refused. Under valgrind with the C suites. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "qat/qat.h"
#include "test_main.h"

enum { B = 2, L = 5, H = 16 };
static const char *W = "roberta.encoder.layer.0.intermediate.dense.weight";

static qat_model *small_model(qat_context **ctx)
{
    QAT_ASSERT_OK(qat_context_create("ref", ctx));
    qat_model_options o;
    QAT_ASSERT_OK(qat_model_options_init(&o, QAT_MODEL_OPTIONS_VERSION));
    o.vocab_size = 40;
    o.hidden_size = H;
    o.num_layers = 1;
    o.num_heads = 4;
    o.intermediate_size = 32;
    o.max_position_embeddings = 24;
    qat_model *m;
    QAT_ASSERT_OK(qat_model_create(*ctx, &o, &m));
    return m;
}

static const int32_t ids[B * L] = {0, 7, 9, 11, 2, 0, 30, 4, 2, 1};
static const int32_t mask[B * L] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 0};

START_TEST(mean_over_one_token_is_cls)
{
    qat_context *ctx;
    qat_model *m = small_model(&ctx);
    const int32_t one[B * L] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0};
    float mean[B * H], cls[B * H], unit[B * H];
    QAT_ASSERT_OK(qat_model_embed(m, ids, one, NULL, B, L, QAT_POOLING_MEAN, 0, mean, B * H));
    QAT_ASSERT_OK(qat_model_embed(m, ids, one, NULL, B, L, QAT_POOLING_CLS, 0, cls, B * H));
    QAT_ASSERT_OK(qat_model_embed(m, ids, mask, NULL, B, L, QAT_POOLING_MEAN, QAT_EMBED_NORMALIZE, unit, B * H));
    for (int i = 0; i < B * H; i++)
        ck_assert_float_eq(mean[i], cls[i]);
    for (int b = 0; b < B; b++) {
        double s = 0.0;
        for (int k = 0; k < H; k++)
            s += (double)unit[b * H + k] * unit[b * H + k];
        ck_assert_double_eq_tol(s, 1.0, 1e-5);
    }
    qat_model_free(m);
    qat_context_free(ctx);
}
END_TEST

static double objective(qat_model *m, const float *d, qat_pooling p, uint32_t flags)
{
    float e[B * H];
    QAT_ASSERT_OK(qat_model_embed(m, ids, mask, NULL, B, L, p, flags, e, B * H));
    double s = 0.0;
    for (int i = 0; i < B * H; i++)
        s += (double)d[i] * e[i];
    return s;
}

static void check_gradient(qat_pooling p, uint32_t flags)
{
    qat_context *ctx;
    qat_model *m = small_model(&ctx);
    float d[B * H];
    for (int i = 0; i < B * H; i++)
        d[i] = (float)sin(1.0 + i);
    size_t n;
    QAT_ASSERT_OK(qat_model_parameter_size(m, W, &n));
    float *w = malloc(n * sizeof *w), *g = malloc(n * sizeof *g);
    QAT_ASSERT_OK(qat_model_get_parameter(m, W, w, n));
    QAT_ASSERT_OK(qat_model_embed_backward(m, ids, mask, NULL, B, L, p, flags, d, B * H));
    QAT_ASSERT_OK(qat_model_get_gradient(m, W, g, n));
    double gmax = 0.0;
    for (size_t i = 0; i < n; i++)
        gmax = fmax(gmax, fabs(g[i]));
    ck_assert(gmax > 0.0);
    for (size_t i = 0; i < n; i += n / 7) {
        const float h = 1e-2f, w0 = w[i];
        w[i] = w0 + h;
        QAT_ASSERT_OK(qat_model_set_parameter(m, W, w, n));
        double up = objective(m, d, p, flags);
        w[i] = w0 - h;
        QAT_ASSERT_OK(qat_model_set_parameter(m, W, w, n));
        double down = objective(m, d, p, flags);
        w[i] = w0;
        QAT_ASSERT_OK(qat_model_set_parameter(m, W, w, n));
        ck_assert_double_eq_tol((up - down) / (2.0 * h), g[i], 2e-2 * gmax);
    }
    free(w);
    free(g);
    qat_model_free(m);
    qat_context_free(ctx);
}

START_TEST(gradient_mean_normalized)
{
    check_gradient(QAT_POOLING_MEAN, QAT_EMBED_NORMALIZE);
}
END_TEST

START_TEST(gradient_cls)
{
    check_gradient(QAT_POOLING_CLS, 0);
}
END_TEST

START_TEST(bad_arguments)
{
    qat_context *ctx;
    qat_model *m = small_model(&ctx);
    float e[B * H] = {0};
    QAT_ASSERT_FAILS(qat_model_embed(m, ids, mask, NULL, B, L, (qat_pooling)7, 0, e, B * H),
                     QAT_ERR_INVALID_ARGUMENT, "pooling 7");
    QAT_ASSERT_FAILS(qat_model_embed(m, ids, mask, NULL, B, L, QAT_POOLING_MEAN, 2u, e, B * H),
                     QAT_ERR_INVALID_ARGUMENT, "unknown flags");
    QAT_ASSERT_FAILS(qat_model_embed(m, ids, mask, NULL, B, L, QAT_POOLING_MEAN, 0, e, B * H - 1),
                     QAT_ERR_INVALID_ARGUMENT, "needed");
    e[3] = NAN;
    QAT_ASSERT_FAILS(qat_model_embed_backward(m, ids, mask, NULL, B, L, QAT_POOLING_MEAN, 0, e, B * H),
                     QAT_ERR_INVALID_ARGUMENT, "not finite");
    qat_model_free(m);
    qat_context_free(ctx);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("embed");
    TCase *tc = tcase_create("embed");
    tcase_add_test(tc, mean_over_one_token_is_cls);
    tcase_add_test(tc, gradient_mean_normalized);
    tcase_add_test(tc, gradient_cls);
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}
