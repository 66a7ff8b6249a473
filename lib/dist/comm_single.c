/* One rank: nothing to exchange. The world-of-one checks in comm.c never
 * reach these; they are here so that every slot is defined. */
#include "dist/comm.h"

static qat_status nothing_reduced(qat_comm *c, float *buf, int64_t n)
{
    (void)c, (void)buf, (void)n;
    return QAT_OK;
}

static qat_status nothing_sent(qat_comm *c, float *buf, int64_t n, int root)
{
    (void)c, (void)buf, (void)n, (void)root;
    return QAT_OK;
}

static qat_status nothing_awaited(qat_comm *c)
{
    (void)c;
    return QAT_OK;
}

static void nothing_held(qat_comm *c)
{
    (void)c;
}

static const qat_comm_impl single_impl = {
    .kind = "single",
    .all_reduce_sum = nothing_reduced,
    .broadcast = nothing_sent,
    .barrier = nothing_awaited,
    .wait = nothing_awaited,
    .destroy = nothing_held,
};

qat_status qat_comm_single(qat_context *ctx, qat_comm **out)
{
    return qat_comm_wrap(ctx, &single_impl, NULL, 0, 1, 0, out);
}
