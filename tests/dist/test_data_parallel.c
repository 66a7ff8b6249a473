/* Data-parallel training (lib/train/data_parallel.c) on the loopback
 * communicator, ranks as threads: two ranks with a shard each of the
 * global batch against one rank with gradient accumulation over it, a tiny
 * RoBERTa MLM (tied decoder) with LSQ quantizers initialised on the first
 * batch and dropout on:
 *   - one micro-batch per rank: weights, quantizer steps and losses equal
 *     bit for bit after several steps (the loopback sums 0 + g0 + g1, as
 *     one rank accumulates), with rank 1 seeded differently (the first
 *     step broadcasts rank 0's weights and RNG);
 *   - two micro-batches per rank: equal up to the order of the sums;
 *   - a training state saved by rank 0 of a two-rank run resumes on one
 *     rank and continues as the two ranks do;
 *   - the buckets: launched from the end of the gradient buffer to its
 *     start, contiguous, the first before the embeddings' gradients exist,
 *     and none written by the backward after its launch;
 *   - a batch that does not split over the ranks is refused.
 * QAT_TEST_BACKEND picks the backend (ref-sealed: the host never touches
 * backend memory). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "dist/comm.h"
#include "train/trainer.h"
#include "test_main.h"

#define BATCH 4
#define SEQ 6
#define STEPS 3
#define MAX_RANKS 2

typedef struct data {
    int32_t ids[2 * BATCH * SEQ], mask[2 * BATCH * SEQ], labels[2 * BATCH * SEQ];
} data;

/* Step s's global batch of `batch` sequences: ids, a padded tail, a label on every third token. */
static void make_batch(data *d, int step, int batch)
{
    for (int i = 0; i < batch * SEQ; i++) {
        const int pos = i % SEQ, seq = i / SEQ;
        const int pad = pos >= SEQ - (seq % 2);
        d->ids[i] = pad ? 1 : 3 + (i * 7 + step * 5) % 12;
        d->mask[i] = !pad;
        d->labels[i] = !pad && (i + step) % 3 == 0 ? 3 + (i * 5 + step) % 12 : -100;
    }
}

static qat_status make_trainer(int64_t seed, int64_t micro, qat_trainer **out)
{
    qat_context *ctx = NULL;
    qat_model *model = NULL;
    qat_quant_config *q = NULL;
    qat_model_options o;
    qat_train_options t;
    *out = NULL;
    qat_status st = qat_context_create(test_backend(), &ctx);
    if (st == QAT_OK) st = qat_context_set_int(ctx, QAT_CTX_THREADS, 1);
    if (st == QAT_OK) st = qat_context_set_int(ctx, QAT_CTX_SEED, seed);
    if (st == QAT_OK) st = qat_model_options_init(&o, QAT_MODEL_OPTIONS_VERSION);
    if (st == QAT_OK) {
        o.vocab_size = 16;
        o.hidden_size = 8;
        o.num_layers = 2;
        o.num_heads = 2;
        o.intermediate_size = 12;
        o.max_position_embeddings = SEQ + 4;
        st = qat_model_create(ctx, &o, &model);
    }
    if (st == QAT_OK) st = qat_quant_config_parse("E4W4A4", &q);
    if (st == QAT_OK) st = qat_model_set_quant(model, q);
    if (st == QAT_OK) st = qat_train_options_init(&t, QAT_TRAIN_OPTIONS_VERSION);
    if (st == QAT_OK) {
        t.learning_rate = 1e-2;
        t.warmup_ratio = 0;
        t.micro_batch_size = micro;
        st = qat_trainer_create(model, &t, 10, out);
    }
    qat_quant_config_free(q);
    qat_model_free(model);
    qat_context_free(ctx);
    return st;
}

/* The model's weights (host copy; every parameter, steps included). */
static float *weights(qat_trainer *t)
{
    qat_model *m = t->model;
    float *w = malloc(m->total * sizeof *w);
    const struct qat_backend_ops *ops = m->ctx->backend.ops;
    ck_assert(ops->download(m->ctx->backend_state, w, m->w, m->total * sizeof *w) == QAT_OK);
    return w;
}

/* ---- the ranks ----------------------------------------------------------- */

/* rank 0's communicator, wrapped: it keeps what the test checks of each call. */
typedef struct watch {
    qat_comm *inner;
    qat_trainer *t;
    int64_t lo[64], n[64];
    float *after[64];    /* each bucket's values right after its reduction */
    float *at_first;     /* the whole gradient buffer at the first launch */
    float *at_wait;      /* and when the step waits for the reductions */
    int buckets, steps_seen, record;
} watch;

static float *grad_copy(const qat_model *m)
{
    float *g = malloc(m->total * sizeof *g);
    m->ctx->backend.ops->download(m->ctx->backend_state, g, m->g, m->total * sizeof *g);
    return g;
}

