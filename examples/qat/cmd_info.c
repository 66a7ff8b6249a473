#include <stdio.h>
#include <string.h>

#include "commands.h"

int qat_cli_info(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: qat info\n  Prints the library version and the backends usable on this machine.\n");
        return 0;
    }
    printf("libqat %s\nbackends:", qat_version());
    int n = qat_backend_count();
    for (int i = 0; i < n; i++)
        printf(" %s", qat_backend_name(i));
    qat_context *ctx = NULL;
    qat_status st = qat_context_create(NULL, &ctx);
    if (st != QAT_OK)
        return qat_cli_fail("info", "cannot create a context", st);
    int64_t threads = 0;
    qat_context_get_int(ctx, QAT_CTX_THREADS, &threads);
    printf("\ndefault backend: %s (%lld threads)\n", qat_context_backend(ctx), (long long)threads);
    qat_context_free(ctx);
    return 0;
}
