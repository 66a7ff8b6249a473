/* The GEMM driver over a matrix in the kernels' layout (matrix.c): the
 * output is cut into tiles of 32 rows (a pair of panels) x 8 tokens (128 on
 * amx, avx2 and avx512vnni), each one call of the ISA's micro-kernel over the whole input,
 * followed by the shared epilogue (epilogue.c). Tokens are walked in blocks whose activation
 * codes stay in L2 while every panel pair streams past; inside a block the
 * (panel pair, token tile) grid is shared out over the threads. Every
 * output element is computed by exactly one thread with the same code, so
 * results do not depend on the thread count (nor, the accumulators being
 * exact integers, on the ISA), nor on whether the threads are an OpenMP
 * team or the handle's pool. Allocates nothing. */
#include <string.h>

#include "core/error.h"
#include "core/thread_pool.h"
#include "packed/packed_internal.h"

/* Activation bytes per token block: a quarter of a 1 MiB L2, leaving room
 * for the panel pair of the tile in flight. */
#define TOKEN_BLOCK_BYTES (256 * 1024)

static qat_status check_gemm(const qat_packed_kernel *k, const qat_packed_acts *a, const qat_packed_matrix *m,
                             const void *outp, int64_t ld, const char *who)
{
    QAT_CHECK_ARG(k && a && m && outp, "packed: %s: NULL argument", who);
    QAT_CHECK_ARG(k->threads >= 1 && k->isa != QAT_PACKED_ISA_AUTO, "packed: %s: kernel handle not initialised",
                  who);
    QAT_CHECK_ARG(a->codes && a->bits >= 2 && a->bits <= 8, "packed: %s: activations not quantized", who);
    QAT_CHECK_ARG(m->data && m->scale, "packed: %s: weights not laid out (qat_packed_matrix_from)", who);
    QAT_CHECK_ARG(a->in == m->in && a->stride == m->kpad, "packed: %s: activations have %lld features, weights %lld",
                  who, (long long)a->in, (long long)m->in);
    QAT_CHECK_ARG(ld >= m->out, "packed: %s: ld = %lld < out = %lld", who, (long long)ld, (long long)m->out);
    return QAT_OK;
}

/* One GEMM call: its operands and the token block being walked. */
typedef struct gemm_run {
    const qat_packed_acts *a;
    const qat_packed_matrix *m;
    int32_t *acc_out;        /* y == NULL: the accumulators go here (ld ldacc_out) */
    int64_t ldacc_out;
    const float *bias;
    float *y;
    int64_t ldy;
    qat_packed_path path;
    int amax;
    int64_t t0, tiles;       /* the block's first token and its token tiles */
} gemm_run;

/* Where a tile's outputs go, for its finish. */
typedef struct tile_out {
    const gemm_run *g;
    int64_t tt0, o0, rows;
} tile_out;

/* Prefetches the output lines of `tokens` tokens x `rows` outputs at y: a
 * token's rows are a whole output row apart (kilobytes, across pages, so
 * no hardware prefetcher follows the epilogue's stores, and on Zen 3 a
 * store that misses L1 holds up the ones behind it). */
static void prefetch_outputs(const float *y, int64_t ldy, int64_t tokens, int64_t rows)
{
    for (int64_t j = 0; j < tokens; j++)
        for (int64_t r = 0; r < rows; r += 64 / (int64_t)sizeof *y)
            __builtin_prefetch(y + j * ldy + r, 1, 3);
}

/* The epilogue of tokens [j, j + n) of a tile, then the next n tokens'
 * output lines fetched while the kernel computes them. */
static void finish_tokens(const qat_packed_tile *t, int j, int n)
{
    const tile_out *o = t->finish_ctx;
    const gemm_run *g = o->g;
    g->path.epilogue(g->a, g->m, o->tt0 + j, n, o->o0, o->rows, t->acc + j * QAT_PACKED_TILE_ROWS,
                     QAT_PACKED_TILE_ROWS, g->bias, g->y, g->ldy);
    const int64_t next = t->tokens - j - n < n ? t->tokens - j - n : n;
    if (next > 0) /* else the address would lie past the outputs */
        prefetch_outputs(g->y + (o->tt0 + j + n) * g->ldy + o->o0, g->ldy, next, o->rows);
}

