/* qat info: the library's version and the backends of this machine. */
#include <stdio.h>

#include "commands.h"

int qat_cli_info(int argc, char **argv)
{
    const qat_cli_spec spec = {
        .command = "info",
        .synopsis = "",
        .about = "  Prints the library version, the backends usable on this machine and the packed integer\n"
                 "  kernels' path (auto: QAT_ISA, else the fastest this CPU has) with the paths available.\n",
    };
    int rc = qat_cli_parse(&spec, argc, argv);
    if (rc != QAT_CLI_RUN)
        return rc;
    printf("libqat %s\nbackends:", qat_version());
    qat_backend_list *found = NULL;
    if (qat_backend_list_create(&found) != QAT_OK) {
        fprintf(stderr, "qat info: %s\n", qat_last_error());
        return 1;
    }
    for (int i = 0; i < qat_backend_list_count(found); i++)
        printf(" %s", qat_backend_list_name(found, i));
    qat_backend_list_free(found);
    qat_context *ctx = NULL;
    if (qat_cli_context("info", NULL, 0, -1, &ctx) != 0)
        return 1;
    int64_t threads = 0;
    qat_context_get_int(ctx, QAT_CTX_THREADS, &threads);
    printf("\ndefault backend: %s (%lld threads)\n", qat_context_backend(ctx), (long long)threads);
    qat_context_free(ctx);
    const char *isa = NULL;
    /* A QAT_ISA naming a path this CPU lacks is reported, not fatal here. */
    if (qat_packed_isa_resolve(0, NULL, &isa) == QAT_OK)
        printf("packed kernels: %s (available:", isa);
    else
        printf("packed kernels: none: %s (available:", qat_last_error());
    const char *name = NULL;
    for (int64_t i = 1; qat_packed_isa_name_of(i, &name) == QAT_OK; i++) /* every QAT_PACKED_ISA path */
        if (qat_packed_isa_resolve(i, NULL, &isa) == QAT_OK)
            printf(" %s", isa);
    printf(")\n");
    return 0;
}
