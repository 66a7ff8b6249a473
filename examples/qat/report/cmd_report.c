/* qat report: aggregates the results.json files of runs (a sweep's root, or
 * any directories of `qat train` runs) into the study's Table III (F1 per
 * config x alpha, task x model), Table I (size and BitOPs per config) and
 * the energy and carbon sums (per grid, config and alpha), as Markdown and
 * LaTeX, plus F1-vs-alpha plots through gnuplot. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "report.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: qat report RUNS_DIR... [options]\n"
            "Reads every results.json under the directories (with the cell.json `qat sweep` writes beside it\n"
            "for model and task names) and writes into the output directory:\n"
            "  table3.md, table3.tex   F1 per config x alpha (rows) and task x model (columns), in %%;\n"
            "                          '-' = collapsed, bold = best alpha per config and column,\n"
            "                          mean ± sample std when a cell has several seeds\n"
            "  table1.md, table1.tex   size (MB) and BitOPs per config for each checkpoint (its config.json)\n"
            "  energy.md, energy.tex   kWh and g CO2eq summed per grid, per config and per alpha, with the\n"
            "                          counts of measured (RAPL/NVML) and estimated runs (docs/energy.md)\n"
            "  plots/                  f1_vs_alpha_<config>.{dat,svg,png} and plots.gp (gnuplot)\n"
            "Table III (Markdown), Table I and the energy sums are also printed on stdout.\n"
            "  --out DIR           output directory (default: RUNS_DIR/report, for the first RUNS_DIR)\n"
            "  --collapse PCT      F1 (%%) below which a run counts as collapsed (default 20)\n"
            "  --digits N          decimals of F1 (default 2)\n"
            "  --seq-len N         tokens per forward pass for BitOPs (default 512)\n"
            "  --no-plots          skip the plots\n"
            "  --quiet             write the files only, print nothing on stdout\n"
            "  -h, --help          this help\n"
            "Which F1 a table shows is results.json's test.f1_metric: entity-level micro F1 for NER (IOB2 tags),\n"
            "token micro F1 for POS, accuracy for sequence-classification tasks (.tsv/.jsonl); the tables'\n"
            "captions name it per task, and accuracy columns say so in their header.\n");
}

static int mkdirs(const char *path)
{
    char buf[PATH_MAX];
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

static FILE *open_out(const char *dir, const char *name, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        fprintf(stderr, "qat report: cannot write %s: %s\n", path, strerror(errno));
    return f;
}

static void cat(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, n, stdout);
    fclose(f);
}

static int parse_num(const char *opt, const char *v, double lo, double hi, double *out)
{
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end || !(x >= lo && x <= hi)) {
        fprintf(stderr, "qat report: %s: '%s' is not a number in [%g, %g]\n", opt, v, lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

int qat_cli_report(int argc, char **argv)
{
    const char *dirs[64];
    size_t n_dirs = 0;
    const char *out_dir = NULL;
    report_style style = {20.0, 2};
    double seq_len = 512, digits = 2;
    int plots = 1, quiet = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--no-plots")) {
            plots = 0;
            continue;
        }
        if (!strcmp(a, "--quiet")) {
            quiet = 1;
            continue;
        }
        if (a[0] != '-') {
            if (n_dirs == sizeof dirs / sizeof *dirs) {
                fprintf(stderr, "qat report: at most 64 directories\n");
                return 2;
            }
            dirs[n_dirs++] = a;
            continue;
        }
        if (strcmp(a, "--out") && strcmp(a, "--collapse") && strcmp(a, "--digits") && strcmp(a, "--seq-len")) {
            fprintf(stderr, "qat report: unknown option %s\n", a);
            usage(stderr);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "qat report: %s needs a value\n", a);
            return 2;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--out"))
            out_dir = v;
        else if ((!strcmp(a, "--collapse") && parse_num(a, v, 0, 100, &style.collapse_pct)) ||
                 (!strcmp(a, "--digits") && parse_num(a, v, 0, 6, &digits)) ||
                 (!strcmp(a, "--seq-len") && parse_num(a, v, 1, 1 << 20, &seq_len)))
            return 2;
    }
    style.digits = (int)digits;
    if (n_dirs == 0) {
        fprintf(stderr, "qat report: give at least one runs directory\n");
        usage(stderr);
        return 2;
    }
    report_set set = {0};
    char err[1024];
    for (size_t i = 0; i < n_dirs; i++)
        if (report_collect(dirs[i], &set, err, sizeof err) != 0) {
            fprintf(stderr, "qat report: %s\n", err);
            report_set_free(&set);
            return 1;
        }
    if (set.n == 0) {
        fprintf(stderr, "qat report: no results.json under %s%s\n", dirs[0], n_dirs > 1 ? " and the others" : "");
        report_set_free(&set);
        return 1;
    }
    char default_out[PATH_MAX];
    if (!out_dir) {
        snprintf(default_out, sizeof default_out, "%s/report", dirs[0]);
        out_dir = default_out;
    }
    char plot_dir[PATH_MAX + 8];
    snprintf(plot_dir, sizeof plot_dir, "%s/plots", out_dir);
    if (mkdirs(out_dir) != 0 || (plots && mkdirs(plot_dir) != 0)) {
        fprintf(stderr, "qat report: cannot create %s: %s\n", out_dir, strerror(errno));
        report_set_free(&set);
        return 1;
    }
    report_axes axes;
    report_axes_build(&set, &axes);
    int rc = 0;
    char p3md[PATH_MAX + 16], p3tex[PATH_MAX + 16], p1md[PATH_MAX + 16], p1tex[PATH_MAX + 16];
    char pemd[PATH_MAX + 16], petex[PATH_MAX + 16];
    FILE *md3 = open_out(out_dir, "table3.md", p3md, sizeof p3md);
    FILE *tex3 = open_out(out_dir, "table3.tex", p3tex, sizeof p3tex);
    FILE *md1 = open_out(out_dir, "table1.md", p1md, sizeof p1md);
    FILE *tex1 = open_out(out_dir, "table1.tex", p1tex, sizeof p1tex);
    FILE *mde = open_out(out_dir, "energy.md", pemd, sizeof pemd);
    FILE *texe = open_out(out_dir, "energy.tex", petex, sizeof petex);
    if (!md3 || !tex3 || !md1 || !tex1 || !mde || !texe) {
        rc = 1;
    } else {
        report_table3_markdown(md3, &set, &axes, &style);
        report_table3_latex(tex3, &set, &axes, &style);
        if (report_table1(md1, tex1, &set, &axes, (int64_t)seq_len) == 0)
            fprintf(md1, "(no checkpoint's config.json could be read: no Table I)\n");
        report_energy_markdown(mde, &set, &axes);
        report_energy_latex(texe, &set, &axes);
    }
    FILE *files[] = {md3, tex3, md1, tex1, mde, texe};
    for (int k = 0; k < 6; k++)
        if (files[k] && fclose(files[k]) != 0)
            rc = 1;
    if (rc == 0 && !quiet) {
        cat(p3md);
        cat(p1md);
        putchar('\n');
        cat(pemd);
    }
    if (rc == 0 && plots) {
        int g = report_plots(plot_dir, &set, &axes, err, sizeof err);
        if (g < 0) {
            fprintf(stderr, "qat report: plots: %s\n", err);
            rc = 1;
        } else if (g == 0) {
            fprintf(stderr, "qat report: gnuplot not found on PATH: wrote %s/plots.gp and its data; run "
                            "`gnuplot plots.gp` there (Debian: apt-get install gnuplot-nox)\n", plot_dir);
        }
    }
    if (rc == 0 && !quiet)
        printf("\n%zu runs; tables in %s%s\n", set.n, out_dir, plots ? ", plots in plots/" : "");
    report_axes_free(&axes);
    report_set_free(&set);
    return rc;
}
