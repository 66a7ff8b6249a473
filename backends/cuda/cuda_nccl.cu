// The cuda module's collectives for data-parallel training (lib/dist over
// struct qat_backend_comm_ops): NCCL, opened with dlopen when a
// communicator is made, so the module loads and trains on one GPU where
// libnccl.so.2 is absent; only a multi-rank job needs it.
//
// Overlap: every collective runs on the communicator's own stream, after
// an event recorded on the backend's stream (the backward's gradients of a
// bucket are written before it), so the reduction of one bucket overlaps
// the backward of the next layers. wait() makes the backend's stream wait
// for everything queued on the communicator's, with no host sync.
//
// Compiled and linked in CI; never run on a GPU yet (no device was lent).
#include <dlfcn.h>
#include <nccl.h>

#include <cstring>
#include <new>

#include "cuda_state.h"

namespace {

struct nccl_api {
    void *lib;
    ncclResult_t (*get_unique_id)(ncclUniqueId *id);
    ncclResult_t (*comm_init_rank)(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank);
    ncclResult_t (*all_reduce)(const void *send, void *recv, size_t count, ncclDataType_t type, ncclRedOp_t op,
                               ncclComm_t comm, cudaStream_t stream);
    ncclResult_t (*broadcast)(const void *send, void *recv, size_t count, ncclDataType_t type, int root,
                              ncclComm_t comm, cudaStream_t stream);
    ncclResult_t (*comm_destroy)(ncclComm_t comm);
    const char *(*error_string)(ncclResult_t result);
};

struct nccl_comm {
    cuda_state *s;
    nccl_api api;
    ncclComm_t comm;
    cudaStream_t stream;
    cudaEvent_t compute_done; // on the backend's stream: what the collective waits for
    cudaEvent_t comm_done;    // on the communicator's stream: what wait() waits for
    float *one;               // the barrier's all-reduce
};

template <typename F> bool symbol(void *lib, const char *name, F *out)
{
    *out = reinterpret_cast<F>(dlsym(lib, name));
    return *out != nullptr;
}

qat_status nccl_open(cuda_state *s, nccl_api *api)
{
    std::memset(api, 0, sizeof *api);
    api->lib = dlopen("libnccl.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!api->lib)
        return cuda_fail(s, QAT_ERR_UNSUPPORTED, "data-parallel training needs NCCL (libnccl.so.2): %s", dlerror());
    if (symbol(api->lib, "ncclGetUniqueId", &api->get_unique_id) &&
        symbol(api->lib, "ncclCommInitRank", &api->comm_init_rank) &&
        symbol(api->lib, "ncclAllReduce", &api->all_reduce) && symbol(api->lib, "ncclBroadcast", &api->broadcast) &&
        symbol(api->lib, "ncclCommDestroy", &api->comm_destroy) &&
        symbol(api->lib, "ncclGetErrorString", &api->error_string))
        return QAT_OK;
    dlclose(api->lib);
    api->lib = nullptr;
    return cuda_fail(s, QAT_ERR_UNSUPPORTED, "libnccl.so.2 lacks a function libqat needs (NCCL >= 2.4)");
}

qat_status nccl_check(cuda_state *s, const nccl_api *api, ncclResult_t r, const char *what)
{
    if (r == ncclSuccess)
        return QAT_OK;
    return cuda_fail(s, QAT_ERR_BACKEND, "%s: NCCL: %s", what, api->error_string(r));
}

qat_status make_id(void *state, void *id)
{
    cuda_state *s = static_cast<cuda_state *>(state);
    nccl_api api;
    QAT_TRY_CUDA(nccl_open(s, &api));
    ncclUniqueId u;
    qat_status st = nccl_check(s, &api, api.get_unique_id(&u), "ncclGetUniqueId");
    if (st == QAT_OK)
        std::memcpy(id, &u, sizeof u);
    dlclose(api.lib);
    return st;
}

void release(nccl_comm *c)
{
    if (c->stream)
        cudaStreamSynchronize(c->stream);
    if (c->comm)
        c->api.comm_destroy(c->comm);
    if (c->compute_done)
        cudaEventDestroy(c->compute_done);
    if (c->comm_done)
        cudaEventDestroy(c->comm_done);
    if (c->stream)
        cudaStreamDestroy(c->stream);
    if (c->one)
        cudaFree(c->one);
    if (c->api.lib)
        dlclose(c->api.lib);
    delete c;
}

// Each rank on its own GPU: a node's ranks all on device 0 (torchrun without
// CUDA_VISIBLE_DEVICES) would deadlock NCCL, so that is refused.
qat_status check_device(cuda_state *s, int local_rank)
{
    int count = 0;
    QAT_TRY_CUDA(cuda_check(s, cudaGetDeviceCount(&count), "cudaGetDeviceCount"));
    if (count > 1 && s->device != local_rank)
        return cuda_fail(s, QAT_ERR_INVALID_ARGUMENT,
                         "the rank with local rank %d runs on device %d of %d visible: give each rank its own GPU "
                         "(srun --gpus-per-task=1, or CUDA_VISIBLE_DEVICES=$LOCAL_RANK, which `qat train` sets "
                         "under torchrun)", local_rank, s->device, count);
    return QAT_OK;
}

qat_status init(void *state, const void *id, int rank, int world, int local_rank, void **out)
{
    cuda_state *s = static_cast<cuda_state *>(state);
    *out = nullptr;
    QAT_TRY_CUDA(cuda_check(s, cudaSetDevice(s->device), "cudaSetDevice"));
    QAT_TRY_CUDA(check_device(s, local_rank));
    nccl_comm *c = new (std::nothrow) nccl_comm();
    if (!c)
        return cuda_fail(s, QAT_ERR_OUT_OF_MEMORY, "NCCL communicator: out of memory");
    c->s = s;
    qat_status st = nccl_open(s, &c->api);
    if (st == QAT_OK)
        st = cuda_check(s, cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking), "cudaStreamCreate");
    if (st == QAT_OK)
        st = cuda_check(s, cudaEventCreateWithFlags(&c->compute_done, cudaEventDisableTiming), "cudaEventCreate");
    if (st == QAT_OK)
        st = cuda_check(s, cudaEventCreateWithFlags(&c->comm_done, cudaEventDisableTiming), "cudaEventCreate");
    if (st == QAT_OK)
        st = cuda_check(s, cudaMalloc(reinterpret_cast<void **>(&c->one), sizeof(float)), "cudaMalloc");
    if (st == QAT_OK) {
        ncclUniqueId u;
        std::memcpy(&u, id, sizeof u);
        st = nccl_check(s, &c->api, c->api.comm_init_rank(&c->comm, world, u, rank), "ncclCommInitRank");
    }
    if (st != QAT_OK) {
        release(c);
        return st;
    }
    *out = c;
    return QAT_OK;
}

// The communicator's stream waits for the work queued on the backend's.
qat_status after_compute(nccl_comm *c)
{
    QAT_TRY_CUDA(cuda_check(c->s, cudaSetDevice(c->s->device), "cudaSetDevice"));
    QAT_TRY_CUDA(cuda_check(c->s, cudaEventRecord(c->compute_done, c->s->stream), "cudaEventRecord"));
    return cuda_check(c->s, cudaStreamWaitEvent(c->stream, c->compute_done, 0), "cudaStreamWaitEvent");
}

qat_status all_reduce_sum(void *comm, float *buf, int64_t n)
{
    nccl_comm *c = static_cast<nccl_comm *>(comm);
    QAT_TRY_CUDA(after_compute(c));
    return nccl_check(c->s, &c->api,
                      c->api.all_reduce(buf, buf, static_cast<size_t>(n), ncclFloat32, ncclSum, c->comm, c->stream),
                      "ncclAllReduce");
}

qat_status broadcast(void *comm, float *buf, int64_t n, int root)
{
    nccl_comm *c = static_cast<nccl_comm *>(comm);
    QAT_TRY_CUDA(after_compute(c));
    return nccl_check(c->s, &c->api,
                      c->api.broadcast(buf, buf, static_cast<size_t>(n), ncclFloat32, root, c->comm, c->stream),
                      "ncclBroadcast");
}

qat_status wait(void *comm)
{
    nccl_comm *c = static_cast<nccl_comm *>(comm);
    QAT_TRY_CUDA(cuda_check(c->s, cudaEventRecord(c->comm_done, c->stream), "cudaEventRecord"));
    return cuda_check(c->s, cudaStreamWaitEvent(c->s->stream, c->comm_done, 0), "cudaStreamWaitEvent");
}

// A one-float all-reduce every rank must join, awaited on the host.
qat_status barrier(void *comm)
{
    nccl_comm *c = static_cast<nccl_comm *>(comm);
    QAT_TRY_CUDA(all_reduce_sum(comm, c->one, 1));
    return cuda_check(c->s, cudaStreamSynchronize(c->stream), "the barrier's all-reduce");
}

void destroy(void *comm)
{
    if (comm)
        release(static_cast<nccl_comm *>(comm));
}

} // namespace

// Every field, in struct qat_backend_comm_ops's order (a constant
// initializer: the table needs no function to build it, unlike the kernel
// slots' cuda_ops).
extern "C" const qat_backend_comm_ops cuda_comm_ops = {
    sizeof(ncclUniqueId), // id_bytes
    make_id,
    init,
    all_reduce_sum,
    broadcast,
    barrier,
    wait,
    destroy,
};
