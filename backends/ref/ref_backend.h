/* The ref backend: plain C, the numerical oracle of every other backend. */
#ifndef QAT_REF_BACKEND_H
#define QAT_REF_BACKEND_H

#include "backend/backend.h"

typedef struct qat_ref_state {
    int threads;
} qat_ref_state;

/* The OpenMP team for a kernel doing `work` scalar operations: one thread
 * below a threshold, where waking a team costs more than it saves (and
 * spinning threads hurt most on a busy machine). Results depend only on
 * the size and the context's thread count, never on timing. */
static inline int qat_ref_team(const void *state, int64_t work)
{
    return work < 65536 ? 1 : ((const qat_ref_state *)state)->threads;
}

/* Slots other host-memory backends may reuse as their fallback. */
qat_status qat_ref_gemm(void *state, const qat_gemm_desc *desc);

#endif
