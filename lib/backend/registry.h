/* Finding backends: the built-in ones and the dlopen'ed modules. */
#ifndef QAT_LIB_REGISTRY_H
#define QAT_LIB_REGISTRY_H

#include "backend/backend.h"

/* A backend ready to instantiate; `module` is the dlopen handle of the
 * module it came from (NULL for built-ins) and is owned by the holder. */
typedef struct qat_backend_handle {
    const struct qat_backend_ops *ops;
    void *module;
} qat_backend_handle;

/* Opens backend `name` ("ref", "cpu", "cuda", or NULL/"auto" for the
 * usable backend with the highest score). */
qat_status qat_backend_open(const char *name, qat_backend_handle *out);
void qat_backend_close(qat_backend_handle *handle);

#endif
