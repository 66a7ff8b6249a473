/* Tiny random models and helpers shared by the export tests. */
#ifndef QAT_TEST_EXPORT_UTIL_H
#define QAT_TEST_EXPORT_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qat/qat.h"

#define TINY_B 2
#define TINY_L 7
#define TINY_H 32 /* hidden_size of tiny_model */

/* A tiny model with non-trivial weights (LayerNorm gains and biases
 * perturbed, so every part of the graph matters). */
static inline qat_status tiny_model(qat_context *ctx, qat_arch arch, qat_task task, const char *quant,
                                    qat_model **out)
{
    qat_model_options o;
    qat_model_options_init(&o, QAT_MODEL_OPTIONS_VERSION);
    o.arch = arch;
    o.task = task;
    o.vocab_size = 40;
    o.hidden_size = TINY_H;
    o.num_layers = 2;
    o.num_heads = 4;
    o.intermediate_size = 80;
    o.max_position_embeddings = 24;
    o.type_vocab_size = 2;
    o.pad_token_id = arch == QAT_ARCH_BERT ? 0 : 1;
    o.num_labels = 5;
    o.tie_word_embeddings = 1;
    qat_model *m = NULL;
    qat_status st = qat_model_create(ctx, &o, &m);
    if (st != QAT_OK)
        return st;
    size_t n = 0;
    qat_model_parameter_count(m, &n);
    uint64_t seed = 12345;
    for (size_t i = 0; i < n && st == QAT_OK; i++) {
        const char *name;
        int ndim;
        int64_t shape[4];
        qat_model_parameter_info(m, i, &name, &ndim, shape);
        if (ndim != 1)
            continue;
        size_t count = (size_t)shape[0];
        float *v = malloc(count * sizeof(float));
        qat_model_get_parameter(m, name, v, count);
        for (size_t j = 0; j < count; j++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            float u = (float)((seed >> 40) & 0xffff) / 65536.0f - 0.5f;
            v[j] += 0.2f * u;
        }
        st = qat_model_set_parameter(m, name, v, count);
        free(v);
    }
    if (st == QAT_OK && quant) {
        qat_quant_config *q = NULL;
        st = qat_quant_config_parse(quant, &q);
        if (st == QAT_OK)
            st = qat_model_set_quant(m, q);
        qat_quant_config_free(q);
    }
    if (st != QAT_OK) {
        qat_model_free(m);
        return st;
    }
    *out = m;
    return QAT_OK;
}

/* Deterministic ids with the second sequence padded at the end. */
static inline void tiny_batch(qat_arch arch, int32_t *ids, int32_t *mask, int32_t *types)
{
    int32_t pad = arch == QAT_ARCH_BERT ? 0 : 1;
    for (int b = 0; b < TINY_B; b++)
        for (int t = 0; t < TINY_L; t++) {
            int i = b * TINY_L + t;
            int real = b == 0 || t < TINY_L - 3;
            ids[i] = real ? 2 + (int32_t)((i * 7 + 3) % 37) : pad;
            mask[i] = real;
            types[i] = (t >= 4) && real;
        }
}

#define TINY_TRY(x)                 \
    do {                            \
        qat_status tiny_st_ = (x);  \
        if (tiny_st_ != QAT_OK)     \
            return tiny_st_;        \
    } while (0)

/* A new empty temporary file (under TMPDIR or /tmp) named into path: 0, or -1. */
static inline int tiny_temp_file(char *path, size_t cap)
{
    const char *d = getenv("TMPDIR");
    snprintf(path, cap, "%s/qat-export-XXXXXX", d && d[0] ? d : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

/* m calibrated on tiny_batch (one forward) and exported with the default
 * options to a new temporary file named into path (the caller unlinks it). */
static inline qat_status tiny_export(qat_model *m, qat_arch arch, char *path, size_t cap)
{
    int32_t ids[TINY_B * TINY_L], mask[TINY_B * TINY_L], types[TINY_B * TINY_L];
    tiny_batch(arch, ids, mask, types);
    size_t n = 0;
    TINY_TRY(qat_model_logits_size(m, TINY_B, TINY_L, &n));
    float *logits = malloc(n * sizeof *logits);
    if (!logits)
        return QAT_ERR_OUT_OF_MEMORY;
    qat_status st = qat_model_forward(m, ids, mask, types, TINY_B, TINY_L, logits, n);
    free(logits);
    TINY_TRY(st);
    if (tiny_temp_file(path, cap) != 0)
        return QAT_ERR_IO;
    qat_export_options eo;
    TINY_TRY(qat_export_options_init(&eo, QAT_EXPORT_OPTIONS_VERSION));
    return qat_packed_export(m, path, &eo);
}

#endif