/* Tile `tile` of the block: (panel pair tile / tiles, token tile tile % tiles). */
static void run_tile(const gemm_run *g, int64_t tile)
{
    const qat_packed_acts *a = g->a;
    const qat_packed_matrix *m = g->m;
    const int64_t p = tile / g->tiles, ti = tile % g->tiles, T = a->tokens, TT = g->path.tile_tokens;
    _Alignas(64) int32_t acc[QAT_PACKED_TILE_TOKENS_MAX * QAT_PACKED_TILE_ROWS];
    const int64_t tt0 = g->t0 + ti * TT;
    const int tokens = (int)(T - tt0 < TT ? T - tt0 : TT);
    const int64_t o0 = p * QAT_PACKED_TILE_ROWS;
    const int64_t rows = m->out - o0 < QAT_PACKED_TILE_ROWS ? m->out - o0 : QAT_PACKED_TILE_ROWS;
    const tile_out out = {.g = g, .tt0 = tt0, .o0 = o0, .rows = rows};
    const int finishes = g->y && g->path.finishes;
    const qat_packed_tile t = {
        .m = m, .panel = 2 * p, .acts = a->codes + tt0 * a->stride, .lda = a->stride,
        .tokens = tokens, .row_sum = a->row_sum + tt0, .amax = g->amax, .acc = acc,
        .finish = finishes ? finish_tokens : NULL, .finish_ctx = &out,
    };
    g->path.tile(&t);
    if (finishes)
        return;
    if (g->y) {
        g->path.epilogue(a, m, tt0, tokens, o0, rows, acc, QAT_PACKED_TILE_ROWS, g->bias, g->y, g->ldy);
    } else {
        for (int j = 0; j < tokens; j++)
            memcpy(g->acc_out + (tt0 + j) * g->ldacc_out + o0, acc + j * QAT_PACKED_TILE_ROWS,
                   (size_t)rows * sizeof *acc);
    }
}

static int tile_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const gemm_run *g = arg;
    (void)index;
    if (g->path.begin)
        g->path.begin();
    for (int64_t tile = begin; tile < end; tile++)
        run_tile(g, tile);
    if (g->path.end)
        g->path.end();
    return 0;
}

/* Tiles per range on a pool: enough to amortise claiming a range, few
 * enough to balance (a tile is 32 rows x 8 or 128 tokens x in multiply-adds). */
#define POOL_TILES_PER_RANGE 4

/* y == NULL: write the accumulators to acc_out (ld = ldacc_out) instead. */
static void run(const qat_packed_kernel *k, const qat_packed_acts *a, const qat_packed_matrix *m, int32_t *acc_out,
                int64_t ldacc_out, const float *bias, float *y, int64_t ldy)
{
    if (k->isa == QAT_PACKED_ISA_AVX512VBMI && qat_packed_lut_usable(a, m)) {
        qat_packed_lut_gemm(k, a, m, acc_out, ldacc_out, bias, y, ldy);
        return;
    }
    const qat_packed_path path = qat_packed_path_for(k->isa);
    const int64_t pairs = m->panels / 2, T = a->tokens, TT = path.tile_tokens;
    int64_t tblock = TOKEN_BLOCK_BYTES / a->stride / TT * TT;
    tblock = tblock < TT ? TT : tblock;
    const int64_t tiles_max = (tblock < T ? tblock : T + TT - 1) / TT;
    const int64_t work = pairs * tiles_max;
    const int nt = work < 1 ? 1 : (int)(work < k->threads ? work : k->threads);
    /* |codes| <= 2^(bits-1): signed b-bit codes, and LSQ+'s shifted ones. */
    const gemm_run base = {.a = a, .m = m, .acc_out = acc_out, .ldacc_out = ldacc_out, .bias = bias, .y = y,
                           .ldy = ldy, .path = path, .amax = 1 << (a->bits - 1)};
    (void)nt;

    if (k->pool) {
        for (int64_t t0 = 0; t0 < T; t0 += tblock) {
            gemm_run g = base;
            g.t0 = t0;
            g.tiles = ((T - t0 < tblock ? T - t0 : tblock) + TT - 1) / TT;
            qat_pool_for(k->pool, pairs * g.tiles, POOL_TILES_PER_RANGE, tile_range, &g);
        }
        return;
    }
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        /* Every thread walks the same blocks; the tiles of a block are
         * shared out (the implicit barrier ends each block). */
        if (path.begin)
            path.begin();
        for (int64_t t0 = 0; t0 < T; t0 += tblock) {
            gemm_run g = base;
            g.t0 = t0;
            g.tiles = ((T - t0 < tblock ? T - t0 : tblock) + TT - 1) / TT;
#pragma omp for schedule(static)
            for (int64_t tile = 0; tile < pairs * g.tiles; tile++)
                run_tile(&g, tile);
        }
        if (path.end)
            path.end();
    }
}

qat_status qat_packed_gemm_i32(const qat_packed_kernel *k, const qat_packed_acts *a, const qat_packed_matrix *m,
                               int32_t *acc, int64_t ldacc)
{
    QAT_TRY(check_gemm(k, a, m, acc, ldacc, "gemm_i32"));
    if (k->isa == QAT_PACKED_ISA_ONEDNN)
        return qat_packed_onednn_gemm(k, a, m, acc, ldacc);
    run(k, a, m, acc, ldacc, NULL, NULL, 0);
    return QAT_OK;
}

/* onednn: its int32 accumulators go into y's own memory (an int32 is a
 * float's size), each then replaced by its dequantized value, in place:
 * a token's row a chunk at a time through a stack copy of the
 * accumulators (read as int32, never through a float lvalue), by the
 * AVX-512 epilogue where the CPU has it (the scalar one's bits), tokens on
 * the handle's pool. */
