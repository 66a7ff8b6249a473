/* The communicators (lib/dist): the loopback's sums (rank order, the same
 * bits on every rank), broadcast, mismatched calls and a missing rank
 * failing instead of hanging; the rendezvous by file and by TCP on this
 * host; a world of two on a CPU backend refused. Ranks are threads, each
 * with its own context on QAT_TEST_BACKEND (ref, or ref-sealed whose
 * memory only the backend's calls may touch). */
#define _POSIX_C_SOURCE 200809L
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/context.h"
#include "core/error.h"
#include "dist/comm.h"
#include "dist/rendezvous.h"
#include "test_main.h"

#define MAX_RANKS 4

typedef struct rank_job {
    int rank, world;
    void *shared;
    qat_status (*body)(struct rank_job *job);
    qat_status status;
    char error[512];
    float out[128];
    int64_t n_out;
} rank_job;

static void *rank_thread(void *arg)
{
    rank_job *job = arg;
    job->status = job->body(job);
    snprintf(job->error, sizeof job->error, "%s", job->status == QAT_OK ? "" : qat_last_error());
    return NULL;
}

/* Runs body on `world` threads, rank r in jobs[r]. */
static void run_ranks(rank_job *jobs, int world, void *shared, qat_status (*body)(rank_job *))
{
    pthread_t th[MAX_RANKS];
    for (int r = 0; r < world; r++) {
        jobs[r] = (rank_job){.rank = r, .world = world, .shared = shared, .body = body};
        ck_assert_int_eq(pthread_create(&th[r], NULL, rank_thread, &jobs[r]), 0);
    }
    for (int r = 0; r < world; r++)
        pthread_join(th[r], NULL);
}

static qat_status upload(qat_context *ctx, float *dev, const float *host, int64_t n)
{
    return ctx->backend.ops->upload(ctx->backend_state, dev, host, (size_t)n * sizeof(float));
}

static qat_status download(qat_context *ctx, float *host, const float *dev, int64_t n)
{
    return ctx->backend.ops->download(ctx->backend_state, host, dev, (size_t)n * sizeof(float));
}

/* Rank r's values: not exactly representable sums, so the order shows. */
static float value(int rank, int64_t i)
{
    return 0.1f * (float)(rank + 1) + 1e-7f * (float)i + (rank == 2 ? 1e8f : 0.0f);
}

/* all-reduce of 37 floats, then a broadcast from the last rank. */
static qat_status sum_and_broadcast(rank_job *job)
{
    qat_context *ctx = NULL;
    qat_comm *c = NULL;
    float *dev = NULL;
    const int64_t n = 37;
    qat_status st = qat_context_create(test_backend(), &ctx);
    if (st == QAT_OK)
        st = qat_comm_loopback(job->shared, ctx, job->rank, &c);
    if (st == QAT_OK)
        st = ctx->backend.ops->alloc(ctx->backend_state, (size_t)n * sizeof(float), (void **)&dev);
    float host[37];
    for (int64_t i = 0; i < n; i++)
        host[i] = value(job->rank, i);
    if (st == QAT_OK)
        st = upload(ctx, dev, host, n);
    if (st == QAT_OK)
        st = qat_comm_all_reduce_sum(c, dev, n);
    if (st == QAT_OK)
        st = qat_comm_wait(c);
    if (st == QAT_OK)
        st = download(ctx, job->out, dev, n);
    for (int64_t i = 0; i < n; i++)
        host[i] = (float)(job->rank * 100 + i);
    if (st == QAT_OK)
        st = upload(ctx, dev, host, n);
    if (st == QAT_OK)
        st = qat_comm_broadcast(c, dev, n, job->world - 1);
    if (st == QAT_OK)
        st = qat_comm_barrier(c);
    if (st == QAT_OK)
        st = download(ctx, job->out + n, dev, n);
    job->n_out = n;
    if (dev)
        ctx->backend.ops->free(ctx->backend_state, dev);
    qat_comm_free(c);
    qat_context_free(ctx);
    return st;
}

