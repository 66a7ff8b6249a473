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

/* One point: the mean over seeds with its error bar (mean +- the sample
 * std with several seeds, the run's bootstrap CI95 with one). */
static int point(const report_set *set, const report_axes *ax, size_t c, double alpha, size_t t, size_t m,
                 double *mean, double *low, double *high, double *chosen)
{
    size_t n;
    double std;
    report_cell_stats(set, ax->configs[c], alpha, ax->tasks[t], ax->models[m], &n, mean, &std);
    if (!n)
        return 0;
    report_cell_extra x;
    report_cell_more(set, ax->configs[c], alpha, ax->tasks[t], ax->models[m], 0.0, &x);
    *low = n > 1 ? *mean - std : isfinite(x.ci_low) ? x.ci_low : *mean;
    *high = n > 1 ? *mean + std : isfinite(x.ci_high) ? x.ci_high : *mean;
    *chosen = x.chosen_alpha;
    return 1;
}

/* f1_vs_alpha_<config>.dat: alpha, then mean, low, high per task/model;
 * f1_adaptive_<config>.dat: the adaptive runs at the alpha they chose.
 * Returns whether the config has adaptive runs (-1 on error). */
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
    fprintf(f, "# %s: test %s (%%, mean over seeds) vs alpha, each with the error bar's low and high (mean +- "
               "std over seeds; one seed: its bootstrap CI95); '?' = no run\n# alpha", ax->configs[c],
            report_has_accuracy(set) ? "F1 or accuracy (sequence-classification tasks)" : "F1");
    for (size_t t = 0; t < ax->n_tasks; t++)
        for (size_t m = 0; m < ax->n_models; m++)
            fprintf(f, "\t%s/%s\tlow\thigh", ax->tasks[t], ax->models[m]);
    fputc('\n', f);
    int adaptive = 0;
    for (size_t a = 0; a < ax->n_alphas; a++) {
        if (ax->alphas[a] == REPORT_ALPHA_AUTO) {
            adaptive = 1;
            continue;
        }
        fprintf(f, "%g", ax->alphas[a]);
        for (size_t t = 0; t < ax->n_tasks; t++)
            for (size_t m = 0; m < ax->n_models; m++) {
                double mean, low, high, chosen;
                if (point(set, ax, c, ax->alphas[a], t, m, &mean, &low, &high, &chosen))
                    fprintf(f, "\t%.4f\t%.4f\t%.4f", mean, low, high);
                else
                    fprintf(f, "\t?\t?\t?");
            }
        fputc('\n', f);
    }
    if (fclose(f) != 0)
        return -1;
    if (!adaptive)
        return 0;
    snprintf(p, sizeof p, "%s/f1_adaptive_%s.dat", dir, ax->configs[c]);
    if (!(f = fopen(p, "w"))) {
        snprintf(err, errcap, "cannot write %s: %s", p, strerror(errno));
        return -1;
    }
    fprintf(f, "# %s: adaptive-alpha runs at the alpha they chose (mean over seeds)\n# series\tchosen_alpha\tf1\tlow"
               "\thigh\n", ax->configs[c]);
    size_t k = 0;
    adaptive = 0;
    for (size_t t = 0; t < ax->n_tasks; t++)
        for (size_t m = 0; m < ax->n_models; m++, k++) {
            double mean, low, high, chosen;
            if (point(set, ax, c, REPORT_ALPHA_AUTO, t, m, &mean, &low, &high, &chosen) && isfinite(chosen)) {
                fprintf(f, "%zu\t%.4f\t%.4f\t%.4f\t%.4f\n", k, chosen, mean, low, high);
                adaptive = 1;
            }
        }
    return fclose(f) == 0 ? adaptive : -1;
}

static void plot_command(FILE *f, size_t c, const report_axes *ax, int adaptive)
{
    fprintf(f, "plot ");
    size_t col = 2;
    for (size_t t = 0; t < ax->n_tasks; t++)
        for (size_t m = 0; m < ax->n_models; m++, col += 3) {
            char title[300];
            snprintf(title, sizeof title, "%s / %s", ax->tasks[t], ax->models[m]);
            fprintf(f, "'f1_vs_alpha_%s.dat' using 1:%zu:%zu:%zu with yerrorlines lw 2 pt 7 title ", ax->configs[c],
                    col, col + 1, col + 2);
            gp_quoted(f, title);
            fprintf(f, ", \\\n     ");
        }
    if (adaptive)
        fprintf(f, "'f1_adaptive_%s.dat' using 2:3:4:5 with yerrorbars pt 9 ps 1.5 lc rgb 'black' "
                   "title 'adaptive alpha (at the alpha chosen)', \\\n     ", ax->configs[c]);
    fprintf(f, "20 with lines dt 2 lc rgb 'gray50' title 'collapse threshold (20 %%)'\n");
}

int report_plots(const char *dir, const report_set *set, const report_axes *ax, char *err, size_t errcap)
{
    int *adaptive = calloc(ax->n_configs ? ax->n_configs : 1, sizeof *adaptive);
    if (!adaptive) {
        snprintf(err, errcap, "plots: out of memory");
        return -1;
    }
    for (size_t c = 0; c < ax->n_configs; c++)
        if ((adaptive[c] = write_data(dir, c, set, ax, err, errcap)) < 0) {
            free(adaptive);
            return -1;
        }
    char script[4200];
    snprintf(script, sizeof script, "%s/plots.gp", dir);
    FILE *f = fopen(script, "w");
    if (!f) {
        snprintf(err, errcap, "cannot write %s: %s", script, strerror(errno));
        free(adaptive);
        return -1;
    }
    fprintf(f, "# F1 vs alpha per config, made by `qat report`; run `gnuplot plots.gp` in this directory.\n"
               "set datafile missing '?'\nset datafile separator '\\t'\nset xlabel 'alpha (share of the steps spent "
               "on DAPT)'\nset ylabel 'test %s (%%)'\nset yrange [0:100]\nset xrange [-0.02:1]\n"
               "set key outside right top noenhanced\nset grid\n"
               /* pngcairo where this gnuplot has it, the gd png terminal otherwise */
               "png_term = strstrt(GPVAL_TERMINALS, 'pngcairo') > 0 ? 'pngcairo' : 'png'\n",
            /* sequence-classification tasks plot accuracy (results.json's f1_metric) */
            report_has_accuracy(set) ? "F1 or accuracy" : "F1");
    for (size_t c = 0; c < ax->n_configs; c++) {
        fprintf(f, "\n# %s\nset title '%s: test %s vs alpha' noenhanced\n", ax->configs[c], ax->configs[c],
                report_has_accuracy(set) ? "F1 or accuracy" : "F1");
        fprintf(f, "set terminal svg size 800,450 dynamic font 'sans,11'\nset output 'f1_vs_alpha_%s.svg'\n",
                ax->configs[c]);
        plot_command(f, c, ax, adaptive[c] > 0);
        fprintf(f, "set terminal @png_term size 800,450\nset output 'f1_vs_alpha_%s.png'\nreplot\nset output\n",
                ax->configs[c]);
    }
    free(adaptive);
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
