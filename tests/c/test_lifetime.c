/* Handles freed in any order ("Lifetime" in include/qat/core.h): a model
 * holds its context, a trainer its model. Every order of freeing a
 * context, a quant config, a model and a trainer, with the survivors used
 * after each free; two models of one context freed on two threads at once;
 * a failed load that must not keep a reference. ASan and valgrind (the
 * C suites run under both in tests/run_all.sh) find the use after free or
 * the leak that a wrong count gives. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qat/qat.h"
#include "test_main.h"

enum { VOCAB = 23, LABELS = 3, BATCH = 2, SEQ = 5 };

enum { CTX, CFG, MODEL, TRAINER, N_HANDLES };

typedef struct handles {
    qat_context *ctx;
    qat_quant_config *cfg;
    qat_model *model;
    qat_trainer *trainer;
} handles;

static void tiny_options(qat_model_options *o)
{
    QAT_ASSERT_OK(qat_model_options_init(o, QAT_MODEL_OPTIONS_VERSION));
    o->task = QAT_TASK_TOKEN_CLASSIFICATION;
    o->vocab_size = VOCAB;
    o->hidden_size = 8;
    o->num_layers = 1;
    o->num_heads = 2;
    o->intermediate_size = 12;
    o->max_position_embeddings = SEQ + 2;
    o->num_labels = LABELS;
}

static void make_handles(const char *backend, handles *h)
{
    QAT_ASSERT_OK(qat_context_create(backend, &h->ctx));
    QAT_ASSERT_OK(qat_quant_config_parse("E6W1.58A6", &h->cfg));
    qat_model_options o;
    tiny_options(&o);
    QAT_ASSERT_OK(qat_model_create(h->ctx, &o, &h->model));
    QAT_ASSERT_OK(qat_model_set_quant(h->model, h->cfg));
    qat_train_options t;
    QAT_ASSERT_OK(qat_train_options_init(&t, QAT_TRAIN_OPTIONS_VERSION));
    t.batch_size = BATCH;
    QAT_ASSERT_OK(qat_trainer_create(h->model, &t, 10, &h->trainer));
}

static void batch(int32_t *ids, int32_t *mask, int32_t *labels)
{
    for (int i = 0; i < BATCH * SEQ; i++) {
        ids[i] = 3 + i % (VOCAB - 3);
        mask[i] = 1;
        labels[i] = i % LABELS;
    }
}

/* Runs what each handle still held by the caller can do. */
static void use_survivors(const handles *h, const int *freed)
{
    int32_t ids[BATCH * SEQ], mask[BATCH * SEQ], labels[BATCH * SEQ];
    batch(ids, mask, labels);
    if (!freed[CTX]) {
        int64_t seed;
        QAT_ASSERT_OK(qat_context_get_int(h->ctx, QAT_CTX_SEED, &seed));
    }
    if (!freed[CFG]) {
        char text[64];
        QAT_ASSERT_OK(qat_quant_config_to_string(h->cfg, text, sizeof text, NULL));
    }
    if (!freed[MODEL]) {
        float logits[BATCH * SEQ * LABELS], loss;
        QAT_ASSERT_OK(qat_model_forward(h->model, ids, mask, NULL, BATCH, SEQ, logits, sizeof logits / sizeof *logits));
        QAT_ASSERT_OK(qat_model_backward(h->model, ids, mask, NULL, labels, BATCH, SEQ, &loss));
        float grad[LABELS];
        QAT_ASSERT_OK(qat_model_get_gradient(h->model, "classifier.bias", grad, LABELS));
    }
    if (!freed[TRAINER]) {
        float loss;
        QAT_ASSERT_OK(qat_trainer_step(h->trainer, ids, mask, labels, BATCH, SEQ, &loss));
    }
}

static void free_handle(handles *h, int which)
{
    switch (which) {
    case CTX: qat_context_free(h->ctx); break;
    case CFG: qat_quant_config_free(h->cfg); break;
    case MODEL: qat_model_free(h->model); break;
    case TRAINER: qat_trainer_free(h->trainer); break;
    }
}

/* Next permutation in lexicographic order; 0 after the last. */
static int next_permutation(int *p, int n)
{
    int i = n - 2;
    while (i >= 0 && p[i] >= p[i + 1])
        i--;
    if (i < 0)
        return 0;
    int j = n - 1;
    while (p[j] <= p[i])
        j--;
    int t = p[i]; p[i] = p[j]; p[j] = t;
    for (int a = i + 1, b = n - 1; a < b; a++, b--) {
        t = p[a]; p[a] = p[b]; p[b] = t;
    }
    return 1;
}

