/* SLURM array scripts for a grid: one array task per cell, each running
 * `qat sweep --grid G --cell $SLURM_ARRAY_TASK_ID` (which skips a finished
 * cell and resumes an interrupted one, so resubmitting the same script is
 * how a sweep is continued after preemption or a time limit). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands.h"
#include "sweep_plan.h"
#include "sweep_slurm.h"

/* Single-quotes a word for bash: ' becomes '\''. */
static void put_quoted(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputs("'\\''", f);
        else
            fputc(*s, f);
    }
    fputc('\'', f);
}

/* sbatch resolves relative paths against the submission directory, the
 * tasks against theirs: absolute paths make the script work from anywhere. */
static char *absolute(const char *p)
{
    char buf[PATH_MAX];
    if (realpath(p, buf))
        return strdup(buf);
    if (p[0] == '/' || !getcwd(buf, sizeof buf))
        return strdup(p);
    size_t n = strlen(buf) + strlen(p) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s/%s", buf, p);
    return s;
}

void sweep_slurm_dapt_script_path(const char *script, char *out, size_t cap)
{
    size_t n = strlen(script);
    if (n > 7 && !strcmp(script + n - 7, ".sbatch"))
        snprintf(out, cap, "%.*s-dapt.sbatch", (int)(n - 7), script);
    else
        snprintf(out, cap, "%s-dapt", script);
}

/* One array script: `n` tasks, each `qat sweep ... <select> $SLURM_ARRAY_TASK_ID`. */
/* gpus: per array task; above one, that many tasks (ranks) started by
 * srun, one GPU each, meeting through a file in the logs: on one node, or
 * gpus / per_node nodes of per_node ranks when the grid says how many GPUs
 * a node has and the cell needs more. */
static int write_array(const sweep_grid *g, const char *exe, const char *grid, const char *root, const char *logs,
                       const char *script, const char *what, const char *job_suffix, const char *select, size_t n,
                       int threads, int64_t gpus, char *err, size_t errcap)
{
    FILE *f = fopen(script, "w");
    if (!f) {
        snprintf(err, errcap, "cannot write %s: %s", script, strerror(errno));
        return -1;
    }
    const sweep_slurm *s = &g->slurm;
    fprintf(f, "#!/bin/bash\n# SLURM array for the grid %s: %zu %s, one per array task.\n", grid, n, what);
    fprintf(f, "# Made by `qat sweep --emit-slurm`; submit with `sbatch %s` (again to continue:\n", script);
    fprintf(f, "# finished ones are skipped, interrupted ones resume from their checkpoints).\n");
    fprintf(f, "#SBATCH --job-name=qat-%s%s\n", g->name, job_suffix);
    if (s->max_parallel > 0)
        fprintf(f, "#SBATCH --array=0-%zu%%%lld\n", n - 1, (long long)s->max_parallel);
    else
        fprintf(f, "#SBATCH --array=0-%zu\n", n - 1);
    fprintf(f, "#SBATCH --output=%s/%%A_%%a.out\n", logs);
    const int64_t per_node = s->gpus_per_node > 0 && gpus > s->gpus_per_node ? s->gpus_per_node : gpus;
    if (gpus > 1)
        fprintf(f, "#SBATCH --nodes=%lld\n#SBATCH --ntasks-per-node=%lld\n", (long long)(gpus / per_node),
                (long long)per_node);
    else
        fprintf(f, "#SBATCH --ntasks=1\n");
    if (gpus > 0)
        fprintf(f, "#SBATCH --gpus-per-task=1\n");
    long long cpus = s->cpus_per_task ? (long long)s->cpus_per_task : threads > 0 ? threads : 0;
    if (cpus > 0)
        fprintf(f, "#SBATCH --cpus-per-task=%lld\n", cpus);
    if (s->partition)
        fprintf(f, "#SBATCH --partition=%s\n", s->partition);
    if (s->time)
        fprintf(f, "#SBATCH --time=%s\n", s->time);
    if (s->mem)
        fprintf(f, "#SBATCH --mem=%s\n", s->mem);
    if (s->gres)
        fprintf(f, "#SBATCH --gres=%s\n", s->gres);
    if (s->account)
        fprintf(f, "#SBATCH --account=%s\n", s->account);
    if (s->qos)
        fprintf(f, "#SBATCH --qos=%s\n", s->qos);
    fprintf(f, "set -euo pipefail\n");
    for (size_t i = 0; i < s->n_setup; i++)
        fprintf(f, "%s\n", s->setup[i]);
    if (gpus > 1) {
        /* srun sets each rank's SLURM_PROCID / SLURM_NTASKS / SLURM_LOCALID;
         * the ranks meet through a file on the shared file system, fresh
         * for every job (docs/distributed.md) */
        fprintf(f, "export QAT_DIST_FILE=");
        put_quoted(f, logs);
        fprintf(f, "/rendezvous-\"$SLURM_JOB_ID\"\n");
        fprintf(f, "exec srun --kill-on-bad-exit=1 ");
    } else {
        fprintf(f, "exec ");
    }
    put_quoted(f, exe);
    fprintf(f, " sweep --grid ");
    put_quoted(f, grid);
    fprintf(f, " --root ");
    put_quoted(f, root);
    /* the grid's plan, whatever --plan said when the script was made */
    fprintf(f, " --plan %s", g->plan == SWEEP_PLAN_SHARED_PREFIX ? "shared-prefix" : "per-alpha");
    fprintf(f, " %s \"$SLURM_ARRAY_TASK_ID\" --threads \"${SLURM_CPUS_PER_TASK:-%d}\"%s\n", select,
            threads > 0 ? threads : 0, gpus > 0 ? " --backend cuda" : "");
    if (fclose(f) != 0) {
        snprintf(err, errcap, "cannot write %s: %s", script, strerror(errno));
        return -1;
    }
    chmod(script, 0755);
    return 0;
}

