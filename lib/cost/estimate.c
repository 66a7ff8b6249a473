/* Footprint and BitOPs of docs/method.md section 8 (the study's Table I) for a
 * config.json and a quant config. */
#include <string.h>

#include "core/error.h"
#include "formats/hf_config.h"
#include "qat/packed.h"
#include "quant/quant_config.h"

/* Stored bits of one value of a class (ternary counts 2, float 32). */
static double class_bits(const qat_class_quant *c)
{
    if (c->algo == QAT_ALGO_NONE)
        return 32.0;
    if (c->algo == QAT_ALGO_BITNET158 && c->granularity != QAT_GRAN_TOKEN)
        return 2.0;
    return (double)c->bits;
}

QAT_API qat_status qat_estimate(const char *config_path, const char *quant, int64_t seq_len, double *size_bytes,
                                double *bitops)
{
    QAT_CHECK_ARG(config_path != NULL, "qat_estimate: NULL config path");
    QAT_CHECK_ARG(seq_len > 0, "qat_estimate: seq_len %lld must be > 0", (long long)seq_len);
    qat_model_dims d;
    QAT_TRY(qat_hf_config_read(config_path, &d, NULL));
    qat_quant_config *cfg = NULL;
    QAT_TRY(qat_quant_config_parse(quant ? quant : "FP32", &cfg));
    const double e = class_bits(&cfg->cls[QAT_CLASS_EMBEDDING]);
    const double w = class_bits(&cfg->cls[QAT_CLASS_WEIGHT]);
    const double a = class_bits(&cfg->cls[QAT_CLASS_ACTIVATION]);
    qat_quant_config_free(cfg);
    const double H = (double)d.hidden_size, I = (double)d.intermediate_size;
    const double table_values = ((double)d.vocab_size + (double)d.max_position_embeddings + (double)d.type_vocab_size) * H;
    const double linear_weights_per_layer = 4.0 * H * H + 2.0 * H * I;
    /* biases of the six linears, two LayerNorms (weight + bias) per layer */
    const double float_per_layer = 4.0 * H + I + H + 4.0 * H;
    const double layers = (double)d.num_layers;
    const double bits = table_values * e + layers * linear_weights_per_layer * w +
                        (layers * float_per_layer + 2.0 * H) * 32.0;
    if (size_bytes)
        *size_bytes = bits / 8.0;
    if (bitops)
        *bitops = w * a * layers * linear_weights_per_layer * (double)seq_len;
    return QAT_OK;
}