static qat_status watched_reduce(qat_comm *c, float *buf, int64_t n)
{
    watch *w = c->self;
    const qat_model *m = w->t->model;
    const int in_grad = buf >= m->g && buf < m->g + m->total;
    if (w->record && in_grad && w->buckets == 0)
        w->at_first = grad_copy(m);
    QAT_TRY(qat_comm_all_reduce_sum(w->inner, buf, n));
    if (w->record && in_grad && w->buckets < 64) {
        w->lo[w->buckets] = buf - m->g;
        w->n[w->buckets] = n;
        w->after[w->buckets] = malloc((size_t)n * sizeof(float));
        m->ctx->backend.ops->download(m->ctx->backend_state, w->after[w->buckets], buf, (size_t)n * sizeof(float));
        w->buckets++;
    }
    return QAT_OK;
}

static qat_status watched_broadcast(qat_comm *c, float *buf, int64_t n, int root)
{
    return qat_comm_broadcast(((watch *)c->self)->inner, buf, n, root);
}

static qat_status watched_barrier(qat_comm *c)
{
    return qat_comm_barrier(((watch *)c->self)->inner);
}

static qat_status watched_wait(qat_comm *c)
{
    watch *w = c->self;
    if (w->record && w->buckets > 0) { /* the step's wait, not the first broadcast's */
        w->at_wait = grad_copy(w->t->model);
        w->record = 0;
    }
    return qat_comm_wait(w->inner);
}

static void watched_free(qat_comm *c)
{
    qat_comm_free(((watch *)c->self)->inner);
}

static const qat_comm_impl watch_impl = {"watch", watched_reduce, watched_broadcast, watched_barrier, watched_wait,
                                         watched_free};

typedef struct rank_job {
    int rank, world, steps, batch;
    int64_t micro, bucket_bytes;
    qat_loopback_group *g;
    const char *save_path;  /* rank 0 saves its state after save_after steps */
    int save_after;
    watch *watch;           /* rank 0's, or NULL */
    qat_status status;
    char error[512];
    float loss[STEPS];
    float *w;
} rank_job;

static void *rank_main(void *arg)
{
    rank_job *job = arg;
    qat_trainer *t = NULL;
    qat_comm *c = NULL;
    /* rank 1 starts from other weights: rank 0's reach it at the first step */
    qat_status st = make_trainer(job->rank == 0 ? 42 : 7, job->micro, &t);
    if (st == QAT_OK)
        st = qat_comm_loopback(job->g, t->model->ctx, job->rank, &c);
    if (st == QAT_OK && job->watch) {
        job->watch->inner = c;
        job->watch->t = t;
        job->watch->record = 1;
        st = qat_comm_wrap(t->model->ctx, &watch_impl, job->watch, job->rank, job->world, job->rank, &c);
    }
    if (st == QAT_OK)
        st = qat_trainer_set_comm(t, c, job->bucket_bytes);
    qat_comm_free(c); /* the trainer keeps it */
    data d;
    for (int s = 0; st == QAT_OK && s < job->steps; s++) {
        make_batch(&d, s, job->batch);
        st = qat_trainer_step(t, d.ids, d.mask, d.labels, job->batch, SEQ, &job->loss[s]);
        if (st == QAT_OK && job->save_path && job->rank == 0 && s + 1 == job->save_after)
            st = qat_trainer_save(t, job->save_path, NULL);
    }
    if (st == QAT_OK)
        job->w = weights(t);
    job->status = st;
    snprintf(job->error, sizeof job->error, "%s", st == QAT_OK ? "" : qat_last_error());
    qat_trainer_free(t);
    return NULL;
}

static void run_ranks(rank_job *jobs, int world)
{
    qat_loopback_group *g = NULL;
    QAT_ASSERT_OK(qat_loopback_group_create(world, 120, &g));
    pthread_t th[MAX_RANKS];
    for (int r = 0; r < world; r++) {
        jobs[r].rank = r;
        jobs[r].world = world;
        jobs[r].g = g;
        ck_assert_int_eq(pthread_create(&th[r], NULL, rank_main, &jobs[r]), 0);
    }
    for (int r = 0; r < world; r++)
        pthread_join(th[r], NULL);
    qat_loopback_group_free(g);
}

/* run_ranks, and every rank must have succeeded. */
static void run_ranks_ok(rank_job *jobs, int world)
{
    run_ranks(jobs, world);
    for (int r = 0; r < world; r++)
        ck_assert_msg(jobs[r].status == QAT_OK, "rank %d: %s", r, jobs[r].error);
}

