#include "ref/ref_backend.h"

#include <stdlib.h>

#include "core/error.h"
#include "host/host_memory.h"
#include "ref/ref_kernels.h"

const struct qat_backend_ops qat_backend_ref_ops = {
    .abi_version = QAT_BACKEND_ABI_VERSION,
    .name = "ref",
    .caps = QAT_BACKEND_CAP_HOST_MEMORY | QAT_BACKEND_CAP_GEMM_BATCHED,
    .score = 10,
    .probe = qat_host_probe,
    .create = qat_host_state_create,
    .destroy = qat_host_state_destroy,
    .set_threads = qat_host_state_set_threads,
    .thread_pool = qat_host_state_pool,
    .alloc = qat_host_alloc,
    .free = qat_host_free,
    .upload = qat_host_copy,
    .download = qat_host_copy,
    .synchronize = qat_host_synchronize,
#define QAT_REF_SLOT(name, params, args) .name = qat_ref_##name,
    QAT_BACKEND_KERNELS(QAT_REF_SLOT)
#undef QAT_REF_SLOT
};
