/* The same bits with 1, 2 or 3 threads: every host kernel (through the
 * backend dispatch, so the cpu backend's oneDNN GEMM tiles too) on sizes
 * cut into several ranges, with odd sizes and whole-tensor sums; then a
 * short training run (losses and every parameter), with dropout, BitNet
 * and LSQ. Not in the valgrind suite: oneDNN's JIT kernels read past the
 * ends of their own buffers (harmless masked loads valgrind reports). */
#include <stdlib.h>
#include <string.h>

#include "backend/dispatch.h"
#include "core/context.h"
#include "qat/qat.h"
#include "test_main.h"

enum { R = 1000, C = 257, WIDE = 1030, VOCAB = 61, HEADS = 4, LQ = 40 };

/* Every output of one pass over the kernels, back to back. */
typedef struct outputs {
    float *v;
    size_t n, cap;
} outputs;

static void keep(outputs *o, const float *x, size_t n)
{
    if (o->n + n > o->cap) {
        o->cap = (o->n + n) * 2;
        o->v = realloc(o->v, o->cap * sizeof *o->v);
    }
    memcpy(o->v + o->n, x, n * sizeof *x);
    o->n += n;
}

static float *random_floats(size_t n, unsigned seed, float scale)
{
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = scale * ((float)(seed >> 8) / 16777216.0f * 2.0f - 1.0f);
    }
    return x;
}

#define RUN(ctx, slot, ...) QAT_ASSERT_OK(QAT_KERNEL(ctx, slot, __VA_ARGS__))

static void elementwise_and_rows(qat_context *ctx, outputs *o)
{
    const size_t n = (size_t)R * C;
    float *a = random_floats(n, 1, 3.0f), *b = random_floats(n, 2, 3.0f), *y = malloc(n * sizeof(float));
    float *bias = random_floats(WIDE, 3, 1.0f), *w = random_floats(C, 4, 1.0f);
    RUN(ctx, add, a, b, y, (int64_t)n);
    keep(o, y, n);
    RUN(ctx, accumulate, a, y, (int64_t)n);
    keep(o, y, n);
    RUN(ctx, bias_act_fwd, y, bias, R, C, QAT_ACTIVATION_GELU, b);
    keep(o, y, n);
    keep(o, b, n);
    RUN(ctx, bias_act_fwd, y, bias, R, C, QAT_ACTIVATION_TANH, b);
    keep(o, b, n);
    RUN(ctx, gelu_bwd, a, y, (int64_t)n, b);
    keep(o, b, n);
    RUN(ctx, dropout, b, (int64_t)n, 0.25f, 99);
    keep(o, b, n);
    float db[WIDE] = {0};
    RUN(ctx, bias_grad, a, (int64_t)n / WIDE, WIDE, db);
    keep(o, db, WIDE);

    float mean[R], rstd[R], dw[C] = {0}, dbias[C] = {0};
    RUN(ctx, layernorm_fwd, a, w, bias, 1e-5f, R, C, y, mean, rstd);
    keep(o, y, n);
    keep(o, mean, R);
    keep(o, rstd, R);
    RUN(ctx, layernorm_bwd, b, a, w, mean, rstd, R, C, y, dw, dbias);
    keep(o, y, n);
    keep(o, dw, C);
    keep(o, dbias, C);

    /* Scores [2, HEADS, LQ, C] with a key bias per batch row. */
    const int64_t srows = 2 * HEADS * LQ;
    float *kb = random_floats(2 * C, 5, 2.0f);
    memcpy(y, a, (size_t)(srows * C) * sizeof(float));
    RUN(ctx, softmax_fwd, y, kb, 2, HEADS, LQ, C);
    keep(o, y, (size_t)(srows * C));
    RUN(ctx, softmax_bwd, b, y, srows, C, a);
    keep(o, a, (size_t)(srows * C));

    int32_t ids[R], labels[R];
    for (int i = 0; i < R; i++) {
        ids[i] = (i * 7 + 3) % VOCAB;
        labels[i] = i % 9 == 0 ? -100 : (i * 13) % C;
    }
    float *table = random_floats((size_t)VOCAB * C, 6, 1.0f), *dtable = calloc((size_t)VOCAB * C, sizeof(float));
    RUN(ctx, embedding_fwd, table, ids, R, C, y, 0);
    RUN(ctx, embedding_fwd, table, ids, R, C, y, 1);
    keep(o, y, n);
    RUN(ctx, embedding_bwd, b, ids, R, C, VOCAB, dtable);
    keep(o, dtable, (size_t)VOCAB * C);
    float loss;
    RUN(ctx, cross_entropy, b, labels, R, C, 1.0f / R, &loss, y);
    keep(o, &loss, 1);
    keep(o, y, n);
    free(a), free(b), free(y), free(bias), free(w), free(kb), free(table), free(dtable);
}

