/* The model the training-state fuzz target resumes into, and its seed
 * generator saves from (gen_state_seed.c): both must agree on its layout. */
#ifndef QAT_TESTS_STATE_FUZZ_MODEL_H
#define QAT_TESTS_STATE_FUZZ_MODEL_H

#include <stddef.h>

#include "qat/qat.h"

/* A 1-layer RoBERTa MLM (vocab 16, hidden 8) with E6W1.58A6 quantizers and
 * its trainer, or NULL (then nothing is fuzzed). */
static qat_trainer *state_fuzz_trainer(void)
{
    static qat_trainer *trainer;
    if (trainer)
        return trainer;
    qat_context *ctx = NULL;
    qat_model *model = NULL;
    qat_quant_config *q = NULL;
    qat_model_options o;
    qat_train_options t;
    /* one thread: run_fuzz.sh runs a target per core */
    if (qat_context_create("ref", &ctx) != QAT_OK || qat_context_set_int(ctx, QAT_CTX_THREADS, 1) != QAT_OK ||
        qat_model_options_init(&o, QAT_MODEL_OPTIONS_VERSION) != QAT_OK)
        return NULL;
    o.vocab_size = 16;
    o.hidden_size = 8;
    o.num_layers = 1;
    o.num_heads = 2;
    o.intermediate_size = 8;
    o.max_position_embeddings = 12;
    if (qat_model_create(ctx, &o, &model) == QAT_OK && qat_quant_config_parse("E6W1.58A6", &q) == QAT_OK &&
        qat_model_set_quant(model, q) == QAT_OK && qat_train_options_init(&t, QAT_TRAIN_OPTIONS_VERSION) == QAT_OK)
        qat_trainer_create(model, &t, 100, &trainer);
    qat_quant_config_free(q);
    qat_model_free(model);     /* the trainer keeps it */
    qat_context_free(ctx);     /* the model keeps it */
    return trainer;
}

#endif
