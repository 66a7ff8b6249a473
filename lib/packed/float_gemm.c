/* The packed model's float linears and heads (the pooler, the classifier,
 * the MLM transform and decoder, and any linear kept in float):
 * y[r, o] = sum_i x[r, i] w[o, i], both operands row-major along i, as
 * stored. It replaces the backend GEMM there because oneDNN 2.6's sgemm
 * allocates a packing buffer on every call on AVX2-only CPUs, so an MLM
 * forward of more than 16 tokens allocated every time (tests/export
 * export_alloc); this needs no packing and allocates nothing.
 *
 * Each output is 8 running sums, p[l] = fma(x[i], w[i], p[l]) for the i =
 * l mod 8 in increasing order (a vector of 8 lanes on avx2 and neon, an
 * array here), then ((p0 + p4) + (p2 + p6)) + ((p1 + p5) + (p3 + p7)): the
 * same bits on every path and thread count. Work is cut into blocks of
 * outputs x tokens sized for L2, one block per range of the pool. */
#include <math.h>

#include "core/error.h"
#include "core/thread_pool.h"
#include "packed/packed_internal.h"

/* Outputs of a block: 32 rows of w (96 KiB at 768 inputs) stay in L2 while
 * the block's tokens pass. */
#define OUT_BLOCK 32
/* Bytes of x per block's tokens. */
#define X_BLOCK_BYTES (256 * 1024)

float qat_packed_fdot_reduce(const float p[8])
{
    return ((p[0] + p[4]) + (p[2] + p[6])) + ((p[1] + p[5]) + (p[3] + p[7]));
}

/* The reference: one output at a time. */
static void block_scalar(const qat_packed_fgemm *g, int64_t r0, int64_t rows, int64_t o0, int64_t outs)
{
    for (int64_t r = r0; r < r0 + rows; r++)
        for (int64_t o = o0; o < o0 + outs; o++) {
            const float *x = g->x + r * g->ldx, *w = g->w + o * g->ldw;
            float p[8] = {0};
            for (int64_t i = 0; i < g->in; i++)
                p[i % 8] = fmaf(x[i], w[i], p[i % 8]);
            g->y[r * g->ldy + o] = qat_packed_fdot_reduce(p);
        }
}

typedef void (*block_fn)(const qat_packed_fgemm *g, int64_t r0, int64_t rows, int64_t o0, int64_t outs);

typedef struct fgemm_run {
    const qat_packed_fgemm *g;
    block_fn block;
    int64_t rblock, rblocks;
} fgemm_run;

static int block_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const fgemm_run *f = arg;
    (void)index;
    for (int64_t b = begin; b < end; b++) {
        const int64_t o0 = b / f->rblocks * OUT_BLOCK, r0 = b % f->rblocks * f->rblock;
        const int64_t outs = f->g->out - o0 < OUT_BLOCK ? f->g->out - o0 : OUT_BLOCK;
        const int64_t rows = f->g->rows - r0 < f->rblock ? f->g->rows - r0 : f->rblock;
        f->block(f->g, r0, rows, o0, outs);
    }
    return 0;
}

qat_status qat_packed_float_gemm(const qat_packed_kernel *k, const qat_packed_fgemm *g)
{
    QAT_CHECK_ARG(k && g && g->x && g->w && g->y, "packed: float gemm: NULL argument");
    QAT_CHECK_ARG(k->threads >= 1 && k->isa != QAT_PACKED_ISA_AUTO, "packed: float gemm: kernel handle not initialised");
    QAT_CHECK_ARG(g->rows >= 0 && g->out >= 0 && g->in >= 0 && g->ldx >= g->in && g->ldw >= g->in &&
                      g->ldy >= g->out,
                  "packed: float gemm: shape [%lld x %lld] x [%lld x %lld]^T with ld %lld, %lld, %lld",
                  (long long)g->rows, (long long)g->in, (long long)g->out, (long long)g->in, (long long)g->ldx,
                  (long long)g->ldw, (long long)g->ldy);
    if (g->rows == 0 || g->out == 0)
        return QAT_OK;
    fgemm_run f = {.g = g, .block = block_scalar};
#if defined(QAT_PACKED_X86)
    if (k->isa != QAT_PACKED_ISA_SCALAR && qat_packed_fdot_avx2_ok())
        f.block = qat_packed_fdot_block_avx2;
#elif defined(QAT_PACKED_ARM64)
    if (k->isa != QAT_PACKED_ISA_SCALAR)
        f.block = qat_packed_fdot_block_neon;
#endif
    f.rblock = X_BLOCK_BYTES / 4 / (g->in > 0 ? g->in : 1) / 6 * 6;
    f.rblock = f.rblock < 6 ? 6 : f.rblock;
    f.rblocks = (g->rows + f.rblock - 1) / f.rblock;
    const int64_t blocks = f.rblocks * ((g->out + OUT_BLOCK - 1) / OUT_BLOCK);
    if (k->pool && k->threads > 1 && blocks > 1) {
        /* Ranges of at least 256 Ki multiply-adds. */
        const int64_t macs = f.rblock * OUT_BLOCK * (g->in > 0 ? g->in : 1);
        const int64_t grain = macs >= (1 << 18) ? 1 : (1 << 18) / macs;
        qat_pool_for(k->pool, blocks, grain, block_range, &f);
        return QAT_OK;
    }
    block_range(&f, 0, blocks, 0);
    return QAT_OK;
}
