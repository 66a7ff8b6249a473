/* The alpha pipeline end to end on the demo data (make_demo.py): it learns
 * the tagging task under float, 8-bit and ternary configs, and a run
 * stopped and resumed twice ends bit-identical to an uninterrupted one. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qat/qat.h"
#include "run_dirs.h"
#include "test_main.h"

#define DATA DEMO_DIR
/* The learning checks train on the whole demo task; the quick ones, which
 * check what a run writes and run under ASan and valgrind too, on its
 * first 120 sentences (make_demo.py). */
#ifdef PIPELINE_SLOW
#define TASK DATA "/task.conll"
#define CORPUS DATA "/corpus.txt"
#else
#define TASK DATA "/task_small.conll"
#define CORPUS DATA "/corpus_small.txt"
#endif

static void options(qat_pipeline_options *o, const char *out, const char *quant, double alpha, int64_t steps)
{
    QAT_ASSERT_OK(qat_pipeline_options_init(o, QAT_PIPELINE_OPTIONS_VERSION));
    o->run.model_dir = DATA "/model";
    o->run.tokenizer = DATA "/spm.model";
    o->train_file = TASK;
    o->run.corpus = CORPUS;
    o->run.out_dir = out;
    o->run.quant = quant;
    o->alpha = alpha;
    o->run.total_steps = steps;
    o->run.max_seq_len = 32;
    o->run.train.batch_size = 16;
    o->run.train.learning_rate = 2e-3;
}

#ifdef PIPELINE_SLOW
static const char *configs[] = {"FP32", "E8W8A8", "E6W1.58A6"};

START_TEST(learns_the_task)
{
    qat_context *ctx;
    QAT_ASSERT_OK(qat_context_create(test_backend_or(NULL), &ctx));
    QAT_ASSERT_OK(qat_context_set_int(ctx, QAT_CTX_THREADS, 1));
    char *dir = temp_dir("pipeline");
    qat_pipeline_options o;
    options(&o, dir, configs[_i], 0.0, 300);
    o.run.train.learning_rate = 3e-3;
    double f1 = 0.0;
    QAT_ASSERT_OK(qat_pipeline_run(ctx, &o, &f1));
    ck_assert_msg(f1 >= 0.9, "%s: test F1 %.3f < 0.9", configs[_i], f1);
    char path[600];
    snprintf(path, sizeof path, "%s/results.json", dir);
    ck_assert_int_eq(access(path, R_OK), 0);
    remove_tree(dir);
    free(dir);
    qat_context_free(ctx);
}
END_TEST

typedef struct stopper { const char *phase; int64_t at; int fired; } stopper;

static int stop_at(void *user, const char *phase, int64_t step, int64_t total, double loss)
{
    (void)total;
    (void)loss;
    stopper *s = user;
    if (!s->fired && strcmp(phase, s->phase) == 0 && step == s->at) {
        s->fired = 1;
        return 1;
    }
    return 0;
}

START_TEST(resume_is_bit_identical)
{
    qat_context *ctx;
    QAT_ASSERT_OK(qat_context_create(test_backend_or(NULL), &ctx));
    QAT_ASSERT_OK(qat_context_set_int(ctx, QAT_CTX_THREADS, 1));
    char *a = temp_dir("pipeline"), *b = temp_dir("pipeline");
    qat_pipeline_options o;
    double f1_a, f1_b;
    options(&o, a, "E6W1.58A6", 0.5, 40);
    o.run.checkpoint_every = 7;
    QAT_ASSERT_OK(qat_pipeline_run(ctx, &o, &f1_a));

    options(&o, b, "E6W1.58A6", 0.5, 40);
    o.run.checkpoint_every = 7;
    stopper s1 = {"dapt", 11, 0}, s2 = {"finetune", 5, 0};
    o.run.progress = stop_at;
    o.run.progress_user = &s1;
    QAT_ASSERT_FAILS(qat_pipeline_run(ctx, &o, &f1_b), QAT_ERR_STATE, "stopped");
    o.run.progress_user = &s2;
    QAT_ASSERT_FAILS(qat_pipeline_run(ctx, &o, &f1_b), QAT_ERR_STATE, "stopped");
    o.run.progress = NULL;
    QAT_ASSERT_OK(qat_pipeline_run(ctx, &o, &f1_b));
    ck_assert(f1_a == f1_b);
    const char *files[] = {"dapt/model.safetensors", "model/model.safetensors", "model/qat_quantizers.safetensors"};
    for (int i = 0; i < 3; i++) {
        char pa[600], pb[600];
        snprintf(pa, sizeof pa, "%s/%s", a, files[i]);
        snprintf(pb, sizeof pb, "%s/%s", b, files[i]);
        size_t na, nb;
        unsigned char *da = slurp_file(pa, &na), *db = slurp_file(pb, &nb);
        ck_assert_msg(na == nb && memcmp(da, db, na) == 0, "%s differs after resuming", files[i]);
        free(da);
        free(db);
    }
    remove_tree(a);
    remove_tree(b);
    free(a);
    free(b);
    qat_context_free(ctx);
}
END_TEST

