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
    QAT_HOST_MEMORY_OPS,
    .create = qat_host_state_create,
    .destroy = qat_host_state_destroy,
#define QAT_REF_SLOT(name, params, args) .name = qat_ref_##name,
    QAT_BACKEND_KERNELS(QAT_REF_SLOT)
#undef QAT_REF_SLOT
};
