/* Grid loading, validation and expansion (see sweep_grid.h, docs/sweep.md).
 * Everything is checked before the first cell runs: a typo found after
 * three days of a sweep costs three days. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <qat/qat.h>

#include "commands.h"
#include "sweep_grid.h"

typedef struct checker {
    const char *label;  /* grid file name, prefixes every message */
    const char *base;   /* directory relative paths are resolved from */
    char *err;
    size_t errcap;
} checker;

static int fail(checker *c, const char *key, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(c->err, c->errcap, "%s: %s: %s", c->label, key, msg);
    return -1;
}

static const char *type_name(json_object *v)
{
    return v ? json_type_to_name(json_object_get_type(v)) : "null";
}

static char *join_path(const char *base, const char *p)
{
    if (p[0] == '/' || !base || !*base || !strcmp(base, "."))
        return strdup(p);
    size_t n = strlen(base) + strlen(p) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s/%s", base, p);
    return s;
}

/* Labels become directory names and SLURM ids: keep them to a safe set. */
static int safe_label(const char *s)
{
    if (!*s || !strcmp(s, ".") || !strcmp(s, "..") || strlen(s) > 64)
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
              *p == '_' || *p == '.' || *p == '+'))
            return 0;
    return 1;
}

static int get_string(checker *c, json_object *obj, const char *name, const char *key, char **out, int required)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(obj, name, &v) || !v) {
        if (required)
            return fail(c, key, "missing (a string is required)");
        return 0;
    }
    if (!json_object_is_type(v, json_type_string))
        return fail(c, key, "expected a string, got %s", type_name(v));
    if (!*json_object_get_string(v))
        return fail(c, key, "empty string");
    *out = strdup(json_object_get_string(v));
    return 0;
}

static int get_number(checker *c, json_object *obj, const char *name, const char *key, double *out)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(obj, name, &v) || !v)
        return 0;
    if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
        return fail(c, key, "expected a number, got %s", type_name(v));
    *out = json_object_get_double(v);
    return 0;
}

static int get_int(checker *c, json_object *obj, const char *name, const char *key, int64_t *out, int64_t lo,
                   int64_t hi)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(obj, name, &v) || !v)
        return 0;
    if (!json_object_is_type(v, json_type_int))
        return fail(c, key, "expected an integer, got %s", type_name(v));
    int64_t x = json_object_get_int64(v);
    if (x < lo || x > hi)
        return fail(c, key, "%lld is outside [%lld, %lld]", (long long)x, (long long)lo, (long long)hi);
    *out = x;
    return 0;
}

/* Rejects keys the grid format does not know: a misspelt "alpha" must not
 * silently run the default. */
static int known_keys(checker *c, json_object *obj, const char *where, const char *const *keys)
{
    json_object_object_foreach(obj, k, v)
    {
        (void)v;
        int ok = 0;
        for (const char *const *p = keys; *p; p++)
            ok |= !strcmp(*p, k);
        if (!ok) {
            char key[256];
            snprintf(key, sizeof key, "%s%s%s", where, *where ? "." : "", k);
            return fail(c, key, "unknown key (see docs/sweep.md for the grid format)");
        }
    }
    return 0;
}

static int get_list(checker *c, json_object *obj, const char *name, json_object **out, int required)
{
    json_object *v = NULL;
    *out = NULL;
    if (!json_object_object_get_ex(obj, name, &v) || !v) {
        if (required)
            return fail(c, name, "missing (a non-empty list is required)");
        return 0;
    }
    if (!json_object_is_type(v, json_type_array))
        return fail(c, name, "expected a list, got %s", type_name(v));
    if (json_object_array_length(v) == 0)
        return fail(c, name, "empty list (give at least one entry)");
    *out = v;
    return 0;
}

static int readable(checker *c, const char *key, const char *path)
{
    if (access(path, R_OK) != 0)
        return fail(c, key, "cannot read '%s': %s", path, strerror(errno));
    return 0;
}

