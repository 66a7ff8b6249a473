/* `qat train --config FILE`: the run described in YAML or JSON, with the
 * quantization block of SPEC section 2. */
#ifndef QAT_CLI_TRAIN_CONFIG_H
#define QAT_CLI_TRAIN_CONFIG_H

#include <qat/qat.h>

typedef struct train_config {
    void *root;              /* the parsed document (json_object), owns the strings */
    char quant[QAT_QUANT_CONFIG_MAX_STRING + 1];
    const char *backend;
    long long threads;
} train_config;

/* Fills o from the file's keys (model, tokenizer, quant | quantization,
 * alpha, steps, corpus, task, eval, test, out, batch, micro_batch, lr,
 * warmup, seq_len, checkpoint_every, seed, threads, backend,
 * carbon_intensity, power_watts). Returns 0,
 * or prints why and returns nonzero. */
int train_config_load(const char *path, qat_pipeline_options *o, train_config *c);
void train_config_free(train_config *c);

#endif
