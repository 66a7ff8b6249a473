/* qat sweep: the study's grid as one command. Expands a grid file into
 * cells and runs them here one after another, or writes (and submits) a
 * SLURM array whose tasks each run one cell. Re-running is always safe: a
 * cell with a results.json is skipped and an interrupted one resumes from
 * its checkpoints (qat_pipeline_run does that given the same out dir). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "sweep_grid.h"
#include "sweep_plan.h"
#include "sweep_slurm.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: qat sweep --grid GRID.yaml|GRID.json [options]\n"
            "Expands the grid (configs x alphas x models x tasks x seeds; format in docs/sweep.md) into cells\n"
            "and runs every cell here, one after another, unless --list, --cell or --emit-slurm says otherwise.\n"
            "Cells whose results.json exists are skipped; interrupted ones resume from their checkpoints.\n"
            "  --grid FILE          the grid (.yaml/.yml needs libyaml; .json always works)\n"
            "  --root DIR           where cell directories go (default: the grid's root, else runs/<name>\n"
            "                       next to the grid file)\n"
            "  --list               print the plan's cost, every DAPT job and cell (index, status, id), and exit\n"
            "  --plan PLAN          per-alpha (each cell its own DAPT) or shared-prefix (one DAPT job per\n"
            "                       model x config x seed, cells from its snapshots); default: the grid's 'plan'\n"
            "  --cell N|ID          run only this cell (an index 0..N-1 as SLURM_ARRAY_TASK_ID, or an id)\n"
            "  --dapt N|ID          run only this DAPT job of the shared-prefix plan\n"
            "  --emit-slurm FILE    write a SLURM array script, one array task per cell (and, shared-prefix,\n"
            "                       FILE's -dapt twin, one task per DAPT job), and exit\n"
            "  --submit             with --emit-slurm: sbatch them, the cells after the DAPT jobs\n"
            "                       (--dependency=afterok; alpha-0 cells do not wait)\n"
            "  --threads N          threads per cell (default: the grid's 'threads', else the library's)\n"
            "  --backend NAME       backend (default: the grid's 'backend', else the best available)\n"
            "  --carbon-intensity G g CO2eq/kWh for each cell's energy (default: the grid's\n"
            "                       'carbon_intensity', else 56, France; docs/energy.md). SLURM scripts\n"
            "                       read the grid: put it there for --emit-slurm\n"
            "  --power-watts W      the energy estimate's draw where no counter is readable (default: the\n"
            "                       grid's 'power_watts', else 10 W per thread, 300 W on CUDA)\n"
            "  --quiet              no per-step progress, only a line per cell\n"
            "  -h, --help           this help\n"
            "Exit status: 0 when every selected cell has results, 1 when a cell failed, 2 on bad usage/grid,\n"
            "130 when interrupted (the interrupted cell keeps its checkpoint).\n");
}

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

typedef struct progress_state {
    const char *id;
    size_t index, count;
    int tty, quiet;
    struct timespec start;
    char phase[16];
} progress_state;

/* The library checkpoints and returns when we ask it to stop, so ^C or a
 * SLURM preemption signal loses at most checkpoint_every steps. */
static int on_progress(void *user, const char *phase, int64_t step, int64_t total, double loss)
{
    progress_state *p = user;
    if (interrupted)
        return 1;
    if (p->quiet)
        return 0;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (strcmp(p->phase, phase) != 0) {
        if (p->tty && p->phase[0])
            fputc('\n', stderr);
        snprintf(p->phase, sizeof p->phase, "%s", phase);
        p->start = now;
        return 0;
    }
    if (strcmp(phase, "eval") == 0)
        return 0;
    double elapsed = (double)(now.tv_sec - p->start.tv_sec) + 1e-9 * (double)(now.tv_nsec - p->start.tv_nsec);
    double rate = step / (elapsed > 0 ? elapsed : 1e-9);
    int64_t every = total >= 20 ? total / 10 : 1;
    if (p->tty)
        fprintf(stderr, "\r[%zu/%zu] %s %s %lld/%lld loss %.4f (%.2f steps/s) ", p->index + 1, p->count, p->id, phase,
                (long long)step, (long long)total, loss, rate);
    else if (step == total || step % every == 0)
        fprintf(stderr, "[%zu/%zu] %s %s %lld/%lld loss %.4f (%.2f steps/s)\n", p->index + 1, p->count, p->id, phase,
                (long long)step, (long long)total, loss, rate);
    return 0;
}

