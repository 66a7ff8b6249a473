#include "optim/optimizer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/dispatch.h"

static qat_status alloc(qat_optim *o, size_t bytes, void **ptr, const char *what)
{
    qat_context *ctx = o->ctx;
    *ptr = NULL;
    return qat_context_backend_error(ctx, ctx->backend.ops->alloc(ctx->backend_state, bytes ? bytes : 1, ptr), what);
}

static void release(qat_optim *o, void *ptr)
{
    if (ptr)
        o->ctx->backend.ops->free(o->ctx->backend_state, ptr);
}

qat_status qat_optim_init(qat_optim *o, qat_context *ctx, const qat_optim_adamw_hparams *hp, size_t floats,
                          const int64_t *bounds, const uint8_t *flags, int64_t n)
{
    memset(o, 0, sizeof *o);
    o->ctx = ctx;
    o->hp = *hp;
    o->floats = floats;
    o->seg.count = n;
    /* bounds, then flags: one allocation, one upload */
    const size_t bounds_bytes = (size_t)n * 2 * sizeof(int64_t);
    uint8_t *host = malloc(bounds_bytes + (size_t)n + 1);
    if (!host)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "optimizer: out of memory");
    memcpy(host, bounds, bounds_bytes);
    memcpy(host + bounds_bytes, flags, (size_t)n);
    qat_status st = alloc(o, bounds_bytes + (size_t)n + 1, &o->seg_mem, "allocating the optimizer's tensor table");
    if (st == QAT_OK)
        st = qat_context_backend_error(
            ctx, ctx->backend.ops->upload(ctx->backend_state, o->seg_mem, host, bounds_bytes + (size_t)n),
            "uploading the optimizer's tensor table");
    free(host);
    if (st == QAT_OK) {
        o->seg.bounds = o->seg_mem;
        o->seg.flags = (const uint8_t *)o->seg_mem + bounds_bytes;
        st = alloc(o, floats * sizeof(float), (void **)&o->exp_avg, "allocating AdamW's moments");
    }
    if (st == QAT_OK)
        st = alloc(o, floats * sizeof(float), (void **)&o->exp_avg_sq, "allocating AdamW's moments");
    if (st != QAT_OK)
        qat_optim_release(o);
    return st;
}

void qat_optim_release(qat_optim *o)
{
    if (!o->ctx)
        return;
    release(o, o->seg_mem);
    release(o, o->exp_avg);
    release(o, o->exp_avg_sq);
    release(o, o->accum);
    release(o, o->scalars);
    memset(o, 0, sizeof *o);
}

qat_status qat_optim_begin(qat_optim *o, int64_t n_micro)
{
    return qat_optim_begin_ranks(o, n_micro, 1, 0);
}

qat_status qat_optim_begin_ranks(qat_optim *o, int64_t n_micro, int world, int rank)
{
    QAT_CHECK_ARG(n_micro >= 1, "optimizer: %lld micro-batches", (long long)n_micro);
    QAT_CHECK_ARG(world >= 1 && rank >= 0 && rank < world, "optimizer: rank %d of %d", rank, world);
    qat_context *ctx = o->ctx;
    const int64_t slots = n_micro * world;
    if (slots + 2 > o->scalars_cap) {
        release(o, o->scalars);
        o->scalars = NULL;
        o->scalars_cap = 0;
        QAT_TRY(alloc(o, (size_t)(slots + 2) * sizeof(float), (void **)&o->scalars, "allocating the step's scalars"));
        o->scalars_cap = slots + 2;
    }
    if (world > 1) /* the other ranks' slots: zero until summed */
        QAT_RUN(ctx, fill, o->scalars, slots, 0.0f);
    o->world = world;
    o->rank = rank;
    if (n_micro > 1 && !o->accum)
        QAT_TRY(alloc(o, o->floats * sizeof(float), (void **)&o->accum, "allocating the gradient sum"));
    o->n_micro = n_micro;
    o->collected = 0;
    if (n_micro > 1)
        QAT_RUN(ctx, fill, o->accum, (int64_t)o->floats, 0.0f);
    return QAT_OK;
}

