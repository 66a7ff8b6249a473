// State of one CUDA backend instance (one device, one stream, cuBLAS and
// cuBLASLt handles, one growable device workspace). Nothing here is global: each
// qat_context owns its state, and every kernel runs on the state's stream.
#ifndef QAT_CUDA_STATE_H
#define QAT_CUDA_STATE_H

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>

extern "C" {
#include "backend/backend.h"
}

// GEMM precision policy: QAT_CUDA_PRECISION at create(), then the context's
// QAT_CTX_PRECISION through set_precision (see docs/cuda.md). The values
// are qat_precision's.
enum cuda_precision {
    CUDA_PRECISION_FP32 = QAT_PRECISION_FP32, // cublasSgemm: fp32 inputs, fp32 math (default)
    CUDA_PRECISION_TF32 = QAT_PRECISION_TF32, // fp32 inputs, TF32 tensor cores, fp32 accumulation
    CUDA_PRECISION_BF16 = QAT_PRECISION_BF16  // operands rounded to bf16 on the fly, fp32 accumulation
};

struct cuda_state {
    int device;
    int sm_count;
    cuda_precision precision;
    cudaStream_t stream;
    cublasHandle_t blas;
    cublasLtHandle_t lt; // the fused linear's matmuls (cuda_linear.cu)
    // Scratch memory for reductions, sorts and bf16 operands: only ever
    // used by work queued on `stream`, so one buffer suffices.
    void *workspace;
    size_t workspace_bytes;
    // QAT_CUDA_SYNC=1 at create(): each kernel slot waits for its work and
    // checks for a fault, so an asynchronous error is reported by the slot
    // that caused it, not by a later call (debugging; slow).
    bool sync_each_slot;
    char error[512];
};

// Records a message in the state (or the thread's creation error when state
// is NULL) and returns status: modules cannot use the core's qat_fail().
qat_status cuda_fail(cuda_state *s, qat_status status, const char *fmt, ...);
qat_status cuda_check(cuda_state *s, cudaError_t err, const char *what);
qat_status cublas_check(cuda_state *s, cublasStatus_t err, const char *what);
// Checks the last kernel launch (cudaGetLastError) of `what`.
qat_status cuda_launched(cuda_state *s, const char *what);
// bf16 copies of fp32 operands (round to nearest even), queued on the
// stream: the bf16 policy's GEMM inputs (cuda_gemm.cu, cuda_linear.cu).
qat_status cuda_round_to_bf16(cuda_state *s, const float *x, int64_t n, void *bf16, const char *what);
// Device scratch of at least `bytes`, valid until the next call on this
// state (grows; never shrinks until destroy).
qat_status cuda_workspace(cuda_state *s, size_t bytes, void **ptr);

// Propagates a failing qat_status (the core's QAT_TRY is not visible here).
#define QAT_TRY_CUDA(expr)                                                                                         \
    do {                                                                                                           \
        qat_status qat_try_cuda_st_ = (expr);                                                                      \
        if (qat_try_cuda_st_ != QAT_OK)                                                                            \
            return qat_try_cuda_st_;                                                                               \
    } while (0)

// The collectives over NCCL (cuda_nccl.cu), loaded when a job has more than one rank.
extern "C" const qat_backend_comm_ops cuda_comm_ops;

// cuda_<kernel> for every kernel of the list (backend/kernels.h): cuda_gemm.cu,
// cuda_elementwise.cu, cuda_rows.cu, cuda_loss.cu, cuda_quant.cu. C linkage,
// so a definition whose parameters differ from the list is a compile error
// (not a new C++ overload).
extern "C" {
#define CUDA_DECLARE(name, params, args) qat_status cuda_##name QAT_KERNEL_PARAMS params;
QAT_BACKEND_KERNELS(CUDA_DECLARE)
#undef CUDA_DECLARE
}

#endif
