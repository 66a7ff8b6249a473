#include "ref/ref_backend.h"

#include "core/error.h"

/* Textbook triple loop with a double accumulator: slow, obviously right.
 * Parallel over (batch, row) pairs; each C element is written by exactly
 * one thread in a fixed order, so results do not depend on thread count. */
qat_status qat_ref_gemm(void *state, const qat_gemm_desc *d)
{
    QAT_TRY(qat_gemm_desc_validate(d));
    int threads = qat_ref_team(state, d->batch * d->m * d->n * (d->k + 1));
    const int64_t rows = d->batch * d->m;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        int64_t bi = r / d->m, i = r % d->m;
        const float *a = d->a ? d->a + bi * d->stride_a : NULL;
        const float *b = d->b ? d->b + bi * d->stride_b : NULL;
        float *c = d->c + bi * d->stride_c + i * d->ldc;
        for (int64_t j = 0; j < d->n; j++) {
            double acc = 0.0;
            for (int64_t p = 0; p < d->k; p++) {
                float av = d->trans_a ? a[p * d->lda + i] : a[i * d->lda + p];
                float bv = d->trans_b ? b[j * d->ldb + p] : b[p * d->ldb + j];
                acc += (double)av * (double)bv;
            }
            /* beta == 0 overwrites, so NaN garbage in C never leaks through. */
            float prior = d->beta == 0.0f ? 0.0f : d->beta * c[j];
            c[j] = (float)(d->alpha * acc) + prior;
        }
    }
    return QAT_OK;
}
