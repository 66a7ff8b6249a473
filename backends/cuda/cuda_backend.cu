// The CUDA backend module: device buffers, one stream, cuBLAS GEMMs, the
// encoder kernels (cuda_elementwise.cu, cuda_rows.cu, cuda_loss.cu,
// cuda_quant.cu). See docs/cuda.md.
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include <strings.h>

#include "cuda_state.h"

// A failed create() has no state to hold its message: keep it per thread.
static thread_local char creation_error[512];

qat_status cuda_fail(cuda_state *s, qat_status status, const char *fmt, ...)
{
    char *buf = s ? s->error : creation_error;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, 512, fmt, ap);
    va_end(ap);
    return status;
}

qat_status cuda_check(cuda_state *s, cudaError_t err, const char *what)
{
    if (err == cudaSuccess)
        return QAT_OK;
    return cuda_fail(s, err == cudaErrorMemoryAllocation ? QAT_ERR_OUT_OF_MEMORY : QAT_ERR_BACKEND,
                     "%s: %s", what, cudaGetErrorString(err));
}

qat_status cublas_check(cuda_state *s, cublasStatus_t err, const char *what)
{
    if (err == CUBLAS_STATUS_SUCCESS)
        return QAT_OK;
    return cuda_fail(s, QAT_ERR_BACKEND, "%s: cuBLAS status %d", what, (int)err);
}

qat_status cuda_launched(cuda_state *s, const char *what)
{
    cudaError_t err = cudaGetLastError();
    if (err == cudaSuccess)
        return QAT_OK;
    return cuda_fail(s, QAT_ERR_BACKEND, "%s: kernel launch failed: %s", what, cudaGetErrorString(err));
}

qat_status cuda_workspace(cuda_state *s, size_t bytes, void **ptr)
{
    if (bytes < 256)
        bytes = 256;
    if (bytes > s->workspace_bytes) {
        // Work queued earlier on the stream may still use the old buffer.
        qat_status st = cuda_check(s, cudaStreamSynchronize(s->stream), "cudaStreamSynchronize");
        if (st != QAT_OK)
            return st;
        if (s->workspace)
            cudaFree(s->workspace);
        s->workspace = nullptr;
        s->workspace_bytes = 0;
        size_t grown = bytes + bytes / 4;
        st = cuda_check(s, cudaMalloc(&s->workspace, grown), "cudaMalloc (workspace)");
        if (st != QAT_OK) {
            s->workspace = nullptr;
            return st;
        }
        s->workspace_bytes = grown;
    }
    *ptr = s->workspace;
    return QAT_OK;
}

// QAT_CUDA_PRECISION=fp32|tf32|bf16 (case-insensitive); unset or empty: fp32.
static qat_status read_precision(cuda_precision *out)
{
    const char *v = std::getenv("QAT_CUDA_PRECISION");
    *out = CUDA_PRECISION_FP32;
    if (!v || !*v || strcasecmp(v, "fp32") == 0)
        return QAT_OK;
    if (strcasecmp(v, "tf32") == 0)
        *out = CUDA_PRECISION_TF32;
    else if (strcasecmp(v, "bf16") == 0)
        *out = CUDA_PRECISION_BF16;
    else
        return cuda_fail(nullptr, QAT_ERR_INVALID_ARGUMENT,
                         "QAT_CUDA_PRECISION='%s' is not one of fp32, tf32, bf16", v);
    return QAT_OK;
}

static qat_status cuda_set_precision(void *state, int precision)
{
    cuda_state *s = static_cast<cuda_state *>(state);
    if (precision != CUDA_PRECISION_FP32 && precision != CUDA_PRECISION_TF32 && precision != CUDA_PRECISION_BF16)
        return cuda_fail(s, QAT_ERR_INVALID_ARGUMENT, "precision %d is not one of fp32 (0), tf32 (1), bf16 (2)",
                         precision);
    // GEMMs already queued on the stream read the policy when they were
    // enqueued (cuda_gemm picks the compute type on the host): no sync.
    s->precision = static_cast<cuda_precision>(precision);
    return QAT_OK;
}

static int cuda_get_precision(void *state)
{
    return static_cast<cuda_state *>(state)->precision;
}

