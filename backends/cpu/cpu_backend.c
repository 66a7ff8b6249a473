/* The cpu backend: oneDNN GEMMs and vectorised float kernels (the forward's
 * bias + GELU, softmax, LayerNorm and fused attention; the training step's
 * GELU, LayerNorm and softmax backward, bias gradients, BitNet quantizers,
 * dropout, gradient norm and AdamW: cpu_*_kernels.c over cpu_float*.c); the
 * encoder kernels it leaves NULL run the ref implementations (its state
 * starts with a qat_host_state for that reason). */
#include <dnnl.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "backend/backend.h"
#include "core/error.h"
#include "cpu/cpu_attention.h"
#include "cpu/cpu_float.h"
#include "cpu/cpu_kernels.h"
#include "host/host_dropout_add.h"
#include "host/host_layernorm_quant.h"
#include "host/host_linear.h"
#include "host/host_memory.h"


#ifdef _OPENMP
#include <omp.h>
#endif

/* GEMMs big enough for threads are cut into tiles of C, each computed by
 * one single-threaded dnnl_sgemm call, and the tiles run on the backend's
 * pool: oneDNN's own OpenMP threads would spin between calls (see
 * core/thread_pool.h). The tiles depend on the shape alone, so results
 * are the same with any thread count. */
enum {
    TILE_MACS = 1 << 21,      /* multiply-adds per tile, at least */
    MAX_TILES_PER_MATRIX = 16,
    TILE_ALIGN = 16,          /* rows / columns of a tile: multiples of this */
    MIN_SIDE = 256,           /* a tile's side along the cut, at least (below) */
    WIDE_SIDE = 768           /* the same for dW = dy^T x */
};

/* oneDNN 2.x sends an sgemm call to its no-copy kernels when 1/m + 1/n >=
 * 0.0038 (its gemm_driver's crude copy-overhead threshold, on AVX2 and
 * AVX-512 alike): they read the operands in place. For dx = dy W (neither
 * operand transposed), 256-row tiles of the 768x3072 weight's product ran
 * at 0.49x one whole call on Zen 3 (bench/train_gemm_tiles.c). So a tile of a
 * GEMM that oneDNN would pack whole is kept large enough to be packed too. */
#define ONEDNN_NOCOPY_THRESHOLD 0.0038

static int onednn_packs(int64_t m, int64_t n)
{
    return 1.0 / (double)m + 1.0 / (double)n < ONEDNN_NOCOPY_THRESHOLD;
}

typedef struct gemm_tiles {
    const qat_gemm_desc *d;
    int64_t mb, nb;           /* tile height and width */
    int64_t tiles_m, tiles_n; /* tiles per matrix of the batch */
    int k_parts;              /* 2: C's tile split over k instead (split_k) */
    int64_t kb;               /* the first part's k */
    float *partial;           /* the second part's products, m x n */
    qat_cpu_float_isa isa;    /* of the skinny GEMMs' vector twin */
    atomic_int failure;       /* a dnnl_status_t */
} gemm_tiles;