/* One rank over the same global batches, `micro` sequences a micro-batch. */
static float *single_rank(int steps, int batch, int64_t micro, float *loss, const char *resume)
{
    qat_trainer *t = NULL;
    QAT_ASSERT_OK(make_trainer(42, micro, &t));
    int first = 0;
    if (resume) {
        QAT_ASSERT_OK(qat_trainer_resume(t, resume, NULL));
        double step = 0;
        QAT_ASSERT_OK(qat_trainer_get(t, QAT_TRAINER_STEP, &step));
        first = (int)step;
    }
    data d;
    for (int s = first; s < steps; s++) {
        make_batch(&d, s, batch);
        QAT_ASSERT_OK(qat_trainer_step(t, d.ids, d.mask, d.labels, batch, SEQ, &loss[s]));
    }
    float *w = weights(t);
    qat_trainer_free(t);
    return w;
}

static size_t total_floats(void)
{
    qat_trainer *t = NULL;
    QAT_ASSERT_OK(make_trainer(42, 0, &t));
    size_t n = t->model->total;
    qat_trainer_free(t);
    return n;
}

START_TEST(test_two_ranks_equal_one_rank_accumulating)
{
    rank_job jobs[2] = {{.steps = STEPS, .batch = BATCH}, {.steps = STEPS, .batch = BATCH}};
    run_ranks_ok(jobs, 2);
    float loss[STEPS];
    float *w = single_rank(STEPS, BATCH, BATCH / 2, loss, NULL);
    const size_t n = total_floats();
    for (size_t i = 0; i < n; i++)
        for (int r = 0; r < 2; r++)
            ck_assert_msg(memcmp(&jobs[r].w[i], &w[i], sizeof *w) == 0,
                          "rank %d weight %zu: %.9g, one rank with 2 micro-batches %.9g", r, i, jobs[r].w[i], w[i]);
    for (int s = 0; s < STEPS; s++)
        for (int r = 0; r < 2; r++)
            ck_assert_msg(jobs[r].loss[s] == loss[s], "rank %d step %d: loss %.9g, one rank %.9g", r, s,
                          jobs[r].loss[s], loss[s]);
    /* the test can fail: the steps moved the weights */
    float *w0 = single_rank(0, BATCH, 0, loss, NULL);
    size_t moved = 0;
    for (size_t i = 0; i < n; i++)
        moved += w0[i] != w[i];
    ck_assert_msg(moved > n / 2, "only %zu of %zu weights moved", moved, n);
    free(w0);
    free(w);
    free(jobs[0].w);
    free(jobs[1].w);
}
END_TEST

START_TEST(test_two_micro_batches_per_rank)
{
    rank_job jobs[2] = {{.steps = 2, .batch = 2 * BATCH, .micro = BATCH / 2},
                        {.steps = 2, .batch = 2 * BATCH, .micro = BATCH / 2}};
    run_ranks_ok(jobs, 2);
    float loss[STEPS];
    float *w = single_rank(2, 2 * BATCH, BATCH / 2, loss, NULL);
    const size_t n = total_floats();
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(memcmp(&jobs[0].w[i], &jobs[1].w[i], sizeof *w) == 0, "the ranks differ at weight %zu", i);
        worst = fmax(worst, fabs((double)jobs[0].w[i] - w[i]) / fmax(fabs((double)w[i]), 1e-3));
    }
    /* (g0 + g1) + (g2 + g3) against ((g0 + g1) + g2) + g3: rounding only */
    ck_assert_msg(worst < 1e-4, "weights differ from one rank's by %.3g (relative)", worst);
    for (int s = 0; s < 2; s++)
        ck_assert_msg(jobs[0].loss[s] == loss[s], "step %d: loss %.9g, one rank %.9g", s, jobs[0].loss[s], loss[s]);
    free(w);
    free(jobs[0].w);
    free(jobs[1].w);
}
END_TEST

START_TEST(test_two_rank_state_resumes_on_one_rank)
{
    char path[] = "/tmp/qat_dp_state_XXXXXX";
    int fd = mkstemp(path);
    ck_assert(fd >= 0);
    close(fd);
    rank_job jobs[2] = {{.steps = STEPS, .batch = BATCH, .save_path = path, .save_after = 2},
                        {.steps = STEPS, .batch = BATCH, .save_path = path, .save_after = 2}};
    run_ranks_ok(jobs, 2);
    float loss[STEPS];
    float *w = single_rank(STEPS, BATCH, BATCH / 2, loss, path);
    const size_t n = total_floats();
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(memcmp(&jobs[0].w[i], &w[i], sizeof *w) == 0, "weight %zu: two ranks %.9g, resumed %.9g", i,
                      jobs[0].w[i], w[i]);
    ck_assert(loss[STEPS - 1] == jobs[0].loss[STEPS - 1]);
    unlink(path);
    free(w);
    free(jobs[0].w);
    free(jobs[1].w);
}
END_TEST