static int mkdirs(const char *path)
{
    char buf[PATH_MAX + 64];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

static int file_exists(const char *dir, const char *name)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

static const char *cell_status(const sweep_cell *c)
{
    if (file_exists(c->out_dir, "results.json"))
        return "done";
    return file_exists(c->out_dir, "cell.json") ? "started" : "pending";
}

/* cell.json names the cell's grid coordinates next to its results, so
 * `qat report` can label rows and columns by the grid's names rather than
 * by paths. Written before the run (rename: never half a file). */
static int write_cell_json(const sweep_grid *g, const sweep_cell *c)
{
    json_object *j = json_object_new_object();
    json_object_object_add(j, "id", json_object_new_string(c->id));
    json_object_object_add(j, "index", json_object_new_int64((int64_t)c->index));
    json_object_object_add(j, "grid", json_object_new_string(g->path));
    json_object_object_add(j, "sweep", json_object_new_string(g->name));
    json_object_object_add(j, "model", json_object_new_string(c->model->name));
    json_object_object_add(j, "model_path", json_object_new_string(c->model->path));
    json_object_object_add(j, "task", json_object_new_string(c->task->name));
    json_object_object_add(j, "task_train", json_object_new_string(c->task->train));
    json_object_object_add(j, "quant", json_object_new_string(c->config));
    json_object_object_add(j, "alpha", c->alpha == SWEEP_ALPHA_AUTO ? json_object_new_string("auto")
                                                                    : json_object_new_double(c->alpha));
    json_object_object_add(j, "seed", json_object_new_int64((int64_t)c->seed));
    json_object_object_add(j, "total_steps", json_object_new_int64(g->total_steps));
    json_object_object_add(j, "plan", json_object_new_string(g->plan == SWEEP_PLAN_SHARED_PREFIX ? "shared-prefix"
                                                                                                 : "per-alpha"));
    long dj = sweep_plan_cell_dapt(g, c);
    if (dj >= 0) {
        sweep_dapt_job job;
        sweep_plan_dapt_job(g, (size_t)dj, &job);
        json_object_object_add(j, "dapt_job", json_object_new_string(job.id));
    }
    char path[PATH_MAX + 16], tmp[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/cell.json", c->out_dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int rc = json_object_to_file_ext(tmp, j, JSON_C_TO_STRING_PRETTY) == 0 && rename(tmp, path) == 0 ? 0 : -1;
    json_object_put(j);
    return rc;
}

/* The grid's optimisation settings, shared by its DAPT jobs and cells. */
static void grid_train_options(const sweep_grid *g, qat_train_options *t)
{
    t->batch_size = g->batch;
    t->micro_batch_size = g->micro_batch;
    t->learning_rate = g->lr;
    t->warmup_ratio = g->warmup;
}

static qat_status run_cell(qat_context *ctx, const sweep_grid *g, const sweep_cell *c, size_t count, int quiet,
                           double *f1)
{
    if (mkdirs(c->out_dir) != 0 || write_cell_json(g, c) != 0) {
        fprintf(stderr, "qat sweep: cell %zu: cannot write %s: %s\n", c->index, c->out_dir, strerror(errno));
        return QAT_ERR_IO;
    }
    qat_pipeline_options o;
    qat_pipeline_options_init(&o, QAT_PIPELINE_OPTIONS_VERSION);
    o.model_dir = c->model->path;
    o.tokenizer = c->model->tokenizer;
    o.corpus = c->model->corpus;
    o.quant = c->config;
    o.alpha = c->alpha == SWEEP_ALPHA_AUTO ? 0.0 : c->alpha;
    o.adaptive = g->adaptive;
    o.adaptive.enabled = c->alpha == SWEEP_ALPHA_AUTO;
    long dj = sweep_plan_cell_dapt(g, c);
    sweep_dapt_job job;
    /* results.json records the plan, alpha-0 cells included */
    o.plan = g->plan == SWEEP_PLAN_SHARED_PREFIX ? QAT_PLAN_SHARED_PREFIX : QAT_PLAN_PER_ALPHA;
    if (dj >= 0) {
        sweep_plan_dapt_job(g, (size_t)dj, &job);
        o.dapt_dir = job.out_dir;
    }
    o.seed = c->seed;
    o.total_steps = g->total_steps;
    o.train_file = c->task->train;
    o.eval_file = c->task->eval;
    o.test_file = c->task->test;
    o.out_dir = c->out_dir;
    o.max_seq_len = g->seq_len;
    o.checkpoint_every = g->checkpoint_every;
    grid_train_options(g, &o.train);
    o.carbon_intensity = g->carbon_intensity;
    o.power_watts = g->power_watts;
    progress_state p = {c->id, c->index, count, isatty(STDERR_FILENO), quiet, {0, 0}, ""};
    o.progress = on_progress;
    o.progress_user = &p;
    qat_status st = qat_pipeline_run(ctx, &o, f1);
    if (p.tty && !quiet && p.phase[0])
        fputc('\n', stderr);
    return st;
}

static int dapt_done(const sweep_dapt_job *j)
{
    return file_exists(j->out_dir, "dapt.json");
}

static const char *dapt_status(const sweep_dapt_job *j)
{
    if (dapt_done(j))
        return "done";
    return file_exists(j->out_dir, "metrics.jsonl") ? "started" : "pending";
}

/* One shared DAPT run: the schedule reaches the largest alpha, snapshots
 * at every alpha's step (and where adaptive alpha stops, for "auto"). */
static qat_status run_dapt_job(qat_context *ctx, const sweep_grid *g, const sweep_dapt_job *j, size_t count, int quiet)
{
    if (mkdirs(j->out_dir) != 0) {
        fprintf(stderr, "qat sweep: DAPT job %zu: cannot create %s: %s\n", j->index, j->out_dir, strerror(errno));
        return QAT_ERR_IO;
    }
    double *alphas = malloc((g->n_alphas ? g->n_alphas : 1) * sizeof *alphas);
    if (!alphas) {
        fprintf(stderr, "qat sweep: DAPT job %zu: out of memory\n", j->index);
        return QAT_ERR_OUT_OF_MEMORY;
    }
    size_t n = 0;
    for (size_t i = 0; i < g->n_alphas; i++)
        if (g->alphas[i] != SWEEP_ALPHA_AUTO)
            alphas[n++] = g->alphas[i];
    qat_dapt_options o;
    qat_dapt_options_init(&o, QAT_DAPT_OPTIONS_VERSION);
    o.model_dir = j->model->path;
    o.tokenizer = j->model->tokenizer;
    o.corpus = j->model->corpus;
    o.quant = j->config;
    o.seed = j->seed;
    o.total_steps = g->total_steps;
    o.alphas = alphas;
    o.n_alphas = n;
    o.adaptive = g->adaptive; /* enabled when an alpha is "auto" */
    o.out_dir = j->out_dir;
    o.max_seq_len = g->seq_len;
    o.checkpoint_every = g->checkpoint_every;
    grid_train_options(g, &o.train);
    o.carbon_intensity = g->carbon_intensity;
    o.power_watts = g->power_watts;
    progress_state p = {j->id, j->index, count, isatty(STDERR_FILENO), quiet, {0, 0}, ""};
    o.progress = on_progress;
    o.progress_user = &p;
    qat_status st = qat_dapt_run(ctx, &o);
    if (p.tty && !quiet && p.phase[0])
        fputc('\n', stderr);
    free(alphas);
    return st;
}

/* Runs DAPT jobs [first, last) that are not done; marks failed ones. */
static size_t run_dapt_jobs(qat_context *ctx, const sweep_grid *g, size_t first, size_t last, int quiet,
                            unsigned char *failed_jobs)
{
    size_t n = sweep_plan_dapt_count(g), failed = 0;
    for (size_t i = first; i < last && !interrupted; i++) {
        sweep_dapt_job j;
        sweep_plan_dapt_job(g, i, &j);
        if (dapt_done(&j)) {
            printf("[dapt %zu/%zu] %s: done already, skipped\n", i + 1, n, j.id);
            continue;
        }
        printf("[dapt %zu/%zu] %s: %s (%lld steps)\n", i + 1, n, j.id,
               file_exists(j.out_dir, "metrics.jsonl") ? "resuming" : "starting",
               (long long)sweep_plan_dapt_schedule(g));
        fflush(stdout);
        qat_status st = run_dapt_job(ctx, g, &j, n, quiet);
        if (st == QAT_OK) {
            printf("[dapt %zu/%zu] %s: done\n", i + 1, n, j.id);
        } else if (interrupted) {
            printf("[dapt %zu/%zu] %s: interrupted, checkpoint kept (run again to resume)\n", i + 1, n, j.id);
        } else {
            fprintf(stderr, "qat sweep: DAPT job %zu (%s) failed: %s (%s)\n", i, j.id, qat_last_error(),
                    qat_status_string(st));
            if (failed_jobs)
                failed_jobs[i] = 1;
            failed++;
        }
        fflush(stdout);
    }
    return failed;
}

int qat_cli_sweep(int argc, char **argv)
{
    const char *grid_path = NULL, *root = NULL, *cell_key = NULL, *slurm_script = NULL, *backend = NULL;
    const char *dapt_key = NULL, *plan = NULL;
    int list = 0, submit = 0, quiet = 0;
    long threads = -1;
    double carbon_intensity = -1, power_watts = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--list")) {
            list = 1;
            continue;
        }
        if (!strcmp(a, "--submit")) {
            submit = 1;
            continue;
        }
        if (!strcmp(a, "--quiet")) {
            quiet = 1;
            continue;
        }
        int takes_value = !strcmp(a, "--grid") || !strcmp(a, "--root") || !strcmp(a, "--cell") ||
                          !strcmp(a, "--emit-slurm") || !strcmp(a, "--threads") || !strcmp(a, "--backend") ||
                          !strcmp(a, "--carbon-intensity") || !strcmp(a, "--power-watts") ||
                          !strcmp(a, "--dapt") || !strcmp(a, "--plan");
        if (!takes_value) {
            fprintf(stderr, "qat sweep: unknown option %s\n", a);
            usage(stderr);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "qat sweep: %s needs a value\n", a);
            return 2;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--grid")) grid_path = v;
        else if (!strcmp(a, "--root")) root = v;
        else if (!strcmp(a, "--cell")) cell_key = v;
        else if (!strcmp(a, "--dapt")) dapt_key = v;
        else if (!strcmp(a, "--plan")) plan = v;
        else if (!strcmp(a, "--emit-slurm")) slurm_script = v;
        else if (!strcmp(a, "--backend")) backend = v;
        else if (!strcmp(a, "--carbon-intensity") || !strcmp(a, "--power-watts")) {
            char *end;
            double x = strtod(v, &end), hi = !strcmp(a, "--power-watts") ? 1e7 : 1e5;
            if (*end || end == v || !(x >= 0 && x < hi)) {
                fprintf(stderr, "qat sweep: %s: '%s' is not a number in [0, %g)\n", a, v, hi);
                return 2;
            }
            *(!strcmp(a, "--power-watts") ? &power_watts : &carbon_intensity) = x;
        } else {
            char *end;
            threads = strtol(v, &end, 10);
            if (*end || end == v || threads < 0 || threads > 4096) {
                fprintf(stderr, "qat sweep: --threads: '%s' is not a thread count (0..4096)\n", v);
                return 2;
            }
        }
    }
    if (!grid_path) {
        fprintf(stderr, "qat sweep: --grid is required\n");
        usage(stderr);
        return 2;
    }
    if (submit && !slurm_script) {
        fprintf(stderr, "qat sweep: --submit needs --emit-slurm FILE (the script to submit)\n");
        return 2;
    }
    if (cell_key && dapt_key) {
        fprintf(stderr, "qat sweep: --cell and --dapt select one job each: give one of them\n");
        return 2;
    }
    if (plan && strcmp(plan, "per-alpha") && strcmp(plan, "shared-prefix")) {
        fprintf(stderr, "qat sweep: --plan: '%s' is not a plan (per-alpha or shared-prefix)\n", plan);
        return 2;
    }
    sweep_grid g;
    char err[1024];
    if (sweep_grid_load(grid_path, root, &g, err, sizeof err) != 0) {
        fprintf(stderr, "qat sweep: %s\n", err);
        return 2;
    }
    if (plan)
        g.plan = strcmp(plan, "shared-prefix") ? SWEEP_PLAN_PER_ALPHA : SWEEP_PLAN_SHARED_PREFIX;
    size_t n_dapt = sweep_plan_dapt_count(&g), dapt_first = 0, dapt_last = n_dapt;
    size_t n = sweep_grid_cell_count(&g), first = 0, last = n;
    if (threads < 0)
        threads = (long)g.threads;
    if (carbon_intensity >= 0)
        g.carbon_intensity = carbon_intensity;
    if (power_watts >= 0)
        g.power_watts = power_watts;
    int rc = 0;
    if (cell_key) {
        if (sweep_grid_find(&g, cell_key, &first, err, sizeof err) != 0) {
            fprintf(stderr, "qat sweep: --cell: %s\n", err);
            sweep_grid_free(&g);
            return 2;
        }
        last = first + 1;
        dapt_first = dapt_last = 0;
    }
    if (dapt_key) {
        if (sweep_plan_find_dapt(&g, dapt_key, &dapt_first, err, sizeof err) != 0) {
            fprintf(stderr, "qat sweep: --dapt: %s\n", err);
            sweep_grid_free(&g);
            return 2;
        }
        dapt_last = dapt_first + 1;
        first = last = 0;
    }
    if (list) {
        printf("# %s: %zu cells under %s\n", g.path, n, g.root);
        sweep_plan_print_cost(stdout, &g);
        sweep_dapt_job j;
        for (size_t i = dapt_first; i < dapt_last; i++) {
            sweep_plan_dapt_job(&g, i, &j);
            printf("d%zu\t%s\t%s\n", i, dapt_status(&j), j.id);
        }
        sweep_cell c;
        for (size_t i = first; i < last; i++) {
            sweep_grid_cell(&g, i, &c);
            printf("%zu\t%s\t%s\n", i, cell_status(&c), c.id);
        }
        goto out;
    }
    if (slurm_script) {
        char exe[PATH_MAX];
        ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (len <= 0)
            snprintf(exe, sizeof exe, "qat"); /* no /proc: rely on PATH */
        else
            exe[len] = '\0';
        if (sweep_slurm_emit(&g, exe, slurm_script, (int)threads, err, sizeof err) != 0) {
            fprintf(stderr, "qat sweep: --emit-slurm: %s\n", err);
            rc = 1;
            goto out;
        }
        sweep_plan_print_cost(stdout, &g);
        printf("%s: SLURM array of %zu cells (tasks 0-%zu) for %s\n", slurm_script, n, n - 1, g.path);
        char dapt_script[PATH_MAX + 16];
        if (n_dapt > 0) {
            sweep_slurm_dapt_script_path(slurm_script, dapt_script, sizeof dapt_script);
            printf("%s: SLURM array of %zu DAPT jobs (tasks 0-%zu); the cells depend on it\n", dapt_script, n_dapt,
                   n_dapt - 1);
        }
        if (submit && (n_dapt > 0 ? sweep_slurm_submit_chain(&g, slurm_script, dapt_script, err, sizeof err)
                                  : sweep_slurm_submit(slurm_script, err, sizeof err)) != 0) {
            fprintf(stderr, "qat sweep: --submit: %s\n", err);
            rc = 1;
        }
        goto out;
    }

    qat_context *ctx = NULL;
    qat_status st = qat_context_create(backend ? backend : g.backend, &ctx);
    if (st != QAT_OK) {
        rc = qat_cli_fail("sweep", "cannot create a context", st);
        goto out;
    }
    if (threads > 0 && (st = qat_context_set_int(ctx, QAT_CTX_THREADS, threads)) != QAT_OK) {
        rc = qat_cli_fail("sweep", "bad thread count", st);
        qat_context_free(ctx);
        goto out;
    }
    /* SIGTERM is what SLURM sends before killing a task at its time limit. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    size_t done = 0, skipped = 0, failed = 0;
    /* The graph: DAPT jobs first, then the cells that start from them. */
    unsigned char *dapt_failed = calloc(n_dapt ? n_dapt : 1, 1);
    if (n_dapt > 0 && dapt_last > dapt_first) {
        sweep_plan_print_cost(stdout, &g);
        failed += run_dapt_jobs(ctx, &g, dapt_first, dapt_last, quiet, dapt_failed);
    }
    for (size_t i = first; i < last && !interrupted; i++) {
        sweep_cell c;
        sweep_grid_cell(&g, i, &c);
        if (file_exists(c.out_dir, "results.json")) {
            printf("[%zu/%zu] %s: done already, skipped\n", i + 1, n, c.id);
            skipped++;
            continue;
        }
        long dj = sweep_plan_cell_dapt(&g, &c);
        if (dj >= 0) {
            sweep_dapt_job job;
            sweep_plan_dapt_job(&g, (size_t)dj, &job);
            if (!dapt_done(&job)) {
                fprintf(stderr, "qat sweep: cell %zu (%s) skipped: its DAPT job %s %s\n", i, c.id, job.id,
                        dapt_failed[dj] ? "failed" : "has not finished (run it: qat sweep --dapt ID, or the whole grid)");
                failed++;
                continue;
            }
        }
        int resuming = file_exists(c.out_dir, "cell.json");
        printf("[%zu/%zu] %s: %s\n", i + 1, n, c.id, resuming ? "resuming" : "starting");
        fflush(stdout);
        double f1 = NAN;
        st = run_cell(ctx, &g, &c, n, quiet, &f1);
        if (st == QAT_OK) {
            /* sequence-classification tasks (.tsv / .jsonl) report accuracy */
            printf("[%zu/%zu] %s: test %s %.2f%%%s\n", i + 1, n, c.id,
                   qat_cli_is_seq_task(c.task->train) ? "accuracy" : "F1", 100.0 * f1, f1 < 0.2 ? " [collapsed]" : "");
            done++;
        } else if (interrupted) {
            printf("[%zu/%zu] %s: interrupted, checkpoint kept (run again to resume)\n", i + 1, n, c.id);
        } else {
            fprintf(stderr, "qat sweep: cell %zu (%s) failed: %s (%s)\n", i, c.id, qat_last_error(),
                    qat_status_string(st));
            failed++;
        }
        fflush(stdout);
    }
    free(dapt_failed);
    qat_context_free(ctx);
    printf("%zu run, %zu skipped (done before), %zu failed%s; results under %s\n", done, skipped, failed,
           interrupted ? ", interrupted" : "", g.root);
    rc = interrupted ? 130 : failed ? 1 : 0;
out:
    sweep_grid_free(&g);
    return rc;
}