int sweep_slurm_emit(const sweep_grid *g, const char *qat_exe, const char *script, int threads, char *err,
                     size_t errcap)
{
    size_t n = sweep_grid_cell_count(g);
    const int64_t gpus = g->slurm.gpus_per_cell, per_node = g->slurm.gpus_per_node;
    if (gpus > 1 && per_node > 0 && gpus > per_node && gpus % per_node != 0) {
        snprintf(err, errcap,
                 "slurm: a cell's %lld GPUs do not fill whole nodes of %lld (gpus_per_node); give a multiple of it",
                 (long long)gpus, (long long)per_node);
        return -1;
    }
    char logs[PATH_MAX + 16];
    /* SLURM does not create the --output directory; a missing one loses
     * every task's log silently. Made first, so the root resolves below. */
    snprintf(logs, sizeof logs, "%s/slurm-logs", g->root);
    if (qat_cli_mkdirs(logs) != 0) {
        snprintf(err, errcap, "cannot create %s: %s", logs, strerror(errno));
        return -1;
    }
    char *root = absolute(g->root), *grid = absolute(g->path), *exe = absolute(qat_exe);
    if (!root || !grid || !exe) {
        free(root);
        free(grid);
        free(exe);
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    snprintf(logs, sizeof logs, "%s/slurm-logs", root);
    int rc = write_array(g, exe, grid, root, logs, script, "cells", "", "--cell", n, threads, g->slurm.gpus_per_cell,
                         err, errcap);
    size_t n_dapt = sweep_plan_dapt_count(g);
    if (rc == 0 && n_dapt > 0) {
        char dapt[PATH_MAX + 16];
        sweep_slurm_dapt_script_path(script, dapt, sizeof dapt);
        /* a shared DAPT job gets a cell's GPUs too (qat_dapt_run is data-parallel) */
        rc = write_array(g, exe, grid, root, logs, dapt, "DAPT jobs", "-dapt", "--dapt", n_dapt, threads,
                         g->slurm.gpus_per_cell, err, errcap);
    }
    free(root);
    free(grid);
    free(exe);
    return rc;
}

/* Waits for the sbatch child; -1 with a message unless it exited 0. */
static int wait_sbatch(pid_t pid, const char *script, char *err, size_t errcap)
{
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            snprintf(err, errcap, "waiting for sbatch: %s", strerror(errno));
            return -1;
        }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(err, errcap, "sbatch%s%s failed (exit status %d)", script ? " " : "", script ? script : "",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return -1;
    }
    return 0;
}

int sweep_slurm_submit(const char *script, char *err, size_t errcap)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errcap, "cannot start sbatch: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        execlp("sbatch", "sbatch", script, (char *)NULL);
        fprintf(stderr, "qat sweep: cannot run sbatch: %s (is SLURM installed and on PATH?)\n", strerror(errno));
        _exit(127);
    }
    return wait_sbatch(pid, script, err, errcap);
}