START_TEST(test_loopback_sums_in_rank_order)
{
    for (int world = 2; world <= 3; world++) {
        qat_loopback_group *g = NULL;
        QAT_ASSERT_OK(qat_loopback_group_create(world, 60, &g));
        rank_job jobs[MAX_RANKS];
        run_ranks(jobs, world, g, sum_and_broadcast);
        qat_loopback_group_free(g);
        for (int r = 0; r < world; r++)
            ck_assert_msg(jobs[r].status == QAT_OK, "rank %d: %s", r, jobs[r].error);
        for (int64_t i = 0; i < jobs[0].n_out; i++) {
            float want = value(0, i);
            for (int r = 1; r < world; r++)
                want += value(r, i);
            for (int r = 0; r < world; r++) {
                ck_assert_msg(memcmp(&jobs[r].out[i], &want, sizeof want) == 0,
                              "world %d rank %d [%lld]: %.9g, the rank-order sum is %.9g", world, r, (long long)i,
                              jobs[r].out[i], want);
                ck_assert_msg(jobs[r].out[jobs[0].n_out + i] == (float)((world - 1) * 100 + i),
                              "broadcast, rank %d [%lld]: %g", r, (long long)i, jobs[r].out[jobs[0].n_out + i]);
            }
        }
    }
}
END_TEST

/* Rank r reduces 4 + r floats: every rank fails, none hangs. */
static qat_status mismatched(rank_job *job)
{
    qat_context *ctx = NULL;
    qat_comm *c = NULL;
    float *dev = NULL;
    qat_status st = qat_context_create(test_backend(), &ctx);
    if (st == QAT_OK)
        st = qat_comm_loopback(job->shared, ctx, job->rank, &c);
    if (st == QAT_OK)
        st = ctx->backend.ops->alloc(ctx->backend_state, 8 * sizeof(float), (void **)&dev);
    if (st == QAT_OK)
        st = qat_comm_all_reduce_sum(c, dev, 4 + job->rank);
    if (dev)
        ctx->backend.ops->free(ctx->backend_state, dev);
    qat_comm_free(c);
    qat_context_free(ctx);
    return st;
}

/* Rank 1 never calls: rank 0 gives up after the group's timeout. */
static qat_status one_rank_absent(rank_job *job)
{
    qat_context *ctx = NULL;
    qat_comm *c = NULL;
    qat_status st = qat_context_create(test_backend(), &ctx);
    if (st == QAT_OK)
        st = qat_comm_loopback(job->shared, ctx, job->rank, &c);
    if (st == QAT_OK && job->rank == 0)
        st = qat_comm_barrier(c);
    qat_comm_free(c);
    qat_context_free(ctx);
    return st;
}

START_TEST(test_loopback_failures_do_not_hang)
{
    qat_loopback_group *g = NULL;
    QAT_ASSERT_OK(qat_loopback_group_create(2, 60, &g));
    rank_job jobs[MAX_RANKS];
    run_ranks(jobs, 2, g, mismatched);
    qat_loopback_group_free(g);
    for (int r = 0; r < 2; r++) {
        ck_assert_int_eq(jobs[r].status, QAT_ERR_STATE);
        ck_assert_msg(strstr(jobs[r].error, "sent a different size") != NULL, "rank %d: %s", r, jobs[r].error);
    }
    QAT_ASSERT_OK(qat_loopback_group_create(2, 0.1, &g));
    run_ranks(jobs, 2, g, one_rank_absent);
    qat_loopback_group_free(g);
    ck_assert_int_eq(jobs[0].status, QAT_ERR_STATE);
    ck_assert_msg(strstr(jobs[0].error, "rank 0 waited 0.1 s for the other ranks") != NULL, "%s", jobs[0].error);
    ck_assert_int_eq(jobs[1].status, QAT_OK);

    qat_context *ctx = NULL;
    qat_comm *c = NULL;
    QAT_ASSERT_OK(qat_context_create(test_backend(), &ctx));
    QAT_ASSERT_OK(qat_loopback_group_create(2, 1, &g));
    QAT_ASSERT_FAILS(qat_comm_loopback(g, ctx, 2, &c), QAT_ERR_INVALID_ARGUMENT, "rank 2 of 2");
    QAT_ASSERT_OK(qat_comm_loopback(g, ctx, 1, &c));
    qat_comm *again = NULL;
    QAT_ASSERT_FAILS(qat_comm_loopback(g, ctx, 1, &again), QAT_ERR_INVALID_ARGUMENT, "rank 1 joined twice");
    qat_loopback_group_free(g); /* the communicator keeps the group */
    qat_context_free(ctx);      /* and its context */
    int64_t v = -1;
    QAT_ASSERT_OK(qat_comm_get(c, QAT_COMM_RANK, &v));
    ck_assert_int_eq(v, 1);
    QAT_ASSERT_OK(qat_comm_get(c, QAT_COMM_WORLD_SIZE, &v));
    ck_assert_int_eq(v, 2);
    ck_assert_str_eq(qat_comm_kind(c), "loopback");
    QAT_ASSERT_FAILS(qat_comm_get(c, (qat_comm_stat)9, &v), QAT_ERR_INVALID_ARGUMENT, "unknown statistic 9");
    qat_comm_free(c);
}
END_TEST