#else
START_TEST(bad_options_and_files_rejected)
{
    qat_context *ctx;
    QAT_ASSERT_OK(qat_context_create(test_backend(), &ctx));
    char *dir = temp_dir("pipeline");
    qat_pipeline_options o;
    options(&o, dir, "E6W1.58A6", 1.0, 10);
    double f1;
    QAT_ASSERT_FAILS(qat_pipeline_run(ctx, &o, &f1), QAT_ERR_INVALID_ARGUMENT, "alpha");
    options(&o, dir, "E6W1.58A6", 0.5, 10);
    o.run.corpus = NULL;
    QAT_ASSERT_FAILS(qat_pipeline_run(ctx, &o, &f1), QAT_ERR_INVALID_ARGUMENT, "corpus");
    options(&o, dir, "E6W1.58A6", 0.0, 10);
    o.train_file = "/nonexistent.conll";
    qat_status st = qat_pipeline_run(ctx, &o, &f1);
    ck_assert_int_ne(st, QAT_OK);
    ck_assert_ptr_nonnull(strstr(qat_last_error(), "/nonexistent.conll"));
    options(&o, dir, "E6W1.58A7x", 0.0, 10);
    QAT_ASSERT_FAILS(qat_pipeline_run(ctx, &o, &f1), QAT_ERR_INVALID_ARGUMENT, "A7x");
    options(&o, dir, NULL, 0.0, 10);
    o.eval_file = TASK;
    QAT_ASSERT_FAILS(qat_pipeline_run(ctx, &o, &f1), QAT_ERR_INVALID_ARGUMENT, "test_file");
    qat_train_options t;
    QAT_ASSERT_FAILS(qat_train_options_init(&t, 7), QAT_ERR_INVALID_ARGUMENT, "version");
    remove_tree(dir);
    free(dir);
    qat_context_free(ctx);
}
END_TEST

START_TEST(short_run_writes_results)
{
    qat_context *ctx;
    QAT_ASSERT_OK(qat_context_create(test_backend(), &ctx));
    QAT_ASSERT_OK(qat_context_set_int(ctx, QAT_CTX_THREADS, 1));
    char *dir = temp_dir("pipeline");
    qat_pipeline_options o;
    char nested[600];
    snprintf(nested, sizeof nested, "%s/runs/a", dir); /* parents are created */
    options(&o, nested, "E6W1.58A6", 0.5, 4);
    o.run.checkpoint_every = 1;
    double f1 = -1.0;
    QAT_ASSERT_OK(qat_pipeline_run(ctx, &o, &f1));
    ck_assert(f1 >= 0.0 && f1 <= 1.0);
    const char *files[] = {"results.json", "metrics.jsonl", "model/config.json", "dapt/config.json"};
    for (int i = 0; i < 4; i++) {
        char path[700];
        snprintf(path, sizeof path, "%s/%s", nested, files[i]);
        ck_assert_msg(access(path, R_OK) == 0, "%s missing", files[i]);
    }
    /* The saved classifier carries its label names and evaluates alone. */
    char model_dir[700], out_json[700];
    snprintf(model_dir, sizeof model_dir, "%s/model", nested);
    snprintf(out_json, sizeof out_json, "%s/eval.json", nested);
    qat_load_options lo;
    QAT_ASSERT_OK(qat_load_options_init(&lo, QAT_LOAD_OPTIONS_VERSION));
    lo.task = QAT_TASK_TOKEN_CLASSIFICATION;
    qat_model *m;
    QAT_ASSERT_OK(qat_model_load(ctx, model_dir, &lo, &m));
    const char *name;
    QAT_ASSERT_OK(qat_model_label_name(m, 0, &name));
    ck_assert_str_eq(name, "ADJ"); /* sorted tag set of the demo task */
    qat_tokenizer *tok;
    QAT_ASSERT_OK(qat_tokenizer_load(DATA "/spm.model", &tok));
    double eval_f1 = -1.0;
    QAT_ASSERT_OK(qat_model_evaluate(m, tok, TASK, 32, out_json, &eval_f1));
    ck_assert(eval_f1 >= 0.0 && eval_f1 <= 1.0);
    ck_assert_int_eq(access(out_json, R_OK), 0);
    QAT_ASSERT_FAILS(qat_model_evaluate(m, tok, "/nonexistent.conll", 32, NULL, NULL), QAT_ERR_IO, "nonexistent");
    qat_tokenizer_free(tok);
    qat_model_free(m);
    remove_tree(dir);
    free(dir);
    qat_context_free(ctx);
}
END_TEST

#endif

Suite *make_suite(void)
{
    Suite *s = suite_create("pipeline");
    TCase *tc = tcase_create("pipeline");
    tcase_set_timeout(tc, 900);
#ifdef PIPELINE_SLOW
    /* Minutes under valgrind: the plain build runs these. */
    tcase_add_loop_test(tc, learns_the_task, 0, 3);
    tcase_add_test(tc, resume_is_bit_identical);
#else
    tcase_add_test(tc, short_run_writes_results);
    tcase_add_test(tc, bad_options_and_files_rejected);
#endif
    suite_add_tcase(s, tc);
    return s;
}