static int load_configs(checker *c, json_object *root, sweep_grid *g)
{
    json_object *list;
    if (get_list(c, root, "configs", &list, 1))
        return -1;
    size_t n = json_object_array_length(list);
    g->configs = calloc(n, sizeof *g->configs);
    if (n && !g->configs)
        return fail(c, "configs", "out of memory");
    for (size_t i = 0; i < n; i++) {
        char key[64];
        snprintf(key, sizeof key, "configs[%zu]", i);
        json_object *v = json_object_array_get_idx(list, i);
        if (!json_object_is_type(v, json_type_string))
            return fail(c, key, "expected a config string such as E6W1.58A6, got %s", type_name(v));
        qat_quant_config *q = NULL;
        if (qat_quant_config_parse(json_object_get_string(v), &q) != QAT_OK)
            return fail(c, key, "invalid quant config '%s': %s", json_object_get_string(v), qat_last_error());
        char text[QAT_QUANT_CONFIG_MAX_STRING + 1];
        qat_status st = qat_quant_config_to_string(q, text, sizeof text, NULL);
        qat_quant_config_free(q);
        if (st != QAT_OK)
            return fail(c, key, "cannot name config '%s': %s", json_object_get_string(v), qat_last_error());
        for (size_t j = 0; j < g->n_configs; j++)
            if (!strcmp(g->configs[j], text))
                return fail(c, key, "'%s' repeats configs[%zu] (both are %s)", json_object_get_string(v), j, text);
        if (!(g->configs[g->n_configs] = strdup(text)))
            return fail(c, key, "out of memory");
        g->n_configs++;
    }
    return 0;
}

static int load_alphas(checker *c, json_object *root, sweep_grid *g)
{
    json_object *list;
    if (get_list(c, root, "alphas", &list, 1))
        return -1;
    size_t n = json_object_array_length(list);
    g->alphas = calloc(n, sizeof *g->alphas);
    if (n && !g->alphas)
        return fail(c, "alphas", "out of memory");
    for (size_t i = 0; i < n; i++) {
        char key[64];
        snprintf(key, sizeof key, "alphas[%zu]", i);
        json_object *v = json_object_array_get_idx(list, i);
        double a;
        if (json_object_is_type(v, json_type_string) && !strcmp(json_object_get_string(v), "auto")) {
            a = SWEEP_ALPHA_AUTO; /* adaptive alpha */
        } else if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double)) {
            return fail(c, key, "expected a number in [0, 1) or \"auto\", got %s", type_name(v));
        } else {
            a = json_object_get_double(v);
            if (!(a >= 0 && a < 1))
                return fail(c, key, "%g is outside [0, 1) (alpha is the DAPT share of B_total)", a);
        }
        for (size_t j = 0; j < g->n_alphas; j++)
            if (g->alphas[j] == a)
                return fail(c, key, "%s repeats alphas[%zu]", json_object_get_string(v), j);
        g->alphas[g->n_alphas++] = a;
    }
    return 0;
}

static int load_seeds(checker *c, json_object *root, sweep_grid *g)
{
    json_object *list;
    if (get_list(c, root, "seeds", &list, 0))
        return -1;
    if (!list) {
        g->seeds = malloc(sizeof *g->seeds);
        if (!g->seeds)
            return fail(c, "seeds", "out of memory");
        g->seeds[0] = 42;
        g->n_seeds = 1;
        return 0;
    }
    size_t n = json_object_array_length(list);
    g->seeds = calloc(n, sizeof *g->seeds);
    if (n && !g->seeds)
        return fail(c, "seeds", "out of memory");
    for (size_t i = 0; i < n; i++) {
        char key[64];
        snprintf(key, sizeof key, "seeds[%zu]", i);
        json_object *v = json_object_array_get_idx(list, i);
        if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
            return fail(c, key, "expected a non-negative integer, got %s", json_object_get_string(v));
        uint64_t s = (uint64_t)json_object_get_int64(v);
        for (size_t j = 0; j < g->n_seeds; j++)
            if (g->seeds[j] == s)
                return fail(c, key, "%llu repeats seeds[%zu]", (unsigned long long)s, j);
        g->seeds[g->n_seeds++] = s;
    }
    return 0;
}