START_TEST(test_buckets_follow_the_backward)
{
    watch wt = {0};
    /* 64-float buckets: several per layer */
    rank_job jobs[2] = {{.steps = 1, .batch = BATCH, .bucket_bytes = 256, .watch = &wt},
                        {.steps = 1, .batch = BATCH, .bucket_bytes = 256}};
    run_ranks_ok(jobs, 2);
    const int64_t total = (int64_t)total_floats();
    ck_assert_msg(wt.buckets >= 6, "%d buckets", wt.buckets);
    ck_assert_msg(wt.at_first && wt.at_wait, "no launch or no wait seen");
    /* from the end to the start, contiguous */
    int64_t hi = total;
    for (int b = 0; b < wt.buckets; b++) {
        ck_assert_msg(wt.lo[b] + wt.n[b] == hi, "bucket %d is [%lld, +%lld), the last ended at %lld", b,
                      (long long)wt.lo[b], (long long)wt.n[b], (long long)hi);
        hi = wt.lo[b];
        /* nothing wrote it after its reduction */
        ck_assert_msg(memcmp(wt.after[b], wt.at_wait + wt.lo[b], (size_t)wt.n[b] * sizeof(float)) == 0,
                      "bucket %d [%lld, +%lld) changed after its all-reduce", b, (long long)wt.lo[b],
                      (long long)wt.n[b]);
        free(wt.after[b]);
    }
    ck_assert_int_eq(hi, 0);
    /* the first launch came before the embeddings' backward: the position
     * table's gradient was still zero then, and is not at the end; the word
     * table's (the tied decoder's, so far) had yet to get the embeddings' part */
    qat_trainer *t = NULL;
    QAT_ASSERT_OK(make_trainer(42, 0, &t));
    const qat_param *words = &t->model->params[0], *pos = &t->model->params[t->model->pos.w];
    ck_assert_str_eq(words->name, "roberta.embeddings.word_embeddings.weight");
    ck_assert_str_eq(pos->name, "roberta.embeddings.position_embeddings.weight");
    int pos_first = 0, pos_end = 0, words_changed = 0;
    for (int64_t i = 0; i < pos->numel; i++) {
        pos_first += wt.at_first[pos->offset + i] != 0.0f;
        pos_end += wt.at_wait[pos->offset + i] != 0.0f;
    }
    for (int64_t i = 0; i < words->numel; i++)
        words_changed += wt.at_first[words->offset + i] != wt.at_wait[words->offset + i];
    qat_trainer_free(t);
    ck_assert_int_eq(pos_first, 0);
    ck_assert_int_gt(pos_end, 0);
    ck_assert_int_gt(words_changed, 0);
    free(wt.at_first);
    free(wt.at_wait);
    free(jobs[0].w);
    free(jobs[1].w);
}
END_TEST

START_TEST(test_uneven_batch_refused)
{
    rank_job jobs[2] = {{.steps = 1, .batch = 3}, {.steps = 1, .batch = 3}};
    run_ranks(jobs, 2);
    for (int r = 0; r < 2; r++) {
        ck_assert_int_eq(jobs[r].status, QAT_ERR_INVALID_ARGUMENT);
        ck_assert_msg(strstr(jobs[r].error, "a batch of 3 sequences does not split evenly over 2 ranks"), "%s",
                      jobs[r].error);
    }
    /* a communicator of another context */
    qat_trainer *t = NULL;
    QAT_ASSERT_OK(make_trainer(42, 0, &t));
    qat_context *other = NULL;
    qat_comm *c = NULL;
    QAT_ASSERT_OK(qat_context_create(test_backend(), &other));
    QAT_ASSERT_OK(qat_comm_single(other, &c));
    QAT_ASSERT_FAILS(qat_trainer_set_comm(t, c, 0), QAT_ERR_INVALID_ARGUMENT, "another context");
    QAT_ASSERT_FAILS(qat_trainer_set_comm(t, NULL, -1), QAT_ERR_INVALID_ARGUMENT, "bucket_bytes must be >= 0");
    QAT_ASSERT_OK(qat_trainer_set_comm(t, NULL, 0));
    qat_comm_free(c);
    qat_context_free(other);
    qat_trainer_free(t);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("data_parallel");
    TCase *tc = tcase_create("data_parallel");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_two_ranks_equal_one_rank_accumulating);
    tcase_add_test(tc, test_two_micro_batches_per_rank);
    tcase_add_test(tc, test_two_rank_state_resumes_on_one_rank);
    tcase_add_test(tc, test_buckets_follow_the_backward);
    tcase_add_test(tc, test_uneven_batch_refused);
    suite_add_tcase(s, tc);
    return s;
}
