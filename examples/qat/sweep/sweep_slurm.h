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

/* The shared-prefix plan (sweep_plan.h): sweep_slurm_emit also writes the
 * DAPT jobs' array script, at this path (FILE.sbatch -> FILE-dapt.sbatch,
 * else FILE-dapt). */
void sweep_slurm_dapt_script_path(const char *script, char *out, size_t cap);
/* Submits the DAPT array, then the cells that start from a snapshot with
 * --dependency=afterok:<DAPT job> (an array job id: every task must
 * succeed), and the alpha-0 cells without a dependency; each sbatch gets
 * --array with the cell indices it runs. Prints the job ids. */
int sweep_slurm_submit_chain(const sweep_grid *grid, const char *cells_script, const char *dapt_script, char *err,
                             size_t errcap);
/* "0-3,5,7-8": SLURM's --array list of the sorted indices. */
void sweep_slurm_index_list(const size_t *indices, size_t n, char *out, size_t cap);

#endif
