/* The communicator's public face and the checks every kind shares. */
#include "dist/comm.h"

#include <stdlib.h>

#include "backend/backend.h"
#include "core/context.h"
#include "core/error.h"
#include "dist/rank_env.h"

qat_status qat_comm_wrap(qat_context *ctx, const qat_comm_impl *impl, void *self, int rank, int world,
                         int local_rank, qat_comm **out)
{
    qat_comm *c = calloc(1, sizeof *c);
    if (!c) {
        impl->destroy(&(qat_comm){.impl = impl, .self = self});
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "communicator: out of memory");
    }
    qat_refcount_init(&c->refs);
    c->impl = impl;
    c->self = self;
    c->ctx = qat_context_retain(ctx);
    c->rank = rank;
    c->world = world;
    c->local_rank = local_rank;
    *out = c;
    return QAT_OK;
}

qat_comm *qat_comm_retain(qat_comm *c)
{
    qat_refcount_retain(&c->refs);
    return c;
}

QAT_API void qat_comm_free(qat_comm *c)
{
    if (!c || !qat_refcount_release(&c->refs))
        return;
    c->impl->destroy(c);
    qat_context_free(c->ctx); /* the communicator's reference */
    free(c);
}

QAT_API qat_status qat_comm_get(const qat_comm *c, qat_comm_stat stat, int64_t *value)
{
    QAT_CHECK_ARG(c != NULL && value != NULL, "qat_comm_get: NULL argument");
    switch (stat) {
    case QAT_COMM_RANK: *value = c->rank; return QAT_OK;
    case QAT_COMM_WORLD_SIZE: *value = c->world; return QAT_OK;
    case QAT_COMM_LOCAL_RANK: *value = c->local_rank; return QAT_OK;
    }
    return qat_fail(QAT_ERR_INVALID_ARGUMENT, "qat_comm_get: unknown statistic %d", (int)stat);
}

QAT_API const char *qat_comm_kind(const qat_comm *c)
{
    return c ? c->impl->kind : "";
}

qat_status qat_comm_all_reduce_sum(qat_comm *c, float *buf, int64_t n)
{
    QAT_CHECK_ARG(n >= 0 && (buf != NULL || n == 0), "all-reduce: %lld floats at %p", (long long)n, (void *)buf);
    return n == 0 || c->world == 1 ? QAT_OK : c->impl->all_reduce_sum(c, buf, n);
}

qat_status qat_comm_broadcast(qat_comm *c, float *buf, int64_t n, int root)
{
    QAT_CHECK_ARG(n >= 0 && (buf != NULL || n == 0), "broadcast: %lld floats at %p", (long long)n, (void *)buf);
    QAT_CHECK_ARG(root >= 0 && root < c->world, "broadcast: root %d of %d ranks", root, c->world);
    return n == 0 || c->world == 1 ? QAT_OK : c->impl->broadcast(c, buf, n, root);
}

qat_status qat_comm_broadcast_host(qat_comm *c, void *data, size_t bytes, int root)
{
    QAT_CHECK_ARG(bytes % sizeof(float) == 0 && (data != NULL || bytes == 0),
                  "broadcast: %zu bytes at %p (whole floats' worth)", bytes, data);
    QAT_CHECK_ARG(root >= 0 && root < c->world, "broadcast: root %d of %d ranks", root, c->world);
    if (bytes == 0 || c->world == 1)
        return QAT_OK;
    qat_context *ctx = c->ctx;
    const struct qat_backend_ops *ops = ctx->backend.ops;
    float *dev = NULL;
    QAT_TRY(qat_context_backend_error(ctx, ops->alloc(ctx->backend_state, bytes, (void **)&dev),
                                      "allocating a broadcast's buffer"));
    qat_status st = qat_context_backend_error(ctx, ops->upload(ctx->backend_state, dev, data, bytes),
                                              "uploading a broadcast");
    if (st == QAT_OK)
        st = qat_comm_broadcast(c, dev, (int64_t)(bytes / sizeof(float)), root);
    if (st == QAT_OK)
        st = qat_comm_wait(c);
    if (st == QAT_OK)
        st = qat_context_backend_error(ctx, ops->download(ctx->backend_state, data, dev, bytes),
                                       "downloading a broadcast");
    ops->free(ctx->backend_state, dev);
    return st;
}

qat_status qat_comm_barrier(qat_comm *c)
{
    return c->world == 1 ? QAT_OK : c->impl->barrier(c);
}

qat_status qat_comm_wait(qat_comm *c)
{
    return c->world == 1 ? QAT_OK : c->impl->wait(c);
}
