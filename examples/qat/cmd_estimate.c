/* qat estimate: footprint and BitOPs of SPEC section 8 (the study's Table I). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

static int usage(int code)
{
    printf("usage: qat estimate --config config.json [--quant E6W1.58A6] [--seq 512]\n"
           "  Prints the memory footprint (MB = 10^6 bytes) of the encoder's stored parameters and the\n"
           "  BitOPs (T = 10^12) of one forward pass over --seq tokens, and the gains over FP32.\n");
    return code;
}

int qat_cli_estimate(int argc, char **argv)
{
    const char *config = NULL, *quant = "FP32";
    long long seq = 512;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return usage(0);
        if (i + 1 >= argc)
            return usage(2);
        if (strcmp(argv[i], "--config") == 0)
            config = argv[++i];
        else if (strcmp(argv[i], "--quant") == 0)
            quant = argv[++i];
        else if (strcmp(argv[i], "--seq") == 0)
            seq = strtoll(argv[++i], NULL, 10);
        else
            return usage(2);
    }
    if (!config)
        return usage(2);
    double size = 0, bitops = 0, size32 = 0, bitops32 = 0;
    qat_status st = qat_estimate(config, quant, seq, &size, &bitops);
    if (st == QAT_OK)
        st = qat_estimate(config, "FP32", seq, &size32, &bitops32);
    if (st != QAT_OK)
        return qat_cli_fail("estimate", "cannot estimate", st);
    printf("config      %s\nquant       %s\nseq_len     %lld\n", config, quant, seq);
    printf("size        %.2f MB   (FP32 %.2f MB, gain x%.2f)\n", size / 1e6, size32 / 1e6, size32 / size);
    printf("BitOPs      %.3f T   (FP32 %.3f T, gain x%.2f)\n", bitops / 1e12, bitops32 / 1e12, bitops32 / bitops);
    return 0;
}
