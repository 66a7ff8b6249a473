/* Table III of the study: rows config x alpha (one block per config),
 * columns task x model, test F1 in % (accuracy for sequence-classification
 * tasks, said in the caption and the column's header). A cell shows the mean over seeds
 * (+- the sample standard deviation when there are several), '-' when the
 * mean is below the collapse threshold, and the best cell of each column
 * within a block is bold (ties, as printed, all bold). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qat/qat.h>

#include "report.h"

/* The study's configs first, in the paper's order; any other config after
 * them by decreasing weight, embedding and activation bits. */
static const char *const study_order[] = {"FP32", "E8W8A8", "E4W4A4", "E2W2A2", "E6W2A6", "E6W1.58A6"};

static double config_rank(const char *c)
{
    for (size_t i = 0; i < sizeof study_order / sizeof *study_order; i++)
        if (!strcmp(c, study_order[i]))
            return (double)i;
    qat_quant_config *q = NULL;
    int e = 32, w = 32, a = 32, walgo = 0;
    if (qat_quant_config_parse(c, &q) == QAT_OK) {
        qat_quant_config_get(q, QAT_CLASS_EMBEDDING, QAT_QP_BITS, &e);
        qat_quant_config_get(q, QAT_CLASS_WEIGHT, QAT_QP_BITS, &w);
        qat_quant_config_get(q, QAT_CLASS_ACTIVATION, QAT_QP_BITS, &a);
        qat_quant_config_get(q, QAT_CLASS_WEIGHT, QAT_QP_ALGO, &walgo);
        qat_quant_config_free(q);
    }
    /* ternary sorts after 2-bit LSQ (it has fewer levels) */
    return 100.0 + (32 - w) * 1e4 + (walgo == QAT_ALGO_BITNET158) * 5e3 + (32 - e) * 100 + (32 - a);
}

static int cmp_config(const void *x, const void *y)
{
    const char *a = *(const char *const *)x, *b = *(const char *const *)y;
    double ra = config_rank(a), rb = config_rank(b);
    return ra < rb ? -1 : ra > rb ? 1 : strcmp(a, b);
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

/* 0, or -1 out of memory (the list unchanged). */
static int add_unique(char ***list, size_t *n, const char *s)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*list)[i], s))
            return 0;
    char **grown = realloc(*list, (*n + 1) * sizeof **list);
    if (!grown)
        return -1;
    *list = grown;
    if (!(grown[*n] = strdup(s)))
        return -1;
    (*n)++;
    return 0;
}

int report_axes_build(const report_set *set, report_axes *ax)
{
    memset(ax, 0, sizeof *ax);
    for (size_t i = 0; i < set->n; i++) {
        const report_run *r = &set->runs[i];
        if (add_unique(&ax->configs, &ax->n_configs, r->config) || add_unique(&ax->tasks, &ax->n_tasks, r->task) ||
            add_unique(&ax->models, &ax->n_models, r->model))
            return -1;
        size_t k = 0;
        while (k < ax->n_alphas && ax->alphas[k] != r->alpha)
            k++;
        if (k == ax->n_alphas) {
            double *grown = realloc(ax->alphas, (ax->n_alphas + 1) * sizeof *grown);
            if (!grown)
                return -1;
            ax->alphas = grown;
            ax->alphas[ax->n_alphas++] = r->alpha;
        }
    }
    if (ax->n_configs)
        qsort(ax->configs, ax->n_configs, sizeof *ax->configs, cmp_config);
    if (ax->n_tasks)
        qsort(ax->tasks, ax->n_tasks, sizeof *ax->tasks, cmp_str);
    if (ax->n_models)
        qsort(ax->models, ax->n_models, sizeof *ax->models, cmp_str);
    if (ax->n_alphas)
        qsort(ax->alphas, ax->n_alphas, sizeof *ax->alphas, cmp_double);
    return 0;
}

void report_axes_free(report_axes *ax)
{
    for (size_t i = 0; i < ax->n_configs; i++)
        free(ax->configs[i]);
    for (size_t i = 0; i < ax->n_tasks; i++)
        free(ax->tasks[i]);
    for (size_t i = 0; i < ax->n_models; i++)
        free(ax->models[i]);
    free(ax->configs);
    free(ax->tasks);
    free(ax->models);
    free(ax->alphas);
    memset(ax, 0, sizeof *ax);
}

