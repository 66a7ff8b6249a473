/* The ref backend: plain C, the numerical oracle of every other backend. */
#ifndef QAT_REF_BACKEND_H
#define QAT_REF_BACKEND_H

#include "backend/backend.h"

typedef struct qat_ref_state {
    int threads;
} qat_ref_state;

/* Slots other host-memory backends may reuse as their fallback. */
qat_status qat_ref_gemm(void *state, const qat_gemm_desc *desc);

#endif
