#include "core/context.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/thread_pool.h"

#define QAT_MAX_THREADS 1024

/* "All cores" means the CPUs this process may run on: a job given two
 * CPUs of a node by SLURM or taskset gets two threads, not one per core
 * of the node. */
static int online_cores(void)
{
    return qat_usable_cpus(QAT_MAX_THREADS);
}

qat_status qat_context_backend_error(const qat_context *ctx, qat_status status,
                                     const char *what)
{
    if (status == QAT_OK)
        return QAT_OK;
    const struct qat_backend_ops *ops = ctx->backend.ops;
    if (ops->last_error) {
        const char *msg = ops->last_error(ctx->backend_state);
        return qat_fail(status, "%s (%s backend): %s", what, ops->name, msg ? msg : "unknown error");
    }
    return qat_fail_prefix(status, "%s (%s backend)", what, ops->name);
}

QAT_API qat_status qat_context_create(const char *backend, qat_context **out)
{
    QAT_CHECK_ARG(out != NULL, "qat_context_create: NULL out");
    *out = NULL;
    qat_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "qat_context_create: out of memory");
    qat_status st = qat_backend_open(backend, &ctx->backend);
    if (st != QAT_OK) {
        free(ctx);
        return st;
    }
    qat_refcount_init(&ctx->refs);
    ctx->threads = online_cores();
    ctx->seed = 42;
    ctx->deterministic = 1;
    qat_rng_seed(&ctx->rng, ctx->seed);
    st = ctx->backend.ops->create(ctx->threads, &ctx->backend_state);
    if (st != QAT_OK) {
        if (ctx->backend.ops->last_error)
            st = qat_fail(st, "cannot start the %s backend: %s", ctx->backend.ops->name,
                          ctx->backend.ops->last_error(NULL));
        qat_backend_close(&ctx->backend);
        free(ctx);
        return st;
    }
    *out = ctx;
    return QAT_OK;
}

qat_context *qat_context_retain(qat_context *ctx)
{
    qat_refcount_retain(&ctx->refs);
    return ctx;
}

/* Drops one reference; the last one shuts the backend down. */
QAT_API void qat_context_free(qat_context *ctx)
{
    if (!ctx || !qat_refcount_release(&ctx->refs))
        return;
    ctx->backend.ops->destroy(ctx->backend_state);
    qat_backend_close(&ctx->backend);
    qat_warnings_clear(&ctx->warnings);
    free(ctx);
}

QAT_API const char *qat_context_backend(const qat_context *ctx)
{
    return ctx ? ctx->backend.ops->name : NULL;
}

int qat_context_precision(const qat_context *ctx)
{
    const struct qat_backend_ops *ops = ctx->backend.ops;
    return ops->get_precision ? ops->get_precision(ctx->backend_state) : QAT_PRECISION_FP32;
}

const char *qat_precision_name(int precision)
{
    switch (precision) {
    case QAT_PRECISION_FP32: return "fp32";
    case QAT_PRECISION_TF32: return "tf32";
    case QAT_PRECISION_BF16: return "bf16";
    }
    return "unknown";
}

QAT_API qat_status qat_context_param_bounds(qat_context_param param, int64_t *lo, int64_t *hi)
{
    QAT_CHECK_ARG(lo != NULL && hi != NULL, "qat_context_param_bounds: NULL out");
    switch (param) {
    case QAT_CTX_THREADS: *lo = 0; *hi = QAT_MAX_THREADS; return QAT_OK;
    case QAT_CTX_SEED: *lo = 0; *hi = INT64_MAX; return QAT_OK;
    case QAT_CTX_DETERMINISTIC: *lo = 0; *hi = 1; return QAT_OK;
    case QAT_CTX_STRICT_IOB2: *lo = 0; *hi = 1; return QAT_OK;
    case QAT_CTX_PRECISION: *lo = QAT_PRECISION_FP32; *hi = QAT_PRECISION_BF16; return QAT_OK;
    case QAT_CTX_FUSED_ATTENTION: *lo = 0; *hi = 1; return QAT_OK;
    }
    return qat_fail(QAT_ERR_INVALID_ARGUMENT, "unknown context parameter %d", (int)param);
}

QAT_API qat_status qat_context_set_int(qat_context *ctx, qat_context_param param, int64_t value)
{
    QAT_CHECK_ARG(ctx != NULL, "qat_context_set_int: NULL context");
    int64_t lo, hi;
    QAT_TRY(qat_context_param_bounds(param, &lo, &hi));
    QAT_CHECK_ARG(value >= lo && value <= hi,
                  "context parameter %d: value %lld outside [%lld, %lld]", (int)param,
                  (long long)value, (long long)lo, (long long)hi);
    switch (param) {
    case QAT_CTX_THREADS: {
        int threads = value == 0 ? online_cores() : (int)value;
        if (ctx->backend.ops->set_threads) {
            qat_status st = ctx->backend.ops->set_threads(ctx->backend_state, threads);
            if (st != QAT_OK)
                return qat_context_backend_error(ctx, st, "setting threads");
        }
        ctx->threads = threads;
        return QAT_OK;
    }
    case QAT_CTX_SEED:
        ctx->seed = (uint64_t)value;
        qat_rng_seed(&ctx->rng, ctx->seed);
        return QAT_OK;
    case QAT_CTX_DETERMINISTIC:
        ctx->deterministic = (int)value;
        return QAT_OK;
    case QAT_CTX_STRICT_IOB2:
        ctx->strict_iob2 = (int)value;
        return QAT_OK;
    case QAT_CTX_FUSED_ATTENTION:
        ctx->fused_attention = (int)value;
        return QAT_OK;
    case QAT_CTX_PRECISION: {
        const struct qat_backend_ops *ops = ctx->backend.ops;
        if (!ops->set_precision) {
            if (value == QAT_PRECISION_FP32)
                return QAT_OK;
            return qat_fail(QAT_ERR_UNSUPPORTED, "the %s backend computes in fp32 only (precision %s refused)",
                            ops->name, qat_precision_name((int)value));
        }
        return qat_context_backend_error(ctx, ops->set_precision(ctx->backend_state, (int)value),
                                         "setting the precision");
    }
    }
    return QAT_ERR_INTERNAL;
}

QAT_API qat_status qat_context_get_int(const qat_context *ctx, qat_context_param param, int64_t *value)
{
    QAT_CHECK_ARG(ctx != NULL && value != NULL, "qat_context_get_int: NULL argument");
    switch (param) {
    case QAT_CTX_THREADS: *value = ctx->threads; return QAT_OK;
    case QAT_CTX_SEED: *value = (int64_t)ctx->seed; return QAT_OK;
    case QAT_CTX_DETERMINISTIC: *value = ctx->deterministic; return QAT_OK;
    case QAT_CTX_STRICT_IOB2: *value = ctx->strict_iob2; return QAT_OK;
    case QAT_CTX_PRECISION: *value = qat_context_precision(ctx); return QAT_OK;
    case QAT_CTX_FUSED_ATTENTION: *value = ctx->fused_attention; return QAT_OK;
    }
    return qat_fail(QAT_ERR_INVALID_ARGUMENT, "unknown context parameter %d", (int)param);
}