void report_cell_stats(const report_set *set, const char *config, double alpha, const char *task, const char *model,
                       size_t *n, double *mean, double *std)
{
    double sum = 0, sq = 0;
    size_t k = 0;
    for (size_t pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < set->n; i++) {
            const report_run *r = &set->runs[i];
            if (r->alpha != alpha || strcmp(r->config, config) || strcmp(r->task, task) || strcmp(r->model, model))
                continue;
            double v = 100.0 * r->f1;
            if (pass == 0) {
                sum += v;
                k++;
            } else {
                double d = v - sum / (double)k;
                sq += d * d;  /* two passes: no cancellation for close F1s */
            }
        }
        if (k == 0)
            break;
    }
    *n = k;
    *mean = k ? sum / (double)k : NAN;
    *std = k > 1 ? sqrt(sq / (double)(k - 1)) : 0.0;
}

void report_alpha_label(double alpha, char *out, size_t cap)
{
    if (alpha == REPORT_ALPHA_AUTO)
        snprintf(out, cap, "auto");
    else
        snprintf(out, cap, "%g", alpha);
}

void report_cell_more(const report_set *set, const char *config, double alpha, const char *task, const char *model,
                      double collapse_pct, report_cell_extra *out)
{
    memset(out, 0, sizeof *out);
    double chosen = 0;
    size_t n_chosen = 0;
    out->ci_low = out->ci_high = NAN;
    for (size_t i = 0; i < set->n; i++) {
        const report_run *r = &set->runs[i];
        if (r->alpha != alpha || strcmp(r->config, config) || strcmp(r->task, task) || strcmp(r->model, model))
            continue;
        out->n++;
        out->collapsed += !(100.0 * r->f1 >= collapse_pct);
        if (isfinite(r->chosen_alpha)) {
            chosen += r->chosen_alpha;
            n_chosen++;
        }
        out->ci_low = 100.0 * r->ci_low;
        out->ci_high = 100.0 * r->ci_high;
    }
    out->chosen_alpha = n_chosen ? chosen / (double)n_chosen : NAN;
    if (out->n != 1)
        out->ci_low = out->ci_high = NAN;
}

/* One printed cell: its text and whether it counts for the bold rule. */
typedef struct cell_text {
    char text[192];
    double shown;  /* the mean rounded as printed; NAN when '-' or empty */
} cell_text;

static void format_cell(const report_set *set, const report_axes *ax, const report_style *st, size_t c, size_t a,
                        size_t t, size_t m, int latex, cell_text *out)
{
    size_t n;
    double mean, std;
    report_cell_stats(set, ax->configs[c], ax->alphas[a], ax->tasks[t], ax->models[m], &n, &mean, &std);
    out->shown = NAN;
    if (n == 0) {
        snprintf(out->text, sizeof out->text, "%s", "");
        return;
    }
    report_cell_extra x;
    report_cell_more(set, ax->configs[c], ax->alphas[a], ax->tasks[t], ax->models[m], st->collapse_pct, &x);
    /* collapse counted per seed: "2/3 collapsed" */
    char tail[64] = "";
    size_t at = 0;
    if (n > 1 && x.collapsed > 0)
        at += (size_t)snprintf(tail + at, sizeof tail - at, " (%zu/%zu collapsed)", x.collapsed, n);
    if (isfinite(x.chosen_alpha)) /* adaptive: the alpha the runs chose */
        snprintf(tail + at, sizeof tail - at, latex ? " ($\\hat\\alpha$ %.2f)" : " (α̂ %.2f)", x.chosen_alpha);
    if (mean < st->collapse_pct) {
        snprintf(out->text, sizeof out->text, "-%s", tail);
        return;
    }
    char num[32];
    snprintf(num, sizeof num, "%.*f", st->digits, mean);
    out->shown = strtod(num, NULL);
    if (n > 1)
        snprintf(out->text, sizeof out->text, "%s %s %.*f%s", num, latex ? "$\\pm$" : "±", st->digits, std, tail);
    else
        snprintf(out->text, sizeof out->text, "%s%s", num, tail);
}

