/*
 * The private backend interface. Never installed: backends are built with
 * the library (ref, cpu) or as modules of the same source tree (cuda), and
 * a module is accepted only when its QAT_BACKEND_ABI_VERSION matches ours.
 *
 * A backend implements the operations the model graph needs on its own
 * memory. Slots may be NULL where a backend has nothing better than the
 * default; a host-memory backend (caps & QAT_BACKEND_CAP_HOST_MEMORY) then
 * falls back to the ref implementation of that slot (see backend_dispatch).
 *
 * Errors: every op returns a qat_status. Built-in backends set the
 * thread's message with qat_fail(); modules cannot (they do not link the
 * core), so they return a status and describe it through last_error().
 */
#ifndef QAT_LIB_BACKEND_H
#define QAT_LIB_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "qat/core.h"
#include "backend/kernels.h"

/* Bump whenever struct qat_backend_ops, the kernel list (kernels.h) or a
 * descriptor there changes. */
#define QAT_BACKEND_ABI_VERSION 15u

/* Symbol a backend module exports (C linkage):
 *   qat_status qat_backend_module_get(uint32_t abi_version,
 *                                     const struct qat_backend_ops **ops); */
#define QAT_BACKEND_MODULE_ENTRY "qat_backend_module_get"

enum {
    QAT_BACKEND_CAP_HOST_MEMORY = 1u << 0, /* buffers are plain host pointers */
    QAT_BACKEND_CAP_GEMM_BATCHED = 1u << 1
};

/* A backend's collectives for data-parallel training (NCCL in the cuda
 * module), on buffers in its memory. Rank 0's make_id writes a token of
 * id_bytes (at most QAT_BACKEND_COMM_ID_MAX) that lib/dist hands to every
 * rank (rendezvous) for init. all_reduce_sum and broadcast may return
 * before they finish, on the communicator's own queue, after the work the
 * backend queued before the call; wait() puts the backend's later work
 * after them. Errors are reported through the backend's last_error(state)
 * of the state init was given. */
#define QAT_BACKEND_COMM_ID_MAX 256
struct qat_backend_comm_ops {
    size_t id_bytes;
    qat_status (*make_id)(void *state, void *id);
    qat_status (*init)(void *state, const void *id, int rank, int world, int local_rank, void **comm);
    qat_status (*all_reduce_sum)(void *comm, float *buf, int64_t n);
    qat_status (*broadcast)(void *comm, float *buf, int64_t n, int root);
    qat_status (*barrier)(void *comm);
    qat_status (*wait)(void *comm);
    void (*destroy)(void *comm);
};

struct qat_backend_ops {
    uint32_t abi_version;
    const char *name;
    uint32_t caps;
    int score;                           /* higher wins for backend "auto" */

    /* Number of usable devices (CPU backends: 1). 0 = not usable here. */
    int (*probe)(void);
    qat_status (*create)(int threads, void **state);
    void (*destroy)(void *state);
    qat_status (*set_threads)(void *state, int threads);
    /* Host backends: the state's thread pool (core/thread_pool.h), which a
     * caller running its own parallel loops between kernel calls shares, so
     * one set of threads serves both (the packed model's integer GEMMs run
     * on the pool of its float kernels). NULL slot or result: none. */
    struct qat_pool *(*thread_pool)(void *state);
    /* GEMM precision policy (a qat_precision). NULL on backends that
     * compute in fp32 only. get_precision reports the current one (the
     * default before any set_precision). */
    qat_status (*set_precision)(void *state, int precision);
    int (*get_precision)(void *state);
    /* Message of the state's last failure (modules); may be NULL. */
    const char *(*last_error)(void *state);

    /* Buffers, in the backend's memory. alloc returns zeroed memory. upload
     * returns once src may be reused (it need not wait for queued kernels);
     * download returns once dst holds the data. */
    qat_status (*alloc)(void *state, size_t bytes, void **ptr);
    void (*free)(void *state, void *ptr);
    qat_status (*upload)(void *state, void *dst, const void *src, size_t bytes);
    qat_status (*download)(void *state, void *dst, const void *src, size_t bytes);
    qat_status (*synchronize)(void *state);
    /* NULL: the backend trains on one process only. */
    const struct qat_backend_comm_ops *comm;

    /* The kernels, gemm first (kernels.h: signatures and contracts). Every
     * slot may be NULL on a host-memory backend (ref is used). */
#define QAT_KERNEL_SLOT(name, params, args) qat_status(*name) QAT_KERNEL_PARAMS params;
    QAT_BACKEND_KERNELS(QAT_KERNEL_SLOT)
#undef QAT_KERNEL_SLOT
};

/* Built-in backends. */
extern const struct qat_backend_ops qat_backend_ref_ops;
#ifdef QAT_HAVE_ONEDNN
extern const struct qat_backend_ops qat_backend_cpu_ops;
#endif
/* For tests only, opened by exact name: the ref kernels over memory kept
 * PROT_NONE outside the backend's calls (backends/sealed). */
extern const struct qat_backend_ops qat_backend_sealed_ops;

/* Validates a GEMM descriptor (sizes, leading dimensions, pointers) and
 * sets the error message; built-in backends call it first. */
qat_status qat_gemm_desc_validate(const qat_gemm_desc *desc);
/* The same for a qat_attention_desc (sizes, strides, pointers). */
qat_status qat_attention_desc_validate(const qat_attention_desc *desc);
/* The same for a qat_attention_train_desc, of the forward (backward 0) or
 * of the backward (1: dout, dq, dk, dv too): attention_check.h's checks. */
qat_status qat_attention_train_desc_validate(const qat_attention_train_desc *desc, int backward);
/* The same for a qat_linear_desc (sizes, activation, pointers). */
qat_status qat_linear_desc_validate(const qat_linear_desc *desc);

#endif
