/* How the ranks of a job meet before their communicator exists: rank 0
 * hands every other rank one small token (NCCL's unique id), through a
 * TCP socket at MASTER_ADDR:MASTER_PORT (rank 0 listens there, as
 * torchrun's store does) or through the file QAT_DIST_FILE on a shared
 * file system. Every wait is bounded by the environment's timeout. */
#ifndef QAT_LIB_DIST_RENDEZVOUS_H
#define QAT_LIB_DIST_RENDEZVOUS_H

#include <stddef.h>

#include "dist/rank_env.h"

/* Rank 0: sends the `bytes` at token to every other rank and returns once
 * each has it. Other ranks: receive them into token. */
qat_status qat_rendezvous_share(const qat_rank_env *e, void *token, size_t bytes);
/* After every rank has used the token (a barrier later): rank 0 removes
 * the rendezvous file, so the path may be reused by the next job. */
void qat_rendezvous_done(const qat_rank_env *e);

#endif
