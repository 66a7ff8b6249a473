/* SLURM array scripts for a sweep grid (sweep_slurm.c). */
#ifndef QAT_CLI_SWEEP_SLURM_H
#define QAT_CLI_SWEEP_SLURM_H

#include "sweep_grid.h"

/* Writes a bash script whose array tasks 0..N-1 each run one cell with
 * qat_exe; creates <root>/slurm-logs for the tasks' output. threads (0 =
 * unset) sets --cpus-per-task when the grid's slurm section does not. */
int sweep_slurm_emit(const sweep_grid *grid, const char *qat_exe, const char *script, int threads, char *err,
                     size_t errcap);
/* Runs `sbatch script`, its output going to ours. */
int sweep_slurm_submit(const char *script, char *err, size_t errcap);

#endif
