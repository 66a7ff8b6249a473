#include "ref/ref_backend.h"
#include "ref/ref_kernels.h"

#include <stdlib.h>

#include "core/error.h"

/* C = alpha op(A) op(B) + beta C with a double accumulator per element,
 * summed over k in ascending order: the textbook definition, and the same
 * rounding as the triple loop it replaced. The loops are only ordered for
 * the memory system: with B not transposed, row i of C accumulates
 * A(i, p) * B(p, :) for p = 0, 1, ... (contiguous rows of B); with B
 * transposed, four columns of C at a time take dot products against
 * contiguous rows of B, each with its own in-order accumulator. Parallel
 * over (batch, row) pairs; each C element is written by exactly one range
 * in a fixed order, so results do not depend on the thread count. */

static inline float a_at(const qat_gemm_desc *d, const float *a, int64_t i, int64_t p)
{
    return d->trans_a ? a[p * d->lda + i] : a[i * d->lda + p];
}

static void store_row(const qat_gemm_desc *d, float *c, const double *acc)
{
    for (int64_t j = 0; j < d->n; j++) {
        /* beta == 0 overwrites, so NaN garbage in C never leaks through. */
        float prior = d->beta == 0.0f ? 0.0f : d->beta * c[j];
        c[j] = (float)(d->alpha * acc[j]) + prior;
    }
}

/* acc[j] = sum_p A(i, p) B(p, j), p ascending; B rows are contiguous. */
static void row_times_b(const qat_gemm_desc *d, const float *a, const float *b, int64_t i, double *acc)
{
    for (int64_t j = 0; j < d->n; j++)
        acc[j] = 0.0;
    for (int64_t p = 0; p < d->k; p++) {
        const double av = (double)a_at(d, a, i, p);
        const float *brow = b + p * d->ldb;
        for (int64_t j = 0; j < d->n; j++)
            acc[j] += av * (double)brow[j];
    }
}

/* acc[j] = sum_p A(i, p) B(j, p), p ascending; arow holds A(i, :). */
static void row_times_bt(const qat_gemm_desc *d, const float *arow, const float *b, double *acc)
{
    int64_t j = 0;
    for (; j + 4 <= d->n; j += 4) {
        const float *b0 = b + j * d->ldb, *b1 = b0 + d->ldb, *b2 = b1 + d->ldb, *b3 = b2 + d->ldb;
        double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
        for (int64_t p = 0; p < d->k; p++) {
            const double av = (double)arow[p];
            s0 += av * (double)b0[p];
            s1 += av * (double)b1[p];
            s2 += av * (double)b2[p];
            s3 += av * (double)b3[p];
        }
        acc[j] = s0;
        acc[j + 1] = s1;
        acc[j + 2] = s2;
        acc[j + 3] = s3;
    }
    for (; j < d->n; j++) {
        const float *bj = b + j * d->ldb;
        double s = 0.0;
        for (int64_t p = 0; p < d->k; p++)
            s += (double)arow[p] * (double)bj[p];
        acc[j] = s;
    }
}

/* Rows [begin, end) of the stacked C (batch * m rows), with their own
 * scratch. */
static int gemm_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const qat_gemm_desc *d = arg;
    (void)index;
    double *acc = malloc((size_t)(d->n ? d->n : 1) * sizeof *acc);
    float *arow = malloc((size_t)(d->k ? d->k : 1) * sizeof *arow);
    int failed = !acc || !arow;
    for (int64_t r = begin; r < end && !failed; r++) {
        int64_t bi = r / d->m, i = r % d->m;
        const float *a = d->a ? d->a + bi * d->stride_a : NULL;
        const float *b = d->b ? d->b + bi * d->stride_b : NULL;
        float *c = d->c + bi * d->stride_c + i * d->ldc;
        if (d->k == 0) {
            for (int64_t j = 0; j < d->n; j++)
                acc[j] = 0.0;
        } else if (!d->trans_b) {
            row_times_b(d, a, b, i, acc);
        } else {
            for (int64_t p = 0; p < d->k; p++)
                arow[p] = a_at(d, a, i, p);
            row_times_bt(d, arow, b, acc);
        }
        store_row(d, c, acc);
    }
    free(acc);
    free(arow);
    return failed;
}

qat_status qat_ref_gemm(void *state, const qat_gemm_desc *d)
{
    QAT_TRY(qat_gemm_desc_validate(d));
    if (d->m == 0 || d->n == 0 || d->batch == 0)
        return QAT_OK;
    if (qat_host_for(state, d->batch * d->m, d->n * (d->k + 1), gemm_range, (void *)d))
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "ref gemm: out of memory for a row of %lld", (long long)d->n);
    return QAT_OK;
}