/* cells[a * cols + col] for one config block, bold marks applied. */
static cell_text *block(const report_set *set, const report_axes *ax, const report_style *st, size_t c, int latex,
                        int *any)
{
    size_t cols = ax->n_tasks * ax->n_models;
    const size_t n_cells = ax->n_alphas * cols;
    cell_text *cells = calloc(n_cells ? n_cells : 1, sizeof *cells);
    *any = 0;
    if (!cells) {
        fprintf(stderr, "qat report: Table III: out of memory; config %s left out\n", ax->configs[c]);
        return NULL;
    }
    for (size_t a = 0; a < ax->n_alphas; a++)
        for (size_t t = 0; t < ax->n_tasks; t++)
            for (size_t m = 0; m < ax->n_models; m++) {
                cell_text *x = &cells[a * cols + t * ax->n_models + m];
                format_cell(set, ax, st, c, a, t, m, latex, x);
                *any |= x->text[0] != '\0';
            }
    for (size_t col = 0; col < cols; col++) {
        double best = -INFINITY;
        for (size_t a = 0; a < ax->n_alphas; a++)
            if (cells[a * cols + col].shown > best)
                best = cells[a * cols + col].shown;
        for (size_t a = 0; a < ax->n_alphas; a++) {
            cell_text *x = &cells[a * cols + col];
            if (isfinite(best) && x->shown == best) {
                char tmp[176];
                snprintf(tmp, sizeof tmp, "%.175s", x->text);
                snprintf(x->text, sizeof x->text, latex ? "\\textbf{%s}" : "**%s**", tmp);
            }
        }
    }
    return cells;
}

static int row_empty(const cell_text *row, size_t cols)
{
    for (size_t i = 0; i < cols; i++)
        if (row[i].text[0])
            return 0;
    return 1;
}

void report_tex_escape(FILE *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '_': case '&': case '%': case '#': case '$': case '{': case '}':
            fprintf(out, "\\%c", *s);
            break;
        case '~': fputs("\\textasciitilde{}", out); break;
        case '^': fputs("\\textasciicircum{}", out); break;
        case '\\': fputs("\\textbackslash{}", out); break;
        default: fputc(*s, out);
        }
    }
}

static const char *metric_words(const char *m)
{
    if (!strcmp(m, "entity_micro_f1"))
        return "entity-level micro F1 (seqeval, IOB2)";
    if (!strcmp(m, "token_micro_f1"))
        return "token micro F1 (= accuracy)";
    if (!strcmp(m, "macro_f1"))
        return "macro F1 over tags";
    if (!strcmp(m, "weighted_f1"))
        return "support-weighted F1";
    if (!strcmp(m, "accuracy"))
        return "accuracy (sequence classification)";
    return m;
}

/* The metric of a task's runs (NULL: none), *mixed when they disagree. */
static const char *task_metric(const report_set *set, const char *task, int *mixed)
{
    const char *metric = NULL;
    *mixed = 0;
    for (size_t i = 0; i < set->n; i++)
        if (!strcmp(set->runs[i].task, task)) {
            if (metric && strcmp(metric, set->runs[i].metric))
                *mixed = 1;
            metric = set->runs[i].metric;
        }
    return metric;
}

/* A column of accuracies (sequence-classification tasks) is marked in its
 * header too, since "F1" is what a reader of Table III expects. */
static int accuracy_column(const report_set *set, const char *task)
{
    int mixed;
    const char *metric = task_metric(set, task, &mixed);
    return metric && !mixed && !strcmp(metric, "accuracy");
}

int report_has_accuracy(const report_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        if (!strcmp(set->runs[i].metric, "accuracy"))
            return 1;
    return 0;
}

void report_metric_note(FILE *out, const report_set *set, const report_axes *ax, int latex)
{
    /* Sequence-classification tasks report accuracy in results.json's "f1". */
    const char *what = report_has_accuracy(set) ? "Test F1 or accuracy" : "Test F1";
    fprintf(out, latex ? "%s in \\%%: " : "%s in %%: ", what);
    for (size_t t = 0; t < ax->n_tasks; t++) {
        int mixed;
        const char *metric = task_metric(set, ax->tasks[t], &mixed);
        fputs(t ? "; " : "", out);
        if (latex)
            report_tex_escape(out, ax->tasks[t]);
        else
            fputs(ax->tasks[t], out);
        fprintf(out, ": %s%s", metric ? metric_words(metric) : "?", mixed ? " (runs disagree on the metric!)" : "");
    }
    /* which plan(s) produced the runs (docs/sweep.md, "Plans") */
    int per = 0, shared = 0;
    for (size_t i = 0; i < set->n; i++) {
        per |= !strcmp(set->runs[i].plan, "per-alpha");
        shared |= !strcmp(set->runs[i].plan, "shared-prefix");
    }
    fprintf(out, ". Plan: %s.", per && shared ? "per-alpha and shared-prefix runs mixed" : shared ? "shared-prefix DAPT"
                                                                                               : "per-alpha DAPT");
}

