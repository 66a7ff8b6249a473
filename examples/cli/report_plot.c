/* F1 vs alpha, one plot per config with one line per task/model, through
 * gnuplot: the data (.dat) and the script (plots.gp) are always written so
 * that a machine without gnuplot can still make the figures elsewhere. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "report.h"

static int find_gnuplot(char *out, size_t cap)
{
    const char *path = getenv("PATH");
    if (!path)
        return 0;
    while (*path) {
        const char *colon = strchr(path, ':');
        size_t len = colon ? (size_t)(colon - path) : strlen(path);
        snprintf(out, cap, "%.*s/gnuplot", (int)len, len ? path : ".");
        if (access(out, X_OK) == 0)
            return 1;
        path += len + (colon != NULL);
    }
    return 0;
}

/* gnuplot strings in single quotes: only ' needs care (doubled). */
static void gp_quoted(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputc('\'', f);
        fputc(*s, f);
    }
    fputc('\'', f);
}

static int write_data(const char *dir, size_t c, const report_set *set, const report_axes *ax, char *err,
                      size_t errcap)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/f1_vs_alpha_%s.dat", dir, ax->configs[c]);
    FILE *f = fopen(p, "w");
    if (!f) {
        snprintf(err, errcap, "cannot write %s: %s", p, strerror(errno));
        return -1;
    }
    fprintf(f, "# %s: test F1 (%%, mean over seeds) vs alpha; '?' = no run\n# alpha", ax->configs[c]);
    for (size_t t = 0; t < ax->n_tasks; t++)
        for (size_t m = 0; m < ax->n_models; m++)
            fprintf(f, "\t%s/%s", ax->tasks[t], ax->models[m]);
    fputc('\n', f);
    for (size_t a = 0; a < ax->n_alphas; a++) {
        fprintf(f, "%g", ax->alphas[a]);
        for (size_t t = 0; t < ax->n_tasks; t++)
            for (size_t m = 0; m < ax->n_models; m++) {
                size_t n;
                double mean, std;
                report_cell_stats(set, ax->configs[c], ax->alphas[a], ax->tasks[t], ax->models[m], &n, &mean, &std);
                if (n)
                    fprintf(f, "\t%.4f", mean);
                else
                    fprintf(f, "\t?");
            }
        fputc('\n', f);
    }
    return fclose(f) == 0 ? 0 : -1;
}

static void plot_command(FILE *f, size_t c, const report_axes *ax)
{
    fprintf(f, "plot ");
    size_t col = 2;
    for (size_t t = 0; t < ax->n_tasks; t++)
        for (size_t m = 0; m < ax->n_models; m++, col++) {
            char title[300];
            snprintf(title, sizeof title, "%s / %s", ax->tasks[t], ax->models[m]);
            fprintf(f, "'f1_vs_alpha_%s.dat' using 1:%zu with linespoints lw 2 pt 7 title ", ax->configs[c], col);
            gp_quoted(f, title);
            fprintf(f, ", \\\n     ");
        }
    fprintf(f, "20 with lines dt 2 lc rgb 'gray50' title 'collapse threshold (20 %%)'\n");
}

int report_plots(const char *dir, const report_set *set, const report_axes *ax, char *err, size_t errcap)
{
    for (size_t c = 0; c < ax->n_configs; c++)
        if (write_data(dir, c, set, ax, err, errcap) != 0)
            return -1;
    char script[4200];
    snprintf(script, sizeof script, "%s/plots.gp", dir);
    FILE *f = fopen(script, "w");
    if (!f) {
        snprintf(err, errcap, "cannot write %s: %s", script, strerror(errno));
        return -1;
    }
    fprintf(f, "# F1 vs alpha per config, made by `qat report`; run `gnuplot plots.gp` in this directory.\n"
               "set datafile missing '?'\nset datafile separator '\\t'\nset xlabel 'alpha (share of the steps spent "
               "on DAPT)'\nset ylabel 'test F1 (%%)'\nset yrange [0:100]\nset xrange [-0.02:1]\n"
               "set key outside right top noenhanced\nset grid\n"
               /* pngcairo where this gnuplot has it, the gd png terminal otherwise */
               "png_term = strstrt(GPVAL_TERMINALS, 'pngcairo') > 0 ? 'pngcairo' : 'png'\n");
    for (size_t c = 0; c < ax->n_configs; c++) {
        fprintf(f, "\n# %s\nset title '%s: test F1 vs alpha' noenhanced\n", ax->configs[c], ax->configs[c]);
        fprintf(f, "set terminal svg size 800,450 dynamic font 'sans,11'\nset output 'f1_vs_alpha_%s.svg'\n",
                ax->configs[c]);
        plot_command(f, c, ax);
        fprintf(f, "set terminal @png_term size 800,450\nset output 'f1_vs_alpha_%s.png'\nreplot\nset output\n",
                ax->configs[c]);
    }
    if (fclose(f) != 0) {
        snprintf(err, errcap, "cannot write %s: %s", script, strerror(errno));
        return -1;
    }
    char gnuplot[4200];
    if (!find_gnuplot(gnuplot, sizeof gnuplot))
        return 0;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errcap, "cannot start gnuplot: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        if (chdir(dir) != 0)
            _exit(126);
        execl(gnuplot, "gnuplot", "plots.gp", (char *)NULL);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            break;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(err, errcap, "gnuplot %s/plots.gp failed (status %d)", dir, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return -1;
    }
    return 1;
}
