// State of one CUDA backend instance (one device, one stream, one cuBLAS handle).
#ifndef QAT_CUDA_STATE_H
#define QAT_CUDA_STATE_H

#include <cublas_v2.h>
#include <cuda_runtime.h>

extern "C" {
#include "backend/backend.h"
}

struct cuda_state {
    int device;
    cudaStream_t stream;
    cublasHandle_t blas;
    char error[512];
};

// Records a message in the state (or the thread's creation error when state
// is NULL) and returns status: modules cannot use the core's qat_fail().
qat_status cuda_fail(cuda_state *s, qat_status status, const char *fmt, ...);
qat_status cuda_check(cuda_state *s, cudaError_t err, const char *what);
qat_status cublas_check(cuda_state *s, cublasStatus_t err, const char *what);

qat_status cuda_gemm(void *state, const qat_gemm_desc *desc);

#endif
