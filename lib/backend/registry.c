#define _GNU_SOURCE /* dladdr */
#include "backend/registry.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* Modules the registry knows how to look for, by backend name, with the
 * driver library each needs: without it the (large) module is not even
 * loaded, which keeps backend discovery cheap on machines without a GPU. */
static const char *const module_names[] = {"cuda"};
static const char *const module_drivers[] = {"libcuda.so.1"};
#define MODULE_COUNT (sizeof module_names / sizeof module_names[0])

static int driver_present(const char *soname)
{
    void *h = dlopen(soname, RTLD_LAZY | RTLD_LOCAL);
    if (!h)
        return 0;
    dlclose(h);
    return 1;
}

static const struct qat_backend_ops *const builtin_backends[] = {
    &qat_backend_ref_ops,
#ifdef QAT_HAVE_ONEDNN
    &qat_backend_cpu_ops,
#endif
};
#define BUILTIN_COUNT (sizeof builtin_backends / sizeof builtin_backends[0])

/* Backends for the library's own tests: opened by their exact name only,
 * never listed, never chosen by "auto". */
static const struct qat_backend_ops *const test_backends[] = {&qat_backend_sealed_ops};
#define TEST_COUNT (sizeof test_backends / sizeof test_backends[0])

typedef qat_status (*module_entry_fn)(uint32_t, const struct qat_backend_ops **);

/* Tries `dir/libqat-backend-NAME.so`; on success fills out and returns 1. */
static int try_module_in(const char *dir, size_t dir_len, const char *name,
                         qat_backend_handle *out)
{
    char path[4096];
    int n = snprintf(path, sizeof path, "%.*s/libqat-backend-%s.so", (int)dir_len, dir, name);
    if (n <= 0 || (size_t)n >= sizeof path)
        return 0;
    void *module = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!module)
        return 0;
    module_entry_fn entry;
    *(void **)&entry = dlsym(module, QAT_BACKEND_MODULE_ENTRY);
    const struct qat_backend_ops *ops = NULL;
    if (!entry || entry(QAT_BACKEND_ABI_VERSION, &ops) != QAT_OK || !ops ||
        ops->abi_version != QAT_BACKEND_ABI_VERSION || strcmp(ops->name, name) != 0) {
        dlclose(module);
        return 0;
    }
    out->ops = ops;
    out->module = module;
    return 1;
}

/* Search order: each directory of $QAT_BACKEND_PATH (colon-separated), then
 * `libqat/` next to the loaded libqat.so, then the install directory. */
static int find_module(const char *name, qat_backend_handle *out)
{
    const char *env = getenv("QAT_BACKEND_PATH");
    while (env && *env) {
        const char *colon = strchr(env, ':');
        size_t len = colon ? (size_t)(colon - env) : strlen(env);
        if (len > 0 && try_module_in(env, len, name, out))
            return 1;
        env = colon ? colon + 1 : NULL;
    }
    Dl_info info;
    if (dladdr((void *)&qat_backend_open, &info) && info.dli_fname) {
        const char *slash = strrchr(info.dli_fname, '/');
        if (slash) {
            char dir[4096];
            int n = snprintf(dir, sizeof dir, "%.*s/libqat", (int)(slash - info.dli_fname), info.dli_fname);
            if (n > 0 && (size_t)n < sizeof dir && try_module_in(dir, (size_t)n, name, out))
                return 1;
        }
    }
#ifdef QAT_MODULE_DIR
    if (try_module_in(QAT_MODULE_DIR, strlen(QAT_MODULE_DIR), name, out))
        return 1;
#endif
    return 0;
}

void qat_registry_scan(qat_registry *r)
{
    r->count = 0;
    for (size_t i = 0; i < BUILTIN_COUNT; i++)
        if (builtin_backends[i]->probe() > 0)
            r->usable[r->count++] = (qat_backend_handle){builtin_backends[i], NULL};
    for (size_t i = 0; i < MODULE_COUNT; i++) {
        qat_backend_handle h = {NULL, NULL};
        if (!driver_present(module_drivers[i]) || !find_module(module_names[i], &h))
            continue;
        if (h.ops->probe() > 0 && r->count < QAT_REGISTRY_MAX)
            r->usable[r->count++] = h;
        else
            qat_backend_close(&h);
    }
}

void qat_registry_release(qat_registry *r)
{
    for (int i = 0; i < r->count; i++)
        qat_backend_close(&r->usable[i]);
    r->count = 0;
}

int qat_registry_find(const qat_registry *r, const char *name)
{
    int auto_pick = !name || !*name || strcmp(name, "auto") == 0, best = -1;
    for (int i = 0; i < r->count; i++) {
        const struct qat_backend_ops *ops = r->usable[i].ops;
        if (!auto_pick && strcmp(ops->name, name) == 0)
            return i;
        if (auto_pick && (best < 0 || ops->score > r->usable[best].ops->score))
            best = i;
    }
    return best;
}

const char *qat_registry_lasting_name(const char *name)
{
    for (size_t i = 0; i < BUILTIN_COUNT; i++)
        if (strcmp(builtin_backends[i]->name, name) == 0)
            return builtin_backends[i]->name;
    for (size_t i = 0; i < MODULE_COUNT; i++)
        if (strcmp(module_names[i], name) == 0)
            return module_names[i];
    for (size_t i = 0; i < TEST_COUNT; i++)
        if (strcmp(test_backends[i]->name, name) == 0)
            return test_backends[i]->name;
    return NULL;
}

/* "ref, cpu, cuda": the names of the usable backends, for messages. */
static void list_usable(const qat_registry *r, char *buf, size_t cap)
{
    buf[0] = '\0';
    for (int i = 0; i < r->count; i++) {
        size_t used = strlen(buf);
        snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", r->usable[i].ops->name);
    }
}

qat_status qat_backend_open(const char *name, qat_backend_handle *out)
{
    QAT_CHECK_ARG(out != NULL, "qat_backend_open: NULL out");
    out->ops = NULL;
    out->module = NULL;
    for (size_t i = 0; name && i < TEST_COUNT; i++)
        if (strcmp(test_backends[i]->name, name) == 0) {
            out->ops = test_backends[i];
            return QAT_OK;
        }
    qat_registry r;
    qat_registry_scan(&r);
    int i = qat_registry_find(&r, name);
    if (i < 0) {
        char usable[256];
        list_usable(&r, usable, sizeof usable);
        qat_registry_release(&r);
        return qat_fail(QAT_ERR_NOT_FOUND, "backend '%s' is not available on this machine (available: %s)",
                        name, usable);
    }
    *out = r.usable[i];
    r.usable[i].module = NULL; /* now owned by *out */
    qat_registry_release(&r);
    return QAT_OK;
}

void qat_backend_close(qat_backend_handle *handle)
{
    if (handle && handle->module)
        dlclose(handle->module);
    if (handle) {
        handle->module = NULL;
        handle->ops = NULL;
    }
}
