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
    snprintf(s, n, "%s/%s", buf, p);
    return s;
}

static int mkdirs(const char *path)
{
    char buf[PATH_MAX + 64];
    snprintf(buf, sizeof buf, "%s", path);
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

int sweep_slurm_emit(const sweep_grid *g, const char *qat_exe, const char *script, int threads, char *err,
                     size_t errcap)
{
    size_t n = sweep_grid_cell_count(g);
    char logs[PATH_MAX + 16];
    /* SLURM does not create the --output directory; a missing one loses
     * every task's log silently. Made first, so the root resolves below. */
    snprintf(logs, sizeof logs, "%s/slurm-logs", g->root);
    if (mkdirs(logs) != 0) {
        snprintf(err, errcap, "cannot create %s: %s", logs, strerror(errno));
        return -1;
    }
    char *root = absolute(g->root), *grid = absolute(g->path), *exe = absolute(qat_exe);
    snprintf(logs, sizeof logs, "%s/slurm-logs", root);
    int rc = -1;
    FILE *f = fopen(script, "w");
    if (!f) {
        snprintf(err, errcap, "cannot write %s: %s", script, strerror(errno));
        goto out;
    }
    const sweep_slurm *s = &g->slurm;
    fprintf(f, "#!/bin/bash\n# SLURM array for the grid %s: %zu cells, one per array task.\n", grid, n);
    fprintf(f, "# Made by `qat sweep --emit-slurm`; submit with `sbatch %s` (again to continue:\n", script);
    fprintf(f, "# finished cells are skipped, interrupted ones resume from their checkpoints).\n");
    fprintf(f, "#SBATCH --job-name=qat-%s\n", g->name);
    if (s->max_parallel > 0)
        fprintf(f, "#SBATCH --array=0-%zu%%%lld\n", n - 1, (long long)s->max_parallel);
    else
        fprintf(f, "#SBATCH --array=0-%zu\n", n - 1);
    fprintf(f, "#SBATCH --output=%s/%%A_%%a.out\n", logs);
    fprintf(f, "#SBATCH --ntasks=1\n");
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
    fprintf(f, "exec ");
    put_quoted(f, exe);
    fprintf(f, " sweep --grid ");
    put_quoted(f, grid);
    fprintf(f, " --root ");
    put_quoted(f, root);
    fprintf(f, " --cell \"$SLURM_ARRAY_TASK_ID\" --threads \"${SLURM_CPUS_PER_TASK:-%d}\"\n", threads > 0 ? threads : 0);
    if (fclose(f) != 0) {
        snprintf(err, errcap, "cannot write %s: %s", script, strerror(errno));
        goto out;
    }
    chmod(script, 0755);
    rc = 0;
out:
    free(root);
    free(grid);
    free(exe);
    return rc;
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
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            snprintf(err, errcap, "waiting for sbatch: %s", strerror(errno));
            return -1;
        }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(err, errcap, "sbatch %s failed (exit status %d)", script,
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return -1;
    }
    return 0;
}
