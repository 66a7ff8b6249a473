/* Writes the fuzz seed: a tiny calibrated model (E4W1.58A4, token
 * classification) as .qatp; with "labels", the model has label names (so
 * the seed holds the "labels" record). usage: gen_fuzz_seed OUT.qatp [QUANT [labels]] */
#include "export_test_util.h"

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    qat_context *ctx = NULL;
    qat_model_options o;
    qat_model_options_init(&o, QAT_MODEL_OPTIONS_VERSION);
    o.task = QAT_TASK_TOKEN_CLASSIFICATION;
    o.vocab_size = 12;
    o.hidden_size = 8;
    o.num_layers = 1;
    o.num_heads = 2;
    o.intermediate_size = 16;
    o.max_position_embeddings = 12;
    o.num_labels = 3;
    qat_model *m = NULL;
    qat_quant_config *q = NULL;
    int32_t ids[4] = {0, 5, 7, 2};
    static const char *const names[3] = {"O", "B-MÉD", "I-MÉD"};
    const int with_names = argc > 3 && strcmp(argv[3], "labels") == 0;
    float logits[12];
    if (qat_context_create("ref", &ctx) || qat_model_create(ctx, &o, &m) ||
        qat_quant_config_parse(argc > 2 ? argv[2] : "E4W1.58A4", &q) || qat_model_set_quant(m, q) ||
        (with_names && qat_model_set_label_names(m, names, 3)) ||
        qat_model_forward(m, ids, NULL, NULL, 1, 4, logits, 12) || qat_packed_export(m, argv[1], NULL)) {
        fprintf(stderr, "gen_fuzz_seed: %s\n", qat_last_error());
        return 1;
    }
    qat_quant_config_free(q);
    qat_model_free(m);
    qat_context_free(ctx);
    return 0;
}
