/* A C trainer driving its own loop with nothing but the public API:
 * forward, backward, read gradients, write parameters (plain SGD with
 * momentum). It learns a synthetic tagging task (each token has a fixed
 * tag, as in a lexicon) under a quant config.
 *
 *   train_loop [QUANT] [STEPS]      e.g. train_loop E6W1.58A6 300        */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qat/qat.h>

enum { VOCAB = 40, TAGS = 5, BATCH = 16, SEQ = 12 };

#define CHECK(call)                                                                          \
    do {                                                                                     \
        qat_status st_ = (call);                                                             \
        if (st_ != QAT_OK) {                                                                 \
            fprintf(stderr, "%s failed: %s (%s)\n", #call, qat_last_error(), qat_status_string(st_)); \
            exit(1);                                                                         \
        }                                                                                    \
    } while (0)

static void make_batch(unsigned *seed, int32_t *ids, int32_t *labels)
{
    for (int i = 0; i < BATCH * SEQ; i++) {
        *seed = *seed * 1103515245u + 12345u;
        ids[i] = 3 + (int32_t)((*seed >> 16) % (VOCAB - 3));
    }
    for (int i = 0; i < BATCH * SEQ; i++)
        labels[i] = (ids[i] * 7) % TAGS;
}

int main(int argc, char **argv)
{
    const char *quant = argc > 1 ? argv[1] : "E6W1.58A6";
    int steps = argc > 2 ? atoi(argv[2]) : 300;
    qat_context *ctx;
    CHECK(qat_context_create(NULL, &ctx));
    qat_model_options o;
    CHECK(qat_model_options_init(&o, QAT_MODEL_OPTIONS_VERSION));
    o.task = QAT_TASK_TOKEN_CLASSIFICATION;
    o.vocab_size = VOCAB;
    o.hidden_size = 32;
    o.num_layers = 2;
    o.num_heads = 4;
    o.intermediate_size = 64;
    o.max_position_embeddings = SEQ + 2;
    o.num_labels = TAGS;
    qat_model *model;
    CHECK(qat_model_create(ctx, &o, &model));
    qat_quant_config *cfg;
    CHECK(qat_quant_config_parse(quant, &cfg));
    CHECK(qat_model_set_quant(model, cfg));
    CHECK(qat_model_set_training(model, 1));

    size_t n_params;
    CHECK(qat_model_parameter_count(model, &n_params));
    float **momentum = calloc(n_params, sizeof *momentum);
    if (!momentum) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    int32_t ids[BATCH * SEQ], labels[BATCH * SEQ];
    unsigned seed = 7;
    printf("training %s on %s (%zu parameter tensors), %d steps\n", quant, qat_context_backend(ctx), n_params, steps);
    for (int step = 1; step <= steps; step++) {
        make_batch(&seed, ids, labels);
        float loss;
        CHECK(qat_model_backward(model, ids, NULL, NULL, labels, BATCH, SEQ, &loss));
        for (size_t p = 0; p < n_params; p++) {
            const char *name;
            size_t size;
            CHECK(qat_model_parameter_info(model, p, &name, NULL, NULL));
            CHECK(qat_model_parameter_size(model, name, &size));
            float *w = malloc(size * sizeof *w), *g = malloc(size * sizeof *g);
            if (!momentum[p])
                momentum[p] = calloc(size, sizeof(float));
            if (!w || !g || !momentum[p]) {
                fprintf(stderr, "out of memory\n");
                return 1;
            }
            CHECK(qat_model_get_parameter(model, name, w, size));
            CHECK(qat_model_get_gradient(model, name, g, size));
            /* Quantizer steps are scale parameters: a smaller rate keeps them positive. */
            float lr = strstr(name, "quantizer.step") ? 0.001f : 0.1f;
            for (size_t j = 0; j < size; j++) {
                momentum[p][j] = 0.9f * momentum[p][j] + g[j];
                w[j] -= lr * momentum[p][j];
            }
            if (strstr(name, "quantizer.step") && w[0] <= 1e-6f)
                w[0] = 1e-6f;
            CHECK(qat_model_set_parameter(model, name, w, size));
            free(w);
            free(g);
        }
        if (step % 50 == 0 || step == 1)
            printf("step %4d  loss %.4f\n", step, loss);
    }
    /* Token accuracy on fresh batches, dropout off. */
    CHECK(qat_model_set_training(model, 0));
    float *logits = malloc((size_t)BATCH * SEQ * TAGS * sizeof *logits);
    int correct = 0, total = 0;
    for (int b = 0; b < 8; b++) {
        make_batch(&seed, ids, labels);
        CHECK(qat_model_forward(model, ids, NULL, NULL, BATCH, SEQ, logits, (size_t)BATCH * SEQ * TAGS));
        for (int i = 0; i < BATCH * SEQ; i++) {
            int best = 0;
            for (int c = 1; c < TAGS; c++)
                if (logits[i * TAGS + c] > logits[i * TAGS + best])
                    best = c;
            correct += best == labels[i];
            total++;
        }
    }
    printf("%s: token accuracy %.1f%% on held-out batches\n", quant, 100.0 * correct / total);
    for (size_t p = 0; p < n_params; p++)
        free(momentum[p]);
    free(momentum);
    free(logits);
    qat_quant_config_free(cfg);
    qat_model_free(model);
    qat_context_free(ctx);
    return 0;
}
