/* The cpu backend's backward row slots: LayerNorm's and the softmax's input
 * gradients, and the column sums of bias_grad and LayerNorm's dw / db, on
 * the vector twins of the state's ISA (cpu_float_simd.h), with ref's
 * ranges and orders (so ref's bits with any thread count); the scalar path
 * runs ref's kernels. */
#include "backend/backend.h"
#include "cpu/cpu_float.h"
#include "cpu/cpu_kernels.h"

typedef struct backward_rows {
    qat_cpu_float_isa isa;
    const float *dy, *x, *w, *mean, *rstd;
    int64_t rows, cols;
    float *dx, *dw, *db;
} backward_rows;

#ifdef QAT_CPU_TWINS
enum { BLOCK_VECTORS = QAT_CPU_COLUMN_VECTORS };

static int64_t block_cols(qat_cpu_float_isa isa)
{
    return BLOCK_VECTORS * QAT_CPU_VECTOR_LANES(isa);
}

static int column_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const backward_rows *b = arg;
    (void)index;
    for (int64_t blk = begin; blk < end; blk++)
        QAT_CPU_VECTOR(b->isa, qat_cpu_column_grads)(b->dy, b->x, b->mean, b->rstd, b->rows, b->cols,
                                                      blk * block_cols(b->isa), b->dw, b->db);
    return 0;
}

static void column_grads(void *state, backward_rows *b)
{
    const int64_t cb = block_cols(b->isa);
    qat_host_for(state, (b->cols + cb - 1) / cb, b->rows * cb, column_range, b);
}

static int layernorm_input_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const backward_rows *b = arg;
    (void)index;
    for (int64_t r = begin; r < end; r++)
        QAT_CPU_VECTOR(b->isa, qat_cpu_layernorm_bwd_row)(b->dy + r * b->cols, b->x + r * b->cols, b->w,
                                                           b->mean[r], b->rstd[r], b->cols, b->dx + r * b->cols);
    return 0;
}

static int softmax_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const backward_rows *b = arg;
    (void)index;
    for (int64_t r = begin; r < end; r++)
        QAT_CPU_VECTOR(b->isa, qat_cpu_softmax_bwd_row)(b->dy + r * b->cols, b->x + r * b->cols, b->cols,
                                                         b->dx + r * b->cols);
    return 0;
}
#endif

qat_status qat_cpu_layernorm_bwd(void *state, const float *dy, const float *x, const float *w, const float *mean,
                                 const float *rstd, int64_t rows, int64_t cols, float *dx, float *dw, float *db)
{
    backward_rows b = {((qat_cpu_state *)state)->isa, dy, x, w, mean, rstd, rows, cols, dx, dw, db};
#ifdef QAT_CPU_TWINS
    if (b.isa != QAT_CPU_FLOAT_SCALAR) {
        column_grads(state, &b); /* all of dw, db before dx, which may alias dy */
        qat_host_for(state, rows, cols, layernorm_input_range, &b);
        return QAT_OK;
    }
#endif
    return qat_backend_ref_ops.layernorm_bwd(state, dy, x, w, mean, rstd, rows, cols, dx, dw, db);
}

qat_status qat_cpu_softmax_bwd(void *state, const float *dp, const float *p, int64_t rows, int64_t cols, float *ds)
{
    backward_rows b = {.isa = ((qat_cpu_state *)state)->isa, .dy = dp, .x = p, .cols = cols, .dx = ds};
#ifdef QAT_CPU_TWINS
    if (b.isa != QAT_CPU_FLOAT_SCALAR) {
        qat_host_for(state, rows, cols, softmax_range, &b);
        return QAT_OK;
    }
#endif
    return qat_backend_ref_ops.softmax_bwd(state, dp, p, rows, cols, ds);
}

qat_status qat_cpu_bias_grad(void *state, const float *dy, int64_t rows, int64_t cols, float *db)
{
    backward_rows b = {.isa = ((qat_cpu_state *)state)->isa, .dy = dy, .rows = rows, .cols = cols, .db = db};
#ifdef QAT_CPU_TWINS
    if (b.isa != QAT_CPU_FLOAT_SCALAR) {
        column_grads(state, &b);
        return QAT_OK;
    }
#endif
    return qat_backend_ref_ops.bias_grad(state, dy, rows, cols, db);
}
