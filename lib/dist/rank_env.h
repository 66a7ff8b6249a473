/* Where this process stands in a data-parallel job: its rank, the world
 * size, its rank on the node, and how the ranks meet (rendezvous). Read
 * from the variables torchrun sets (RANK, WORLD_SIZE, LOCAL_RANK,
 * MASTER_ADDR, MASTER_PORT) or srun's (SLURM_PROCID, SLURM_NTASKS,
 * SLURM_LOCALID), with QAT_DIST_FILE for a rendezvous through a shared
 * file and QAT_DIST_TIMEOUT for how long to wait for the other ranks. */
#ifndef QAT_LIB_DIST_RANK_ENV_H
#define QAT_LIB_DIST_RANK_ENV_H

#include "qat/core.h"

#define QAT_DIST_ADDR_MAX 256
#define QAT_DIST_PATH_MAX 4096

typedef enum qat_rank_source {
    QAT_RANK_SOURCE_NONE = 0, /* no variable set: one process */
    QAT_RANK_SOURCE_TORCHRUN, /* RANK / WORLD_SIZE */
    QAT_RANK_SOURCE_SLURM     /* SLURM_PROCID / SLURM_NTASKS */
} qat_rank_source;

typedef struct qat_rank_env {
    int rank, world, local_rank;
    qat_rank_source source;
    char master_addr[QAT_DIST_ADDR_MAX]; /* "" unless MASTER_ADDR */
    int master_port;                     /* 0 unless MASTER_PORT */
    char file[QAT_DIST_PATH_MAX];        /* "" unless QAT_DIST_FILE */
    double timeout_s;                    /* QAT_DIST_TIMEOUT, default 300 */
} qat_rank_env;

/* The variables, through `get` (getenv's contract: NULL when unset), so
 * tests need not touch the process environment. torchrun's variables win
 * over SLURM's when both are set (torchrun inside an srun allocation).
 * A world of more than one rank needs a rendezvous: MASTER_ADDR with
 * MASTER_PORT, or QAT_DIST_FILE. Every bad or inconsistent value is
 * refused with a message naming the variable. */
typedef const char *(*qat_env_lookup)(void *user, const char *name);
qat_status qat_rank_env_parse(qat_env_lookup get, void *user, qat_rank_env *out);
/* The same over the process environment. */
qat_status qat_rank_env_from_process(qat_rank_env *out);
/* "RANK/WORLD_SIZE" or "SLURM_PROCID/SLURM_NTASKS": where the rank came from. */
const char *qat_rank_source_name(qat_rank_source source);

#endif
