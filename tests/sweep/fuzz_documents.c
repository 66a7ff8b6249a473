/* Fuzz target: the settings documents of the CLI — YAML (libyaml, aliases
 * included) and JSON, read as a sweep grid (parsed, converted, validated:
 * keys, types, ranges, config strings; its files do not exist) and as a
 * `qat train --config` file (its keys through an option table of every
 * type). The first byte picks YAML ('y') or JSON. Runs as a test through
 * tests/fuzz/standalone_driver.c, or under libFuzzer with -Dfuzz=true. */
#include <fcntl.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_args.h"
#include "sweep/sweep_grid.h"
#include "train_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void as_grid(const char *text, size_t len, int yaml)
{
    char err[1024];
    json_object *tree = yaml ? sweep_yaml_parse(text, len, err, sizeof err) : json_tokener_parse(text);
    if (!tree)
        return;
    sweep_grid g;
    if (sweep_grid_from_json(tree, "fuzz", "/nonexistent-fuzz", NULL, &g, err, sizeof err) == 0) {
        for (size_t i = 0; i < sweep_grid_cell_count(&g) && i < 64; i++) {
            sweep_cell c;
            sweep_grid_cell(&g, i, &c);
        }
        sweep_grid_free(&g);
    }
    json_object_put(tree);
}

static void as_train_config(const uint8_t *data, size_t size, int yaml)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/qat-fuzz-config-%d.%s", (int)getpid(), yaml ? "yaml" : "json");
    FILE *f = fopen(path, "wb");
    if (!f)
        return;
    fwrite(data, 1, size, f);
    fclose(f);
    static const qat_cli_choice plans[] = {{"per-alpha", 0}, {"shared-prefix", 1}, {NULL, 0}};
    int64_t steps = 0;
    uint64_t seed = 0;
    double lr = 0;
    const char *model = NULL;
    int plan = 0, flag = 0;
    const qat_cli_option options[] = {
        QAT_OPT_INT("--steps", &steps, "N", 1, INT64_MAX, "steps"),
        QAT_OPT_UINT("--seed", &seed, "N", "seed"),
        QAT_OPT_DOUBLE("--lr", &lr, "X", 0, 1, "learning rate"),
        QAT_OPT_STRING("--model", &model, "DIR", "model"),
        QAT_OPT_CHOICE("--plan", &plan, NULL, plans, "plan"),
        QAT_OPT_FLAG("--quiet", &flag, "quiet"),
    };
    const qat_cli_spec spec = {.command = "fuzz", .synopsis = "", .options = options,
                               .n_options = sizeof options / sizeof *options};
    train_config c;
    const char *quant = NULL;
    /* its refusals go to stderr: keep them out of the fuzzer's log */
    fflush(stderr);
    int saved = dup(2), quiet = open("/dev/null", O_WRONLY);
    if (quiet >= 0)
        dup2(quiet, 2);
    (void)train_config_load(path, &spec, &c, &quant);
    train_config_free(&c);
    fflush(stderr);
    if (saved >= 0)
        dup2(saved, 2);
    if (saved >= 0)
        close(saved);
    if (quiet >= 0)
        close(quiet);
    unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    int yaml = data[0] == 'y';
    char *text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    as_grid(text, size - 1, yaml);
    as_train_config(data + 1, size - 1, yaml);
    free(text);
    return 0;
}
