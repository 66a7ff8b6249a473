/* The ref backend: plain C, the numerical oracle of every other backend. */
#ifndef QAT_REF_BACKEND_H
#define QAT_REF_BACKEND_H

#include "backend/backend.h"
#include "host/host_memory.h"

/* The ref kernels run on the state of any host-memory backend. */
typedef qat_host_state qat_ref_state;

#endif
