/* qat sweep's local runner (sweep_run.h). */
#include "sweep_run.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

typedef struct progress_state {
    qat_cli_progress clock;
    const char *id;
    size_t index, count;
    int quiet;
} progress_state;

/* The library checkpoints and returns when we ask it to stop, so ^C or a
 * SLURM preemption signal loses at most checkpoint_every steps. */
static int on_progress(void *user, const char *phase, int64_t step, int64_t total, double loss)
{
    progress_state *p = user;
    if (interrupted)
        return 1;
    double rate = 0;
    if (p->quiet || qat_cli_progress_step(&p->clock, phase, step, &rate) || strcmp(phase, "eval") == 0)
        return 0;
    int64_t every = total >= 20 ? total / 10 : 1;
    if (p->clock.tty)
        fprintf(stderr, "\r[%zu/%zu] %s %s %lld/%lld loss %.4f (%.2f steps/s) ", p->index + 1, p->count, p->id, phase,
                (long long)step, (long long)total, loss, rate);
    else if (step == total || step % every == 0)
        fprintf(stderr, "[%zu/%zu] %s %s %lld/%lld loss %.4f (%.2f steps/s)\n", p->index + 1, p->count, p->id, phase,
                (long long)step, (long long)total, loss, rate);
    return 0;
}

const char *sweep_cell_status(const sweep_cell *c)
{
    if (qat_cli_file_exists(c->out_dir, "results.json"))
        return "done";
    return qat_cli_file_exists(c->out_dir, "cell.json") ? "started" : "pending";
}

static int dapt_done(const sweep_dapt_job *j)
{
    return qat_cli_file_exists(j->out_dir, "dapt.json");
}