/* ---- rendezvous ---------------------------------------------------------- */

static qat_status share_token(rank_job *job)
{
    qat_rank_env e = *(const qat_rank_env *)job->shared;
    e.rank = job->rank;
    e.world = job->world;
    unsigned char token[40] = {0};
    if (job->rank == 0)
        for (int i = 0; i < 40; i++)
            token[i] = (unsigned char)(7 * i + 3);
    qat_status st = qat_rendezvous_share(&e, token, sizeof token);
    for (int i = 0; i < 40; i++)
        job->out[i] = token[i];
    job->n_out = 40;
    return st;
}

static void expect_token(const rank_job *jobs, int world)
{
    for (int r = 0; r < world; r++) {
        ck_assert_msg(jobs[r].status == QAT_OK, "rank %d: %s", r, jobs[r].error);
        for (int i = 0; i < 40; i++)
            ck_assert_msg(jobs[r].out[i] == (float)(unsigned char)(7 * i + 3), "rank %d byte %d", r, i);
    }
}

/* A rank environment whose rendezvous is the file "token" in a fresh
 * directory made from the template dir (the caller removes it). */
static void file_rendezvous_env(char *dir, qat_rank_env *e)
{
    memset(e, 0, sizeof *e);
    ck_assert(mkdtemp(dir) != NULL);
    snprintf(e->file, sizeof e->file, "%s/token", dir);
    e->timeout_s = 30;
}

START_TEST(test_rendezvous_file)
{
    qat_rank_env e;
    char dir[] = "/tmp/qat_rdzv_XXXXXX";
    file_rendezvous_env(dir, &e);
    rank_job jobs[MAX_RANKS];
    run_ranks(jobs, 3, &e, share_token);
    expect_token(jobs, 3);
    /* the file stays until every rank is done with it; then rank 0 removes it */
    ck_assert_int_eq(access(e.file, F_OK), 0);
    e.world = 3;
    qat_rendezvous_done(&e);
    ck_assert_int_ne(access(e.file, F_OK), 0);
    /* a file left by an earlier job is refused by rank 0 ... */
    FILE *f = fopen(e.file, "wb");
    fputs("old", f);
    fclose(f);
    unsigned char token[40] = {0};
    e.rank = 0;
    QAT_ASSERT_FAILS(qat_rendezvous_share(&e, token, sizeof token), QAT_ERR_STATE, "exists already");
    /* ... and another rank does not take it for a token */
    e.rank = 1;
    QAT_ASSERT_FAILS(qat_rendezvous_share(&e, token, sizeof token), QAT_ERR_FORMAT, "is not a token of 40 bytes");
    unlink(e.file);
    /* nobody writes it: bounded by the timeout */
    e.timeout_s = 0.1;
    QAT_ASSERT_FAILS(qat_rendezvous_share(&e, token, sizeof token), QAT_ERR_IO, "within 0.1 s");
    rmdir(dir);
}
END_TEST