/* A path-valued key: resolved against the grid's directory, then checked. */
static int get_path(checker *c, json_object *obj, const char *name, const char *key, char **out, int required,
                    int must_read)
{
    char *raw = NULL;
    if (get_string(c, obj, name, key, &raw, required))
        return -1;
    if (!raw)
        return 0;
    *out = join_path(c->base, raw);
    free(raw);
    return must_read ? readable(c, key, *out) : 0;
}

/* The label of an entry given by path only: its last component, without a
 * file extension for task files. */
static char *label_from_path(const char *p, int strip_ext)
{
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        n--;
    const char *b = p + n;
    while (b > p && b[-1] != '/')
        b--;
    size_t len = (size_t)(p + n - b);
    char *s = strndup(b, len);
    char *dot = strip_ext ? strrchr(s, '.') : NULL;
    if (dot && dot != s)
        *dot = '\0';
    return s;
}

static int load_models(checker *c, json_object *root, sweep_grid *g, int need_corpus)
{
    static const char *const keys[] = {"name", "path", "tokenizer", "corpus", NULL};
    json_object *list;
    if (get_list(c, root, "models", &list, 1))
        return -1;
    size_t n = json_object_array_length(list);
    g->models = calloc(n, sizeof *g->models);
    if (n && !g->models)
        return fail(c, "models", "out of memory");
    g->n_models = n; /* all counted now, so a failure half-way frees what was set */
    for (size_t i = 0; i < n; i++) {
        char where[64], key[96];
        snprintf(where, sizeof where, "models[%zu]", i);
        json_object *v = json_object_array_get_idx(list, i);
        sweep_model *m = &g->models[i];
        if (!json_object_is_type(v, json_type_object))
            return fail(c, where, "expected a mapping {name, path, tokenizer, corpus}, got %s", type_name(v));
        if (known_keys(c, v, where, keys))
            return -1;
        snprintf(key, sizeof key, "%s.path", where);
        if (get_path(c, v, "path", key, &m->path, 1, 0))
            return -1;
        char cfg[4200];
        snprintf(cfg, sizeof cfg, "%s/config.json", m->path);
        if (access(cfg, R_OK) != 0)
            return fail(c, key, "'%s' is not a checkpoint directory (cannot read %s: %s)", m->path, cfg,
                        strerror(errno));
        snprintf(key, sizeof key, "%s.tokenizer", where);
        if (get_path(c, v, "tokenizer", key, &m->tokenizer, 0, 1))
            return -1;
        snprintf(key, sizeof key, "%s.corpus", where);
        if (get_path(c, v, "corpus", key, &m->corpus, need_corpus, 1))
            return -1;
        snprintf(key, sizeof key, "%s.name", where);
        if (get_string(c, v, "name", key, &m->name, 0))
            return -1;
        if (!m->name)
            m->name = label_from_path(m->path, 0);
        if (!safe_label(m->name))
            return fail(c, key, "'%s' is not a usable label (letters, digits, '-', '_', '.', '+'; at most 64)",
                        m->name);
        if (!strcmp(m->name, "_dapt")) /* <root>/_dapt/ holds the shared DAPT jobs */
            return fail(c, key, "'_dapt' is reserved (the shared-prefix plan's DAPT jobs live in <root>/_dapt)");
        for (size_t j = 0; j < i; j++)
            if (!strcmp(g->models[j].name, m->name))
                return fail(c, key, "'%s' is also the name of models[%zu]", m->name, j);
    }
    return 0;
}

