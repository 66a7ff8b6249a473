/* Calling a backend kernel from the model graph: the backend's own slot when
 * it has one, the ref backend's slot on host-memory backends otherwise (their
 * state is a qat_host_state, which the ref kernels read), and a clear
 * QAT_ERR_UNSUPPORTED where neither applies. The ref kernels are reached
 * through the built-in ops table, never their headers: the core includes no
 * backend. Failures of modules get their
 * message attached (see qat_context_backend_error). */
#ifndef QAT_LIB_DISPATCH_H
#define QAT_LIB_DISPATCH_H

#include "core/context.h"
#include "core/error.h"

#define QAT_KERNEL(ctx, slot, ...)                                                                    \
    ((ctx)->backend.ops->slot                                                                         \
         ? qat_context_backend_error((ctx), (ctx)->backend.ops->slot((ctx)->backend_state, __VA_ARGS__), \
                                     #slot)                                                           \
     : ((ctx)->backend.ops->caps & QAT_BACKEND_CAP_HOST_MEMORY)                                       \
         ? qat_backend_ref_ops.slot((ctx)->backend_state, __VA_ARGS__)                                     \
         : qat_fail(QAT_ERR_UNSUPPORTED, "the %s backend has no '%s' kernel", (ctx)->backend.ops->name, \
                    #slot))

/* Propagating form for use inside functions returning qat_status. */
#define QAT_RUN(ctx, slot, ...) QAT_TRY(QAT_KERNEL(ctx, slot, __VA_ARGS__))

#endif
