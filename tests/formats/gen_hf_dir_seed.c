/* Writes the seeds of the HF-directory fuzz target (fuzz_hf_dir.c): a tiny
 * model saved by qat_model_save, as one model.safetensors and as an index
 * whose weight map sends every tensor to a.safetensors (the same file).
 * usage: gen_hf_dir_seed OUT_DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/safetensors.h"
#include "formats/tensor_set.h"
#include "qat/qat.h"

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc(*n + 1);
    if (b && fread(b, 1, *n, f) != *n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    return b;
}

static int write_seed(const char *path, const char *config, size_t nc, const char *index, const char *weights,
                      size_t nw)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return 1;
    fwrite(config, 1, nc, f);
    fputs("\n--8<--\n", f);
    fputs(index, f);
    fputs("\n--8<--\n", f);
    fwrite(weights, 1, nw, f);
    fclose(f);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_hf_dir_seed OUT_DIR\n");
        return 2;
    }
    char tmp[] = "/tmp/qat-hfseed-XXXXXX", path[256];
    qat_context *ctx;
    qat_model_options o;
    qat_model *m;
    if (!mkdtemp(tmp) || qat_context_create("ref", &ctx) != QAT_OK ||
        qat_model_options_init(&o, QAT_MODEL_OPTIONS_VERSION) != QAT_OK)
        return 1;
    o.vocab_size = 16;
    o.hidden_size = 8;
    o.num_layers = 1;
    o.num_heads = 2;
    o.intermediate_size = 8;
    o.max_position_embeddings = 12;
    if (qat_model_create(ctx, &o, &m) != QAT_OK || qat_model_save(m, tmp) != QAT_OK) {
        fprintf(stderr, "gen_hf_dir_seed: %s\n", qat_last_error());
        return 1;
    }
    size_t nc, nw;
    snprintf(path, sizeof path, "%s/config.json", tmp);
    char *config = slurp(path, &nc);
    snprintf(path, sizeof path, "%s/model.safetensors", tmp);
    char *weights = slurp(path, &nw);
    qat_tensor_set *set;
    if (!config || !weights || qat_tensor_set_create(&set) != QAT_OK || qat_safetensors_read(path, 0, set) != QAT_OK)
        return 1;
    size_t cap = 256 + 96 * qat_tensor_set_count(set), at = 0;
    char *index = malloc(cap);
    at += (size_t)snprintf(index + at, cap - at, "{\"metadata\": {}, \"weight_map\": {");
    for (size_t i = 0; i < qat_tensor_set_count(set); i++)
        at += (size_t)snprintf(index + at, cap - at, "%s\"%s\": \"a.safetensors\"", i ? ", " : "",
                               qat_tensor_set_at(set, i)->name);
    snprintf(index + at, cap - at, "}}");
    int rc = 0;
    snprintf(path, sizeof path, "%s/single", argv[1]);
    rc |= write_seed(path, config, nc, "", weights, nw);
    snprintf(path, sizeof path, "%s/sharded", argv[1]);
    rc |= write_seed(path, config, nc, index, weights, nw);
    qat_tensor_set_free(set);
    free(index);
    free(config);
    free(weights);
    qat_model_free(m);
    qat_context_free(ctx);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    return rc | system(cmd);
}
