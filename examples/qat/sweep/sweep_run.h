/* Running a grid's jobs here, one after another (qat sweep without
 * --emit-slurm): the DAPT jobs of the shared-prefix plan first, then the
 * cells. Re-running is always safe: a finished job is skipped and an
 * interrupted one resumes from its checkpoints (the library does that given
 * the same out dir). */
#ifndef QAT_CLI_SWEEP_RUN_H
#define QAT_CLI_SWEEP_RUN_H

#include <qat/qat.h>

#include "sweep_plan.h"

/* Which jobs a command acts on: cells [first, last), DAPT jobs
 * [dapt_first, dapt_last). */
typedef struct sweep_selection {
    size_t first, last, dapt_first, dapt_last;
} sweep_selection;

/* "done" (results.json, dapt.json), "started" (cell.json, metrics.jsonl) or "pending". */
const char *sweep_cell_status(const sweep_cell *c);
const char *sweep_dapt_status(const sweep_dapt_job *j);

/* Runs the selection on ctx, each cell data-parallel over comm when it
 * spans several ranks (DAPT jobs are then refused; NULL: one rank); SIGINT and SIGTERM (SLURM's warning before a
 * time limit) stop at the next step with a checkpoint. Prints a line per
 * job and a summary. Returns the exit status: 0 when every selected cell
 * has results, 1 when one failed, 130 when interrupted. */
int sweep_run_local(qat_context *ctx, qat_comm *comm, const sweep_grid *g, const sweep_selection *sel, int quiet);

#endif
