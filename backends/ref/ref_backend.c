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
    .alloc = qat_host_alloc,
    .free = qat_host_free,
    .upload = qat_host_copy,
    .download = qat_host_copy,
    .synchronize = qat_host_synchronize,
    .gemm = qat_ref_gemm,
    .fill = qat_ref_fill,
    .add = qat_ref_add,
    .accumulate = qat_ref_accumulate,
    .bias_act_fwd = qat_ref_bias_act_fwd,
    .gelu_bwd = qat_ref_gelu_bwd,
    .tanh_bwd = qat_ref_tanh_bwd,
    .bias_grad = qat_ref_bias_grad,
    .layernorm_fwd = qat_ref_layernorm_fwd,
    .layernorm_bwd = qat_ref_layernorm_bwd,
    .softmax_fwd = qat_ref_softmax_fwd,
    .softmax_bwd = qat_ref_softmax_bwd,
    .embedding_fwd = qat_ref_embedding_fwd,
    .embedding_bwd = qat_ref_embedding_bwd,
    .zero_rows_where = qat_ref_zero_rows_where,
    .cross_entropy = qat_ref_cross_entropy,
    .dropout = qat_ref_dropout,
    .abs_mean = qat_ref_abs_mean,
    .lsq_fwd = qat_ref_lsq_fwd,
    .lsq_bwd = qat_ref_lsq_bwd,
    .bitnet_weight_fwd = qat_ref_bitnet_weight_fwd,
    .bitnet_act_fwd = qat_ref_bitnet_act_fwd,
};
