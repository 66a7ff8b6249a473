/* The grid as a graph of jobs (docs/sweep.md, "Plans"): with the shared-
 * prefix plan, one DAPT job per model x config x seed (whose schedule
 * reaches the largest alpha and snapshots every alpha's step), then the
 * fine-tuning cells, each depending on its DAPT job (alpha 0 on none);
 * with the per-alpha plan, the cells alone. Also the steps each plan
 * costs. */
#ifndef QAT_CLI_SWEEP_PLAN_H
#define QAT_CLI_SWEEP_PLAN_H

#include <stdio.h>

#include "sweep_grid.h"

typedef struct sweep_dapt_job {
    size_t index;
    const sweep_model *model;
    const char *config;
    uint64_t seed;
    char id[512];        /* _dapt/<model>/<config>/s<seed>: also its dir under the root */
    char out_dir[4096];
} sweep_dapt_job;

/* DAPT jobs of the grid's plan: models x configs x seeds (seeds fastest)
 * for the shared prefix when some alpha needs DAPT, else 0. */
size_t sweep_plan_dapt_count(const sweep_grid *g);
void sweep_plan_dapt_job(const sweep_grid *g, size_t index, sweep_dapt_job *job);
/* The DAPT job a cell starts from, or -1 (per-alpha plan, alpha 0). */
long sweep_plan_cell_dapt(const sweep_grid *g, const sweep_cell *c);
/* Finds a DAPT job by index ("1") or id; -1 with a message if none. */
int sweep_plan_find_dapt(const sweep_grid *g, const char *key, size_t *index, char *err, size_t errcap);

/* DAPT steps of the shared run: round(max alpha * B_total), and
 * round(alpha_max * B_total) when an alpha is "auto". */
int64_t sweep_plan_dapt_schedule(const sweep_grid *g);

typedef struct sweep_cost {
    int64_t dapt;      /* DAPT optimizer steps (an upper bound with "auto") */
    int64_t finetune;  /* fine-tuning steps (a lower bound with "auto") */
    size_t dapt_jobs;  /* DAPT runs: jobs (shared) or cells with alpha != 0 (per-alpha) */
} sweep_cost;

/* What the grid costs under `plan` (the grid's own or the other one). */
void sweep_plan_cost(const sweep_grid *g, sweep_plan plan, sweep_cost *cost);
/* One line comparing the grid's plan with the per-alpha plan. */
void sweep_plan_print_cost(FILE *out, const sweep_grid *g);

#endif
