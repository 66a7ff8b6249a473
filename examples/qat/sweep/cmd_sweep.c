/* qat sweep: the study's grid as one command. Expands a grid file into
 * cells and runs them here one after another (sweep_run.c), lists them, or
 * writes (and submits) a SLURM array whose tasks each run one cell
 * (sweep_slurm.c). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "sweep_grid.h"
#include "sweep_plan.h"
#include "sweep_run.h"
#include "sweep_slurm.h"

/* "not given": the grid's value stands */
#define FROM_GRID (-1)

typedef struct sweep_args {
    const char *grid, *root, *cell, *dapt, *slurm_script, *backend;
    int list, submit, quiet, plan;
    int64_t threads, gpus_per_cell, gpus_per_node;
    double carbon_intensity, power_watts;
} sweep_args;

/* Flags that only make sense together, or apart. 0, or the exit status. */
static int check_combinations(const sweep_args *a)
{
    if (a->submit && !a->slurm_script) {
        fprintf(stderr, "qat sweep: --submit needs --emit-slurm FILE (the script to submit)\n");
        return 2;
    }
    if (a->cell && a->dapt) {
        fprintf(stderr, "qat sweep: --cell and --dapt select one job each: give one of them\n");
        return 2;
    }
    return 0;
}

/* The jobs --cell or --dapt name, else all of them. 0, or 2 after saying why. */
static int select_jobs(const sweep_grid *g, const sweep_args *a, sweep_selection *sel)
{
    char err[1024];
    *sel = (sweep_selection){0, sweep_grid_cell_count(g), 0, sweep_plan_dapt_count(g)};
    if (a->cell) {
        if (sweep_grid_find(g, a->cell, &sel->first, err, sizeof err) != 0) {
            fprintf(stderr, "qat sweep: --cell: %s\n", err);
            return 2;
        }
        sel->last = sel->first + 1;
        sel->dapt_first = sel->dapt_last = 0;
    }
    if (a->dapt) {
        if (sweep_plan_find_dapt(g, a->dapt, &sel->dapt_first, err, sizeof err) != 0) {
            fprintf(stderr, "qat sweep: --dapt: %s\n", err);
            return 2;
        }
        sel->dapt_last = sel->dapt_first + 1;
        sel->first = sel->last = 0;
    }
    return 0;
}

/* --list: the plan's cost, then every selected DAPT job and cell. */
static int list_jobs(const sweep_grid *g, const sweep_selection *sel)
{
    printf("# %s: %zu cells under %s\n", g->path, sweep_grid_cell_count(g), g->root);
    sweep_plan_print_cost(stdout, g);
    sweep_dapt_job j;
    for (size_t i = sel->dapt_first; i < sel->dapt_last; i++) {
        sweep_plan_dapt_job(g, i, &j);
        printf("d%zu\t%s\t%s\n", i, sweep_dapt_status(&j), j.id);
    }
    sweep_cell c;
    for (size_t i = sel->first; i < sel->last; i++) {
        sweep_grid_cell(g, i, &c);
        printf("%zu\t%s\t%s\n", i, sweep_cell_status(&c), c.id);
    }
    return 0;
}

/* --emit-slurm (and --submit): the array scripts, naming this qat. */
static int emit_slurm(const sweep_grid *g, const sweep_args *a, int threads)
{
    char exe[PATH_MAX], err[1024];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0)
        snprintf(exe, sizeof exe, "qat"); /* no /proc: rely on PATH */
    else
        exe[len] = '\0';
    if (sweep_slurm_emit(g, exe, a->slurm_script, threads, err, sizeof err) != 0) {
        fprintf(stderr, "qat sweep: --emit-slurm: %s\n", err);
        return 1;
    }
    size_t n = sweep_grid_cell_count(g), n_dapt = sweep_plan_dapt_count(g);
    sweep_plan_print_cost(stdout, g);
    printf("%s: SLURM array of %zu cells (tasks 0-%zu) for %s\n", a->slurm_script, n, n - 1, g->path);
    char dapt_script[PATH_MAX + 16];
    if (n_dapt > 0) {
        sweep_slurm_dapt_script_path(a->slurm_script, dapt_script, sizeof dapt_script);
        printf("%s: SLURM array of %zu DAPT jobs (tasks 0-%zu); the cells depend on it\n", dapt_script, n_dapt,
               n_dapt - 1);
    }
    if (a->submit && (n_dapt > 0 ? sweep_slurm_submit_chain(g, a->slurm_script, dapt_script, err, sizeof err)
                                 : sweep_slurm_submit(a->slurm_script, err, sizeof err)) != 0) {
        fprintf(stderr, "qat sweep: --submit: %s\n", err);
        return 1;
    }
    return 0;
}

/* The grid with the command line's overrides. 0, or 2 after saying why. */
static int load_grid(const sweep_args *a, sweep_grid *g)
{
    char err[1024];
    if (sweep_grid_load(a->grid, a->root, g, err, sizeof err) != 0) {
        fprintf(stderr, "qat sweep: %s\n", err);
        return 2;
    }
    if (a->plan != FROM_GRID)
        g->plan = (sweep_plan)a->plan;
    if (a->carbon_intensity != FROM_GRID)
        g->carbon_intensity = a->carbon_intensity;
    if (a->power_watts != FROM_GRID)
        g->power_watts = a->power_watts;
    if (a->gpus_per_cell != FROM_GRID)
        g->slurm.gpus_per_cell = a->gpus_per_cell;
    if (a->gpus_per_node != FROM_GRID)
        g->slurm.gpus_per_node = a->gpus_per_node;
    return 0;
}

