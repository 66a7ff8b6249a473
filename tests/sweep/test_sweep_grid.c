/* qat sweep's grid (examples/qat/sweep/sweep_grid.c): expansion order, counts and
 * ids, YAML/JSON equivalence, and bad grids rejected with a message that
 * names the offending key. The files a grid names are stand-ins made here:
 * the loader only checks that they can be read. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../examples/qat/sweep/sweep_grid.h"
#include "../../examples/qat/sweep/sweep_plan.h"
#include "../../examples/qat/sweep/sweep_slurm.h"
#include "memory_limit.h"
#include "test_main.h"

static char dir[64];

static void touch(const char *rel)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{}\n", f);
    fclose(f);
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/qat-grid-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char p[256];
    snprintf(p, sizeof p, "%s/m1", dir);
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/m2", dir);
    mkdir(p, 0777);
    touch("m1/config.json");
    touch("m2/config.json");
    touch("corpus.txt");
    touch("essai.conll");
    touch("quaero-dev.conll");
    touch("quaero-test.conll");
    touch("quaero-train.conll");
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static void write_file(const char *name, const char *text)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* Loads the grid text from <dir>/<name>; returns the loader's status. */
static int load(const char *name, const char *text, sweep_grid *g, char *err, size_t cap)
{
    write_file(name, text);
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return sweep_grid_load(p, NULL, g, err, cap);
}

static const char *yaml_grid =
    "name: study\n"
    "configs: [FP32, e6w1.58a6]\n"
    "alphas: [0, 0.1, 0.5]\n"
    "seeds: [1, 2]\n"
    "models:\n"
    "  - {name: camembert, path: m1, corpus: corpus.txt}\n"
    "  - path: m2\n"
    "    corpus: corpus.txt\n"
    "tasks:\n"
    "  - name: essai-pos\n"
    "    train: essai.conll\n"
    "  - {train: quaero-train.conll, eval: quaero-dev.conll, test: quaero-test.conll}\n"
    "training: {total_steps: 300, batch: 16, lr: 0.003, seq_len: 32, checkpoint_every: 50}\n"
    "threads: 1\n"
    "carbon_intensity: 52\n"
    "slurm: {partition: gpu, time: '02:00:00', max_parallel: 4, setup: ['module load x']}\n";

static const char *json_grid =
    "{\"name\": \"study\", \"configs\": [\"FP32\", \"E6W1.58A6\"], \"alphas\": [0, 0.1, 0.5], \"seeds\": [1, 2],\n"
    " \"models\": [{\"name\": \"camembert\", \"path\": \"m1\", \"corpus\": \"corpus.txt\"},\n"
    "            {\"path\": \"m2\", \"corpus\": \"corpus.txt\"}],\n"
    " \"tasks\": [{\"name\": \"essai-pos\", \"train\": \"essai.conll\"},\n"
    "           {\"train\": \"quaero-train.conll\", \"eval\": \"quaero-dev.conll\", \"test\": \"quaero-test.conll\"}],\n"
    " \"training\": {\"total_steps\": 300, \"batch\": 16, \"lr\": 0.003, \"seq_len\": 32, \"checkpoint_every\": 50},\n"
    " \"threads\": 1, \"carbon_intensity\": 52,\n"
    " \"slurm\": {\"partition\": \"gpu\", \"time\": \"02:00:00\", \"max_parallel\": 4, \"setup\": [\"module load x\"]}}\n";