void report_table3_markdown(FILE *out, const report_set *set, const report_axes *ax, const report_style *st)
{
    size_t cols = ax->n_tasks * ax->n_models;
    fprintf(out, "**Table III.** ");
    report_metric_note(out, set, ax, 0);
    fprintf(out, " '-': collapsed run (%s < %g %%); bold: best alpha per config and column; mean ± sample std where "
                 "several seeds.\n\n| Config | α |",
            report_has_accuracy(set) ? "score" : "F1", st->collapse_pct);
    for (size_t t = 0; t < ax->n_tasks; t++)
        for (size_t m = 0; m < ax->n_models; m++)
            fprintf(out, " %s / %s%s |", ax->tasks[t], ax->models[m],
                    accuracy_column(set, ax->tasks[t]) ? " (accuracy)" : "");
    fprintf(out, "\n|---|---:|");
    for (size_t i = 0; i < cols; i++)
        fprintf(out, "---:|");
    fprintf(out, "\n");
    for (size_t c = 0; c < ax->n_configs; c++) {
        int any;
        cell_text *cells = block(set, ax, st, c, 0, &any);
        for (size_t a = 0; a < ax->n_alphas && any; a++) {
            if (row_empty(&cells[a * cols], cols))
                continue;
            char alpha[32];
            report_alpha_label(ax->alphas[a], alpha, sizeof alpha);
            fprintf(out, "| %s | %s |", ax->configs[c], alpha);
            for (size_t i = 0; i < cols; i++)
                fprintf(out, " %s |", cells[a * cols + i].text);
            fprintf(out, "\n");
        }
        free(cells);
    }
}

void report_table3_latex(FILE *out, const report_set *set, const report_axes *ax, const report_style *st)
{
    size_t cols = ax->n_tasks * ax->n_models;
    fprintf(out, "%% Table III (needs \\usepackage{booktabs}); made by `qat report`.\n");
    fprintf(out, "\\begin{table}[t]\n\\centering\n\\caption{");
    report_metric_note(out, set, ax, 1);
    fprintf(out, " `-': collapsed run (%s $<$ %g\\,\\%%); bold: best $\\alpha$ per configuration and column%s.}\n",
            report_has_accuracy(set) ? "score" : "F1", st->collapse_pct,
            "; mean $\\pm$ sample standard deviation where several seeds");
    fprintf(out, "\\label{tab:f1-alpha}\n\\begin{tabular}{ll");
    for (size_t i = 0; i < cols; i++)
        fputc('c', out);
    fprintf(out, "}\n\\toprule\n & ");
    for (size_t t = 0; t < ax->n_tasks; t++) {
        fprintf(out, " & \\multicolumn{%zu}{c}{", ax->n_models);
        report_tex_escape(out, ax->tasks[t]);
        fputs(accuracy_column(set, ax->tasks[t]) ? " (accuracy)}" : "}", out);
    }
    fprintf(out, " \\\\\n");
    for (size_t t = 0; t < ax->n_tasks; t++)
        fprintf(out, "\\cmidrule(lr){%zu-%zu}", 3 + t * ax->n_models, 2 + (t + 1) * ax->n_models);
    fprintf(out, "\nConfig & $\\alpha$");
    for (size_t t = 0; t < ax->n_tasks; t++)
        for (size_t m = 0; m < ax->n_models; m++) {
            fputs(" & ", out);
            report_tex_escape(out, ax->models[m]);
        }
    fprintf(out, " \\\\\n");
    int first_block = 1;
    for (size_t c = 0; c < ax->n_configs; c++) {
        int any;
        cell_text *cells = block(set, ax, st, c, 1, &any);
        if (any) {
            fprintf(out, "\\midrule\n");
            int first_row = 1;
            for (size_t a = 0; a < ax->n_alphas; a++) {
                if (row_empty(&cells[a * cols], cols))
                    continue;
                if (first_row)
                    report_tex_escape(out, ax->configs[c]);
                char alpha[32];
                report_alpha_label(ax->alphas[a], alpha, sizeof alpha);
                fprintf(out, " & %s", alpha);
                for (size_t i = 0; i < cols; i++)
                    fprintf(out, " & %s", cells[a * cols + i].text);
                fprintf(out, " \\\\\n");
                first_row = 0;
            }
            first_block = 0;
        }
        free(cells);
    }
    (void)first_block;
    fprintf(out, "\\bottomrule\n\\end{tabular}\n\\end{table}\n");
}