static int64_t ceil_div(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

/* The tiles cut one dimension of C. Cutting m takes whole rows of op(A),
 * contiguous unless A is transposed; cutting n takes whole columns of
 * op(B), contiguous only when B is. And each call packs its slice of one
 * operand and the whole other one. On Zen 3 (bench/train_gemm_tiles.c)
 * thin tiles ran at half one whole call's speed or less: dx = dy W cut
 * along n (strided 192-column slices), the same cut along m in 64-row
 * tiles (W packed 16 times), dW = dy^T x cut in 16 (A transposed and B not:
 * no contiguous side). So a GEMM is cut where its slices are contiguous, a
 * tile is at least MIN_SIDE wide along the cut, a dW tile WIDE_SIDE (the
 * width at which its tiles ran as fast as the whole call), and either
 * at most half the dimension, so that two threads share every GEMM. */
static void plan_tiles(const qat_gemm_desc *d, gemm_tiles *t)
{
    t->d = d;
    t->mb = d->m;
    t->nb = d->n;
    int64_t tiles = d->m * d->n * d->k / TILE_MACS;
    tiles = tiles < 1 ? 1 : (tiles > MAX_TILES_PER_MATRIX ? MAX_TILES_PER_MATRIX : tiles);
    const int rows_contiguous = !d->trans_a, cols_contiguous = d->trans_b;
    /* the contiguous side when only one is; else the larger */
    const int cut_m = rows_contiguous != cols_contiguous ? rows_contiguous : d->m >= d->n;
    const int64_t dim = cut_m ? d->m : d->n;
    const int64_t half = ceil_div(ceil_div(dim, 2), TILE_ALIGN) * TILE_ALIGN;
    const int64_t least = rows_contiguous || cols_contiguous ? MIN_SIDE : WIDE_SIDE;
    const int64_t floor_side = least < half ? least : half;
    int64_t side = ceil_div(ceil_div(dim, tiles), TILE_ALIGN) * TILE_ALIGN;
    side = side > floor_side ? side : floor_side;
    const int64_t other = cut_m ? d->n : d->m;
    while (side < half && onednn_packs(d->m, d->n) && !onednn_packs(side, other))
        side = side * 2 < half ? side * 2 : half;
    if (cut_m)
        t->mb = side;
    else
        t->nb = side;
    t->tiles_m = ceil_div(d->m, t->mb);
    t->tiles_n = ceil_div(d->n, t->nb);
    t->k_parts = 1;
    t->kb = d->k;
    t->partial = NULL;
    atomic_init(&t->failure, dnnl_success);
}

/* A GEMM that oneDNN packs whole but no cut of which it would pack: dW = dy^T
 * x of a 768x768 weight, whose 384-row halves (1/384 + 1/768 >= 0.0038) ran
 * at 0.76x one whole call (bench/train_gemm_tiles.c, Zen 3). Its two tiles
 * split k instead: the first part into C (with beta), the second into a
 * buffer added to C after both (so its own bits, the same with any thread
 * count). The plan stays as it was when the buffer cannot be had. */
static void split_k(const qat_gemm_desc *d, gemm_tiles *t)
{
    if (d->batch != 1 || t->tiles_m * t->tiles_n < 2 || !onednn_packs(d->m, d->n) || onednn_packs(t->mb, t->nb) ||
        d->k < 2 * TILE_ALIGN)
        return;
    float *partial = malloc((size_t)(d->m * d->n) * sizeof *partial);
    if (!partial)
        return;
    t->mb = d->m, t->nb = d->n, t->tiles_m = t->tiles_n = 1;
    t->k_parts = 2;
    t->kb = ceil_div(ceil_div(d->k, 2), TILE_ALIGN) * TILE_ALIGN;
    t->partial = partial;
}

/* C += the second part's products. */
static void add_partial(const qat_gemm_desc *d, const gemm_tiles *t)
{
    for (int64_t i = 0; i < d->m; i++) {
        float *c = d->c + i * d->ldc;
        const float *p = t->partial + i * d->n;
        for (int64_t j = 0; j < d->n; j++)
            c[j] += p[j];
    }
}

static int tile_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    gemm_tiles *t = arg;
    const qat_gemm_desc *d = t->d;
    (void)index;
#ifdef _OPENMP
    /* One oneDNN thread: the pool is the parallelism. The thread's OpenMP
     * setting is the host's; it is put back. */
    const int host_threads = omp_get_max_threads();
    omp_set_num_threads(1);
#endif
    int failed = 0;
    for (int64_t tile = begin; tile < end && !failed; tile++) {
        const int64_t part = tile % t->k_parts, cell = tile / t->k_parts;
        const int64_t per_matrix = t->tiles_m * t->tiles_n, bi = cell / per_matrix;
        const int64_t i0 = (cell % per_matrix) / t->tiles_n * t->mb, j0 = (cell % per_matrix) % t->tiles_n * t->nb;
        const int64_t rows = d->m - i0 < t->mb ? d->m - i0 : t->mb, cols = d->n - j0 < t->nb ? d->n - j0 : t->nb;
        const int64_t p0 = part ? t->kb : 0, kn = part ? d->k - t->kb : t->kb;
        const float *a = d->a + bi * d->stride_a + (d->trans_a ? i0 + p0 * d->lda : i0 * d->lda + p0);
        const float *b = d->b + bi * d->stride_b + (d->trans_b ? j0 * d->ldb + p0 : j0 + p0 * d->ldb);
        float *c = part ? t->partial : d->c + bi * d->stride_c + i0 * d->ldc + j0;
        const int64_t ldc = part ? d->n : d->ldc;
        const float beta = part ? 0.0f : d->beta;
        if (d->m <= QAT_CPU_SKINNY_GEMM || d->n <= QAT_CPU_SKINNY_GEMM) {
#ifdef QAT_CPU_TWINS
            if (t->isa != QAT_CPU_FLOAT_SCALAR && !d->trans_b) { /* B's columns side by side: vector lanes */
                QAT_CPU_VECTOR(t->isa, qat_cpu_gemm_skinny_nb)(d->trans_a, rows, cols, kn, d->alpha, a, d->lda, b,
                                                               d->ldb, beta, c, ldc);
                continue;
            }
#endif
            qat_cpu_gemm_skinny(d->trans_a, d->trans_b, rows, cols, kn, d->alpha, a, d->lda, b, d->ldb, beta, c,
                                ldc);
            continue;
        }
        dnnl_status_t st = dnnl_sgemm(d->trans_a ? 'T' : 'N', d->trans_b ? 'T' : 'N', rows, cols, kn, d->alpha, a,
                                      d->lda, b, d->ldb, beta, c, ldc);
        if (st != dnnl_success) {
            atomic_store(&t->failure, (int)st);
            failed = 1;
        }
    }
#ifdef _OPENMP
    omp_set_num_threads(host_threads);
#endif
    return failed;
}