// A context may be used from a thread other than the one that created it,
// whose current device may be another GPU: every slot makes the state's
// device current first (cudaGetDevice is a thread-local read).
static qat_status on_device(cuda_state *s)
{
    int current = -1;
    if (cudaGetDevice(&current) == cudaSuccess && current == s->device)
        return QAT_OK;
    return cuda_check(s, cudaSetDevice(s->device), "cudaSetDevice");
}

static int cuda_probe(void)
{
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess)
        return 0;
    return count;
}

static qat_status cuda_create(int threads, void **state)
{
    (void)threads;
    cuda_state *s = new (std::nothrow) cuda_state();
    if (!s)
        return cuda_fail(nullptr, QAT_ERR_OUT_OF_MEMORY, "out of host memory");
    qat_status st = read_precision(&s->precision);
    const char *sync = std::getenv("QAT_CUDA_SYNC");
    s->sync_each_slot = sync && *sync && std::strcmp(sync, "0") != 0;
    if (st == QAT_OK)
        st = cuda_check(nullptr, cudaGetDevice(&s->device), "cudaGetDevice");
    if (st == QAT_OK)
        st = cuda_check(nullptr, cudaDeviceGetAttribute(&s->sm_count, cudaDevAttrMultiProcessorCount, s->device),
                        "cudaDeviceGetAttribute");
    if (st == QAT_OK)
        st = cuda_check(nullptr, cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking), "cudaStreamCreate");
    if (st == QAT_OK)
        st = cublas_check(nullptr, cublasCreate(&s->blas), "cublasCreate");
    if (st == QAT_OK)
        st = cublas_check(nullptr, cublasSetStream(s->blas, s->stream), "cublasSetStream");
    if (st == QAT_OK)
        st = cublas_check(nullptr, cublasLtCreate(&s->lt), "cublasLtCreate");
    // The handle keeps CUBLAS_DEFAULT_MATH: cublasSgemm is plain fp32 (no
    // TF32); TF32 and BF16 choose their compute type per call (cuda_gemm.cu).
    if (st != QAT_OK) {
        if (s->lt)
            cublasLtDestroy(s->lt);
        if (s->blas)
            cublasDestroy(s->blas);
        if (s->stream)
            cudaStreamDestroy(s->stream);
        delete s;
        return st;
    }
    *state = s;
    return QAT_OK;
}

static void cuda_destroy(void *state)
{
    cuda_state *s = static_cast<cuda_state *>(state);
    if (!s)
        return;
    on_device(s);
    cudaStreamSynchronize(s->stream);
    if (s->workspace)
        cudaFree(s->workspace);
    cublasLtDestroy(s->lt);
    cublasDestroy(s->blas);
    cudaStreamDestroy(s->stream);
    delete s;
}

static const char *cuda_last_error(void *state)
{
    return state ? static_cast<cuda_state *>(state)->error : creation_error;
}

static qat_status cuda_alloc(void *state, size_t bytes, void **ptr)
{
    cuda_state *s = static_cast<cuda_state *>(state);
    *ptr = nullptr;
    qat_status st = on_device(s);
    if (st != QAT_OK)
        return st;
    st = cuda_check(s, cudaMalloc(ptr, bytes ? bytes : 1), "cudaMalloc");
    if (st != QAT_OK)
        return st;
    st = cuda_check(s, cudaMemsetAsync(*ptr, 0, bytes, s->stream), "cudaMemset");
    if (st != QAT_OK) { // the caller gets no pointer: do not leak it
        cudaFree(*ptr);
        *ptr = nullptr;
    }
    return st;
}

static void cuda_free(void *state, void *ptr)
{
    cuda_state *s = static_cast<cuda_state *>(state);
    on_device(s);
    cudaStreamSynchronize(s->stream);
    cudaFree(ptr);
}

static qat_status cuda_memcpy(cuda_state *s, void *dst, const void *src, size_t bytes, cudaMemcpyKind kind)
{
    if (bytes == 0)
        return QAT_OK;
    qat_status st = on_device(s);
    if (st != QAT_OK)
        return st;
    st = cuda_check(s, cudaMemcpyAsync(dst, src, bytes, kind, s->stream), "cudaMemcpy");
    if (st != QAT_OK)
        return st;
    return cuda_check(s, cudaStreamSynchronize(s->stream), "cudaStreamSynchronize");
}