static int load_tasks(checker *c, json_object *root, sweep_grid *g)
{
    static const char *const keys[] = {"name", "train", "eval", "test", NULL};
    json_object *list;
    if (get_list(c, root, "tasks", &list, 1))
        return -1;
    size_t n = json_object_array_length(list);
    g->tasks = calloc(n, sizeof *g->tasks);
    if (n && !g->tasks)
        return fail(c, "tasks", "out of memory");
    g->n_tasks = n;
    for (size_t i = 0; i < n; i++) {
        char where[64], key[96];
        snprintf(where, sizeof where, "tasks[%zu]", i);
        json_object *v = json_object_array_get_idx(list, i);
        sweep_task *t = &g->tasks[i];
        if (!json_object_is_type(v, json_type_object))
            return fail(c, where, "expected a mapping {name, train, eval, test}, got %s", type_name(v));
        if (known_keys(c, v, where, keys))
            return -1;
        snprintf(key, sizeof key, "%s.train", where);
        if (get_path(c, v, "train", key, &t->train, 1, 1))
            return -1;
        snprintf(key, sizeof key, "%s.eval", where);
        if (get_path(c, v, "eval", key, &t->eval, 0, 1))
            return -1;
        snprintf(key, sizeof key, "%s.test", where);
        if (get_path(c, v, "test", key, &t->test, 0, 1))
            return -1;
        if (!t->eval != !t->test)
            return fail(c, where, "give both eval and test, or neither (then a seeded 70/10/20 split of train)");
        /* One kind per task: CoNLL token classification, or .tsv / .jsonl
         * sequence classification (docs/data.md), which the pipeline would
         * only refuse when the cell starts. */
        const int seq = qat_cli_is_seq_task(t->train);
        const char *const split_keys[2] = {"eval", "test"};
        const char *const splits[2] = {t->eval, t->test};
        for (int s = 0; s < 2; s++)
            if (splits[s] && qat_cli_is_seq_task(splits[s]) != seq) {
                snprintf(key, sizeof key, "%s.%s", where, split_keys[s]);
                return fail(c, key, "'%s' is a %s file but train '%s' is a %s file; a task's files are of one kind",
                            splits[s], seq ? "CoNLL" : "sequence-classification (.tsv/.jsonl)", t->train,
                            seq ? "sequence-classification (.tsv/.jsonl)" : "CoNLL");
            }
        snprintf(key, sizeof key, "%s.name", where);
        if (get_string(c, v, "name", key, &t->name, 0))
            return -1;
        if (!t->name)
            t->name = label_from_path(t->train, 1);
        if (!safe_label(t->name))
            return fail(c, key, "'%s' is not a usable label (letters, digits, '-', '_', '.', '+'; at most 64)",
                        t->name);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(g->tasks[j].name, t->name))
                return fail(c, key, "'%s' is also the name of tasks[%zu]", t->name, j);
    }
    return 0;
}

static int load_training(checker *c, json_object *root, sweep_grid *g)
{
    static const char *const keys[] = {"total_steps", "batch", "micro_batch", "lr", "warmup", "seq_len",
                                       "checkpoint_every", NULL};
    g->total_steps = 30000;
    g->batch = 96;
    g->lr = 5e-6;
    g->warmup = 0.1;
    g->seq_len = 512;
    json_object *t = NULL;
    if (!json_object_object_get_ex(root, "training", &t) || !t)
        return 0;
    if (!json_object_is_type(t, json_type_object))
        return fail(c, "training", "expected a mapping, got %s", type_name(t));
    if (known_keys(c, t, "training", keys) ||
        get_int(c, t, "total_steps", "training.total_steps", &g->total_steps, 1, INT64_C(1) << 40) ||
        get_int(c, t, "batch", "training.batch", &g->batch, 1, 1 << 20) ||
        get_int(c, t, "micro_batch", "training.micro_batch", &g->micro_batch, 0, 1 << 20) ||
        get_number(c, t, "lr", "training.lr", &g->lr) || get_number(c, t, "warmup", "training.warmup", &g->warmup) ||
        get_int(c, t, "seq_len", "training.seq_len", &g->seq_len, 8, 65536) ||
        get_int(c, t, "checkpoint_every", "training.checkpoint_every", &g->checkpoint_every, 0, INT64_C(1) << 40))
        return -1;
    if (!(g->lr > 0 && g->lr < 1))
        return fail(c, "training.lr", "%g is outside (0, 1)", g->lr);
    if (!(g->warmup >= 0 && g->warmup <= 1))
        return fail(c, "training.warmup", "%g is outside [0, 1]", g->warmup);
    return 0;
}

