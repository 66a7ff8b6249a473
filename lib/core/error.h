/* Thread-local last-error message, set by every failing library call. */
#ifndef QAT_LIB_ERROR_H
#define QAT_LIB_ERROR_H

#include "qat/core.h"

#if defined(__GNUC__)
#  define QAT_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#  define QAT_PRINTF(f, a)
#endif

/* Records a printf-style message for the calling thread and returns status,
 * so failures read `return qat_fail(QAT_ERR_FORMAT, "...", ...);`. */
qat_status qat_fail(qat_status status, const char *fmt, ...) QAT_PRINTF(2, 3);

/* Prepends "context: " to the current thread's message (for callers that
 * add where a lower-level failure happened) and returns status unchanged. */
qat_status qat_fail_prefix(qat_status status, const char *fmt, ...) QAT_PRINTF(2, 3);

/* Shorthand for the most frequent check. */
#define QAT_CHECK_ARG(cond, ...) \
    do { if (!(cond)) return qat_fail(QAT_ERR_INVALID_ARGUMENT, __VA_ARGS__); } while (0)

/* Propagate a failing status. */
#define QAT_TRY(expr) \
    do { qat_status qat_try_st_ = (expr); if (qat_try_st_ != QAT_OK) return qat_try_st_; } while (0)

#endif
