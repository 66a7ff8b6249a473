#include "core/warnings.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/context.h"

void qat_warnings_clear(qat_warnings *w)
{
    for (size_t i = 0; i < QAT_CONTEXT_KEPT_WARNINGS; i++)
        free(atomic_exchange(&w->kept[i], NULL));
    atomic_store(&w->count, 0);
}

void qat_context_warn(qat_context *ctx, const char *fmt, ...)
{
    size_t slot = atomic_fetch_add(&ctx->warnings.count, 1);
    if (slot >= QAT_CONTEXT_KEPT_WARNINGS)
        return;
    va_list ap;
    va_start(ap, fmt);
    char text[1024];
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    atomic_store(&ctx->warnings.kept[slot], strdup(text));
}

QAT_API size_t qat_context_warning_count(const qat_context *ctx)
{
    return ctx ? atomic_load(&ctx->warnings.count) : 0;
}

QAT_API const char *qat_context_warning(const qat_context *ctx, size_t index)
{
    if (!ctx || index >= QAT_CONTEXT_KEPT_WARNINGS || index >= atomic_load(&ctx->warnings.count))
        return NULL;
    const char *text = atomic_load(&ctx->warnings.kept[index]);
    return text ? text : "(warning lost: out of memory)";
}

QAT_API void qat_context_clear_warnings(qat_context *ctx)
{
    if (ctx)
        qat_warnings_clear(&ctx->warnings);
}