static int load_slurm(checker *c, json_object *root, sweep_grid *g)
{
    static const char *const keys[] = {"partition", "time", "mem", "gres", "account", "qos", "cpus_per_task",
                                       "max_parallel", "gpus_per_cell", "gpus_per_node", "setup", NULL};
    json_object *s = NULL;
    if (!json_object_object_get_ex(root, "slurm", &s) || !s)
        return 0;
    if (!json_object_is_type(s, json_type_object))
        return fail(c, "slurm", "expected a mapping, got %s", type_name(s));
    sweep_slurm *o = &g->slurm;
    if (known_keys(c, s, "slurm", keys) || get_string(c, s, "partition", "slurm.partition", &o->partition, 0) ||
        get_string(c, s, "time", "slurm.time", &o->time, 0) || get_string(c, s, "mem", "slurm.mem", &o->mem, 0) ||
        get_string(c, s, "gres", "slurm.gres", &o->gres, 0) ||
        get_string(c, s, "account", "slurm.account", &o->account, 0) ||
        get_string(c, s, "qos", "slurm.qos", &o->qos, 0) ||
        get_int(c, s, "cpus_per_task", "slurm.cpus_per_task", &o->cpus_per_task, 1, 4096) ||
        get_int(c, s, "max_parallel", "slurm.max_parallel", &o->max_parallel, 1, 1 << 20) ||
        get_int(c, s, "gpus_per_cell", "slurm.gpus_per_cell", &o->gpus_per_cell, 1, 64) ||
        get_int(c, s, "gpus_per_node", "slurm.gpus_per_node", &o->gpus_per_node, 1, 64))
        return -1;
    /* These values land in #SBATCH lines: a newline would inject a line. */
    const char *vals[] = {o->partition, o->time, o->mem, o->gres, o->account, o->qos};
    const char *names[] = {"slurm.partition", "slurm.time", "slurm.mem", "slurm.gres", "slurm.account", "slurm.qos"};
    for (int i = 0; i < 6; i++)
        if (vals[i] && strpbrk(vals[i], "\n\r"))
            return fail(c, names[i], "must be one line");
    json_object *setup;
    if (get_list(c, s, "setup", &setup, 0))
        return -1;
    if (setup) {
        size_t n = json_object_array_length(setup);
        o->setup = calloc(n, sizeof *o->setup);
        if (n && !o->setup)
            return fail(c, "slurm.setup", "out of memory");
        for (size_t i = 0; i < n; i++) {
            json_object *v = json_object_array_get_idx(setup, i);
            if (!json_object_is_type(v, json_type_string))
                return fail(c, "slurm.setup", "entry %zu: expected a shell line, got %s", i, type_name(v));
            if (!(o->setup[o->n_setup] = strdup(json_object_get_string(v))))
                return fail(c, "slurm.setup", "out of memory");
            o->n_setup++;
        }
    }
    return 0;
}

static int load_plan(checker *c, json_object *root, sweep_grid *g)
{
    static const char *const keys[] = {"alpha_max", "eval_every", "patience", "min_delta", "heldout", NULL};
    char *plan = NULL;
    if (get_string(c, root, "plan", "plan", &plan, 0))
        return -1;
    g->plan = SWEEP_PLAN_PER_ALPHA;
    if (plan && !strcmp(plan, "shared-prefix"))
        g->plan = SWEEP_PLAN_SHARED_PREFIX;
    else if (plan && strcmp(plan, "per-alpha")) {
        fail(c, "plan", "'%s' is not a plan (per-alpha or shared-prefix)", plan);
        free(plan);
        return -1;
    }
    free(plan);
    qat_pipeline_options defaults;
    qat_pipeline_options_init(&defaults, QAT_PIPELINE_OPTIONS_VERSION);
    g->adaptive = defaults.run.adaptive;
    for (size_t i = 0; i < g->n_alphas; i++)
        g->adaptive.enabled |= g->alphas[i] == SWEEP_ALPHA_AUTO;
    json_object *a = NULL;
    if (!json_object_object_get_ex(root, "adaptive", &a) || !a)
        return 0;
    if (!json_object_is_type(a, json_type_object))
        return fail(c, "adaptive", "expected a mapping, got %s", type_name(a));
    qat_adaptive_options *o = &g->adaptive;
    if (known_keys(c, a, "adaptive", keys) || get_number(c, a, "alpha_max", "adaptive.alpha_max", &o->alpha_max) ||
        get_int(c, a, "eval_every", "adaptive.eval_every", &o->eval_every, 0, INT64_C(1) << 40) ||
        get_int(c, a, "patience", "adaptive.patience", &o->patience, 1, 1 << 20) ||
        get_number(c, a, "min_delta", "adaptive.min_delta", &o->min_delta) ||
        get_int(c, a, "heldout", "adaptive.heldout", &o->heldout_sequences, 0, INT64_C(1) << 40))
        return -1;
    if (!(o->alpha_max > 0 && o->alpha_max < 1))
        return fail(c, "adaptive.alpha_max", "%g is outside (0, 1)", o->alpha_max);
    if (!(o->min_delta >= 0))
        return fail(c, "adaptive.min_delta", "%g is negative", o->min_delta);
    return 0;
}

