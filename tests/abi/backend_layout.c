/* The backend vtable's layout against the stored one (backend_ops.layout):
 * a module built against another layout would call the wrong slot, so any
 * change to struct qat_backend_ops, the kernel list or a descriptor must
 * come with a QAT_BACKEND_ABI_VERSION bump and a new stored layout.
 * Argument: the stored layout (of an LP64 build: elsewhere the test skips).
 * With --print, writes the current one. */
#define _POSIX_C_SOURCE 200809L /* fmemopen */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "backend/backend.h"

static void write_layout(FILE *f)
{
    fprintf(f, "abi_version %u\n", QAT_BACKEND_ABI_VERSION);
    fprintf(f, "sizeof qat_backend_ops %zu\n", sizeof(struct qat_backend_ops));
    fprintf(f, "sizeof qat_gemm_desc %zu\n", sizeof(qat_gemm_desc));
    fprintf(f, "sizeof qat_lsq_desc %zu\n", sizeof(qat_lsq_desc));
    fprintf(f, "sizeof qat_segments %zu\n", sizeof(qat_segments));
    fprintf(f, "sizeof qat_adamw_desc %zu\n", sizeof(qat_adamw_desc));
    fprintf(f, "sizeof qat_attention_desc %zu\n", sizeof(qat_attention_desc));
    fprintf(f, "sizeof qat_linear_desc %zu\n", sizeof(qat_linear_desc));
    fprintf(f, "sizeof qat_attention_train_desc %zu\n", sizeof(qat_attention_train_desc));
#define FIELD(name) fprintf(f, "slot %s %zu\n", #name, offsetof(struct qat_backend_ops, name));
    FIELD(abi_version) FIELD(name) FIELD(caps) FIELD(score) FIELD(probe) FIELD(create) FIELD(destroy)
    FIELD(set_threads) FIELD(thread_pool) FIELD(set_precision) FIELD(get_precision) FIELD(last_error) FIELD(alloc) FIELD(free) FIELD(upload) FIELD(download)
    FIELD(synchronize) FIELD(comm)
#define KERNEL_FIELD(name, params, args) FIELD(name)
    QAT_BACKEND_KERNELS(KERNEL_FIELD)
#undef KERNEL_FIELD
#undef FIELD
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--print") == 0) {
        write_layout(stdout);
        return 0;
    }
    if (sizeof(void *) != 8 || sizeof(long) != 8) {
        printf("SKIP: the stored layout is an LP64 one\n");
        return 77;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: %s backend_ops.layout | --print\n", argv[0]);
        return 2;
    }
    char now[8192], stored[8192];
    FILE *mem = fmemopen(now, sizeof now, "w");
    FILE *f = fopen(argv[1], "r");
    if (!mem || !f) {
        fprintf(stderr, "cannot open %s\n", argv[1]);
        return 2;
    }
    write_layout(mem);
    fputc('\0', mem);
    fclose(mem);
    size_t n = fread(stored, 1, sizeof stored - 1, f);
    fclose(f);
    stored[n] = '\0';
    if (strcmp(now, stored) == 0) {
        printf("ok: the backend ABI %u layout is the stored one\n", QAT_BACKEND_ABI_VERSION);
        return 0;
    }
    unsigned stored_version = 0;
    sscanf(stored, "abi_version %u", &stored_version);
    if (stored_version == QAT_BACKEND_ABI_VERSION)
        fprintf(stderr, "FAIL: struct qat_backend_ops (or a descriptor) changed but QAT_BACKEND_ABI_VERSION is "
                        "still %u: bump it in lib/backend/backend.h, then store the new layout\n",
                stored_version);
    else
        fprintf(stderr, "FAIL: QAT_BACKEND_ABI_VERSION is %u, the stored layout is version %u: store the new "
                        "layout\n", QAT_BACKEND_ABI_VERSION, stored_version);
    fprintf(stderr, "  (build/tests/abi/test_backend_layout --print > tests/abi/backend_ops.layout)\n"
                    "now:\n%s", now);
    return 1;
}