const char *sweep_dapt_status(const sweep_dapt_job *j)
{
    if (dapt_done(j))
        return "done";
    return qat_cli_file_exists(j->out_dir, "metrics.jsonl") ? "started" : "pending";
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

/* What the grid gives a cell's pipeline run and a DAPT job alike: the
 * model, config and seed of the job, the grid's schedule, optimiser,
 * adaptive knobs and energy settings, and the job's progress lines. */
static void grid_run_options(const sweep_grid *g, const sweep_model *model, const char *config, uint64_t seed,
                             const char *out_dir, progress_state *p, qat_run_options *r)
{
    r->model_dir = model->path;
    r->tokenizer = model->tokenizer;
    r->corpus = model->corpus;
    r->quant = config;
    r->seed = seed;
    r->out_dir = out_dir;
    r->total_steps = g->total_steps;
    r->max_seq_len = g->seq_len;
    r->checkpoint_every = g->checkpoint_every;
    r->train.batch_size = g->batch;
    r->train.micro_batch_size = g->micro_batch;
    r->train.learning_rate = g->lr;
    r->train.warmup_ratio = g->warmup;
    r->adaptive = g->adaptive; /* enabled when an alpha is "auto" */
    r->carbon_intensity = g->carbon_intensity;
    r->power_watts = g->power_watts;
    r->progress = on_progress;
    r->progress_user = p;
}

/* Ends a redrawn progress line. */
static void end_progress(const progress_state *p)
{
    if (p->clock.tty && !p->quiet && p->clock.phase[0])
        fputc('\n', stderr);
}

/* comm: the data-parallel job's (one rank: NULL); its rank 0 writes the cell's files. */
static qat_status run_cell(qat_context *ctx, qat_comm *comm, int rank, const sweep_grid *g, const sweep_cell *c,
                           size_t count, int quiet, double *f1)
{
    if (qat_cli_mkdirs(c->out_dir) != 0 || (rank == 0 && write_cell_json(g, c) != 0)) {
        fprintf(stderr, "qat sweep: cell %zu: cannot write %s: %s\n", c->index, c->out_dir, strerror(errno));
        return QAT_ERR_IO;
    }
    progress_state p = {{isatty(STDERR_FILENO), {0, 0}, ""}, c->id, c->index, count, quiet};
    qat_pipeline_options o;
    qat_pipeline_options_init(&o, QAT_PIPELINE_OPTIONS_VERSION);
    grid_run_options(g, c->model, c->config, c->seed, c->out_dir, &p, &o.run);
    o.run.adaptive.enabled = c->alpha == SWEEP_ALPHA_AUTO;
    o.alpha = c->alpha == SWEEP_ALPHA_AUTO ? 0.0 : c->alpha;
    o.train_file = c->task->train;
    o.eval_file = c->task->eval;
    o.test_file = c->task->test;
    /* results.json records the plan, alpha-0 cells included */
    o.plan = g->plan == SWEEP_PLAN_SHARED_PREFIX ? QAT_PLAN_SHARED_PREFIX : QAT_PLAN_PER_ALPHA;
    long dj = sweep_plan_cell_dapt(g, c);
    sweep_dapt_job job;
    if (dj >= 0) {
        sweep_plan_dapt_job(g, (size_t)dj, &job);
        o.dapt_dir = job.out_dir;
    }
    o.comm = comm;
    qat_status st = qat_pipeline_run(ctx, &o, f1);
    end_progress(&p);
    return st;
}

/* One shared DAPT run: the schedule reaches the largest alpha, snapshots
 * at every alpha's step (and where adaptive alpha stops, for "auto"). */
static qat_status run_dapt_job(qat_context *ctx, qat_comm *comm, const sweep_grid *g, const sweep_dapt_job *j,
                               size_t count, int quiet)
{
    if (qat_cli_mkdirs(j->out_dir) != 0) {
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
    progress_state p = {{isatty(STDERR_FILENO), {0, 0}, ""}, j->id, j->index, count, quiet};
    qat_dapt_options o;
    qat_dapt_options_init(&o, QAT_DAPT_OPTIONS_VERSION);
    grid_run_options(g, j->model, j->config, j->seed, j->out_dir, &p, &o.run);
    o.alphas = alphas;
    o.n_alphas = n;
    o.comm = comm;
    qat_status st = qat_dapt_run(ctx, &o);
    end_progress(&p);
    free(alphas);
    return st;
}

/* Runs DAPT jobs [first, last) that are not done; marks failed ones. */
static size_t run_dapt_jobs(qat_context *ctx, qat_comm *comm, const sweep_grid *g, size_t first, size_t last,
                            int quiet, unsigned char *failed_jobs)
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
               qat_cli_file_exists(j.out_dir, "metrics.jsonl") ? "resuming" : "starting",
               (long long)sweep_plan_dapt_schedule(g));
        fflush(stdout);
        qat_status st = run_dapt_job(ctx, comm, g, &j, n, quiet);
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

/* A cell whose DAPT job has not finished cannot start: 1 after saying why. */
static int dapt_missing(const sweep_grid *g, const sweep_cell *c, const unsigned char *dapt_failed)
{
    long dj = sweep_plan_cell_dapt(g, c);
    if (dj < 0)
        return 0;
    sweep_dapt_job job;
    sweep_plan_dapt_job(g, (size_t)dj, &job);
    if (dapt_done(&job))
        return 0;
    fprintf(stderr, "qat sweep: cell %zu (%s) skipped: its DAPT job %s %s\n", c->index, c->id, job.id,
            dapt_failed[dj] ? "failed" : "has not finished (run it: qat sweep --dapt ID, or the whole grid)");
    return 1;
}

typedef struct sweep_tally {
    size_t done, skipped, failed;
} sweep_tally;

/* One cell: skipped when done, else run (or resumed). */
static void run_one(qat_context *ctx, qat_comm *comm, int rank, const sweep_grid *g, size_t i, int quiet,
                    const unsigned char *dapt_failed, sweep_tally *t)
{
    size_t n = sweep_grid_cell_count(g);
    sweep_cell c;
    sweep_grid_cell(g, i, &c);
    if (qat_cli_file_exists(c.out_dir, "results.json")) {
        printf("[%zu/%zu] %s: done already, skipped\n", i + 1, n, c.id);
        t->skipped++;
        return;
    }
    if (dapt_missing(g, &c, dapt_failed)) {
        t->failed++;
        return;
    }
    printf("[%zu/%zu] %s: %s\n", i + 1, n, c.id, qat_cli_file_exists(c.out_dir, "cell.json") ? "resuming" : "starting");
    fflush(stdout);
    double f1 = NAN;
    qat_status st = run_cell(ctx, comm, rank, g, &c, n, quiet, &f1);
    if (st == QAT_OK && rank > 0) {
        printf("[%zu/%zu] %s: rank %d done (rank 0 evaluates)\n", i + 1, n, c.id, rank);
        t->done++;
    } else if (st == QAT_OK) {
        /* sequence-classification tasks (.tsv / .jsonl) report accuracy */
        printf("[%zu/%zu] %s: test %s %.2f%%%s\n", i + 1, n, c.id,
               qat_cli_is_seq_task(c.task->train) ? "accuracy" : "F1", 100.0 * f1, f1 < 0.2 ? " [collapsed]" : "");
        t->done++;
    } else if (interrupted) {
        printf("[%zu/%zu] %s: interrupted, checkpoint kept (run again to resume)\n", i + 1, n, c.id);
    } else {
        fprintf(stderr, "qat sweep: cell %zu (%s) failed: %s (%s)\n", i, c.id, qat_last_error(),
                qat_status_string(st));
        t->failed++;
    }
    fflush(stdout);
}

int sweep_run_local(qat_context *ctx, qat_comm *comm, const sweep_grid *g, const sweep_selection *sel, int quiet)
{
    int64_t rank = 0, world = 1;
    if (comm) {
        qat_comm_get(comm, QAT_COMM_RANK, &rank);
        qat_comm_get(comm, QAT_COMM_WORLD_SIZE, &world);
    }
    if (rank > 0)
        quiet = 1; /* one progress display per job: rank 0's */
    /* SIGTERM is what SLURM sends before killing a task at its time limit. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    size_t n_dapt = sweep_plan_dapt_count(g);
    sweep_tally t = {0, 0, 0};
    /* The graph: DAPT jobs first, then the cells that start from them. */
    unsigned char *dapt_failed = calloc(n_dapt ? n_dapt : 1, 1);
    if (!dapt_failed) {
        fprintf(stderr, "qat sweep: out of memory\n");
        return 1;
    }
    if (n_dapt > 0 && sel->dapt_last > sel->dapt_first) {
        sweep_plan_print_cost(stdout, g);
        t.failed += run_dapt_jobs(ctx, comm, g, sel->dapt_first, sel->dapt_last, quiet, dapt_failed);
    }
    for (size_t i = sel->first; i < sel->last && !interrupted; i++)
        run_one(ctx, comm, (int)rank, g, i, quiet, dapt_failed, &t);
    free(dapt_failed);
    printf("%zu run, %zu skipped (done before), %zu failed%s; results under %s\n", t.done, t.skipped, t.failed,
           interrupted ? ", interrupted" : "", g->root);
    return interrupted ? 130 : t.failed ? 1 : 0;
}