/* A port nobody listens on now (the kernel's pick, released). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    ck_assert(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    ck_assert(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

START_TEST(test_rendezvous_tcp)
{
    qat_rank_env e;
    memset(&e, 0, sizeof e);
    strcpy(e.master_addr, "127.0.0.1");
    e.master_port = free_port();
    e.timeout_s = 30;
    rank_job jobs[MAX_RANKS];
    run_ranks(jobs, 3, &e, share_token);
    expect_token(jobs, 3);
    /* rank 0 never comes: bounded by the timeout */
    e.master_port = free_port();
    e.timeout_s = 0.15;
    e.rank = 1;
    e.world = 2;
    unsigned char token[40];
    QAT_ASSERT_FAILS(qat_rendezvous_share(&e, token, sizeof token), QAT_ERR_IO, "could not reach rank 0 at 127.0.0.1");
    /* the other ranks never come */
    e.rank = 0;
    QAT_ASSERT_FAILS(qat_rendezvous_share(&e, token, sizeof token), QAT_ERR_IO, "0 of 1 ranks reached MASTER_PORT");
}
END_TEST

/* ---- a backend's collectives (the path NCCL takes) ----------------------- */

/* A stand-in for the cuda module's NCCL: ref's kernels with collectives
 * over the loopback group, and a token that must reach every rank intact. */
#define FAKE_TOKEN "token-of-rank-0:made-by-make_id"
static struct {
    qat_loopback_group *g;
    qat_context *ctx[MAX_RANKS];
    int inits;
    pthread_mutex_t mu;
} fake = {.mu = PTHREAD_MUTEX_INITIALIZER};

static qat_status fake_make_id(void *state, void *id)
{
    (void)state;
    memcpy(id, FAKE_TOKEN, sizeof FAKE_TOKEN);
    return QAT_OK;
}

static qat_status fake_init(void *state, const void *id, int rank, int world, int local_rank, void **comm)
{
    (void)state;
    if (memcmp(id, FAKE_TOKEN, sizeof FAKE_TOKEN) != 0 || world != 2 || local_rank != rank)
        return QAT_ERR_STATE;
    pthread_mutex_lock(&fake.mu);
    fake.inits++;
    pthread_mutex_unlock(&fake.mu);
    return qat_comm_loopback(fake.g, fake.ctx[rank], rank, (qat_comm **)comm);
}

static qat_status fake_all_reduce(void *comm, float *buf, int64_t n)
{
    return qat_comm_all_reduce_sum(comm, buf, n);
}

static qat_status fake_broadcast(void *comm, float *buf, int64_t n, int root)
{
    return qat_comm_broadcast(comm, buf, n, root);
}

static qat_status fake_barrier(void *comm)
{
    return qat_comm_barrier(comm);
}

static qat_status fake_wait(void *comm)
{
    return qat_comm_wait(comm);
}

static void fake_destroy(void *comm)
{
    qat_comm_free(comm);
}

static const struct qat_backend_comm_ops fake_comm_ops = {
    sizeof FAKE_TOKEN, fake_make_id, fake_init, fake_all_reduce, fake_broadcast, fake_barrier, fake_wait,
    fake_destroy};
static struct qat_backend_ops fake_ops;

static qat_status join_backend_comm(rank_job *job)
{
    qat_rank_env e = *(const qat_rank_env *)job->shared;
    e.rank = e.local_rank = job->rank;
    e.world = job->world;
    qat_context *ctx = fake.ctx[job->rank];
    qat_comm *c = NULL;
    float *dev = NULL;
    qat_status st = qat_comm_create_for_ranks(ctx, &e, &c);
    if (st == QAT_OK && strcmp(qat_comm_kind(c), "backend") != 0)
        st = qat_fail(QAT_ERR_INTERNAL, "kind %s", qat_comm_kind(c));
    if (st == QAT_OK)
        st = ctx->backend.ops->alloc(ctx->backend_state, 3 * sizeof(float), (void **)&dev);
    const float mine[3] = {1.0f + (float)job->rank, 10.0f, -0.5f};
    if (st == QAT_OK)
        st = upload(ctx, dev, mine, 3);
    if (st == QAT_OK)
        st = qat_comm_all_reduce_sum(c, dev, 3);
    if (st == QAT_OK)
        st = qat_comm_wait(c);
    if (st == QAT_OK)
        st = download(ctx, job->out, dev, 3);
    if (dev)
        ctx->backend.ops->free(ctx->backend_state, dev);
    qat_comm_free(c);
    return st;
}