void sweep_slurm_index_list(const size_t *idx, size_t n, char *out, size_t cap)
{
    size_t at = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && at < cap; ) {
        size_t j = i;
        while (j + 1 < n && idx[j + 1] == idx[j] + 1)
            j++;
        int w = j > i ? snprintf(out + at, cap - at, "%s%zu-%zu", at ? "," : "", idx[i], idx[j])
                      : snprintf(out + at, cap - at, "%s%zu", at ? "," : "", idx[i]);
        at += (size_t)w;
        i = j + 1;
    }
}

/* Runs sbatch --parsable with args; *job receives the job id it prints
 * ("<id>" or "<id>;<cluster>"). */
static int sbatch_parsable(char *const argv[], char *job, size_t cap, char *err, size_t errcap)
{
    int fds[2];
    if (pipe(fds) != 0) {
        snprintf(err, errcap, "pipe: %s", strerror(errno));
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        snprintf(err, errcap, "cannot start sbatch: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execvp("sbatch", argv);
        fprintf(stderr, "qat sweep: cannot run sbatch: %s (is SLURM installed and on PATH?)\n", strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    char buf[256];
    size_t got = 0;
    ssize_t r;
    while (got + 1 < sizeof buf && ((r = read(fds[0], buf + got, sizeof buf - 1 - got)) > 0 || (r < 0 && errno == EINTR)))
        if (r > 0)
            got += (size_t)r;
    buf[got] = '\0';
    close(fds[0]);
    if (wait_sbatch(pid, NULL, err, errcap) != 0)
        return -1;
    size_t len = strcspn(buf, ";\n\r ");
    if (len == 0 || len >= cap) {
        snprintf(err, errcap, "sbatch --parsable printed no job id ('%s')", buf);
        return -1;
    }
    memcpy(job, buf, len);
    job[len] = '\0';
    return 0;
}

int sweep_slurm_submit_chain(const sweep_grid *g, const char *cells_script, const char *dapt_script, char *err,
                             size_t errcap)
{
    size_t n = sweep_grid_cell_count(g), n_dep = 0, n_free = 0;
    size_t *dep = malloc(n * sizeof *dep), *free_cells = malloc(n * sizeof *free_cells);
    /* Index lists can be long (288 cells): sized for the worst case. */
    size_t cap = n * 24 + 64;
    char *list = malloc(cap), *arg = malloc(cap + 32);
    char dapt_job[64], job[64], dependency[96];
    int rc = -1;
    if (!dep || !free_cells || !list || !arg) {
        snprintf(err, errcap, "sbatch chain: out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        sweep_cell c;
        sweep_grid_cell(g, i, &c);
        if (sweep_plan_cell_dapt(g, &c) >= 0)
            dep[n_dep++] = i;
        else
            free_cells[n_free++] = i;
    }
    char *dapt_argv[] = {"sbatch", "--parsable", (char *)dapt_script, NULL};
    if (sbatch_parsable(dapt_argv, dapt_job, sizeof dapt_job, err, errcap) != 0)
        goto out;
    printf("Submitted batch job %s (DAPT array: %zu jobs, %s)\n", dapt_job, sweep_plan_dapt_count(g), dapt_script);
    snprintf(dependency, sizeof dependency, "--dependency=afterok:%s", dapt_job);
    for (int pass = 0; pass < 2; pass++) {
        size_t *idx = pass == 0 ? dep : free_cells, k = pass == 0 ? n_dep : n_free;
        if (k == 0)
            continue;
        sweep_slurm_index_list(idx, k, list, cap);
        if (g->slurm.max_parallel > 0)
            snprintf(arg, cap + 32, "--array=%s%%%lld", list, (long long)g->slurm.max_parallel);
        else
            snprintf(arg, cap + 32, "--array=%s", list);
        char *argv_dep[] = {"sbatch", "--parsable", dependency, arg, (char *)cells_script, NULL};
        char *argv_free[] = {"sbatch", "--parsable", arg, (char *)cells_script, NULL};
        if (sbatch_parsable(pass == 0 ? argv_dep : argv_free, job, sizeof job, err, errcap) != 0)
            goto out;
        printf("Submitted batch job %s (%zu cells %s, %s)\n", job, k,
               pass == 0 ? strchr(dependency, '=') + 1 : "without DAPT, no dependency", arg + 2);
    }
    rc = 0;
out:
    free(dep);
    free(free_cells);
    free(list);
    free(arg);
    return rc;
}
