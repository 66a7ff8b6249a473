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

#include "commands.h"
#include "report.h"

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

typedef struct report_args {
    const char *dirs[64];
    size_t n_dirs;
    const char *out_dir;
    report_style style;
    int64_t seq_len, digits;
    int no_plots, quiet;
} report_args;

/* Every results.json under the directories; 0, or 1 after saying why. */
static int collect(const report_args *a, report_set *set)
{
    char err[1024];
    for (size_t i = 0; i < a->n_dirs; i++)
        if (report_collect(a->dirs[i], set, err, sizeof err) != 0) {
            fprintf(stderr, "qat report: %s\n", err);
            return 1;
        }
    if (set->n == 0) {
        fprintf(stderr, "qat report: no results.json under %s%s\n", a->dirs[0], a->n_dirs > 1 ? " and the others" : "");
        return 1;
    }
    return 0;
}

/* The six tables (Markdown and LaTeX of Table III, Table I, energy) into
 * out_dir, and the Markdown ones on stdout unless --quiet. 0 or 1. */
static int write_tables(const report_args *a, const report_set *set, const report_axes *axes)
{
    static const char *const names[6] = {"table3.md", "table3.tex", "table1.md", "table1.tex", "energy.md", "energy.tex"};
    char paths[6][PATH_MAX + 16];
    FILE *f[6];
    int rc = 0;
    for (int k = 0; k < 6; k++)
        if (!(f[k] = open_out(a->out_dir, names[k], paths[k], sizeof paths[k])))
            rc = 1;
    if (rc == 0) {
        report_table3_markdown(f[0], set, axes, &a->style);
        report_table3_latex(f[1], set, axes, &a->style);
        if (report_table1(f[2], f[3], set, axes, a->seq_len) == 0)
            fprintf(f[2], "(no checkpoint's config.json could be read: no Table I)\n");
        report_energy_markdown(f[4], set, axes);
        report_energy_latex(f[5], set, axes);
    }
    for (int k = 0; k < 6; k++)
        if (f[k] && fclose(f[k]) != 0)
            rc = 1;
    if (rc == 0 && !a->quiet) {
        cat(paths[0]);
        cat(paths[2]);
        putchar('\n');
        cat(paths[4]);
    }
    return rc;
}

/* The F1-vs-alpha plots; without gnuplot, its script and data. 0 or 1. */
static int write_plots(const char *plot_dir, const report_set *set, const report_axes *axes)
{
    char err[1024];
    int g = report_plots(plot_dir, set, axes, err, sizeof err);
    if (g < 0) {
        fprintf(stderr, "qat report: plots: %s\n", err);
        return 1;
    }
    if (g == 0)
        fprintf(stderr, "qat report: gnuplot not found on PATH: wrote %s/plots.gp and its data; run "
                        "`gnuplot plots.gp` there (Debian: apt-get install gnuplot-nox)\n", plot_dir);
    return 0;
}

static int report(report_args *a)
{
    a->style.digits = (int)a->digits;
    char default_out[PATH_MAX], plot_dir[PATH_MAX + 8];
    if (!a->out_dir) {
        snprintf(default_out, sizeof default_out, "%s/report", a->dirs[0]);
        a->out_dir = default_out;
    }
    snprintf(plot_dir, sizeof plot_dir, "%s/plots", a->out_dir);
    report_set set = {0};
    int rc = collect(a, &set);
    if (rc == 0 && (qat_cli_mkdirs(a->out_dir) != 0 || (!a->no_plots && qat_cli_mkdirs(plot_dir) != 0))) {
        fprintf(stderr, "qat report: cannot create %s: %s\n", a->out_dir, strerror(errno));
        rc = 1;
    }
    report_axes axes = {0};
    if (rc == 0) {
        if (report_axes_build(&set, &axes) != 0) {
            fprintf(stderr, "qat report: out of memory\n");
            rc = 1;
        } else {
            rc = write_tables(a, &set, &axes);
        }
    }
    if (rc == 0 && !a->no_plots)
        rc = write_plots(plot_dir, &set, &axes);
    if (rc == 0 && !a->quiet)
        printf("\n%zu runs; tables in %s%s\n", set.n, a->out_dir, a->no_plots ? "" : ", plots in plots/");
    report_axes_free(&axes);
    report_set_free(&set);
    return rc;
}

int qat_cli_report(int argc, char **argv)
{
    report_args a = {.style = {20.0, 2}, .seq_len = 512, .digits = 2};
    const qat_cli_option options[] = {
        QAT_OPT_STRING("--out", &a.out_dir, "DIR", "output directory (default: RUNS_DIR/report, for the first RUNS_DIR)"),
        QAT_OPT_DOUBLE("--collapse", &a.style.collapse_pct, "PCT", 0, 100,
                       "F1 (%) below which a run counts as collapsed"),
        QAT_OPT_INT("--digits", &a.digits, "N", 0, 6, "decimals of F1"),
        QAT_OPT_INT("--seq-len", &a.seq_len, "N", 1, 1 << 20, "tokens per forward pass for BitOPs"),
        QAT_OPT_FLAG("--no-plots", &a.no_plots, "skip the plots"),
        QAT_OPT_FLAG("--quiet", &a.quiet, "write the files only, print nothing on stdout"),
    };
    const qat_cli_spec spec = {
        .command = "report",
        .synopsis = "RUNS_DIR... [options]",
        .about = "Reads every results.json under the directories (with the cell.json `qat sweep` writes beside it\n"
                 "for model and task names) and writes into the output directory:\n"
                 "  table3.md, table3.tex   F1 per config x alpha (rows) and task x model (columns), in %;\n"
                 "                          '-' = collapsed, bold = best alpha per config and column,\n"
                 "                          mean ± sample std when a cell has several seeds\n"
                 "  table1.md, table1.tex   size (MB) and BitOPs per config for each checkpoint (its config.json)\n"
                 "  energy.md, energy.tex   kWh and g CO2eq summed per grid, per config and per alpha, with the\n"
                 "                          counts of measured (RAPL/NVML) and estimated runs (docs/energy.md)\n"
                 "  plots/                  f1_vs_alpha_<config>.{dat,svg,png} and plots.gp (gnuplot)\n"
                 "Table III (Markdown), Table I and the energy sums are also printed on stdout.\n",
        .epilog = "Which F1 a table shows is results.json's test.f1_metric: entity-level micro F1 for NER (IOB2 tags),\n"
                  "token micro F1 for POS, accuracy for sequence-classification tasks (.tsv/.jsonl); the tables'\n"
                  "captions name it per task, and accuracy columns say so in their header.\n",
        .options = options,
        .n_options = QAT_CLI_COUNT(options),
        .positional_name = "RUNS_DIR",
        .positional = a.dirs,
        .min_positional = 1,
        .max_positional = QAT_CLI_COUNT(a.dirs),
        .n_positional = &a.n_dirs,
    };
    int rc = qat_cli_parse(&spec, argc, argv);
    return rc != QAT_CLI_RUN ? rc : report(&a);
}
