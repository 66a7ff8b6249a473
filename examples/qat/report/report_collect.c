/* Finds results.json files under a directory and reads what the tables
 * need. A sweep leaves a cell.json beside each results.json with the grid's
 * names for the model and task; plain `qat train` runs have none, so their
 * labels fall back to the checkpoint's directory name and the task kind. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>
#include <qat/qat.h>

#include "report.h"

static const char *str_field(json_object *o, const char *key)
{
    json_object *v;
    return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

static int num_field(json_object *o, const char *key, double *out)
{
    json_object *v;
    if (!o || !json_object_object_get_ex(o, key, &v) ||
        !(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
        return -1;
    *out = json_object_get_double(v);
    return 0;
}

static char *basename_of(const char *p)
{
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        n--;
    const char *b = p + n;
    while (b > p && b[-1] != '/')
        b--;
    return strndup(b, (size_t)(p + n - b));
}

/* Canonical config name, so "e8w8a8" from a hand-written run and "E8W8A8"
 * from a sweep land in the same row. */
static char *canonical_config(const char *s)
{
    qat_quant_config *q = NULL;
    char text[QAT_QUANT_CONFIG_MAX_STRING + 1];
    if (qat_quant_config_parse(s, &q) != QAT_OK)
        return NULL;
    qat_status st = qat_quant_config_to_string(q, text, sizeof text, NULL);
    qat_quant_config_free(q);
    return st == QAT_OK ? strdup(text) : NULL;
}

/* results.json's energy object (runs from before the meter have none:
 * they count as not metered). */
static void read_energy(json_object *r, report_run *run)
{
    json_object *e = NULL;
    json_object_object_get_ex(r, "energy", &e);
    const char *method = str_field(e, "method");
    double kwh, g;
    if (!method || num_field(e, "kwh", &kwh) || num_field(e, "gco2eq", &g) || !isfinite(kwh) || !isfinite(g) ||
        kwh < 0 || g < 0)
        return;
    run->energy = !strcmp(method, "estimated") ? REPORT_ENERGY_ESTIMATED : REPORT_ENERGY_MEASURED;
    run->kwh = kwh;
    run->gco2eq = g;
}

static void free_run(report_run *r)
{
    free(r->path);
    free(r->config);
    free(r->model);
    free(r->model_path);
    free(r->task);
    free(r->metric);
    free(r->grid);
    free(r->plan);
}

static void add_run(report_set *set, const char *path, const char *dir)
{
    json_object *r = json_object_from_file(path);
    if (!r) {
        fprintf(stderr, "qat report: skipping %s: not readable JSON\n", path);
        return;
    }
    char cell_path[4200];
    snprintf(cell_path, sizeof cell_path, "%s/cell.json", dir);
    json_object *cell = json_object_from_file(cell_path); /* NULL when absent: fine */
    json_object *test = NULL;
    json_object_object_get_ex(r, "test", &test);
    report_run run;
    memset(&run, 0, sizeof run);
    double seed = 42;
    const char *quant = str_field(r, "quant"), *model = str_field(r, "model");
    if (!quant || !model || num_field(r, "alpha", &run.alpha) || num_field(test, "f1", &run.f1) || !isfinite(run.f1)) {
        fprintf(stderr, "qat report: skipping %s: lacks quant, model, alpha or test.f1\n", path);
        goto out;
    }
    num_field(r, "seed", &seed);
    run.seed = (uint64_t)seed;
    if (!(run.config = canonical_config(quant))) {
        fprintf(stderr, "qat report: skipping %s: invalid quant '%s'\n", path, quant);
        goto out;
    }
    run.path = strdup(path);
    run.model_path = strdup(str_field(cell, "model_path") ? str_field(cell, "model_path") : model);
    run.model = str_field(cell, "model") ? strdup(str_field(cell, "model")) : basename_of(model);
    const char *task = str_field(cell, "task") ? str_field(cell, "task") : str_field(r, "task");
    run.task = strdup(task ? task : "task");
    const char *metric = str_field(test, "f1_metric");
    run.metric = strdup(metric ? metric : "f1");
    const char *grid = str_field(cell, "sweep") ? str_field(cell, "sweep") : str_field(cell, "grid");
    run.grid = strdup(grid ? grid : "(qat train runs)");
    read_energy(r, &run);
    run.ci_low = run.ci_high = NAN;
    json_object *ci = NULL;
    if (json_object_object_get_ex(test, "f1_ci95", &ci) && json_object_is_type(ci, json_type_array) &&
        json_object_array_length(ci) == 2) {
        run.ci_low = json_object_get_double(json_object_array_get_idx(ci, 0));
        run.ci_high = json_object_get_double(json_object_array_get_idx(ci, 1));
    }
    /* Adaptive runs form their own row: their alphas differ run to run. */
    run.chosen_alpha = NAN;
    const char *mode = str_field(r, "alpha_mode");
    if (mode && !strcmp(mode, "adaptive")) {
        run.chosen_alpha = run.alpha;
        run.alpha = REPORT_ALPHA_AUTO;
    }
    const char *plan = str_field(r, "plan");
    run.plan = strdup(plan ? plan : "per-alpha");
    /* A copied run directory would count one seed twice in mean +- std. */
    for (size_t i = 0; i < set->n; i++) {
        const report_run *o = &set->runs[i];
        if (!strcmp(o->config, run.config) && o->alpha == run.alpha && !strcmp(o->model, run.model) &&
            !strcmp(o->task, run.task) && o->seed == run.seed) {
            fprintf(stderr, "qat report: skipping %s: same cell and seed as %s\n", path, o->path);
            free_run(&run);
            goto out;
        }
    }
    if (set->n == set->cap) {
        const size_t cap = set->cap ? 2 * set->cap : 64;
        report_run *grown = realloc(set->runs, cap * sizeof *grown);
        if (!grown) {
            fprintf(stderr, "qat report: skipping %s: out of memory\n", path);
            free_run(&run);
            goto out;
        }
        set->runs = grown;
        set->cap = cap;
    }
    set->runs[set->n++] = run;
out:
    json_object_put(r);
    json_object_put(cell);
}

static int walk(const char *dir, report_set *set, int depth)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    /* Sorted names would only matter for warnings' order: the tables sort. */
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char p[4096];
        if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= (int)sizeof p)
            continue;
        struct stat st;
        if (lstat(p, &st) != 0)  /* lstat: a symlink loop must not recurse forever */
            continue;
        if (S_ISDIR(st.st_mode) && depth < 32)
            walk(p, set, depth + 1);
        else if (S_ISREG(st.st_mode) && !strcmp(e->d_name, "results.json"))
            add_run(set, p, dir);
    }
    closedir(d);
    return 0;
}

int report_collect(const char *dir, report_set *set, char *err, size_t errcap)
{
    if (walk(dir, set, 0) != 0) {
        snprintf(err, errcap, "cannot read %s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

void report_set_free(report_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        free_run(&set->runs[i]);
    free(set->runs);
    memset(set, 0, sizeof *set);
}
