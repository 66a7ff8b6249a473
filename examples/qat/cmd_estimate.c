/* qat estimate: footprint and BitOPs of docs/method.md section 8 (the study's Table I). */
#include <stdio.h>

#include "commands.h"

int qat_cli_estimate(int argc, char **argv)
{
    const char *config = NULL, *quant = "FP32";
    int64_t seq = 512;
    const qat_cli_option options[] = {
        {.name = "--config", .type = QAT_CLI_STRING, .to.str = &config, .value_name = "config.json",
         .flags = QAT_CLI_REQUIRED, .help = "the encoder's HF config.json"},
        QAT_OPT_STRING("--quant", &quant, "CONFIG", "quant config, e.g. E6W1.58A6"),
        QAT_OPT_INT("--seq", &seq, "N", 1, INT64_MAX, "tokens of the forward pass the BitOPs count"),
    };
    const qat_cli_spec spec = {
        .command = "estimate",
        .synopsis = "--config config.json [--quant E6W1.58A6] [--seq 512]",
        .about = "  Prints the memory footprint (MB = 10^6 bytes) of the encoder's stored parameters and the\n"
                 "  BitOPs (T = 10^12) of one forward pass over --seq tokens, and the gains over FP32.\n",
        .options = options,
        .n_options = QAT_CLI_COUNT(options),
    };
    int rc = qat_cli_parse(&spec, argc, argv);
    if (rc != QAT_CLI_RUN)
        return rc;
    double size = 0, bitops = 0, size32 = 0, bitops32 = 0;
    qat_status st = qat_estimate(config, quant, seq, &size, &bitops);
    if (st == QAT_OK)
        st = qat_estimate(config, "FP32", seq, &size32, &bitops32);
    if (st != QAT_OK)
        return qat_cli_fail("estimate", "cannot estimate", st);
    printf("config      %s\nquant       %s\nseq_len     %lld\n", config, quant, (long long)seq);
    printf("size        %.2f MB   (FP32 %.2f MB, gain x%.2f)\n", size / 1e6, size32 / 1e6, size32 / size);
    printf("BitOPs      %.3f T   (FP32 %.3f T, gain x%.2f)\n", bitops / 1e12, bitops32 / 1e12, bitops32 / bitops);
    return 0;
}
