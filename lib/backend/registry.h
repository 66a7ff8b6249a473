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

#define QAT_REGISTRY_MAX 8

/* One scan of the machine: the usable backends in a stable order (built-ins,
 * then the modules that load and see a device), each module dlopen'ed and
 * probed once. Queries then load nothing. The scan lives in an object its
 * caller owns (a qat_backend_list, or qat_backend_open's stack), never in a
 * process-wide cache: such a cache would be mutable state shared by every
 * thread, would miss a QAT_BACKEND_PATH or device change made after the
 * first call, and would hold the modules open until the process exits. */
typedef struct qat_registry {
    int count;
    qat_backend_handle usable[QAT_REGISTRY_MAX];
} qat_registry;

void qat_registry_scan(qat_registry *r);
/* Closes the modules still held. */
void qat_registry_release(qat_registry *r);
/* Index of backend `name` (NULL or "auto": the highest score), or -1. */
int qat_registry_find(const qat_registry *r, const char *name);

/* The library's own copy of a backend's name, valid after the module that
 * reported it is closed (NULL for an unknown name). */
const char *qat_registry_lasting_name(const char *name);

/* Opens backend `name` ("ref", "cpu", "cuda", or NULL/"auto" for the
 * usable backend with the highest score): one scan, the chosen module kept
 * open in *out, the others closed. */
qat_status qat_backend_open(const char *name, qat_backend_handle *out);
void qat_backend_close(qat_backend_handle *handle);

#endif
