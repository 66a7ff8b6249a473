#include "host/host_dropout_add.h"

#include "core/error.h"

/* A host backend's slot, or ref's where it leaves the slot NULL. */
#define HOST_SLOT(ops, name) ((ops)->name ? (ops)->name : qat_backend_ref_ops.name)

qat_status qat_host_dropout_add(const struct qat_backend_ops *ops, void *state, const float *x,
                                const float *residual, int64_t n, float p, uint64_t seed, float *y)
{
    if (n <= 0)
        return QAT_OK;
    QAT_CHECK_ARG(x && y, "dropout_add: NULL x or y");
    QAT_CHECK_ARG(residual != y, "dropout_add: the residual may not alias y");
    if (y != x)
        QAT_TRY(HOST_SLOT(ops, copy)(state, x, y, n));
    QAT_TRY(HOST_SLOT(ops, dropout)(state, y, n, p, seed));
    return residual ? HOST_SLOT(ops, add)(state, y, residual, y, n) : QAT_OK;
}
