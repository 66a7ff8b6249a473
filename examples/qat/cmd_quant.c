/* qat quant: a quant config (ExWyAz) in its canonical form, and what it
 * quantizes. */
#include <stdio.h>

#include "commands.h"

static const char *algo_name(int algo)
{
    return algo == QAT_ALGO_LSQ          ? "LSQ"
           : algo == QAT_ALGO_LSQ_PLUS   ? "LSQ+ (unsigned, learned offset)"
           : algo == QAT_ALGO_BITNET158 ? "BitNet b1.58"
                                         : "float";
}

static const char *granularity_name(int g)
{
    return g == QAT_GRAN_ROW ? "per row" : g == QAT_GRAN_TOKEN ? "per token" : "per tensor";
}

int qat_cli_quant(int argc, char **argv)
{
    const char *text_in = NULL;
    const qat_cli_spec spec = {
        .command = "quant",
        .synopsis = "CONFIG",
        .about = "  Parses a quant config such as E6W1.58A6 and prints what it quantizes.\n",
        .positional_name = "CONFIG",
        .positional = &text_in,
        .min_positional = 1,
        .max_positional = 1,
    };
    int rc = qat_cli_parse(&spec, argc, argv);
    if (rc != QAT_CLI_RUN)
        return rc;
    qat_quant_config *cfg = NULL;
    qat_status st = qat_quant_config_parse(text_in, &cfg);
    if (st != QAT_OK)
        return qat_cli_fail("quant", "invalid config", st);
    char text[QAT_QUANT_CONFIG_MAX_STRING + 1];
    qat_quant_config_to_string(cfg, text, sizeof text, NULL);
    printf("%s\n", text);
    const char *classes[] = {"embeddings", "weights", "activations"};
    for (int c = 0; c < QAT_CLASS_COUNT; c++) {
        int algo, bits, gran;
        qat_quant_config_get(cfg, (qat_tensor_class)c, QAT_QP_ALGO, &algo);
        qat_quant_config_get(cfg, (qat_tensor_class)c, QAT_QP_BITS, &bits);
        qat_quant_config_get(cfg, (qat_tensor_class)c, QAT_QP_GRANULARITY, &gran);
        if (algo == QAT_ALGO_NONE)
            printf("  %-12s float\n", classes[c]);
        else if (algo == QAT_ALGO_BITNET158 && c == QAT_CLASS_WEIGHT)
            printf("  %-12s %s ternary, %s\n", classes[c], algo_name(algo), granularity_name(gran));
        else
            printf("  %-12s %s %d bits, %s\n", classes[c], algo_name(algo), bits, granularity_name(gran));
    }
    static const char *const switches[] = {"", "quantizers: one per class, shared by every layer",
                                           "LSQ steps: frozen, x / (s + 1e-8), pass-through gradient",
                                           "BitNet activations: clamped to [-Qp, Qp]",
                                           "MLM head: quantized during DAPT"};
    static const char *const paper[] = {"", "quantizers: one per tensor", "LSQ steps: learned (gradient scale g)",
                                        "BitNet activations: [Qn, Qp]", "MLM head: float"};
    qat_quant_profile profile;
    qat_quant_config_get_profile(cfg, &profile);
    printf("  profile      %s\n", profile == QAT_PROFILE_PAPER ? "paper" : profile == QAT_PROFILE_SEED_CODE ? "seed-code"
                                                                                                            : "custom");
    for (int s = QAT_QS_SHARING; s <= QAT_QS_MLM_HEAD; s++) {
        int v = 0;
        qat_quant_config_get_switch(cfg, (qat_quant_switch)s, &v);
        printf("  %s\n", v ? switches[s] : paper[s]);
    }
    qat_quant_config_free(cfg);
    return 0;
}
