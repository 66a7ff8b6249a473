/* Data-parallel fine-tuning through the pipeline (qat_pipeline_options
 * version 3, comm): two ranks (threads over the loopback communicator)
 * running the same options on the demo task against one rank whose
 * micro-batches are the ranks' shards: the same test F1 and the same
 * saved weights, bit for bit, with and without DAPT; rank 0 alone writes
 * (results, metrics, models), rank 1 returns NaN; adaptive alpha too, its
 * rule fed rank 0's held-out losses on every rank. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "dist/comm.h"
#include "qat/qat.h"
#include "run_dirs.h"
#include "test_main.h"

#define DATA DEMO_DIR

static void options(qat_pipeline_options *o, const char *out, int64_t micro)
{
    QAT_ASSERT_OK(qat_pipeline_options_init(o, QAT_PIPELINE_OPTIONS_VERSION));
    o->run.model_dir = DATA "/model";
    o->run.tokenizer = DATA "/spm.model";
    o->train_file = DATA "/task_small.conll";
    o->run.out_dir = out;
    o->run.quant = "E4W4A4";
    o->run.total_steps = 3;
    o->run.max_seq_len = 32;
    o->run.checkpoint_every = 1;
    o->run.train.batch_size = 8;
    o->run.train.micro_batch_size = micro;
    o->run.train.learning_rate = 2e-3;
}

/* Adaptive alpha that fires at the second held-out evaluation, step 2 (no
 * later loss beats the first by 10 nats), so DAPT stops early. */
static void adaptive_opts(qat_run_options *r)
{
    r->adaptive.enabled = 1;
    r->adaptive.eval_every = 1;
    r->adaptive.patience = 1;
    r->adaptive.min_delta = 10.0;
}

typedef struct rank_job {
    int rank;
    qat_loopback_group *g;
    const char *out;
    double alpha;
    int adaptive;
    qat_status status;
    char error[512];
    double f1;
} rank_job;

static void *rank_main(void *arg)
{
    rank_job *job = arg;
    qat_context *ctx = NULL;
    qat_comm *comm = NULL;
    qat_status st = qat_context_create(test_backend(), &ctx);
    if (st == QAT_OK)
        st = qat_context_set_int(ctx, QAT_CTX_THREADS, 1);
    if (st == QAT_OK)
        st = qat_comm_loopback(job->g, ctx, job->rank, &comm);
    qat_pipeline_options o;
    options(&o, job->out, 0);
    o.alpha = job->alpha;
    if (job->adaptive) {
        adaptive_opts(&o.run);
        o.run.total_steps = 6;
    }
    o.run.corpus = DATA "/corpus_small.txt";
    o.comm = comm;
    job->f1 = -1;
    if (st == QAT_OK)
        st = qat_pipeline_run(ctx, &o, &job->f1);
    job->status = st;
    snprintf(job->error, sizeof job->error, "%s", st == QAT_OK ? "" : qat_last_error());
    qat_comm_free(comm);
    qat_context_free(ctx);
    return NULL;
}