START_TEST(expands_in_documented_order)
{
    sweep_grid g;
    char err[1024];
    ck_assert_msg(load("g.yaml", yaml_grid, &g, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(sweep_grid_cell_count(&g), 2 * 3 * 2 * 2 * 2);
    ck_assert_str_eq(g.configs[1], "E6W1.58A6"); /* canonical, whatever the case given */
    ck_assert_str_eq(g.models[1].name, "m2");    /* from the path */
    ck_assert_str_eq(g.tasks[1].name, "quaero-train");
    ck_assert_int_eq(g.total_steps, 300);
    ck_assert_int_eq(g.seq_len, 32);
    ck_assert_int_eq(g.slurm.max_parallel, 4);
    ck_assert_double_eq(g.carbon_intensity, 52);
    ck_assert_double_eq(g.power_watts, 0); /* absent: the library's default */
    char want_root[128];
    snprintf(want_root, sizeof want_root, "%s/runs/study", dir);
    ck_assert_str_eq(g.root, want_root);
    sweep_cell c;
    sweep_grid_cell(&g, 0, &c);
    ck_assert_str_eq(c.id, "camembert/essai-pos/FP32/a0-s1");
    sweep_grid_cell(&g, 1, &c); /* seeds vary fastest */
    ck_assert_str_eq(c.id, "camembert/essai-pos/FP32/a0-s2");
    sweep_grid_cell(&g, 2, &c); /* then alphas */
    ck_assert_str_eq(c.id, "camembert/essai-pos/FP32/a0.1-s1");
    sweep_grid_cell(&g, 6, &c); /* then configs */
    ck_assert_str_eq(c.id, "camembert/essai-pos/E6W1.58A6/a0-s1");
    sweep_grid_cell(&g, 12, &c); /* then tasks */
    ck_assert_str_eq(c.id, "camembert/quaero-train/FP32/a0-s1");
    ck_assert_ptr_nonnull(strstr(c.task->test, "quaero-test.conll"));
    sweep_grid_cell(&g, 47, &c); /* models slowest */
    ck_assert_str_eq(c.id, "m2/quaero-train/E6W1.58A6/a0.5-s2");
    char want_dir[256];
    snprintf(want_dir, sizeof want_dir, "%s/m2/quaero-train/E6W1.58A6/a0.5-s2", want_root);
    ck_assert_str_eq(c.out_dir, want_dir);
    ck_assert_double_eq(c.alpha, 0.5);
    /* every id distinct, and found again by id and by index */
    for (size_t i = 0; i < 48; i++) {
        sweep_grid_cell(&g, i, &c);
        size_t k = 99;
        ck_assert_int_eq(sweep_grid_find(&g, c.id, &k, err, sizeof err), 0);
        ck_assert_uint_eq(k, i);
        char idx[16];
        snprintf(idx, sizeof idx, "%zu", i);
        ck_assert_int_eq(sweep_grid_find(&g, idx, &k, err, sizeof err), 0);
        ck_assert_uint_eq(k, i);
    }
    size_t k;
    ck_assert_int_eq(sweep_grid_find(&g, "48", &k, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "0..47"));
    ck_assert_int_eq(sweep_grid_find(&g, "nope/x", &k, err, sizeof err), -1);
    sweep_grid_free(&g);
}
END_TEST

/* The shared-prefix plan's graph and both plans' costs, from their
 * definitions (docs/sweep.md, "Plans"). */
START_TEST(plan_graph_and_costs)
{
    sweep_grid g;
    char err[1024];
    ck_assert_msg(load("g.yaml", yaml_grid, &g, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(g.plan, SWEEP_PLAN_PER_ALPHA); /* the default */
    ck_assert_uint_eq(sweep_plan_dapt_count(&g), 0);
    const int64_t B = g.total_steps;
    int64_t sum_d = 0, max_d = 0, sum_ft = 0;
    for (size_t i = 0; i < g.n_alphas; i++) {
        int64_t d = llround(g.alphas[i] * (double)B);
        sum_d += d;
        sum_ft += B - d;
        max_d = d > max_d ? d : max_d;
    }
    const int64_t per_task_cells = (int64_t)(g.n_models * g.n_configs * g.n_seeds);
    sweep_cost c;
    sweep_plan_cost(&g, SWEEP_PLAN_PER_ALPHA, &c);
    ck_assert_int_eq(c.dapt, per_task_cells * (int64_t)g.n_tasks * sum_d);
    ck_assert_int_eq(c.finetune, per_task_cells * (int64_t)g.n_tasks * sum_ft);
    g.plan = SWEEP_PLAN_SHARED_PREFIX;
    sweep_plan_cost(&g, SWEEP_PLAN_SHARED_PREFIX, &c);
    ck_assert_int_eq(sweep_plan_dapt_schedule(&g), max_d);
    ck_assert_uint_eq(c.dapt_jobs, (size_t)per_task_cells);
    ck_assert_int_eq(c.dapt, per_task_cells * max_d);
    ck_assert_int_eq(c.finetune, per_task_cells * (int64_t)g.n_tasks * sum_ft);
    ck_assert_uint_eq(sweep_plan_dapt_count(&g), (size_t)per_task_cells);
    /* every cell with alpha > 0 depends on the job of its model, config
     * and seed; alpha 0 on none */
    for (size_t i = 0; i < sweep_grid_cell_count(&g); i++) {
        sweep_cell cell;
        sweep_grid_cell(&g, i, &cell);
        long j = sweep_plan_cell_dapt(&g, &cell);
        if (cell.alpha == 0) {
            ck_assert_int_eq(j, -1);
            continue;
        }
        ck_assert_int_ge(j, 0);
        sweep_dapt_job job;
        sweep_plan_dapt_job(&g, (size_t)j, &job);
        ck_assert_ptr_eq(job.model, cell.model);
        ck_assert_str_eq(job.config, cell.config);
        ck_assert_uint_eq(job.seed, cell.seed);
        size_t k = 99;
        ck_assert_int_eq(sweep_plan_find_dapt(&g, job.id, &k, err, sizeof err), 0);
        ck_assert_uint_eq(k, (size_t)j);
    }
    sweep_dapt_job job;
    sweep_plan_dapt_job(&g, 0, &job);
    ck_assert_str_eq(job.id, "_dapt/camembert/FP32/s1");
    size_t k;
    ck_assert_int_eq(sweep_plan_find_dapt(&g, "99", &k, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "does not exist"));
    char list[64];
    size_t idx[7] = {0, 1, 2, 5, 7, 8, 10};
    sweep_slurm_index_list(idx, 7, list, sizeof list);
    ck_assert_str_eq(list, "0-2,5,7-8,10");
    sweep_grid_free(&g);
}
END_TEST

START_TEST(yaml_and_json_agree)
{
    sweep_grid y, j;
    char err[1024];
    ck_assert_msg(load("g.yaml", yaml_grid, &y, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(load("g.json", json_grid, &j, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(sweep_grid_cell_count(&y), sweep_grid_cell_count(&j));
    ck_assert_int_eq(y.total_steps, j.total_steps);
    ck_assert_int_eq(y.batch, j.batch);
    ck_assert_double_eq(y.lr, j.lr);
    ck_assert_int_eq(y.checkpoint_every, j.checkpoint_every);
    ck_assert_int_eq(y.threads, j.threads);
    ck_assert_double_eq(y.carbon_intensity, j.carbon_intensity);
    ck_assert_str_eq(y.slurm.time, j.slurm.time);
    ck_assert_str_eq(y.slurm.setup[0], j.slurm.setup[0]);
    for (size_t i = 0; i < sweep_grid_cell_count(&y); i++) {
        sweep_cell a, b;
        sweep_grid_cell(&y, i, &a);
        sweep_grid_cell(&j, i, &b);
        ck_assert_str_eq(a.id, b.id);
        ck_assert_str_eq(a.out_dir, b.out_dir);
        ck_assert_str_eq(a.model->path, b.model->path);
        ck_assert_str_eq(a.model->corpus, b.model->corpus);
        ck_assert_str_eq(a.task->train, b.task->train);
        ck_assert_double_eq(a.alpha, b.alpha);
        ck_assert_uint_eq(a.seed, b.seed);
    }
    sweep_grid_free(&y);
    sweep_grid_free(&j);
}
END_TEST

/* A valid grid with one line swapped for a bad one. */
static const char *base_lines[] = {
    "configs: [FP32, E8W8A8]\n",
    "alphas: [0, 0.5]\n",
    "models: [{name: a, path: m1, corpus: corpus.txt}]\n",
    "tasks: [{name: t, train: essai.conll}]\n",
};

static const struct bad_case {
    int line;            /* which base line to replace (-1: add) */
    const char *text;
    const char *needles[2]; /* what the message must contain */
} bad_cases[] = {
    {0, "configs: [FP32, E9W8Q8]\n", {"configs[1]", "E9W8Q8"}},
    {0, "configs: [FP32, 8]\n", {"configs[1]", "config string"}},
    {0, "configs: []\n", {"configs", "empty list"}},
    {0, "configs: [E8W8A8, e8w8a8]\n", {"configs[1]", "repeats"}},
    {1, "alphas: [0, 1]\n", {"alphas[1]", "outside [0, 1)"}},
    {1, "alphas: [-0.1]\n", {"alphas[0]", "outside [0, 1)"}},
    {1, "alphas: []\n", {"alphas", "empty list"}},
    {1, "alphas: [0, '0.5']\n", {"alphas[1]", "expected a number"}},
    {1, "alphas: [auto, 0, auto]\n", {"alphas[2]", "repeats"}},
    {1, "alphas: [0, automatic]\n", {"alphas[1]", "\"auto\""}},
    {-1, "plan: shared\n", {"plan", "per-alpha or shared-prefix"}},
    {-1, "adaptive: {patience: 0}\n", {"adaptive.patience", "outside"}},
    {-1, "adaptive: {alpha_max: 1}\n", {"adaptive.alpha_max", "outside"}},
    {-1, "adaptive: {patiance: 2}\n", {"adaptive.patiance", "unknown key"}},
    {2, "models: [{name: _dapt, path: m1, corpus: corpus.txt}]\n", {"models[0].name", "reserved"}},
    {1, "alpha: [0]\n", {"alpha", "unknown key"}},
    {2, "models: []\n", {"models", "empty list"}},
    {2, "models: [{name: a, path: nowhere, corpus: corpus.txt}]\n", {"models[0].path", "config.json"}},
    {2, "models: [{name: a, path: m1}]\n", {"models[0].corpus", "missing"}},
    {2, "models: [{name: 'a b', path: m1, corpus: corpus.txt}]\n", {"models[0].name", "usable label"}},
    {2, "models: [{name: a, path: m1, corpus: corpus.txt, tokeniser: x}]\n", {"models[0].tokeniser", "unknown key"}},
    {3, "tasks: [{name: t, train: missing.conll}]\n", {"tasks[0].train", "missing.conll"}},
    {3, "tasks: [{name: t, train: essai.conll, eval: quaero-dev.conll}]\n", {"tasks[0]", "both eval and test"}},
    {3, "tasks: []\n", {"tasks", "empty list"}},
    {3, "tasks: [{train: essai.conll}, {train: essai.conll}]\n", {"tasks[1].name", "also the name"}},
    {-1, "training: {total_steps: 0}\n", {"training.total_steps", "outside"}},
    {-1, "training: {lr: fast}\n", {"training.lr", "expected a number"}},
    {-1, "seeds: [1, 1]\n", {"seeds[1]", "repeats"}},
    {-1, "carbon_intensity: -5\n", {"carbon_intensity", "outside"}},
    {-1, "power_watts: lots\n", {"power_watts", "expected a number"}},
    {-1, "slurm: {time: 5, partition: x}\n", {"slurm.time", "expected a string"}},
    {-1, "configs: [FP32]\n", {"line", "twice"}},
    {-1, "  : : [\n", {"YAML syntax error", "line"}},
};

START_TEST(bad_grids_name_the_key)
{
    const struct bad_case *bc = &bad_cases[_i];
    char text[2048] = "";
    for (int i = 0; i < 4; i++)
        strcat(text, i == bc->line ? bc->text : base_lines[i]);
    if (bc->line < 0)
        strcat(text, bc->text);
    sweep_grid g;
    char err[1024] = "";
    ck_assert_msg(load("bad.yaml", text, &g, err, sizeof err) == -1, "accepted:\n%s", text);
    for (int k = 0; k < 2; k++)
        ck_assert_msg(strstr(err, bc->needles[k]), "case %d: message '%s' lacks '%s'", _i, err, bc->needles[k]);
    ck_assert_msg(strstr(err, "bad.yaml"), "message '%s' does not name the grid file", err);
}
END_TEST

START_TEST(alpha_zero_needs_no_corpus_and_json_errors)
{
    sweep_grid g;
    char err[1024];
    ck_assert_msg(load("ok.json",
                       "{\"configs\": [\"FP32\"], \"alphas\": [0], \"models\": [{\"path\": \"m1\"}],"
                       " \"tasks\": [{\"train\": \"essai.conll\"}]}",
                       &g, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(sweep_grid_cell_count(&g), 1);
    ck_assert_uint_eq(g.seeds[0], 42); /* the study's default seed */
    ck_assert_int_eq(g.total_steps, 30000);
    ck_assert_str_eq(g.name, "ok");
    sweep_grid_free(&g);
    ck_assert_int_eq(load("bad.json", "{\"configs\": [", &g, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "JSON syntax error"));
    ck_assert_int_eq(load("bad.toml", "configs = []", &g, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, ".yaml, .yml or .json"));
    ck_assert_int_eq(load("list.json", "[1, 2]", &g, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "(top level)"));
    ck_assert_int_eq(sweep_grid_load("/nonexistent/grid.yaml", NULL, &g, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/grid.yaml"));
}
END_TEST

/* Nested aliases ("billion laughs", issue #17): 10 levels of 10 references
 * (about 850 bytes) stand for 10^10 values; converting them to a tree
 * reached 13 GB. Now the conversion stops at its value budget, in both
 * readers (grids; qat train --config reads files through the same
 * sweep_document_read). Under a 1 GiB address-space limit. */
START_TEST(yaml_alias_bomb_refused)
{
#ifndef QAT_CLI_HAVE_YAML
    printf("SKIP: built without libyaml\n");
    return;
#endif
    char text[2048];
    size_t n = (size_t)snprintf(text, sizeof text, "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for (int i = 1; i < 10; i++) {
        n += (size_t)snprintf(text + n, sizeof text - n, "l%d: &l%d [", i, i);
        for (int k = 0; k < 10; k++)
            n += (size_t)snprintf(text + n, sizeof text - n, "%s*l%d", k ? ", " : "", i - 1);
        n += (size_t)snprintf(text + n, sizeof text - n, "]\n");
    }
    snprintf(text + n, sizeof text - n, "name: study\n");
    ck_assert_uint_lt(strlen(text), 1000);
    sweep_grid g;
    char err[1024];
    ck_assert_int_ne(load("bomb.yaml", text, &g, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "expands to more than 100000 values"), "%s", err);
    char p[256];
    snprintf(p, sizeof p, "%s/bomb.yaml", dir);
    json_object *tree = sweep_document_read(p, err, sizeof err);
    ck_assert_ptr_null(tree);
    ck_assert_msg(strstr(err, "expands to more than 100000 values"), "%s", err);
    /* a grid using an alias or two, as people do, still reads */
    const char *ok = "defaults: &d {total_steps: 10, batch: 2}\nagain: *d\n";
    write_file("alias.yaml", ok);
    snprintf(p, sizeof p, "%s/alias.yaml", dir);
    tree = sweep_document_read(p, err, sizeof err);
    ck_assert_msg(tree != NULL, "%s", err);
    json_object_put(tree);
}
END_TEST

/* Emits the cells' SLURM script for gpus_per_cell and gpus_per_node (-1:
 * not in the grid) into `script`; sweep_slurm_emit's result, err set. */
static int try_emit_cells(int gpus, int per_node, char *script, size_t cap, char *err, size_t errcap)
{
    char grid[2048];
    char slurm[160] = "";
    if (gpus >= 0 && per_node >= 0)
        snprintf(slurm, sizeof slurm, "slurm: {partition: gpu, gpus_per_cell: %d, gpus_per_node: %d}\n", gpus,
                 per_node);
    else if (gpus >= 0)
        snprintf(slurm, sizeof slurm, "slurm: {partition: gpu, gpus_per_cell: %d}\n", gpus);
    snprintf(grid, sizeof grid,
             "name: g\nconfigs: [FP32]\nalphas: [0]\nmodels: [{path: m1}]\ntasks: [{train: essai.conll}]\n"
             "training: {total_steps: 10, batch: 2}\n%s", slurm);
    sweep_grid g;
    ck_assert_msg(load("gpus.yaml", grid, &g, err, errcap) == 0, "%s", err);
    snprintf(script, cap, "%s/cells-%d-%d.sbatch", dir, gpus, per_node);
    const int rc = sweep_slurm_emit(&g, "/opt/qat/bin/qat", script, 4, err, errcap);
    sweep_grid_free(&g);
    return rc;
}

/* The cells' SLURM script for gpus_per_cell (-1: not in the grid) and
 * gpus_per_node (-1: likewise), read back. */
static char *emit_cells_script_on(int gpus, int per_node, char *script, size_t cap)
{
    char err[1024];
    ck_assert_msg(try_emit_cells(gpus, per_node, script, cap, err, sizeof err) == 0, "%s", err);
    FILE *f = fopen(script, "r");
    ck_assert_ptr_nonnull(f);
    char *text = calloc(1, 8192);
    ck_assert_uint_gt(fread(text, 1, 8191, f), 0);
    fclose(f);
    return text;
}

static char *emit_cells_script(int gpus, char *script, size_t cap)
{
    return emit_cells_script_on(gpus, -1, script, cap);
}

static int has_line(const char *text, const char *line)
{
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && (p[strlen(line)] == '\n' || p[strlen(line)] == '\0'))
            return 1;
    return 0;
}

/* slurm.gpus_per_cell: none, one GPU per cell (one task), or N ranks of one
 * node started by srun, one GPU each, meeting through a fresh file. */
START_TEST(slurm_gpus_per_cell)
{
    char script[512], logs[512], line[1024];
    char *none = emit_cells_script(-1, script, sizeof script);
    ck_assert_msg(has_line(none, "#SBATCH --ntasks=1"), "%s", none);
    ck_assert_msg(!strstr(none, "--gpus-per-task") && !strstr(none, "srun") && !strstr(none, "QAT_DIST_FILE") &&
                  !strstr(none, "--backend cuda"), "%s", none);
    free(none);

    char *one = emit_cells_script(1, script, sizeof script);
    ck_assert_msg(has_line(one, "#SBATCH --ntasks=1") && has_line(one, "#SBATCH --gpus-per-task=1"), "%s", one);
    ck_assert_msg(!strstr(one, "srun") && !strstr(one, "QAT_DIST_FILE") && strstr(one, " --backend cuda\n"), "%s",
                  one);
    free(one);

    char *four = emit_cells_script(4, script, sizeof script);
    ck_assert_msg(has_line(four, "#SBATCH --nodes=1") && has_line(four, "#SBATCH --ntasks-per-node=4") &&
                  has_line(four, "#SBATCH --gpus-per-task=1") && !strstr(four, "--ntasks=1"), "%s", four);
    char *root = realpath(dir, NULL);
    snprintf(logs, sizeof logs, "%s/runs/g/slurm-logs", root);
    free(root);
    snprintf(line, sizeof line, "export QAT_DIST_FILE='%s'/rendezvous-\"$SLURM_JOB_ID\"", logs);
    ck_assert_msg(has_line(four, line), "no line <%s> in:\n%s", line, four);
    const char *run = strstr(four, "exec srun --kill-on-bad-exit=1 '/opt/qat/bin/qat' sweep --grid ");
    ck_assert_msg(run != NULL, "%s", four);
    ck_assert_msg(strstr(run, " --cell \"$SLURM_ARRAY_TASK_ID\" --threads \"${SLURM_CPUS_PER_TASK:-4}\" "
                              "--backend cuda\n"), "%s", run);
    /* the rendezvous comes before the ranks start */
    ck_assert(strstr(four, "export QAT_DIST_FILE") < run);
    free(four);
    char err[1024];
    sweep_grid g;
    ck_assert_int_ne(load("bad.yaml", "name: g\nconfigs: [FP32]\nalphas: [0]\nmodels: [{path: m1}]\n"
                          "tasks: [{train: essai.conll}]\nslurm: {gpus_per_cell: 0}\n", &g, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "slurm.gpus_per_cell") != NULL, "%s", err);
}
END_TEST

/* slurm.gpus_per_node: a cell of more GPUs than a node spans whole nodes
 * (srun, one rank per GPU, the same rendezvous); one that fits stays on one
 * node; a count that does not fill whole nodes, or a node of 0 GPUs, is
 * refused. */
START_TEST(slurm_gpus_per_node)
{
    char script[512], err[1024];
    char *eight = emit_cells_script_on(8, 4, script, sizeof script);
    ck_assert_msg(has_line(eight, "#SBATCH --nodes=2") && has_line(eight, "#SBATCH --ntasks-per-node=4") &&
                  has_line(eight, "#SBATCH --gpus-per-task=1"), "%s", eight);
    ck_assert_msg(strstr(eight, "export QAT_DIST_FILE=") && strstr(eight, "exec srun --kill-on-bad-exit=1 "), "%s",
                  eight);
    free(eight);
    char *fits = emit_cells_script_on(4, 8, script, sizeof script);
    ck_assert_msg(has_line(fits, "#SBATCH --nodes=1") && has_line(fits, "#SBATCH --ntasks-per-node=4"), "%s", fits);
    free(fits);
    char *whole = emit_cells_script_on(16, 8, script, sizeof script);
    ck_assert_msg(has_line(whole, "#SBATCH --nodes=2") && has_line(whole, "#SBATCH --ntasks-per-node=8"), "%s",
                  whole);
    free(whole);
    ck_assert_int_ne(try_emit_cells(6, 4, script, sizeof script, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "6 GPUs") && strstr(err, "gpus_per_node"), "%s", err);
    sweep_grid g;
    ck_assert_int_ne(load("bad.yaml", "name: g\nconfigs: [FP32]\nalphas: [0]\nmodels: [{path: m1}]\n"
                          "tasks: [{train: essai.conll}]\nslurm: {gpus_per_cell: 4, gpus_per_node: 0}\n", &g, err,
                          sizeof err), 0);
    ck_assert_msg(strstr(err, "slurm.gpus_per_node") != NULL, "%s", err);
}
END_TEST

Suite *make_suite(void)
{
    qat_test_limit_memory((size_t)1 << 30);
    Suite *s = suite_create("sweep_grid");
    TCase *tc = tcase_create("grid");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, expands_in_documented_order);
    tcase_add_test(tc, yaml_and_json_agree);
    tcase_add_test(tc, plan_graph_and_costs);
    tcase_add_loop_test(tc, bad_grids_name_the_key, 0, (int)(sizeof bad_cases / sizeof *bad_cases));
    tcase_add_test(tc, alpha_zero_needs_no_corpus_and_json_errors);
    tcase_add_test(tc, yaml_alias_bomb_refused);
    tcase_add_test(tc, slurm_gpus_per_cell);
    tcase_add_test(tc, slurm_gpus_per_node);
    suite_add_tcase(s, tc);
    return s;
}