static void quantizers(qat_context *ctx, outputs *o)
{
    const size_t n = (size_t)R * C;
    float *x = random_floats(n, 7, 2.0f), *dy = random_floats(n, 8, 1.0f), *y = malloc(n * sizeof(float));
    float *steps = random_floats(R, 9, 0.05f), offset = 0.1f, gamma[R];
    for (int i = 0; i < R; i++)
        steps[i] = 0.06f + steps[i];
    float means[R];
    RUN(ctx, abs_mean, x, R, C, means);
    keep(o, means, R);
    for (int per_row = 0; per_row <= 1; per_row++)
        for (int with_offset = 0; with_offset <= 1; with_offset++) {
            qat_lsq_desc d = {steps, with_offset ? &offset : NULL, R, C, per_row, with_offset ? 0.0f : -8.0f,
                              with_offset ? 15.0f : 7.0f, 0.0f};
            RUN(ctx, lsq_fwd, &d, x, y);
            keep(o, y, n);
            float dstep[R] = {0}, doffset = 0.0f;
            RUN(ctx, lsq_bwd, &d, dy, x, 0.01f, y, dstep, &doffset);
            keep(o, y, n);
            keep(o, dstep, R);
            keep(o, &doffset, 1);
        }
    for (int per_row = 0; per_row <= 1; per_row++) {
        RUN(ctx, bitnet_weight_fwd, x, R, C, per_row, gamma, y);
        keep(o, y, n);
        keep(o, gamma, per_row ? R : 1);
    }
    RUN(ctx, bitnet_act_fwd, x, R, C, 6, 0, y);
    keep(o, y, n);
    free(x), free(dy), free(y), free(steps);
}

static void gemms(qat_context *ctx, outputs *o)
{
    const int64_t m = 200, nn = 300, k = 150, batch = 2;
    float *a = random_floats((size_t)(batch * m * k), 10, 1.0f), *b = random_floats((size_t)(batch * k * nn), 11, 1.0f);
    float *c = random_floats((size_t)(batch * m * nn), 12, 1.0f);
    for (int t = 0; t < 4; t++) {
        int ta = t & 1, tb = t >> 1;
        qat_gemm_desc d = {ta, tb, m, nn, k, 0.5f, t == 3 ? 0.25f : 0.0f,
                           a, ta ? m : k, m * k, b, tb ? k : nn, k * nn, c, nn, m * nn, batch};
        QAT_ASSERT_OK(ctx->backend.ops->gemm(ctx->backend_state, &d));
        keep(o, c, (size_t)(batch * m * nn));
    }
    free(a), free(b), free(c);
    /* dW of a 768 x 768 weight: k split in two parts on the cpu backend */
    const int64_t w = 768, tokens = 40;
    a = random_floats((size_t)(tokens * w), 13, 1.0f), b = random_floats((size_t)(tokens * w), 14, 1.0f);
    c = random_floats((size_t)(w * w), 15, 1.0f);
    qat_gemm_desc d = {1, 0, w, w, tokens, 0.5f, 0.25f, a, w, w * tokens, b, w, w * tokens, c, w, w * w, 1};
    QAT_ASSERT_OK(ctx->backend.ops->gemm(ctx->backend_state, &d));
    keep(o, c, (size_t)(w * w));
    free(a), free(b), free(c);
}

static outputs all_kernels(const char *backend, int threads)
{
    qat_context *ctx;
    QAT_ASSERT_OK(qat_context_create(backend, &ctx));
    QAT_ASSERT_OK(qat_context_set_int(ctx, QAT_CTX_THREADS, threads));
    outputs o = {NULL, 0, 0};
    elementwise_and_rows(ctx, &o);
    quantizers(ctx, &o);
    gemms(ctx, &o);
    qat_context_free(ctx);
    return o;
}

static int host_backend(const char *name)
{
    return strcmp(name, "ref") == 0 || strcmp(name, "cpu") == 0;
}

START_TEST(every_kernel_is_bit_identical_across_thread_counts)
{
    for (int bi = 0; bi < qat_backend_count(); bi++) {
        const char *backend = qat_backend_name(bi);
        if (!host_backend(backend))
            continue;
        outputs one = all_kernels(backend, 1);
        for (int threads = 2; threads <= 3; threads++) {
            outputs many = all_kernels(backend, threads);
            ck_assert(many.n == one.n);
            for (size_t i = 0; i < one.n; i++)
                ck_assert_msg(memcmp(&many.v[i], &one.v[i], sizeof(float)) == 0,
                              "%s: output value %zu is %.9g with %d threads, %.9g with 1", backend, i, many.v[i],
                              threads, one.v[i]);
            free(many.v);
        }
        free(one.v);
    }
}
END_TEST