typedef struct dequant_job {
    const qat_packed_acts *a;
    const qat_packed_matrix *m;
    const float *bias;
    float *y;
    int64_t ldy;
    qat_packed_epilogue_fn epilogue;
} dequant_job;

static int dequant_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    enum { CHUNK = 512 };
    const dequant_job *j = arg;
    int32_t acc[CHUNK];
    (void)index;
    for (int64_t t = begin; t < end; t++)
        for (int64_t o0 = 0; o0 < j->m->out; o0 += CHUNK) {
            const int64_t n = j->m->out - o0 < CHUNK ? j->m->out - o0 : CHUNK;
            memcpy(acc, j->y + t * j->ldy + o0, (size_t)n * sizeof *acc);
            j->epilogue(j->a, j->m, t, 1, o0, n, acc, n, j->bias, j->y, j->ldy);
        }
    return 0;
}

static void dequant_in_place(const qat_packed_kernel *k, const qat_packed_acts *a, const qat_packed_matrix *m,
                             const float *bias, float *y, int64_t ldy)
{
    dequant_job j = {.a = a, .m = m, .bias = bias, .y = y, .ldy = ldy, .epilogue = qat_packed_epilogue_scalar};
#if defined(QAT_PACKED_X86)
    if (qat_packed_isa_available(QAT_PACKED_ISA_AVX512VNNI))
        j.epilogue = qat_packed_path_for(QAT_PACKED_ISA_AVX512VNNI).epilogue;
#endif
    /* Ranges of at least 16 Ki outputs, as the quantizers' (a fork-join per
     * small row costs more than the row). */
    const int64_t grain = m->out >= 16384 ? 1 : 16384 / m->out;
    if (k->pool)
        qat_pool_for(k->pool, a->tokens, grain, dequant_range, &j);
    else
        dequant_range(&j, 0, a->tokens, 0);
}

/* qat_packed_gemm on arguments check_gemm has passed. */
static qat_status gemm_checked(const qat_packed_kernel *k, const qat_packed_acts *a, const qat_packed_matrix *m,
                               const float *bias, float *y, int64_t ldy)
{
    if (k->isa == QAT_PACKED_ISA_ONEDNN) {
        _Static_assert(sizeof(int32_t) == sizeof(float), "int32 accumulators in float storage");
        QAT_TRY(qat_packed_onednn_gemm(k, a, m, (int32_t *)(void *)y, ldy));
        dequant_in_place(k, a, m, bias, y, ldy);
        return QAT_OK;
    }
    run(k, a, m, NULL, 0, bias, y, ldy);
    return QAT_OK;
}

qat_status qat_packed_gemm(const qat_packed_kernel *k, const qat_packed_acts *a, const qat_packed_matrix *m,
                           const float *bias, float *y, int64_t ldy)
{
    QAT_TRY(check_gemm(k, a, m, y, ldy, "gemm"));
    return gemm_checked(k, a, m, bias, y, ldy);
}

qat_status qat_packed_gemm_many(const qat_packed_kernel *k, const qat_packed_acts *a, int n,
                                const qat_packed_matrix *const *m, const float *const *bias, float *const *y,
                                const int64_t *ldy)
{
    QAT_CHECK_ARG(n >= 1 && n <= QAT_PACKED_MANY && m && bias && y && ldy,
                  "packed: gemm_many: n = %d (expected 1..%d) or a NULL array", n, QAT_PACKED_MANY);
    int lookups = k && k->isa == QAT_PACKED_ISA_AVX512VBMI;
    for (int i = 0; i < n; i++) {
        QAT_TRY(check_gemm(k, a, m[i], y[i], ldy[i], "gemm_many"));
        lookups = lookups && qat_packed_lut_usable(a, m[i]);
    }
    if (lookups) {
        qat_packed_lut_gemm_many(k, a, n, m, bias, y, ldy);
        return QAT_OK;
    }
    for (int i = 0; i < n; i++)
        QAT_TRY(gemm_checked(k, a, m[i], bias[i], y[i], ldy[i]));
    return QAT_OK;
}

qat_status qat_packed_dequant(const qat_packed_acts *a, const qat_packed_matrix *m, const int32_t *acc,
                              int64_t ldacc, const float *bias, float *y, int64_t ldy)
{
    QAT_CHECK_ARG(a && m && acc && y && a->scale && m->scale, "packed: dequant: NULL argument");
    QAT_CHECK_ARG(ldacc >= m->out && ldy >= m->out, "packed: dequant: ld smaller than out = %lld",
                  (long long)m->out);
    QAT_CHECK_ARG(a->tokens >= 0, "packed: dequant: activations not allocated");
    qat_packed_epilogue_scalar(a, m, 0, a->tokens, 0, m->out, acc, ldacc, bias, y, ldy);
    return QAT_OK;
}