/* C = beta C: oneDNN returns early on k == 0, BLAS semantics still scale. */
static void scale_c(const qat_gemm_desc *d)
{
    for (int64_t bi = 0; bi < d->batch; bi++)
        for (int64_t i = 0; i < d->m; i++) {
            float *c = d->c + bi * d->stride_c + i * d->ldc;
            for (int64_t j = 0; j < d->n; j++)
                c[j] = d->beta == 0.0f ? 0.0f : d->beta * c[j];
        }
}

static qat_status cpu_gemm(void *state, const qat_gemm_desc *d)
{
    QAT_TRY(qat_gemm_desc_validate(d));
    if (d->m == 0 || d->n == 0 || d->batch == 0)
        return QAT_OK;
    if (d->k == 0) {
        scale_c(d);
        return QAT_OK;
    }
    gemm_tiles t;
    plan_tiles(d, &t);
    t.isa = ((const qat_cpu_state *)state)->isa;
    split_k(d, &t);
    const int64_t tile_macs = t.mb * t.nb * (d->k / t.k_parts), tiles = d->batch * t.tiles_m * t.tiles_n * t.k_parts;
    const int64_t grain = tile_macs >= TILE_MACS ? 1 : TILE_MACS / tile_macs;
    const int failed = qat_pool_for(((qat_host_state *)state)->pool, tiles, grain, tile_range, &t);
    if (!failed && t.partial)
        add_partial(d, &t);
    free(t.partial);
    if (failed)
        return qat_fail(QAT_ERR_BACKEND, "cpu backend: dnnl_sgemm failed with status %d", atomic_load(&t.failure));
    return QAT_OK;
}

/* The fused linear slots, composed of this backend's own GEMM and
 * vectorised epilogues (host/host_linear.h: the bits of the unfused calls). */
static qat_status cpu_linear_fwd(void *state, const qat_linear_desc *d)
{
    return qat_host_linear_fwd(&qat_backend_cpu_ops, state, d);
}

static qat_status cpu_gelu_bias_bwd(void *state, const float *dy, const float *pre, int64_t rows, int64_t cols,
                                    float *dx, float *db)
{
    return qat_host_gelu_bias_bwd(&qat_backend_cpu_ops, state, dy, pre, rows, cols, dx, db);
}

/* LayerNorm into a BitNet activation quantizer: the two vectorised kernels
 * composed (host/host_layernorm_quant.h: the bits of the unfused calls). */
static qat_status cpu_layernorm_bitnet_act_fwd(void *state, const float *x, const float *w, const float *b,
                                               float eps, int64_t rows, int64_t cols, int bits, int symmetric,
                                               float *y, float *yq, float *mean, float *rstd)
{
    return qat_host_layernorm_bitnet_act_fwd(&qat_backend_cpu_ops, state, x, w, b, eps, rows, cols, bits, symmetric,
                                             y, yq, mean, rstd);
}

/* Dropout and the residual add: the vectorised dropout with ref's copy and
 * add (host/host_dropout_add.h: the bits of the unfused calls). */
static qat_status cpu_dropout_add(void *state, const float *x, const float *residual, int64_t n, float p,
                                  uint64_t seed, float *y)
{
    return qat_host_dropout_add(&qat_backend_cpu_ops, state, x, residual, n, p, seed, y);
}

const struct qat_backend_ops qat_backend_cpu_ops = {
    .abi_version = QAT_BACKEND_ABI_VERSION,
    .name = "cpu",
    .caps = QAT_BACKEND_CAP_HOST_MEMORY | QAT_BACKEND_CAP_GEMM_BATCHED,
    .score = 50,
    QAT_HOST_MEMORY_OPS,
    .create = qat_cpu_state_create,
    .destroy = qat_cpu_state_destroy,
    .gemm = cpu_gemm,
    .attention_fwd = qat_cpu_attention_fwd,
    .attention_train_fwd = qat_cpu_attention_train_fwd,
    .attention_bwd = qat_cpu_attention_bwd,
    .add = qat_cpu_add,
    .bias_act_fwd = qat_cpu_bias_act_fwd,
    .gelu_bwd = qat_cpu_gelu_bwd,
    .softmax_fwd = qat_cpu_softmax_fwd,
    .layernorm_fwd = qat_cpu_layernorm_fwd,
    .bitnet_weight_fwd = qat_cpu_bitnet_weight_fwd,
    .bitnet_act_fwd = qat_cpu_bitnet_act_fwd,
    .grad_norm = qat_cpu_grad_norm,
    .adamw = qat_cpu_adamw,
    .layernorm_bwd = qat_cpu_layernorm_bwd,
    .softmax_bwd = qat_cpu_softmax_bwd,
    .bias_grad = qat_cpu_bias_grad,
    .dropout = qat_cpu_dropout,
    .lsq_fwd = qat_cpu_lsq_fwd,
    .lsq_bwd = qat_cpu_lsq_bwd,
    .linear_fwd = cpu_linear_fwd,
    .gelu_bias_bwd = cpu_gelu_bias_bwd,
    .layernorm_bitnet_act_fwd = cpu_layernorm_bitnet_act_fwd,
    .dropout_add = cpu_dropout_add,
};
