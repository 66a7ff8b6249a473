/* Reference counts of handles: the rule that lets callers free handles in
 * any order (include/qat/core.h, "Ownership"). A handle that needs another
 * one takes a reference to it; qat_X_free drops the caller's reference, and
 * the object is destroyed by whoever drops the last one. The count is
 * atomic because two handles sharing a third (two models of one context)
 * may be freed on different threads at once. */
#ifndef QAT_LIB_REFCOUNT_H
#define QAT_LIB_REFCOUNT_H

#include <stdatomic.h>

typedef struct qat_refcount {
    atomic_int count;
} qat_refcount;

/* A new object: one reference, its creator's. */
static inline void qat_refcount_init(qat_refcount *r)
{
    atomic_init(&r->count, 1);
}

static inline void qat_refcount_retain(qat_refcount *r)
{
    atomic_fetch_add_explicit(&r->count, 1, memory_order_relaxed);
}

/* Drops one reference; nonzero when it was the last, so the caller
 * destroys the object (acquire-release: every holder's writes happen
 * before the destruction). */
static inline int qat_refcount_release(qat_refcount *r)
{
    return atomic_fetch_sub_explicit(&r->count, 1, memory_order_acq_rel) == 1;
}

#endif