START_TEST(test_backend_communicator_path)
{
    qat_rank_env e;
    char dir[] = "/tmp/qat_rdzv_XXXXXX";
    file_rendezvous_env(dir, &e);
    QAT_ASSERT_OK(qat_loopback_group_create(2, 60, &fake.g));
    for (int r = 0; r < 2; r++) {
        QAT_ASSERT_OK(qat_context_create(test_backend(), &fake.ctx[r]));
        fake_ops = *fake.ctx[r]->backend.ops;
        fake_ops.comm = &fake_comm_ops;
        fake.ctx[r]->backend.ops = &fake_ops;
    }
    rank_job jobs[MAX_RANKS];
    run_ranks(jobs, 2, &e, join_backend_comm);
    for (int r = 0; r < 2; r++) {
        ck_assert_msg(jobs[r].status == QAT_OK, "rank %d: %s", r, jobs[r].error);
        ck_assert(jobs[r].out[0] == 3.0f && jobs[r].out[1] == 20.0f && jobs[r].out[2] == -1.0f);
    }
    ck_assert_int_eq(fake.inits, 2);
    /* every rank joined, then rank 0 removed the rendezvous file */
    ck_assert_int_ne(access(e.file, F_OK), 0);
    qat_loopback_group_free(fake.g);
    for (int r = 0; r < 2; r++)
        qat_context_free(fake.ctx[r]);
    rmdir(dir);
}
END_TEST

/* A world of two on the CPU backends, which have no collectives: an error
 * naming the variables, before any wait. */
START_TEST(test_cpu_backend_world_refused)
{
    setenv("RANK", "1", 1);
    setenv("WORLD_SIZE", "2", 1);
    setenv("MASTER_ADDR", "127.0.0.1", 1);
    setenv("MASTER_PORT", "29500", 1);
    qat_context *ctx = NULL;
    QAT_ASSERT_OK(qat_context_create(test_backend(), &ctx));
    qat_comm *c = (qat_comm *)&c;
    QAT_ASSERT_FAILS(qat_comm_create_from_env(ctx, &c), QAT_ERR_UNSUPPORTED,
                     "RANK/WORLD_SIZE gives 2 ranks (this is rank 1), but the ");
    ck_assert_ptr_null(c);
    ck_assert_msg(strstr(qat_last_error(), "data-parallel training runs on the cuda backend") != NULL, "%s",
                  qat_last_error());
    setenv("RANK", "2", 1);
    QAT_ASSERT_FAILS(qat_comm_create_from_env(ctx, &c), QAT_ERR_INVALID_ARGUMENT, "RANK=2 is not below");
    unsetenv("RANK");
    unsetenv("WORLD_SIZE");
    unsetenv("MASTER_ADDR");
    unsetenv("MASTER_PORT");
    QAT_ASSERT_OK(qat_comm_create_from_env(ctx, &c));
    ck_assert_str_eq(qat_comm_kind(c), "single");
    int64_t v = -1;
    QAT_ASSERT_OK(qat_comm_get(c, QAT_COMM_WORLD_SIZE, &v));
    ck_assert_int_eq(v, 1);
    qat_context_free(ctx);
    qat_comm_free(c);
    QAT_ASSERT_FAILS(qat_comm_create_from_env(NULL, &c), QAT_ERR_INVALID_ARGUMENT, "NULL context");
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("comm");
    TCase *tc = tcase_create("comm");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_loopback_sums_in_rank_order);
    tcase_add_test(tc, test_loopback_failures_do_not_hang);
    tcase_add_test(tc, test_rendezvous_file);
    tcase_add_test(tc, test_rendezvous_tcp);
    tcase_add_test(tc, test_backend_communicator_path);
    tcase_add_test(tc, test_cpu_backend_world_refused);
    suite_add_tcase(s, tc);
    return s;
}