qat_status qat_optim_collect_loss(qat_optim *o, int64_t i, const float *loss)
{
    QAT_CHECK_ARG(i == o->collected && i < o->n_micro, "optimizer: micro-batch %lld of %lld, %lld collected",
                  (long long)i, (long long)o->n_micro, (long long)o->collected);
    QAT_RUN(o->ctx, copy, loss, o->scalars + o->rank * o->n_micro + i, 1);
    o->collected++;
    return QAT_OK;
}

qat_status qat_optim_collect(qat_optim *o, int64_t i, const float *grad, const float *loss)
{
    QAT_TRY(qat_optim_collect_loss(o, i, loss));
    if (o->n_micro > 1)
        QAT_RUN(o->ctx, accumulate, grad, o->accum, (int64_t)o->floats);
    return QAT_OK;
}

float *qat_optim_gradient_sum(qat_optim *o, float *grad)
{
    return o->n_micro > 1 ? o->accum : grad;
}

float *qat_optim_loss_slots(qat_optim *o, int64_t *count)
{
    *count = o->n_micro * o->world;
    return o->scalars;
}

qat_status qat_optim_step(qat_optim *o, float *param, float *grad, double lr, int64_t step, double max_norm,
                          qat_optim_result *out)
{
    qat_context *ctx = o->ctx;
    QAT_CHECK_ARG(o->n_micro >= 1 && o->collected == o->n_micro, "optimizer: qat_optim_step without "
                  "qat_optim_begin and every micro-batch collected (%lld of %lld)", (long long)o->collected,
                  (long long)o->n_micro);
    const int64_t n = o->n_micro * o->world; /* every rank's micro-batches */
    QAT_CHECK_ARG(max_norm >= 0.0 && isfinite(max_norm), "clip_grad_norm: max_norm must be finite and >= 0, got %g",
                  max_norm);
    qat_adamw_desc d;
    QAT_TRY(qat_optim_adamw_desc(&o->hp, lr, step, &d));
    const int clip = max_norm > 0.0;
    float *norm = o->scalars + n; /* norm, then the clip coefficient */
    if (n > 1)
        QAT_RUN(ctx, scale, qat_optim_gradient_sum(o, grad), (int64_t)o->floats, 1.0f / (float)n, grad);
    QAT_RUN(ctx, grad_norm, &o->seg, grad, clip ? (float)max_norm : 0.0f, norm);
    /* Skipped on the device when a loss, or the norm it clips by, is not
     * finite: the host learns of it from the read below. */
    d.scale = clip ? norm + 1 : NULL;
    d.check = o->scalars;
    d.check_count = n + clip;
    QAT_RUN(ctx, adamw, &d, &o->seg, param, grad, o->exp_avg, o->exp_avg_sq);
    o->n_micro = 0;

    /* The step's one read back (on the stack up to 62 micro-batches). */
    float host[64];
    float *h = n + 2 <= 64 ? host : malloc((size_t)(n + 2) * sizeof *h);
    if (!h)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "optimizer: out of memory");
    qat_status st = qat_context_backend_error(
        ctx, ctx->backend.ops->download(ctx->backend_state, h, o->scalars, (size_t)(n + 2) * sizeof *h),
        "reading the step's loss and gradient norm");
    double loss_sum = 0.0;
    int64_t bad = -1;
    for (int64_t i = 0; st == QAT_OK && i < n; i++) {
        loss_sum += h[i];
        if (bad < 0 && !isfinite(h[i]))
            bad = i;
    }
    if (st == QAT_OK) {
        out->loss = (float)(loss_sum / (double)n);
        out->norm = h[n];
        if (bad >= 0)
            st = qat_fail(QAT_ERR_NUMERIC, "the loss is not finite (%g)", (double)h[bad]);
        else if (clip && !isfinite(h[n]))
            st = qat_fail(QAT_ERR_NUMERIC,
                          "clip_grad_norm: the total norm of the gradients is %g (non-finite); "
                          "gradients left unchanged", (double)h[n]);
    }
    if (h != host)
        free(h);
    return st;
}
