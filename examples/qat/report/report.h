/* qat report: runs (results.json files) -> the study's tables and plots.
 * report_collect.c finds and reads the runs, report_tables.c writes Table
 * III (F1 per config x alpha, task x model), report_cost.c Table I (size
 * and BitOPs per config), report_energy.c the energy and carbon sums,
 * report_plot.c the F1-vs-alpha plots. */
#ifndef QAT_CLI_REPORT_H
#define QAT_CLI_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct report_run {
    char *path;        /* the results.json */
    char *config;      /* canonical ExWyAz */
    double alpha;
    char *model;       /* label: cell.json's model, else the checkpoint's directory name */
    char *model_path;  /* the checkpoint (for Table I's config.json) */
    char *task;        /* label: cell.json's task, else results.json's task kind */
    char *metric;      /* test.f1_metric, e.g. entity_micro_f1 */
    uint64_t seed;
    double f1;         /* test F1, a fraction */
    char *grid;        /* cell.json's sweep name, else "(qat train runs)" */
    int energy;        /* results.json's energy.method: REPORT_ENERGY_* */
    double kwh, gco2eq;/* 0 when energy is REPORT_ENERGY_NONE */
    double ci_low, ci_high; /* test.f1_ci95 (fractions); NAN when absent */
    double chosen_alpha;    /* adaptive runs: the alpha they chose (alpha is REPORT_ALPHA_AUTO) */
    char *plan;             /* results.json's plan ("per-alpha" before plans existed) */
} report_run;

/* The row of adaptive-alpha runs: after every alpha in [0, 1). */
#define REPORT_ALPHA_AUTO 2.0
/* "auto" or "%g". */
void report_alpha_label(double alpha, char *out, size_t cap);

enum { REPORT_ENERGY_NONE = 0, REPORT_ENERGY_MEASURED = 1, REPORT_ENERGY_ESTIMATED = 2 };

typedef struct report_set {
    report_run *runs;
    size_t n, cap;
} report_set;

/* Adds every results.json under dir (recursively). Unreadable or malformed
 * files are skipped with a warning on stderr naming them; returns -1 only
 * if dir itself cannot be read. */
int report_collect(const char *dir, report_set *set, char *err, size_t errcap);
void report_set_free(report_set *set);

typedef struct report_style {
    double collapse_pct;  /* a cell whose mean F1 (%) is below this shows '-' (20) */
    int digits;           /* decimals of F1 in % (2) */
} report_style;

/* The distinct values of the runs, in table order (see report_tables.c). */
typedef struct report_axes {
    char **configs;
    size_t n_configs;
    double *alphas;
    size_t n_alphas;
    char **tasks;
    size_t n_tasks;
    char **models;
    size_t n_models;
} report_axes;

/* The sorted distinct configs, tasks, models and alphas of the runs: 0, or
 * -1 out of memory (report_axes_free frees what was built). */
int report_axes_build(const report_set *set, report_axes *axes);
void report_axes_free(report_axes *axes);

/* Mean and sample standard deviation (n - 1) of the F1s, in %, of the runs
 * in one (config, alpha, task, model) cell; *n = 0 when there are none. */
void report_cell_stats(const report_set *set, const char *config, double alpha, const char *task, const char *model,
                       size_t *n, double *mean, double *std);

/* More of one cell: runs below the collapse threshold (per seed), the
 * mean chosen alpha of adaptive runs, and the single run's bootstrap
 * interval in % (NAN unless exactly one run). */
typedef struct report_cell_extra {
    size_t n, collapsed;
    double chosen_alpha;
    double ci_low, ci_high;
} report_cell_extra;
void report_cell_more(const report_set *set, const char *config, double alpha, const char *task, const char *model,
                      double collapse_pct, report_cell_extra *out);

/* Table III in Markdown and in LaTeX (booktabs). */
void report_table3_markdown(FILE *out, const report_set *set, const report_axes *axes, const report_style *style);
void report_table3_latex(FILE *out, const report_set *set, const report_axes *axes, const report_style *style);
/* 1 when some run's metric is accuracy (a sequence-classification task). */
int report_has_accuracy(const report_set *set);
/* Which F1 the tables show, per task, as one sentence. */
void report_metric_note(FILE *out, const report_set *set, const report_axes *axes, int latex);

/* Energy (kWh) and carbon (g CO2eq) summed per grid, per config and per
 * alpha, with the count of measured and estimated runs (report_energy.c). */
void report_energy_markdown(FILE *out, const report_set *set, const report_axes *axes);
void report_energy_latex(FILE *out, const report_set *set, const report_axes *axes);
/* LaTeX-escapes s onto out. */
void report_tex_escape(FILE *out, const char *s);

/* docs/method.md section 8 for one encoder config.json and one quant config. */
int report_cost(const char *config_json, const char *quant, int64_t seq_len, double *size_bytes, double *bitops,
                char *err, size_t errcap);
/* Table I for every distinct checkpoint of the runs (Markdown and LaTeX). */
int report_table1(FILE *md, FILE *tex, const report_set *set, const report_axes *axes, int64_t seq_len);

/* Data, a gnuplot script, and (gnuplot found) SVG + PNG per config into
 * dir. Returns 1 if gnuplot ran, 0 if only the script was written, -1 on
 * error. */
int report_plots(const char *dir, const report_set *set, const report_axes *axes, char *err, size_t errcap);

#endif
