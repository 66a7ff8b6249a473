/* N ranks as threads of one process (tests): each rank stages its buffer
 * in host memory (through its backend's download, so device-resident
 * backends work too), every rank sums the stages in rank order 0, 1, ...,
 * and uploads the sum. The same order on every rank: the same bits
 * everywhere, and for two ranks the same bits as one rank accumulating
 * the two gradients (0 + a + b). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "dist/comm.h"

struct qat_loopback_group {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int world, refs, arrived, broken;
    uint64_t generation;
    double timeout_s;
    unsigned char *joined;
    float **stage;     /* stage[r]: rank r's buffer of the current call */
    int64_t *stage_n;  /* its length; -1: rank r failed before staging */
    int64_t *cap;
};

typedef struct loopback_rank {
    qat_loopback_group *g;
    float *sum;
    int64_t sum_cap;
} loopback_rank;

static void group_drop(qat_loopback_group *g)
{
    pthread_mutex_lock(&g->mu);
    int last = --g->refs == 0;
    pthread_mutex_unlock(&g->mu);
    if (!last)
        return;
    for (int r = 0; r < g->world; r++)
        free(g->stage[r]);
    free(g->stage);
    free(g->stage_n);
    free(g->cap);
    free(g->joined);
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    free(g);
}

qat_status qat_loopback_group_create(int world, double timeout_s, qat_loopback_group **out)
{
    QAT_CHECK_ARG(out != NULL && world >= 1 && timeout_s > 0, "loopback group: %d ranks, timeout %g s", world,
                  timeout_s);
    qat_loopback_group *g = calloc(1, sizeof *g);
    if (!g)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "loopback group: out of memory");
    g->stage = calloc((size_t)world, sizeof *g->stage);
    g->stage_n = calloc((size_t)world, sizeof *g->stage_n);
    g->cap = calloc((size_t)world, sizeof *g->cap);
    g->joined = calloc((size_t)world, 1);
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->world = world;
    g->refs = 1;
    g->timeout_s = timeout_s;
    if (!g->stage || !g->stage_n || !g->cap || !g->joined) {
        group_drop(g);
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "loopback group: out of memory");
    }
    *out = g;
    return QAT_OK;
}

void qat_loopback_group_free(qat_loopback_group *g)
{
    if (g)
        group_drop(g);
}

/* Every rank arrives before any leaves; a rank left waiting longer than
 * the timeout breaks the group (every later call fails) instead of
 * hanging the test. */
static qat_status rendezvous(qat_loopback_group *g, int rank)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += (time_t)g->timeout_s;
    deadline.tv_nsec += (long)((g->timeout_s - (double)(time_t)g->timeout_s) * 1e9);
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&g->mu);
    const uint64_t gen = g->generation;
    if (++g->arrived == g->world) {
        g->arrived = 0;
        g->generation++;
        pthread_cond_broadcast(&g->cv);
    }
    while (!g->broken && g->generation == gen)
        if (pthread_cond_timedwait(&g->cv, &g->mu, &deadline) == ETIMEDOUT && g->generation == gen) {
            g->broken = 1;
            pthread_cond_broadcast(&g->cv);
        }
    const int broken = g->broken && g->generation == gen;
    pthread_mutex_unlock(&g->mu);
    if (broken)
        return qat_fail(QAT_ERR_STATE, "loopback communicator: rank %d waited %g s for the other ranks (a rank "
                        "stopped calling, or called in another order)", rank, g->timeout_s);
    return QAT_OK;
}

static qat_status transfer(qat_comm *c, int up, void *dst, const void *src, int64_t n)
{
    qat_context *ctx = c->ctx;
    const struct qat_backend_ops *ops = ctx->backend.ops;
    const size_t bytes = (size_t)n * sizeof(float);
    return qat_context_backend_error(ctx, up ? ops->upload(ctx->backend_state, dst, src, bytes)
                                             : ops->download(ctx->backend_state, dst, src, bytes),
                                     "loopback communicator");
}

static qat_status grow(float **buf, int64_t *cap, int64_t n)
{
    if (n <= *cap)
        return QAT_OK;
    float *p = realloc(*buf, (size_t)n * sizeof *p);
    if (!p)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "loopback communicator: out of memory");
    *buf = p;
    *cap = n;
    return QAT_OK;
}

/* Stages this rank's n floats at buf (root < 0: every rank does), then
 * meets the others. -1 in stage_n tells them this rank failed. */