START_TEST(every_order_of_freeing_is_safe)
{
    for (int bi = 0; bi < qat_backend_count(); bi++) {
        const char *backend = qat_backend_name(bi);
        if (strcmp(backend, "ref") != 0 && strcmp(backend, "cpu") != 0)
            continue; /* the trainer runs on host-memory backends */
        int order[N_HANDLES] = {0, 1, 2, 3}, orders = 0;
        do {
            handles h;
            make_handles(backend, &h);
            int freed[N_HANDLES] = {0};
            for (int k = 0; k < N_HANDLES; k++) {
                free_handle(&h, order[k]);
                freed[order[k]] = 1;
                use_survivors(&h, freed);
            }
            orders++;
        } while (next_permutation(order, N_HANDLES));
        ck_assert_int_eq(orders, 24);
    }
}
END_TEST

START_TEST(a_freed_context_keeps_serving_its_models)
{
    /* The context's settings stay with the model after the caller's free:
     * dropout draws from the context's generator, seeded here, so two
     * identical runs give the same training loss. */
    float losses[2];
    for (int run = 0; run < 2; run++) {
        qat_context *ctx;
        QAT_ASSERT_OK(qat_context_create("ref", &ctx));
        QAT_ASSERT_OK(qat_context_set_int(ctx, QAT_CTX_SEED, 7));
        qat_model_options o;
        tiny_options(&o);
        o.hidden_dropout = 0.5;
        qat_model *model;
        QAT_ASSERT_OK(qat_model_create(ctx, &o, &model));
        qat_context_free(ctx);
        QAT_ASSERT_OK(qat_model_set_training(model, 1));
        int32_t ids[BATCH * SEQ], mask[BATCH * SEQ], labels[BATCH * SEQ];
        batch(ids, mask, labels);
        QAT_ASSERT_OK(qat_model_backward(model, ids, mask, NULL, labels, BATCH, SEQ, &losses[run]));
        ck_assert(losses[run] > 0.0f);
        qat_model_free(model);
    }
    ck_assert_float_eq(losses[0], losses[1]);
}
END_TEST

typedef struct free_job {
    qat_model *model;
    qat_trainer *trainer;
} free_job;

static void *free_in_thread(void *arg)
{
    free_job *job = arg;
    qat_trainer_free(job->trainer);
    qat_model_free(job->model);
    return NULL;
}

START_TEST(models_of_one_context_freed_on_two_threads)
{
    for (int round = 0; round < 20; round++) {
        qat_context *ctx;
        QAT_ASSERT_OK(qat_context_create("ref", &ctx));
        qat_model_options o;
        tiny_options(&o);
        qat_train_options t;
        QAT_ASSERT_OK(qat_train_options_init(&t, QAT_TRAIN_OPTIONS_VERSION));
        free_job jobs[2];
        for (int i = 0; i < 2; i++) {
            QAT_ASSERT_OK(qat_model_create(ctx, &o, &jobs[i].model));
            QAT_ASSERT_OK(qat_trainer_create(jobs[i].model, &t, 5, &jobs[i].trainer));
        }
        qat_context_free(ctx); /* the last reference goes with whichever model is freed last */
        pthread_t threads[2];
        for (int i = 0; i < 2; i++)
            ck_assert_int_eq(pthread_create(&threads[i], NULL, free_in_thread, &jobs[i]), 0);
        for (int i = 0; i < 2; i++)
            pthread_join(threads[i], NULL);
    }
}
END_TEST

START_TEST(a_failed_load_keeps_no_reference)
{
    /* The load creates the model (taking a reference to the context), then
     * finds the saved classifier has 3 rows where 4 are asked for: the
     * model it frees must give the reference back, or valgrind and
     * LeakSanitizer report the context as leaked. */
    char dir[] = "/tmp/qat_lifetime_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    qat_context *ctx;
    QAT_ASSERT_OK(qat_context_create("ref", &ctx));
    qat_model_options o;
    tiny_options(&o);
    qat_model *model;
    QAT_ASSERT_OK(qat_model_create(ctx, &o, &model));
    QAT_ASSERT_OK(qat_model_save(model, dir));
    qat_model_free(model);
    qat_load_options lo;
    QAT_ASSERT_OK(qat_load_options_init(&lo, QAT_LOAD_OPTIONS_VERSION));
    lo.task = QAT_TASK_TOKEN_CLASSIFICATION;
    lo.num_labels = LABELS + 1;
    qat_model *bad = (qat_model *)&lo;
    QAT_ASSERT_FAILS(qat_model_load(ctx, dir, &lo, &bad), QAT_ERR_FORMAT, "classifier");
    ck_assert_ptr_null(bad);
    qat_context_free(ctx);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("lifetime");
    TCase *tc = tcase_create("lifetime");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, every_order_of_freeing_is_safe);
    tcase_add_test(tc, a_freed_context_keeps_serving_its_models);
    tcase_add_test(tc, models_of_one_context_freed_on_two_threads);
    tcase_add_test(tc, a_failed_load_keeps_no_reference);
    suite_add_tcase(s, tc);
    return s;
}
