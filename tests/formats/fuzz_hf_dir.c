/* Fuzz target: an HF checkpoint directory loaded into a model —
 * config.json, the sharded index and its shards, the checks against the
 * config before allocating, the name mapping. The input is the directory's
 * files joined by "\n--8<--\n": config.json, then an index (empty: no
 * index, the next part is model.safetensors), then up to two shards named
 * a.safetensors and b.safetensors. Files are written to a private
 * directory and loaded with qat_model_load (the first byte of config.json's
 * part is kept: it picks the task). Runs as a test through
 * tests/fuzz/standalone_driver.c, or under libFuzzer with -Dfuzz=true.
 * Seeds: tests/fuzz/corpus/hf_dir (gen_hf_dir_seed). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qat/qat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char SEP[] = "\n--8<--\n";

static void put(const char *dir, const char *name, const uint8_t *data, size_t n)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return;
    if (n)
        fwrite(data, 1, n, f);
    fclose(f);
}

static void clear(const char *dir)
{
    static const char *const names[] = {"config.json", "model.safetensors", "model.safetensors.index.json",
                                        "a.safetensors", "b.safetensors"};
    char path[128];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
}

static char dir[64];

/* The private directory goes when the process exits (libFuzzer exits at
 * the end of its time budget too). */
static void remove_dir(void)
{
    clear(dir);
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static qat_context *ctx;
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/qat-fuzz-hfdir-%d", (int)getpid());
        if (mkdtemp(strcat(dir, "-XXXXXX")) == NULL || qat_context_create("ref", &ctx) != QAT_OK)
            return 0;
        atexit(remove_dir);
    }
    const uint8_t *part[4] = {NULL, NULL, NULL, NULL};
    size_t len[4] = {0, 0, 0, 0}, n = 0;
    const uint8_t *at = data, *end = data + size;
    while (n < 4) {
        const uint8_t *cut = NULL;
        for (const uint8_t *p = at; p + sizeof SEP - 1 <= end; p++)
            if (memcmp(p, SEP, sizeof SEP - 1) == 0) {
                cut = p;
                break;
            }
        part[n] = at;
        len[n] = (size_t)((cut ? cut : end) - at);
        n++;
        if (!cut)
            break;
        at = cut + sizeof SEP - 1;
    }
    if (n < 2 || len[0] == 0)
        return 0;
    clear(dir);
    put(dir, "config.json", part[0], len[0]);
    if (len[1] == 0) {
        put(dir, "model.safetensors", part[2], len[2]);
    } else {
        put(dir, "model.safetensors.index.json", part[1], len[1]);
        if (n > 2)
            put(dir, "a.safetensors", part[2], len[2]);
        if (n > 3)
            put(dir, "b.safetensors", part[3], len[3]);
    }
    static const qat_task tasks[] = {QAT_TASK_MLM, QAT_TASK_TOKEN_CLASSIFICATION, QAT_TASK_SEQUENCE_CLASSIFICATION};
    qat_load_options o;
    qat_load_options_init(&o, QAT_LOAD_OPTIONS_VERSION);
    o.task = tasks[part[0][0] % 3];
    o.flags = part[0][0] & 4 ? QAT_LOAD_PARTIAL : 0;
    qat_model *m = NULL;
    if (qat_model_load(ctx, dir, &o, &m) == QAT_OK)
        qat_model_free(m);
    return 0;
}
