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

/* Enumerates usable backends in a stable order: built-ins, then modules
 * that load and see a device. Calls visit(handle) for each; stops when it
 * returns nonzero (and then leaves the handle open for the caller). */
static int for_each_usable(int (*visit)(qat_backend_handle *, void *), void *arg)
{
    for (size_t i = 0; i < BUILTIN_COUNT; i++) {
        qat_backend_handle h = {builtin_backends[i], NULL};
        if (h.ops->probe() > 0 && visit(&h, arg))
            return 1;
    }
    for (size_t i = 0; i < MODULE_COUNT; i++) {
        qat_backend_handle h = {NULL, NULL};
        if (!driver_present(module_drivers[i]) || !find_module(module_names[i], &h))
            continue;
        if (h.ops->probe() > 0 && visit(&h, arg))
            return 1;
        qat_backend_close(&h);
    }
    return 0;
}

struct by_index { int wanted, seen; const char *name; };

static int visit_index(qat_backend_handle *h, void *arg)
{
    struct by_index *s = arg;
    if (s->seen++ == s->wanted) {
        s->name = h->ops->name; /* static in the module; see qat_backend_name */
        return 1;
    }
    return 0;
}

QAT_API int qat_backend_count(void)
{
    struct by_index s = {-1, 0, NULL};
    for_each_usable(visit_index, &s);
    return s.seen;
}

QAT_API const char *qat_backend_name(int index)
{
    if (index < 0)
        return NULL;
    struct by_index s = {index, 0, NULL};
    if (!for_each_usable(visit_index, &s))
        return NULL;
    /* The name string may live in a module we are about to release: return
     * our own static copy of the known names instead. */
    for (size_t i = 0; i < BUILTIN_COUNT; i++)
        if (strcmp(builtin_backends[i]->name, s.name) == 0)
            return builtin_backends[i]->name;
    for (size_t i = 0; i < MODULE_COUNT; i++)
        if (strcmp(module_names[i], s.name) == 0)
            return module_names[i];
    return NULL;
}

struct by_name { const char *name; qat_backend_handle best; };

static int visit_name(qat_backend_handle *h, void *arg)
{
    struct by_name *s = arg;
    if (s->name) {
        if (strcmp(h->ops->name, s->name) != 0)
            return 0;
        s->best = *h;
        return 1;
    }
    if (!s->best.ops || h->ops->score > s->best.ops->score) {
        qat_backend_close(&s->best);
        s->best = *h;
        h->module = NULL; /* ownership moved to best */
    }
    return 0;
}

static void list_usable(char *buf, size_t cap)
{
    buf[0] = '\0';
    int count = qat_backend_count();
    for (int i = 0; i < count; i++) {
        size_t used = strlen(buf);
        snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", qat_backend_name(i));
    }
}

qat_status qat_backend_open(const char *name, qat_backend_handle *out)
{
    QAT_CHECK_ARG(out != NULL, "qat_backend_open: NULL out");
    out->ops = NULL;
    out->module = NULL;
    struct by_name s = {NULL, {NULL, NULL}};
    if (name && *name && strcmp(name, "auto") != 0)
        s.name = name;
    for_each_usable(visit_name, &s);
    if (!s.best.ops) {
        char usable[256];
        list_usable(usable, sizeof usable);
        return qat_fail(QAT_ERR_NOT_FOUND,
                        "backend '%s' is not available on this machine (available: %s)",
                        name, usable);
    }
    *out = s.best;
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
