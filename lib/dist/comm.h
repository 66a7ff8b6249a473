/* The communicator of a data-parallel job (the public qat_comm): sums of
 * float buffers over the ranks, a barrier, and a broadcast, on buffers in
 * the backend memory of the context it was made for. Three kinds:
 *
 *   single    one rank: every call is a no-op (comm_single.c)
 *   loopback  N ranks as threads of one process, for tests: each call
 *             stages through host memory and sums in rank order, so the
 *             result is deterministic and the same on every rank
 *             (comm_loopback.c)
 *   backend   the backend's own (NCCL in the cuda module), met through a
 *             rendezvous (comm_backend.c, rendezvous.c)
 *
 * Every rank makes the same calls in the same order with the same sizes,
 * as with NCCL. all_reduce_sum may return before the sum is done (NCCL
 * queues it on its own stream, overlapping the backward); wait() orders
 * the backend's later work after every reduction queued so far. */
#ifndef QAT_LIB_DIST_COMM_H
#define QAT_LIB_DIST_COMM_H

#include <stdint.h>

#include "core/context.h"
#include "core/refcount.h"
#include "dist/rank_env.h"
#include "qat/train.h"

typedef struct qat_comm_impl {
    const char *kind;
    qat_status (*all_reduce_sum)(qat_comm *c, float *buf, int64_t n);
    qat_status (*broadcast)(qat_comm *c, float *buf, int64_t n, int root);
    qat_status (*barrier)(qat_comm *c);
    qat_status (*wait)(qat_comm *c);
    void (*destroy)(qat_comm *c);
} qat_comm_impl;

struct qat_comm {
    qat_refcount refs;
    const qat_comm_impl *impl;
    void *self;                  /* the implementation's state */
    qat_context *ctx;            /* a reference: the buffers' backend */
    int rank, world, local_rank;
};

/* A communicator over `impl` and `self` (taken: destroyed with it). */
qat_status qat_comm_wrap(qat_context *ctx, const qat_comm_impl *impl, void *self, int rank, int world,
                         int local_rank, qat_comm **out);
qat_comm *qat_comm_retain(qat_comm *c);

qat_status qat_comm_single(qat_context *ctx, qat_comm **out);

/* In-process ranks: a group for `world` threads, then each thread joins
 * with its own context and rank (each rank once). The group is freed with
 * its last communicator (or by qat_loopback_group_free before any joins).
 * A rank that waits more than timeout_s for the others fails instead of
 * hanging. */
typedef struct qat_loopback_group qat_loopback_group;
qat_status qat_loopback_group_create(int world, double timeout_s, qat_loopback_group **out);
qat_status qat_comm_loopback(qat_loopback_group *g, qat_context *ctx, int rank, qat_comm **out);
void qat_loopback_group_free(qat_loopback_group *g);

/* The communicator of rank e->rank (qat_comm_create_from_env over a parsed
 * environment): single for one rank; else the backend's, after the
 * rendezvous, or an error when the backend has none. */
qat_status qat_comm_create_for_ranks(qat_context *ctx, const qat_rank_env *e, qat_comm **out);

/* Calls through the implementation, with the arguments checked. */
qat_status qat_comm_all_reduce_sum(qat_comm *c, float *buf, int64_t n);
qat_status qat_comm_broadcast(qat_comm *c, float *buf, int64_t n, int root);
/* Host bytes (a multiple of 4) from rank `root` to every rank, through a
 * backend buffer of the communicator's context; waits. A copy, never a
 * sum: any bits travel as floats' bits. */
qat_status qat_comm_broadcast_host(qat_comm *c, void *data, size_t bytes, int root);
qat_status qat_comm_barrier(qat_comm *c);
qat_status qat_comm_wait(qat_comm *c);

#endif
