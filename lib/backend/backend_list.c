/* The public view of the registry: qat_backend_list (one scan, queried
 * many times) and the one-shot qat_backend_count / qat_backend_name. */
#include <stdlib.h>
#include <string.h>

#include "backend/registry.h"
#include "core/error.h"

struct qat_backend_list {
    qat_registry registry; /* keeps the modules open, so their names stay valid */
};

QAT_API qat_status qat_backend_list_create(qat_backend_list **out)
{
    QAT_CHECK_ARG(out != NULL, "qat_backend_list_create: NULL out");
    *out = calloc(1, sizeof **out);
    if (!*out)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "qat_backend_list_create: out of memory");
    qat_registry_scan(&(*out)->registry);
    return QAT_OK;
}

QAT_API void qat_backend_list_free(qat_backend_list *list)
{
    if (!list)
        return;
    qat_registry_release(&list->registry);
    free(list);
}

QAT_API int qat_backend_list_count(const qat_backend_list *list)
{
    return list ? list->registry.count : 0;
}

QAT_API const char *qat_backend_list_name(const qat_backend_list *list, int index)
{
    if (!list || index < 0 || index >= list->registry.count)
        return NULL;
    return list->registry.usable[index].ops->name;
}

QAT_API int qat_backend_count(void)
{
    qat_registry r;
    qat_registry_scan(&r);
    int count = r.count;
    qat_registry_release(&r);
    return count;
}

QAT_API const char *qat_backend_name(int index)
{
    qat_registry r;
    qat_registry_scan(&r);
    const char *name = index >= 0 && index < r.count ? qat_registry_lasting_name(r.usable[index].ops->name) : NULL;
    qat_registry_release(&r);
    return name;
}