static void run_two_ranks(rank_job jobs[2], const char *out, double alpha, int adaptive)
{
    qat_loopback_group *g = NULL;
    QAT_ASSERT_OK(qat_loopback_group_create(2, 120, &g));
    pthread_t th[2];
    for (int r = 0; r < 2; r++) {
        jobs[r] = (rank_job){.rank = r, .g = g, .out = out, .alpha = alpha, .adaptive = adaptive};
        ck_assert_int_eq(pthread_create(&th[r], NULL, rank_main, &jobs[r]), 0);
    }
    for (int r = 0; r < 2; r++)
        pthread_join(th[r], NULL);
    qat_loopback_group_free(g);
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s missing", path);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n ? *n : 1);
    ck_assert_uint_eq(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

static int count_lines(const char *path)
{
    size_t n;
    unsigned char *m = slurp(path, &n);
    int lines = 0;
    for (size_t i = 0; i < n; i++)
        lines += m[i] == '\n';
    free(m);
    return lines;
}

static void same_file(const char *two, const char *one, const char *name)
{
    char path[700], path1[700];
    snprintf(path, sizeof path, "%s/%s", two, name);
    snprintf(path1, sizeof path1, "%s/%s", one, name);
    size_t n2, n1;
    unsigned char *w2 = slurp(path, &n2), *w1 = slurp(path1, &n1);
    ck_assert_msg(n1 == n2 && memcmp(w1, w2, n1) == 0, "%s differs between two ranks and one", name);
    free(w1);
    free(w2);
}

/* Two ranks against one whose micro-batches are the ranks' shards, at
 * `alpha` (DAPT then fine-tuning) or adaptive: the same test F1, the same
 * saved weights (and DAPT's, when it ran) bit for bit, the same adaptive
 * record; rank 0 alone writes (results, metrics, models), rank 1 returns
 * NaN. */
static void two_ranks_as_one(double alpha, int adaptive)
{
    char *dir = temp_dir("pipeline_dp");
    char two[600], one[600], path[700];
    snprintf(two, sizeof two, "%s/two", dir);
    snprintf(one, sizeof one, "%s/one", dir);
    rank_job jobs[2];
    run_two_ranks(jobs, two, alpha, adaptive);
    for (int r = 0; r < 2; r++)
        ck_assert_msg(jobs[r].status == QAT_OK, "rank %d: %s", r, jobs[r].error);
    ck_assert(isnan(jobs[1].f1));
    ck_assert(jobs[0].f1 >= 0.0 && jobs[0].f1 <= 1.0);

    qat_context *ctx = NULL;
    QAT_ASSERT_OK(qat_context_create(test_backend(), &ctx));
    QAT_ASSERT_OK(qat_context_set_int(ctx, QAT_CTX_THREADS, 1));
    qat_pipeline_options o;
    options(&o, one, 4); /* the ranks' shards as micro-batches */
    o.alpha = alpha;
    if (adaptive) {
        adaptive_opts(&o.run);
        o.run.total_steps = 6;
    }
    o.run.corpus = DATA "/corpus_small.txt";
    double f1 = -1;
    QAT_ASSERT_OK(qat_pipeline_run(ctx, &o, &f1));
    qat_context_free(ctx);
    ck_assert_msg(f1 == jobs[0].f1, "one rank: F1 %.9g, two ranks %.9g", f1, jobs[0].f1);
    const char *files[] = {"results.json", "metrics.jsonl", "model/model.safetensors"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", two, files[i]);
        ck_assert_msg(access(path, R_OK) == 0, "%s missing", path);
    }
    same_file(two, one, "model/model.safetensors");
    if (alpha > 0 || adaptive)
        same_file(two, one, "dapt/model.safetensors");
    if (adaptive) {
        same_file(two, one, "adaptive.json");
        /* the rule fired where the settings make it fire, on both */
        snprintf(path, sizeof path, "%s/adaptive.json", two);
        size_t n;
        char *text = (char *)slurp(path, &n);
        text = realloc(text, n + 1);
        text[n] = '\0';
        ck_assert_msg(strstr(text, "\"stopped_at\":2,") != NULL, "%s", text);
        free(text);
    }
    /* the metrics: one record per step, written once (by rank 0) */
    char path1[700];
    snprintf(path, sizeof path, "%s/metrics.jsonl", two);
    snprintf(path1, sizeof path1, "%s/metrics.jsonl", one);
    ck_assert_int_eq(count_lines(path), count_lines(path1));
    remove_tree(dir);
    free(dir);
}

/* Under a memory checker only the two adaptive variants run: their code is
 * the others' (a fine-tune after a DAPT phase, the shared DAPT job) plus
 * the rule; the bits of all five are checked in the plain build. This
 * executable was the valgrind section's longest: 95 s with all five, 73 s
 * with three. */
static int checker_skips(const char *what)
{
    if (!test_under_checker())
        return 0;
    fprintf(stderr, "SKIP: %s under a memory checker (the adaptive variant runs the same code)\n", what);
    return 1;
}

START_TEST(two_ranks_fine_tune_as_one)
{
    if (checker_skips("fine-tuning alone on 2 ranks"))
        return;
    two_ranks_as_one(0.0, 0);
}
END_TEST

START_TEST(two_ranks_dapt_and_fine_tune_as_one)
{
    if (checker_skips("DAPT then fine-tuning on 2 ranks"))
        return;
    two_ranks_as_one(0.5, 0);
}
END_TEST

START_TEST(two_ranks_adaptive_alpha_as_one)
{
    two_ranks_as_one(0.0, 1);
}
END_TEST

static const double dapt_alphas[2] = {0.25, 0.5};

static void dapt_opts(qat_dapt_options *d, const char *out, int64_t micro)
{
    QAT_ASSERT_OK(qat_dapt_options_init(d, QAT_DAPT_OPTIONS_VERSION));
    d->run.model_dir = DATA "/model";
    d->run.tokenizer = DATA "/spm.model";
    d->run.corpus = DATA "/corpus_small.txt";
    d->run.out_dir = out;
    d->run.quant = "E4W4A4";
    d->alphas = dapt_alphas;
    d->n_alphas = 2;
    d->run.total_steps = 4; /* snapshots at steps 1 and 2 */
    d->run.max_seq_len = 32;
    d->run.checkpoint_every = 1;
    d->run.train.batch_size = 8;
    d->run.train.micro_batch_size = micro;
    d->run.train.learning_rate = 2e-3;
}

static void *dapt_rank_main(void *arg)
{
    rank_job *job = arg;
    qat_context *ctx = NULL;
    qat_comm *comm = NULL;
    qat_status st = qat_context_create(test_backend(), &ctx);
    if (st == QAT_OK)
        st = qat_context_set_int(ctx, QAT_CTX_THREADS, 1);
    if (st == QAT_OK)
        st = qat_comm_loopback(job->g, ctx, job->rank, &comm);
    qat_dapt_options d;
    dapt_opts(&d, job->out, 0);
    if (job->adaptive)
        adaptive_opts(&d.run);
    d.comm = comm;
    if (st == QAT_OK)
        st = qat_dapt_run(ctx, &d);
    job->status = st;
    snprintf(job->error, sizeof job->error, "%s", st == QAT_OK ? "" : qat_last_error());
    qat_comm_free(comm);
    qat_context_free(ctx);
    return NULL;
}

/* The shared-prefix DAPT job (qat_dapt_run) over 2 ranks: its snapshots
 * are those of 1 rank with 2 micro-batches, bit for bit; rank 0 alone
 * writes dapt.json; with adaptive alpha too (the rule's snapshot and
 * record the same). */
static void shared_dapt_as_one(int adaptive)
{
    char *dir = temp_dir("pipeline_dp");
    char two[600], one[600], path[700];
    snprintf(two, sizeof two, "%s/two", dir);
    snprintf(one, sizeof one, "%s/one", dir);
    qat_loopback_group *g = NULL;
    QAT_ASSERT_OK(qat_loopback_group_create(2, 120, &g));
    rank_job jobs[2];
    pthread_t th[2];
    for (int r = 0; r < 2; r++) {
        jobs[r] = (rank_job){.rank = r, .g = g, .out = two, .adaptive = adaptive};
        ck_assert_int_eq(pthread_create(&th[r], NULL, dapt_rank_main, &jobs[r]), 0);
    }
    for (int r = 0; r < 2; r++)
        pthread_join(th[r], NULL);
    qat_loopback_group_free(g);
    for (int r = 0; r < 2; r++)
        ck_assert_msg(jobs[r].status == QAT_OK, "rank %d: %s", r, jobs[r].error);
    qat_context *ctx = NULL;
    QAT_ASSERT_OK(qat_context_create(test_backend(), &ctx));
    QAT_ASSERT_OK(qat_context_set_int(ctx, QAT_CTX_THREADS, 1));
    qat_dapt_options d;
    dapt_opts(&d, one, 4);
    if (adaptive)
        adaptive_opts(&d.run);
    QAT_ASSERT_OK(qat_dapt_run(ctx, &d));
    qat_context_free(ctx);
    snprintf(path, sizeof path, "%s/dapt.json", two);
    ck_assert_msg(access(path, R_OK) == 0, "%s missing", path);
    same_file(two, one, "snapshots/step-1/model.safetensors");
    same_file(two, one, "snapshots/step-2/model.safetensors");
    if (adaptive)
        same_file(two, one, "adaptive.json");
    remove_tree(dir);
    free(dir);
}

START_TEST(two_ranks_shared_dapt_as_one)
{
    if (checker_skips("the shared DAPT job on 2 ranks"))
        return;
    shared_dapt_as_one(0);
}
END_TEST

START_TEST(two_ranks_shared_adaptive_dapt_as_one)
{
    shared_dapt_as_one(1);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("pipeline_dp");
    TCase *tc = tcase_create("pipeline_dp");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, two_ranks_fine_tune_as_one);
    tcase_add_test(tc, two_ranks_dapt_and_fine_tune_as_one);
    tcase_add_test(tc, two_ranks_adaptive_alpha_as_one);
    tcase_add_test(tc, two_ranks_shared_dapt_as_one);
    tcase_add_test(tc, two_ranks_shared_adaptive_dapt_as_one);
    suite_add_tcase(s, tc);
    return s;
}
