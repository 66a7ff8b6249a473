/* The study's grid (docs/sweep.md): quant configs x alphas x models x tasks x
 * seeds plus the pipeline settings, loaded from YAML or JSON, validated as a
 * whole before anything runs, and expanded into cells with stable ids. */
#ifndef QAT_CLI_SWEEP_GRID_H
#define QAT_CLI_SWEEP_GRID_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <qat/study.h>

/* An alpha given as "auto": adaptive alpha (the held-out MLM loss decides). */
#define SWEEP_ALPHA_AUTO (-1.0)

/* How the grid's DAPT runs (docs/sweep.md, "Plans"). */
typedef enum sweep_plan {
    SWEEP_PLAN_PER_ALPHA = 0,     /* every cell its own DAPT (the paper) */
    SWEEP_PLAN_SHARED_PREFIX = 1  /* one DAPT job per model x config x seed, cells from its snapshots */
} sweep_plan;

typedef struct sweep_model {
    char *name;       /* directory-safe label, e.g. "camembert-bio" */
    char *path;       /* HF checkpoint directory */
    char *tokenizer;  /* NULL: the model directory's tokenizer */
    char *corpus;     /* DAPT text; NULL only when every alpha is 0 */
} sweep_model;

typedef struct sweep_task {
    char *name;           /* directory-safe label, e.g. "essai-pos" */
    char *train;          /* CoNLL files; eval and test both NULL = seeded split */
    char *eval, *test;
} sweep_task;

typedef struct sweep_slurm {
    char *partition, *time, *mem, *gres, *account, *qos;
    int64_t cpus_per_task;  /* 0: not set (then --threads decides) */
    int64_t max_parallel;   /* 0: no %N throttle on the array */
    int64_t gpus_per_cell;  /* 0: no GPU asked; N > 1: N ranks (srun), data-parallel */
    int64_t gpus_per_node;  /* 0: a cell's GPUs all on one node; G: G per node (G divides gpus_per_cell) */
    char **setup;           /* shell lines run before the cell (module load ...) */
    size_t n_setup;
} sweep_slurm;

typedef struct sweep_grid {
    char *path;       /* the grid file as given */
    char *name;
    char *root;       /* where cells' out dirs go */
    char **configs;   /* canonical ExWyAz strings, grid order */
    size_t n_configs;
    double *alphas;   /* in [0, 1), or SWEEP_ALPHA_AUTO */
    size_t n_alphas;
    uint64_t *seeds;
    size_t n_seeds;
    sweep_model *models;
    size_t n_models;
    sweep_task *tasks;
    size_t n_tasks;
    /* Pipeline settings shared by every cell. */
    int64_t total_steps, batch, micro_batch, seq_len, checkpoint_every;
    double lr, warmup;
    int64_t threads;  /* 0: the library's default */
    char *backend;    /* NULL: the best available */
    double carbon_intensity;  /* g CO2eq/kWh for results.json's energy; 0: the library's default */
    double power_watts;       /* the energy estimate's draw; 0: the library's default */
    sweep_slurm slurm;
    sweep_plan plan;                /* "plan:" (per-alpha) */
    qat_adaptive_options adaptive;  /* "adaptive:" knobs, used by "auto" alphas */
} sweep_grid;

/* One cell: pointers into its grid. The id is also the out dir relative to
 * the root: <model>/<task>/<config>/a<alpha>-s<seed>, so it does not change
 * when the grid grows, while the index (the SLURM array task id) is the
 * position in model, task, config, alpha, seed order. */
typedef struct sweep_cell {
    size_t index;
    const sweep_model *model;
    const sweep_task *task;
    const char *config;
    double alpha;     /* SWEEP_ALPHA_AUTO: adaptive */
    uint64_t seed;
    char id[512];
    char out_dir[4096];
} sweep_cell;

/* Parses and validates. On error returns -1 with a message naming the grid
 * file and the key (e.g. "grid.yaml: alphas[2]: 1 is outside [0, 1)") in err.
 * Relative paths in the grid are relative to the grid file's directory;
 * root_override (may be NULL) replaces the grid's root as given. */
int sweep_grid_load(const char *path, const char *root_override, sweep_grid *grid, char *err, size_t errcap);
/* The same from an already parsed tree (used by the loader and by tests);
 * base_dir resolves relative paths; label prefixes error messages. */
int sweep_grid_from_json(json_object *tree, const char *label, const char *base_dir, const char *root_override,
                         sweep_grid *grid, char *err, size_t errcap);
void sweep_grid_free(sweep_grid *grid);

size_t sweep_grid_cell_count(const sweep_grid *grid);
void sweep_grid_cell(const sweep_grid *grid, size_t index, sweep_cell *cell);
/* Finds a cell by index ("7") or by id; -1 with a message if none. */
int sweep_grid_find(const sweep_grid *grid, const char *index_or_id, size_t *index, char *err, size_t errcap);

/* YAML -> the same json-c tree a JSON grid gives (sweep_yaml.c). Plain
 * scalars become numbers, booleans or null where they read as such; quoted
 * ones stay strings. Returns NULL with a message (line, column) on error. */
json_object *sweep_yaml_parse(const char *text, size_t len, char *err, size_t errcap);
/* A settings file (grid, qat train --config): .json is JSON, .yaml and
 * .yml are YAML, other names are refused. NULL with "<path>: why" in err. */
json_object *sweep_document_read(const char *path, char *err, size_t errcap);

#endif
