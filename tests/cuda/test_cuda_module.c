/* The CUDA module as the registry sees it, runnable without a GPU: it
 * dlopens, rejects a foreign ABI version, names itself "cuda", fills every
 * slot of struct qat_backend_ops (each kernel of backend/kernels.h's list),
 * and, where no device is usable, probe() says 0 and create() fails
 * cleanly with a message. Argument: the module. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "backend/backend.h"

#define CHECK(cond, ...)                                                                                       \
    do {                                                                                                       \
        if (!(cond)) {                                                                                         \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                               \
            fprintf(stderr, __VA_ARGS__);                                                                      \
            fprintf(stderr, "\n");                                                                             \
            return 1;                                                                                          \
        }                                                                                                      \
    } while (0)

typedef qat_status (*entry_fn)(uint32_t, const struct qat_backend_ops **);

int main(int argc, char **argv)
{
    CHECK(argc == 2, "usage: %s libqat-backend-cuda.so", argv[0]);
    void *module = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    CHECK(module, "dlopen: %s", dlerror());
    entry_fn entry;
    *(void **)&entry = dlsym(module, QAT_BACKEND_MODULE_ENTRY);
    CHECK(entry, "no %s symbol", QAT_BACKEND_MODULE_ENTRY);
    const struct qat_backend_ops *ops = NULL;
    CHECK(entry(QAT_BACKEND_ABI_VERSION + 1, &ops) != QAT_OK, "a foreign ABI version was accepted");
    CHECK(entry(QAT_BACKEND_ABI_VERSION, &ops) == QAT_OK && ops, "entry failed");
    CHECK(ops->abi_version == QAT_BACKEND_ABI_VERSION, "abi_version %u", ops->abi_version);
    CHECK(strcmp(ops->name, "cuda") == 0, "name %s", ops->name);
    CHECK(!(ops->caps & QAT_BACKEND_CAP_HOST_MEMORY), "claims host memory");

    const struct { const char *name; const void *fn; } slots[] = {
#define SLOT(s) {#s, (const void *)ops->s}
        SLOT(probe), SLOT(create), SLOT(destroy), SLOT(set_precision), SLOT(get_precision), SLOT(last_error), SLOT(alloc), SLOT(free), SLOT(upload),
        SLOT(download), SLOT(synchronize),
#define KERNEL_SLOT(name, params, args) SLOT(name),
        QAT_BACKEND_KERNELS(KERNEL_SLOT)
#undef KERNEL_SLOT
#undef SLOT
    };
    for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++)
        CHECK(slots[i].fn != NULL, "slot %s is NULL", slots[i].name);

    int devices = ops->probe();
    CHECK(devices >= 0, "probe() = %d", devices);
    if (devices == 0) {
        void *state = NULL;
        qat_status st = ops->create(1, &state);
        CHECK(st != QAT_OK, "create() succeeded without a device");
        const char *msg = ops->last_error(NULL);
        CHECK(msg && *msg, "create() failed without a message");
        printf("no CUDA device here; create() fails with: %s\n", msg);
    } else {
        printf("%d CUDA device(s): the kernels are covered by cuda_ops and cuda_model\n", devices);
    }
    dlclose(module);
    printf("ok: module loads, %zu slots filled\n", sizeof slots / sizeof slots[0]);
    return 0;
}