static qat_status stage(qat_comm *c, const float *buf, int64_t n, int staged)
{
    loopback_rank *lr = c->self;
    qat_loopback_group *g = lr->g;
    qat_status st = QAT_OK;
    if (staged) {
        st = grow(&g->stage[c->rank], &g->cap[c->rank], n);
        if (st == QAT_OK)
            st = transfer(c, 0, g->stage[c->rank], buf, n);
        g->stage_n[c->rank] = st == QAT_OK ? n : -1;
    }
    qat_status met = rendezvous(g, c->rank);
    return st != QAT_OK ? st : met;
}

static qat_status sizes_agree(qat_comm *c, int64_t n, int only)
{
    qat_loopback_group *g = ((loopback_rank *)c->self)->g;
    for (int r = only < 0 ? 0 : only; r < (only < 0 ? g->world : only + 1); r++)
        if (g->stage_n[r] != n)
            return qat_fail(QAT_ERR_STATE, g->stage_n[r] < 0
                                               ? "loopback communicator: rank %d failed (%lld floats here)"
                                               : "loopback communicator: rank %d sent a different size than "
                                                 "%lld floats",
                            r, (long long)n);
    return QAT_OK;
}

static qat_status loopback_all_reduce(qat_comm *c, float *buf, int64_t n)
{
    loopback_rank *lr = c->self;
    qat_loopback_group *g = lr->g;
    qat_status st = stage(c, buf, n, 1);
    if (st == QAT_OK)
        st = sizes_agree(c, n, -1);
    if (st == QAT_OK)
        st = grow(&lr->sum, &lr->sum_cap, n);
    if (st == QAT_OK) {
        memcpy(lr->sum, g->stage[0], (size_t)n * sizeof(float));
        for (int r = 1; r < g->world; r++)
            for (int64_t i = 0; i < n; i++)
                lr->sum[i] += g->stage[r][i];
    }
    qat_status met = rendezvous(g, c->rank); /* the stages are read: they may change */
    if (st == QAT_OK)
        st = met;
    return st == QAT_OK ? transfer(c, 1, buf, lr->sum, n) : st;
}

static qat_status loopback_broadcast(qat_comm *c, float *buf, int64_t n, int root)
{
    qat_loopback_group *g = ((loopback_rank *)c->self)->g;
    qat_status st = stage(c, buf, n, c->rank == root);
    if (st == QAT_OK)
        st = sizes_agree(c, n, root);
    if (st == QAT_OK && c->rank != root)
        st = transfer(c, 1, buf, g->stage[root], n);
    qat_status met = rendezvous(g, c->rank);
    return st != QAT_OK ? st : met;
}

static qat_status loopback_barrier(qat_comm *c)
{
    return rendezvous(((loopback_rank *)c->self)->g, c->rank);
}

static qat_status loopback_wait(qat_comm *c)
{
    (void)c; /* every call has finished when it returns */
    return QAT_OK;
}

static void loopback_destroy(qat_comm *c)
{
    loopback_rank *lr = c->self;
    if (!lr)
        return;
    group_drop(lr->g);
    free(lr->sum);
    free(lr);
}

static const qat_comm_impl loopback_impl = {
    .kind = "loopback",
    .all_reduce_sum = loopback_all_reduce,
    .broadcast = loopback_broadcast,
    .barrier = loopback_barrier,
    .wait = loopback_wait,
    .destroy = loopback_destroy,
};

qat_status qat_comm_loopback(qat_loopback_group *g, qat_context *ctx, int rank, qat_comm **out)
{
    QAT_CHECK_ARG(g != NULL && ctx != NULL && out != NULL, "loopback communicator: NULL argument");
    QAT_CHECK_ARG(rank >= 0 && rank < g->world, "loopback communicator: rank %d of %d", rank, g->world);
    loopback_rank *lr = calloc(1, sizeof *lr);
    if (!lr)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "loopback communicator: out of memory");
    pthread_mutex_lock(&g->mu);
    const int taken = g->joined[rank];
    g->joined[rank] = 1;
    if (!taken)
        g->refs++;
    pthread_mutex_unlock(&g->mu);
    if (taken) {
        free(lr);
        return qat_fail(QAT_ERR_INVALID_ARGUMENT, "loopback communicator: rank %d joined twice", rank);
    }
    lr->g = g;
    return qat_comm_wrap(ctx, &loopback_impl, lr, rank, g->world, rank, out);
}
