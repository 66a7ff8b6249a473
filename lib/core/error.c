#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define QAT_ERROR_CAPACITY 1024

/* The only per-process state of the library, and it is per thread. */
static _Thread_local char last_error[QAT_ERROR_CAPACITY];

qat_status qat_fail(qat_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

qat_status qat_fail_prefix(qat_status status, const char *fmt, ...)
{
    char prefix[QAT_ERROR_CAPACITY];
    char previous[QAT_ERROR_CAPACITY];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(previous, last_error, sizeof previous);
    size_t n = strlen(prefix);
    if (n > sizeof last_error - 3)
        n = sizeof last_error - 3;
    memcpy(last_error, prefix, n);
    memcpy(last_error + n, ": ", 2);
    size_t room = sizeof last_error - n - 3;
    size_t m = strnlen(previous, room);
    memcpy(last_error + n + 2, previous, m);
    last_error[n + 2 + m] = '\0';
    return status;
}

QAT_API const char *qat_last_error(void)
{
    return last_error;
}

QAT_API void qat_clear_error(void)
{
    last_error[0] = '\0';
}

QAT_API const char *qat_status_string(qat_status status)
{
    switch (status) {
    case QAT_OK: return "QAT_OK";
    case QAT_ERR_INVALID_ARGUMENT: return "QAT_ERR_INVALID_ARGUMENT";
    case QAT_ERR_OUT_OF_MEMORY: return "QAT_ERR_OUT_OF_MEMORY";
    case QAT_ERR_IO: return "QAT_ERR_IO";
    case QAT_ERR_FORMAT: return "QAT_ERR_FORMAT";
    case QAT_ERR_UNSUPPORTED: return "QAT_ERR_UNSUPPORTED";
    case QAT_ERR_NOT_FOUND: return "QAT_ERR_NOT_FOUND";
    case QAT_ERR_BACKEND: return "QAT_ERR_BACKEND";
    case QAT_ERR_NUMERIC: return "QAT_ERR_NUMERIC";
    case QAT_ERR_STATE: return "QAT_ERR_STATE";
    case QAT_ERR_BUFFER_TOO_SMALL: return "QAT_ERR_BUFFER_TOO_SMALL";
    case QAT_ERR_INTERNAL: return "QAT_ERR_INTERNAL";
    }
    return "QAT_ERR_UNKNOWN";
}