int sweep_grid_from_json(json_object *root, const char *label, const char *base_dir, const char *root_override,
                         sweep_grid *g, char *err, size_t errcap)
{
    static const char *const keys[] = {"name",   "root",     "configs", "alphas",  "seeds", "models",
                                       "tasks",  "training", "threads", "backend", "slurm", "carbon_intensity",
                                       "power_watts", "plan", "adaptive", NULL};
    checker c = {label, base_dir, err, errcap};
    memset(g, 0, sizeof *g);
    g->path = strdup(label);
    if (!root || !json_object_is_type(root, json_type_object)) {
        fail(&c, "(top level)", "expected a mapping of grid keys, got %s", type_name(root));
        goto bad;
    }
    if (known_keys(&c, root, "", keys) || load_configs(&c, root, g) || load_alphas(&c, root, g) ||
        load_seeds(&c, root, g))
        goto bad;
    int need_corpus = 0;
    for (size_t i = 0; i < g->n_alphas; i++)
        need_corpus |= g->alphas[i] != 0; /* "auto" runs DAPT too */
    if (load_plan(&c, root, g) || load_models(&c, root, g, need_corpus) || load_tasks(&c, root, g) || load_training(&c, root, g) ||
        load_slurm(&c, root, g) || get_int(&c, root, "threads", "threads", &g->threads, 0, 4096) ||
        get_string(&c, root, "backend", "backend", &g->backend, 0) || get_string(&c, root, "name", "name", &g->name, 0) ||
        get_number(&c, root, "carbon_intensity", "carbon_intensity", &g->carbon_intensity) ||
        get_number(&c, root, "power_watts", "power_watts", &g->power_watts))
        goto bad;
    if (!(g->carbon_intensity >= 0 && g->carbon_intensity < 1e5)) {
        fail(&c, "carbon_intensity", "%g is outside [0, 1e5) g CO2eq/kWh (0 = the default)", g->carbon_intensity);
        goto bad;
    }
    if (!(g->power_watts >= 0 && g->power_watts < 1e7)) {
        fail(&c, "power_watts", "%g is outside [0, 1e7) W (0 = the default)", g->power_watts);
        goto bad;
    }
    if (!g->name)
        g->name = label_from_path(label, 1);
    if (!safe_label(g->name)) {
        fail(&c, "name", "'%s' is not a usable label (letters, digits, '-', '_', '.', '+'; at most 64)", g->name);
        goto bad;
    }
    if (root_override) {
        g->root = strdup(root_override);
    } else {
        char *r = NULL;
        if (get_string(&c, root, "root", "root", &r, 0))
            goto bad;
        if (!r) {
            size_t n = strlen(g->name) + 8;
            if (!(r = malloc(n))) {
                fail(&c, "root", "out of memory");
                goto bad;
            }
            snprintf(r, n, "runs/%s", g->name);
        }
        g->root = join_path(base_dir, r);
        free(r);
    }
    if (!g->root) {
        fail(&c, "root", "out of memory");
        goto bad;
    }
    if (strlen(g->root) > 2048) { /* leaves room for the cell ids under it */
        fail(&c, "root", "path longer than 2048 characters");
        goto bad;
    }
    return 0;
bad:
    sweep_grid_free(g);
    return -1;
}

