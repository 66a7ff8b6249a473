/* The backend's collectives (NCCL) behind the communicator, and the
 * communicator a process gets from its environment. */
#include <stdlib.h>

#include "backend/backend.h"
#include "core/error.h"
#include "dist/comm.h"
#include "dist/rank_env.h"
#include "dist/rendezvous.h"

typedef struct backend_comm {
    const struct qat_backend_comm_ops *ops;
    void *comm;
} backend_comm;

static qat_status reported(qat_comm *c, qat_status st, const char *what)
{
    return qat_context_backend_error(c->ctx, st, what);
}

static qat_status backend_all_reduce(qat_comm *c, float *buf, int64_t n)
{
    backend_comm *b = c->self;
    return reported(c, b->ops->all_reduce_sum(b->comm, buf, n), "all-reduce");
}

static qat_status backend_broadcast(qat_comm *c, float *buf, int64_t n, int root)
{
    backend_comm *b = c->self;
    return reported(c, b->ops->broadcast(b->comm, buf, n, root), "broadcast");
}

static qat_status backend_barrier(qat_comm *c)
{
    backend_comm *b = c->self;
    return reported(c, b->ops->barrier(b->comm), "barrier");
}

static qat_status backend_wait(qat_comm *c)
{
    backend_comm *b = c->self;
    return reported(c, b->ops->wait(b->comm), "waiting for the all-reduces");
}

static void backend_destroy(qat_comm *c)
{
    backend_comm *b = c->self;
    b->ops->destroy(b->comm);
    free(b);
}

static const qat_comm_impl backend_impl = {
    .kind = "backend",
    .all_reduce_sum = backend_all_reduce,
    .broadcast = backend_broadcast,
    .barrier = backend_barrier,
    .wait = backend_wait,
    .destroy = backend_destroy,
};

/* The ranks meet: rank 0's token reaches every rank, each makes its end
 * of the backend's communicator, and after a barrier the rendezvous file
 * (if any) is removed. */
qat_status qat_comm_create_for_ranks(qat_context *ctx, const qat_rank_env *e, qat_comm **out)
{
    *out = NULL;
    if (e->world == 1)
        return qat_comm_single(ctx, out);
    if (!ctx->backend.ops->comm)
        return qat_fail(QAT_ERR_UNSUPPORTED, "%s gives %d ranks (this is rank %d), but the %s backend has no "
                        "communicator: data-parallel training runs on the cuda backend (NCCL); on CPU backends "
                        "run one process", qat_rank_source_name(e->source), e->world, e->rank, ctx->backend.ops->name);
    const struct qat_backend_ops *ops = ctx->backend.ops;
    const struct qat_backend_comm_ops *cops = ops->comm;
    if (cops->id_bytes == 0 || cops->id_bytes > QAT_BACKEND_COMM_ID_MAX)
        return qat_fail(QAT_ERR_INTERNAL, "the %s backend's communicator token has %zu bytes", ops->name,
                        cops->id_bytes);
    unsigned char token[QAT_BACKEND_COMM_ID_MAX] = {0};
    if (e->rank == 0)
        QAT_TRY(qat_context_backend_error(ctx, cops->make_id(ctx->backend_state, token),
                                          "making the communicator's id"));
    QAT_TRY(qat_rendezvous_share(e, token, cops->id_bytes));
    backend_comm *b = calloc(1, sizeof *b);
    if (!b)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "communicator: out of memory");
    b->ops = cops;
    qat_status st = qat_context_backend_error(
        ctx, cops->init(ctx->backend_state, token, e->rank, e->world, e->local_rank, &b->comm),
        "joining the communicator");
    if (st != QAT_OK) {
        free(b);
        return st;
    }
    qat_comm *c = NULL;
    QAT_TRY(qat_comm_wrap(ctx, &backend_impl, b, e->rank, e->world, e->local_rank, &c));
    st = qat_comm_barrier(c);
    if (st != QAT_OK) {
        qat_comm_free(c);
        return st;
    }
    qat_rendezvous_done(e);
    *out = c;
    return QAT_OK;
}

QAT_API qat_status qat_comm_create_from_env(qat_context *ctx, qat_comm **out)
{
    QAT_CHECK_ARG(out != NULL, "qat_comm_create_from_env: NULL out");
    *out = NULL;
    QAT_CHECK_ARG(ctx != NULL, "qat_comm_create_from_env: NULL context");
    qat_rank_env e;
    QAT_TRY(qat_rank_env_from_process(&e));
    return qat_comm_create_for_ranks(ctx, &e, out);
}