enum { TVOCAB = 50, LABELS = 5, BATCH = 8, SEQ = 32, STEPS = 2 };

typedef struct run {
    float losses[STEPS];
    outputs params;
} run;

static run train(const char *backend, const char *quant, int threads)
{
    qat_context *ctx;
    QAT_ASSERT_OK(qat_context_create(backend, &ctx));
    QAT_ASSERT_OK(qat_context_set_int(ctx, QAT_CTX_THREADS, threads));
    QAT_ASSERT_OK(qat_context_set_int(ctx, QAT_CTX_SEED, 11));
    qat_model_options mo;
    QAT_ASSERT_OK(qat_model_options_init(&mo, QAT_MODEL_OPTIONS_VERSION));
    mo.task = QAT_TASK_TOKEN_CLASSIFICATION;
    mo.vocab_size = TVOCAB;
    mo.hidden_size = 64;
    mo.num_layers = 1;
    mo.num_heads = 4;
    mo.intermediate_size = 256;
    mo.max_position_embeddings = SEQ + 2;
    mo.num_labels = LABELS;
    qat_model *model;
    QAT_ASSERT_OK(qat_model_create(ctx, &mo, &model));
    qat_context_free(ctx);
    qat_quant_config *cfg;
    QAT_ASSERT_OK(qat_quant_config_parse(quant, &cfg));
    QAT_ASSERT_OK(qat_model_set_quant(model, cfg));
    qat_quant_config_free(cfg);
    qat_train_options to;
    QAT_ASSERT_OK(qat_train_options_init(&to, QAT_TRAIN_OPTIONS_VERSION));
    to.batch_size = BATCH;
    to.learning_rate = 1e-3;
    qat_trainer *trainer;
    QAT_ASSERT_OK(qat_trainer_create(model, &to, STEPS, &trainer));
    run out = {{0}, {NULL, 0, 0}};
    int32_t ids[BATCH * SEQ], mask[BATCH * SEQ], labels[BATCH * SEQ];
    unsigned seed = 5;
    for (int step = 0; step < STEPS; step++) {
        for (int i = 0; i < BATCH * SEQ; i++) {
            seed = seed * 1103515245u + 12345u;
            ids[i] = 3 + (int32_t)((seed >> 16) % (TVOCAB - 3));
            mask[i] = (i % SEQ) < SEQ - (i / SEQ); /* rows of different lengths */
            labels[i] = mask[i] ? ids[i] % LABELS : -100;
        }
        QAT_ASSERT_OK(qat_trainer_step(trainer, ids, mask, labels, BATCH, SEQ, &out.losses[step]));
    }
    size_t n_params;
    QAT_ASSERT_OK(qat_model_parameter_count(model, &n_params));
    for (size_t i = 0; i < n_params; i++) {
        const char *name;
        size_t size;
        QAT_ASSERT_OK(qat_model_parameter_info(model, i, &name, NULL, NULL));
        QAT_ASSERT_OK(qat_model_parameter_size(model, name, &size));
        float *v = malloc(size * sizeof *v);
        QAT_ASSERT_OK(qat_model_get_parameter(model, name, v, size));
        keep(&out.params, v, size);
        free(v);
    }
    qat_trainer_free(trainer);
    qat_model_free(model);
    return out;
}

START_TEST(training_is_bit_identical_across_thread_counts)
{
    const char *quants[] = {"E6W1.58A6", "E4W4A4"};
    for (int bi = 0; bi < qat_backend_count(); bi++) {
        const char *backend = qat_backend_name(bi);
        if (!host_backend(backend))
            continue;
        for (int q = 0; q < 2; q++) {
            run one = train(backend, quants[q], 1), many = train(backend, quants[q], 2);
            for (int s = 0; s < STEPS; s++)
                ck_assert_msg(memcmp(&many.losses[s], &one.losses[s], sizeof(float)) == 0,
                              "%s %s: step %d loss %.9g with 2 threads, %.9g with 1", backend, quants[q], s,
                              many.losses[s], one.losses[s]);
            ck_assert(many.params.n == one.params.n);
            size_t differ = 0;
            for (size_t i = 0; i < one.params.n; i++)
                differ += memcmp(&many.params.v[i], &one.params.v[i], sizeof(float)) != 0;
            ck_assert_msg(differ == 0, "%s %s: %zu of %zu parameter values differ between 1 and 2 threads", backend,
                          quants[q], differ, one.params.n);
            free(one.params.v);
            free(many.params.v);
        }
    }
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("thread_counts");
    TCase *tc = tcase_create("thread_counts");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, every_kernel_is_bit_identical_across_thread_counts);
    tcase_add_test(tc, training_is_bit_identical_across_thread_counts);
    suite_add_tcase(s, tc);
    return s;
}
