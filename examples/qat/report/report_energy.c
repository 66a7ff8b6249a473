/* Energy and carbon of the runs (docs/energy.md): kWh and g CO2eq from
 * each results.json's energy object, summed per grid (cell.json's sweep
 * name), per config and per alpha, with how many runs were measured (RAPL,
 * NVML) and how many estimated (power draw x duration). Runs without an
 * energy object add nothing and are counted in the caption. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

typedef struct energy_sum {
    size_t runs, measured, estimated;
    double kwh, gco2eq;
} energy_sum;

static void add(energy_sum *s, const report_run *r)
{
    s->runs++;
    s->measured += r->energy == REPORT_ENERGY_MEASURED;
    s->estimated += r->energy == REPORT_ENERGY_ESTIMATED;
    s->kwh += r->kwh;
    s->gco2eq += r->gco2eq;
}

/* Three significant-ish digits, never an exponent below 1e6. */
static void fmt(char *buf, size_t cap, double x)
{
    snprintf(buf, cap, x >= 100 ? "%.0f" : x >= 10 ? "%.1f" : x >= 1 ? "%.2f" : x >= 0.001 || x == 0 ? "%.3f" : "%.2e",
             x);
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* The distinct grid names, sorted; the caller frees the array only. Out
 * of memory: NULL and no grids (the tables then lack their per-grid rows). */
static const char **grids(const report_set *set, size_t *n)
{
    const char **g = calloc(set->n ? set->n : 1, sizeof *g);
    *n = 0;
    if (!g)
        return NULL;
    for (size_t i = 0; i < set->n; i++) {
        size_t k = 0;
        while (k < *n && strcmp(g[k], set->runs[i].grid))
            k++;
        if (k == *n)
            g[(*n)++] = set->runs[i].grid;
    }
    qsort(g, *n, sizeof *g, cmp_str);
    return g;
}

enum { BY_GRID, BY_CONFIG, BY_ALPHA };

static energy_sum sum_of(const report_set *set, int by, const char *name, double alpha)
{
    energy_sum s = {0};
    for (size_t i = 0; i < set->n; i++) {
        const report_run *r = &set->runs[i];
        if ((by == BY_GRID && !strcmp(r->grid, name)) || (by == BY_CONFIG && !strcmp(r->config, name)) ||
            (by == BY_ALPHA && r->alpha == alpha))
            add(&s, r);
    }
    return s;
}

static void row(FILE *out, int latex, const char *label, double alpha, int is_alpha, const energy_sum *s, int bold)
{
    char kwh[32], g[32];
    fmt(kwh, sizeof kwh, s->kwh);
    fmt(g, sizeof g, s->gco2eq);
    const char *b0 = bold ? (latex ? "\\textbf{" : "**") : "", *b1 = bold ? (latex ? "}" : "**") : "";
    char a[32];
    report_alpha_label(alpha, a, sizeof a); /* "auto": adaptive runs */
    if (latex) {
        fputs(b0, out);
        if (is_alpha)
            fprintf(out, alpha == REPORT_ALPHA_AUTO ? "$\\alpha$ %s" : "$\\alpha = %s$", a);
        else
            report_tex_escape(out, label);
        fprintf(out, "%s & %zu & %zu & %zu & %s%s%s & %s%s%s \\\\\n", b1, s->runs, s->measured, s->estimated, b0, kwh,
                b1, b0, g, b1);
    } else {
        if (is_alpha)
            fprintf(out, "| %s%s%s |", b0, a, b1);
        else
            fprintf(out, "| %s%s%s |", b0, label, b1);
        fprintf(out, " %zu | %zu | %zu | %s%s%s | %s%s%s |\n", s->runs, s->measured, s->estimated, b0, kwh, b1, b0, g,
                b1);
    }
}

static void totals(const report_set *set, energy_sum *all)
{
    memset(all, 0, sizeof *all);
    for (size_t i = 0; i < set->n; i++)
        add(all, &set->runs[i]);
}

static void caption(FILE *out, const energy_sum *all, int latex)
{
    size_t none = all->runs - all->measured - all->estimated;
    fprintf(out,
            "Energy (kWh) and carbon (g CO%s eq) summed over the runs' results.json; measured = RAPL/NVML counters, "
            "estimated = power draw %s duration (docs/energy.md); each run's own carbon intensity.",
            latex ? "$_2$" : "2", latex ? "$\\times$" : "×");
    if (none)
        fprintf(out, " %zu run%s without energy data add%s nothing.", none, none > 1 ? "s" : "", none > 1 ? "" : "s");
}

void report_energy_markdown(FILE *out, const report_set *set, const report_axes *ax)
{
    energy_sum all;
    totals(set, &all);
    fprintf(out, "**Energy and carbon.** ");
    caption(out, &all, 0);
    fprintf(out, "\n");
    size_t n_grids;
    const char **g = grids(set, &n_grids);
    const char *heads[] = {"Grid", "Config", "α"};
    for (int by = BY_GRID; by <= BY_ALPHA; by++) {
        fprintf(out, "\n| %s | Runs | Measured | Estimated | kWh | g CO2eq |\n|---|---:|---:|---:|---:|---:|\n",
                heads[by]);
        size_t n = by == BY_GRID ? n_grids : by == BY_CONFIG ? ax->n_configs : ax->n_alphas;
        for (size_t i = 0; i < n; i++) {
            const char *name = by == BY_GRID ? g[i] : by == BY_CONFIG ? ax->configs[i] : NULL;
            double alpha = by == BY_ALPHA ? ax->alphas[i] : 0;
            energy_sum s = sum_of(set, by, name, alpha);
            row(out, 0, name, alpha, by == BY_ALPHA, &s, 0);
        }
        row(out, 0, "Total", 0, 0, &all, 1);
    }
    free(g);
}

void report_energy_latex(FILE *out, const report_set *set, const report_axes *ax)
{
    energy_sum all;
    totals(set, &all);
    fprintf(out, "%% Energy and carbon (needs \\usepackage{booktabs}); made by `qat report`.\n");
    fprintf(out, "\\begin{table}[t]\n\\centering\n\\caption{");
    caption(out, &all, 1);
    fprintf(out, "}\n\\label{tab:energy}\n\\begin{tabular}{lrrrrr}\n\\toprule\n"
                 " & Runs & Measured & Estimated & kWh & g CO$_2$eq \\\\\n");
    size_t n_grids;
    const char **g = grids(set, &n_grids);
    const char *heads[] = {"Per grid", "Per configuration", "Per $\\alpha$"};
    for (int by = BY_GRID; by <= BY_ALPHA; by++) {
        fprintf(out, "\\midrule\n\\multicolumn{6}{l}{\\emph{%s}} \\\\\n", heads[by]);
        size_t n = by == BY_GRID ? n_grids : by == BY_CONFIG ? ax->n_configs : ax->n_alphas;
        for (size_t i = 0; i < n; i++) {
            const char *name = by == BY_GRID ? g[i] : by == BY_CONFIG ? ax->configs[i] : NULL;
            double alpha = by == BY_ALPHA ? ax->alphas[i] : 0;
            energy_sum s = sum_of(set, by, name, alpha);
            row(out, 1, name, alpha, by == BY_ALPHA, &s, 0);
        }
    }
    fprintf(out, "\\midrule\n");
    row(out, 1, "Total", 0, 0, &all, 1);
    fprintf(out, "\\bottomrule\n\\end{tabular}\n\\end{table}\n");
    free(g);
}
