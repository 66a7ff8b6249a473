/* What a call noticed without failing (a data file read leniently...),
 * kept on its context for the caller to show: no global log, no stderr
 * from the library. */
#ifndef QAT_LIB_WARNINGS_H
#define QAT_LIB_WARNINGS_H

#include <stdatomic.h>
#include <stddef.h>

#include "qat/core.h"

#define QAT_CONTEXT_KEPT_WARNINGS 16

/* Appends never block: a slot is reserved by an atomic count, so models of
 * one context may warn from two threads at once. */
typedef struct qat_warnings {
    atomic_size_t count;                        /* every warning, kept or not */
    _Atomic(char *) kept[QAT_CONTEXT_KEPT_WARNINGS];
} qat_warnings;

void qat_warnings_clear(qat_warnings *w);

/* Adds a printf-formatted warning to the context (dropped, but counted,
 * when the kept ones are full or memory is short). */
void qat_context_warn(qat_context *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
