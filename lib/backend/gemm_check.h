/* GEMM descriptor validation shared by the core and by backend modules
 * (which cannot call the core's error functions): header-only. */
#ifndef QAT_LIB_GEMM_CHECK_H
#define QAT_LIB_GEMM_CHECK_H

#include <stdio.h>

#include "backend/backend.h"

/* Returns NULL when the descriptor is valid, else writes why into buf and
 * returns buf. */
static inline const char *qat_gemm_desc_problem(const qat_gemm_desc *d, char *buf, size_t cap)
{
    if (!d) {
        snprintf(buf, cap, "gemm: NULL descriptor");
        return buf;
    }
    if (d->m < 0 || d->n < 0 || d->k < 0 || d->batch < 0) {
        snprintf(buf, cap, "gemm: negative size (m=%lld n=%lld k=%lld batch=%lld)", (long long)d->m,
                 (long long)d->n, (long long)d->k, (long long)d->batch);
        return buf;
    }
    if (d->m == 0 || d->n == 0 || d->batch == 0)
        return NULL;
    long long a_cols = d->trans_a ? d->m : d->k, b_cols = d->trans_b ? d->k : d->n;
    if (!d->c || (d->k > 0 && (!d->a || !d->b)))
        snprintf(buf, cap, "gemm: NULL matrix");
    else if (d->lda < (a_cols > 1 ? a_cols : 1))
        snprintf(buf, cap, "gemm: lda=%lld smaller than the %lld columns of A", (long long)d->lda, a_cols);
    else if (d->ldb < (b_cols > 1 ? b_cols : 1))
        snprintf(buf, cap, "gemm: ldb=%lld smaller than the %lld columns of B", (long long)d->ldb, b_cols);
    else if (d->ldc < (d->n > 1 ? d->n : 1))
        snprintf(buf, cap, "gemm: ldc=%lld smaller than n=%lld", (long long)d->ldc, (long long)d->n);
    else if (d->batch > 1 && (d->stride_a < 0 || d->stride_b < 0 || d->stride_c <= 0))
        snprintf(buf, cap, "gemm: batched strides must be >= 0 (> 0 for C), got %lld/%lld/%lld",
                 (long long)d->stride_a, (long long)d->stride_b, (long long)d->stride_c);
    else
        return NULL;
    return buf;
}

#endif
