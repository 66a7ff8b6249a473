/* The context: one backend instance plus the run-wide settings. */
#ifndef QAT_LIB_CONTEXT_H
#define QAT_LIB_CONTEXT_H

#include "backend/registry.h"
#include "core/refcount.h"
#include "core/rng.h"
#include "core/warnings.h"

struct qat_context {
    qat_refcount refs;    /* the caller's, plus one per model using it */
    qat_backend_handle backend;
    void *backend_state;
    int threads;          /* resolved: >= 1 */
    uint64_t seed;
    int deterministic;
    int strict_iob2;      /* QAT_CTX_STRICT_IOB2 */
    int fused_attention;  /* QAT_CTX_FUSED_ATTENTION */
    qat_rng rng;
    qat_warnings warnings;
};

/* Takes a reference for a handle that keeps using the context (a model);
 * the holder drops it with qat_context_free. Returns ctx. */
qat_context *qat_context_retain(qat_context *ctx);

/* The backend's GEMM precision policy (a qat_precision; QAT_CTX_PRECISION)
 * and its name as results.json records it ("fp32", "tf32", "bf16"). */
int qat_context_precision(const qat_context *ctx);
const char *qat_precision_name(int precision);

/* Turns a backend's failure into the thread's error message: modules
 * describe failures through last_error(), built-ins already called
 * qat_fail(). */
qat_status qat_context_backend_error(const qat_context *ctx, qat_status status,
                                     const char *what);

#endif