static int sweep(const sweep_args *a)
{
    sweep_grid g;
    sweep_selection sel;
    int rc = check_combinations(a);
    if (rc != 0 || (rc = load_grid(a, &g)) != 0)
        return rc;
    int64_t threads = a->threads != FROM_GRID ? a->threads : g.threads;
    qat_context *ctx = NULL;
    rc = select_jobs(&g, a, &sel);
    if (rc == 0 && a->list)
        rc = list_jobs(&g, &sel);
    else if (rc == 0 && a->slurm_script)
        rc = emit_slurm(&g, a, (int)threads);
    else if (rc == 0 && (rc = qat_cli_context("sweep", a->backend ? a->backend : g.backend, threads, -1, &ctx)) == 0) {
        qat_comm *comm = NULL;
        int64_t rank, world;
        rc = qat_cli_comm("sweep", ctx, &comm, &rank, &world);
        if (rc == 0)
            rc = sweep_run_local(ctx, comm, &g, &sel, a->quiet);
        qat_comm_free(comm);
    }
    qat_context_free(ctx);
    sweep_grid_free(&g);
    return rc;
}

int qat_cli_sweep(int argc, char **argv)
{
    static const qat_cli_choice plans[] = {
        {"per-alpha", SWEEP_PLAN_PER_ALPHA}, {"shared-prefix", SWEEP_PLAN_SHARED_PREFIX}, {NULL, 0}};
    sweep_args a = {.plan = FROM_GRID, .threads = FROM_GRID, .gpus_per_cell = FROM_GRID, .gpus_per_node = FROM_GRID, .carbon_intensity = FROM_GRID, .power_watts = FROM_GRID};
    const qat_cli_option options[] = {
        {.name = "--grid", .type = QAT_CLI_STRING, .to.str = &a.grid, .value_name = "FILE", .flags = QAT_CLI_REQUIRED,
         .help = "the grid (.yaml/.yml needs libyaml; .json always works)"},
        QAT_OPT_STRING("--root", &a.root, "DIR",
                       "where cell directories go (default: the grid's root, else runs/<name> next to the grid file)"),
        QAT_OPT_FLAG("--list", &a.list, "print the plan's cost, every DAPT job and cell (index, status, id), and exit"),
        QAT_OPT_CHOICE("--plan", &a.plan, NULL, plans,
                       "per-alpha: each cell its own DAPT; shared-prefix: one DAPT job per model x config x seed, "
                       "cells from its snapshots (default: the grid's 'plan')"),
        QAT_OPT_STRING("--cell", &a.cell, "N|ID",
                       "run only this cell (an index 0..N-1 as SLURM_ARRAY_TASK_ID, or an id)"),
        QAT_OPT_STRING("--dapt", &a.dapt, "N|ID", "run only this DAPT job of the shared-prefix plan"),
        QAT_OPT_STRING("--emit-slurm", &a.slurm_script, "FILE",
                       "write a SLURM array script, one array task per cell (and, shared-prefix, FILE's -dapt twin, "
                       "one task per DAPT job), and exit"),
        QAT_OPT_FLAG("--submit", &a.submit,
                     "with --emit-slurm: sbatch them, the cells after the DAPT jobs (--dependency=afterok; alpha-0 "
                     "cells do not wait)"),
        QAT_OPT_INT("--threads", &a.threads, "N", 0, qat_cli_max_threads(),
                    "threads per cell (default: the grid's 'threads', else the library's)"),
        QAT_OPT_INT("--gpus-per-cell", &a.gpus_per_cell, "N", 0, 64,
                    "with --emit-slurm: GPUs per cell (default: the grid's slurm.gpus_per_cell, else none); above "
                    "one, the cell runs data-parallel as N srun tasks, one GPU each (docs/distributed.md)"),
        QAT_OPT_INT("--gpus-per-node", &a.gpus_per_node, "G", 0, 64,
                    "with --emit-slurm: GPUs of one node (default: the grid's slurm.gpus_per_node, else 0: a cell's "
                    "GPUs on one node); a cell of more spans N / G nodes of G tasks (G must divide N)"),
        QAT_OPT_STRING("--backend", &a.backend, "NAME", "backend (default: the grid's 'backend', else the best available)"),
        QAT_OPT_DOUBLE("--carbon-intensity", &a.carbon_intensity, "G", 0, 1e5,
                       "g CO2eq/kWh for each cell's energy (default: the grid's 'carbon_intensity', else 56, France; "
                       "docs/energy.md). SLURM scripts read the grid: put it there for --emit-slurm"),
        QAT_OPT_DOUBLE("--power-watts", &a.power_watts, "W", 0, 1e7,
                       "the energy estimate's draw where no counter is readable (default: the grid's 'power_watts', "
                       "else 10 W per thread, 300 W on CUDA)"),
        QAT_OPT_FLAG("--quiet", &a.quiet, "no per-step progress, only a line per cell"),
    };
    const qat_cli_spec spec = {
        .command = "sweep",
        .synopsis = "--grid GRID.yaml|GRID.json [options]",
        .about = "Expands the grid (configs x alphas x models x tasks x seeds; format in docs/sweep.md) into cells\n"
                 "and runs every cell here, one after another, unless --list, --cell or --emit-slurm says otherwise.\n"
                 "Cells whose results.json exists are skipped; interrupted ones resume from their checkpoints.\n",
        .epilog = "Exit status: 0 when every selected cell has results, 1 when a cell failed, 2 on bad usage/grid,\n"
                  "130 when interrupted (the interrupted cell keeps its checkpoint).\n",
        .options = options,
        .n_options = QAT_CLI_COUNT(options),
    };
    int rc = qat_cli_parse(&spec, argc, argv);
    return rc != QAT_CLI_RUN ? rc : sweep(&a);
}