// From pageable memory (every buffer the core uploads: malloc'ed inputs,
// checkpoint tensors) cudaMemcpyAsync stages the source before it returns,
// so the caller may reuse it at once and the host need not wait for the
// stream's queued kernels: a training step's input uploads then cost no
// sync (its one wait is the read of its losses and norm). A page-locked
// source is copied truly asynchronously, so then the upload waits for the
// copy, as the contract (the source may be freed on return) needs.
static qat_status cuda_upload(void *state, void *dst, const void *src, size_t bytes)
{
    cuda_state *s = static_cast<cuda_state *>(state);
    if (bytes == 0)
        return QAT_OK;
    cudaPointerAttributes attr;
    const cudaError_t known = cudaPointerGetAttributes(&attr, src);
    if (known != cudaSuccess)
        (void)cudaGetLastError(); // older runtimes fail on unregistered host memory: pageable
    const bool pinned = known == cudaSuccess && attr.type == cudaMemoryTypeHost;
    if (pinned)
        return cuda_memcpy(s, dst, src, bytes, cudaMemcpyHostToDevice);
    return cuda_check(s, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, s->stream), "cudaMemcpy");
}

static qat_status cuda_download(void *state, void *dst, const void *src, size_t bytes)
{
    return cuda_memcpy(static_cast<cuda_state *>(state), dst, src, bytes, cudaMemcpyDeviceToHost);
}

static qat_status cuda_synchronize(void *state)
{
    cuda_state *s = static_cast<cuda_state *>(state);
    qat_status st = on_device(s);
    if (st != QAT_OK)
        return st;
    return cuda_check(s, cudaStreamSynchronize(s->stream), "cudaStreamSynchronize");
}

// The slots the ops table holds: each kernel on the state's device, and
// under QAT_CUDA_SYNC a stream synchronisation and error check that names
// the kernel.
static qat_status sync_after(void *state, qat_status st, const char *slot)
{
    cuda_state *s = static_cast<cuda_state *>(state);
    if (st != QAT_OK || !s->sync_each_slot)
        return st;
    cudaError_t err = cudaStreamSynchronize(s->stream);
    if (err == cudaSuccess)
        err = cudaGetLastError();
    if (err != cudaSuccess)
        return cuda_fail(s, QAT_ERR_BACKEND, "%s (checked by QAT_CUDA_SYNC=1): %s", slot, cudaGetErrorString(err));
    return QAT_OK;
}

#define CUDA_SLOT_FN(name, params, args)                                                                       \
    static qat_status slot_##name QAT_KERNEL_PARAMS params                                                     \
    {                                                                                                          \
        qat_status st = on_device(static_cast<cuda_state *>(state));                                           \
        if (st != QAT_OK)                                                                                      \
            return st;                                                                                         \
        return sync_after(state, cuda_##name QAT_KERNEL_ARGS(state, args), #name);                             \
    }
QAT_BACKEND_KERNELS(CUDA_SLOT_FN)
#undef CUDA_SLOT_FN

static qat_backend_ops make_ops()
{
    qat_backend_ops ops;
    std::memset(&ops, 0, sizeof ops);
    ops.abi_version = QAT_BACKEND_ABI_VERSION;
    ops.name = "cuda";
    ops.caps = QAT_BACKEND_CAP_GEMM_BATCHED;
    ops.score = 100;
    ops.probe = cuda_probe;
    ops.create = cuda_create;
    ops.destroy = cuda_destroy;
    ops.set_precision = cuda_set_precision;
    ops.get_precision = cuda_get_precision;
    ops.last_error = cuda_last_error;
    ops.alloc = cuda_alloc;
    ops.free = cuda_free;
    ops.upload = cuda_upload;
    ops.download = cuda_download;
    ops.synchronize = cuda_synchronize;
    ops.comm = &cuda_comm_ops;
#define CUDA_SLOT(name, params, args) ops.name = slot_##name;
    QAT_BACKEND_KERNELS(CUDA_SLOT)
#undef CUDA_SLOT
    return ops;
}

static const qat_backend_ops cuda_ops = make_ops();

extern "C" __attribute__((visibility("default"))) qat_status
qat_backend_module_get(uint32_t abi_version, const qat_backend_ops **ops)
{
    if (abi_version != QAT_BACKEND_ABI_VERSION || !ops)
        return QAT_ERR_UNSUPPORTED;
    *ops = &cuda_ops;
    return QAT_OK;
}