int sweep_grid_load(const char *path, const char *root_override, sweep_grid *g, char *err, size_t errcap)
{
    memset(g, 0, sizeof *g);
    json_object *tree = sweep_document_read(path, err, errcap);
    if (!tree)
        return -1;
    char *base = label_from_path(path, 0);  /* only to find the directory part */
    size_t dir_len = strlen(path) - strlen(base);
    free(base);
    char *dir = strndup(path, dir_len);
    if (dir_len > 1 && dir[dir_len - 1] == '/')
        dir[dir_len - 1] = '\0';
    int rc = sweep_grid_from_json(tree, path, dir_len ? dir : ".", root_override, g, err, errcap);
    free(dir);
    json_object_put(tree);
    return rc;
}

void sweep_grid_free(sweep_grid *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n_configs; i++)
        free(g->configs[i]);
    for (size_t i = 0; i < g->n_models; i++) {
        free(g->models[i].name);
        free(g->models[i].path);
        free(g->models[i].tokenizer);
        free(g->models[i].corpus);
    }
    for (size_t i = 0; i < g->n_tasks; i++) {
        free(g->tasks[i].name);
        free(g->tasks[i].train);
        free(g->tasks[i].eval);
        free(g->tasks[i].test);
    }
    for (size_t i = 0; i < g->slurm.n_setup; i++)
        free(g->slurm.setup[i]);
    free(g->slurm.setup);
    free(g->slurm.partition);
    free(g->slurm.time);
    free(g->slurm.mem);
    free(g->slurm.gres);
    free(g->slurm.account);
    free(g->slurm.qos);
    free(g->configs);
    free(g->alphas);
    free(g->seeds);
    free(g->models);
    free(g->tasks);
    free(g->path);
    free(g->name);
    free(g->root);
    free(g->backend);
    memset(g, 0, sizeof *g);
}

size_t sweep_grid_cell_count(const sweep_grid *g)
{
    return g->n_models * g->n_tasks * g->n_configs * g->n_alphas * g->n_seeds;
}

void sweep_grid_cell(const sweep_grid *g, size_t index, sweep_cell *c)
{
    memset(c, 0, sizeof *c);
    c->index = index;
    size_t i = index;
    c->seed = g->seeds[i % g->n_seeds];
    i /= g->n_seeds;
    c->alpha = g->alphas[i % g->n_alphas];
    i /= g->n_alphas;
    c->config = g->configs[i % g->n_configs];
    i /= g->n_configs;
    c->task = &g->tasks[i % g->n_tasks];
    i /= g->n_tasks;
    c->model = &g->models[i];
    /* %g keeps 0.1 as "0.1" and is exact enough for any alpha a grid gives. */
    char alpha[32];
    if (c->alpha == SWEEP_ALPHA_AUTO)
        snprintf(alpha, sizeof alpha, "auto");
    else
        snprintf(alpha, sizeof alpha, "%g", c->alpha);
    snprintf(c->id, sizeof c->id, "%s/%s/%s/a%s-s%llu", c->model->name, c->task->name, c->config, alpha,
             (unsigned long long)c->seed);
    snprintf(c->out_dir, sizeof c->out_dir, "%s/%s", g->root, c->id);
}

int sweep_grid_find(const sweep_grid *g, const char *key, size_t *index, char *err, size_t errcap)
{
    size_t n = sweep_grid_cell_count(g);
    char *end;
    errno = 0;
    unsigned long long i = strtoull(key, &end, 10);
    if (*key >= '0' && *key <= '9' && *end == '\0' && errno == 0) {
        if (i >= n) {
            snprintf(err, errcap, "cell %llu does not exist: the grid has cells 0..%zu", i, n - 1);
            return -1;
        }
        *index = (size_t)i;
        return 0;
    }
    sweep_cell c;
    for (size_t k = 0; k < n; k++) {
        sweep_grid_cell(g, k, &c);
        if (!strcmp(c.id, key)) {
            *index = k;
            return 0;
        }
    }
    snprintf(err, errcap, "no cell has id '%s' (qat sweep --grid G --list shows them)", key);
    return -1;
}
