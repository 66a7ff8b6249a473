/* The avx512vbmi path's GEMM for ternary weights against activations of at
 * most 6 bits: table lookups instead of multiplies (bench/ternary_lut.c,
 * docs/packed-kernels.md).
 *
 * A row's weights go in threes, each triple a base-3 code c of q + 1 (0..26).
 * Per token and group of 12 inputs, a 128-byte table holds for each of the
 * group's 4 triples (slot s) the 27 sums sum_j d_j a_j at byte 32 s + c:
 * |a| <= 32 keeps them within int8 (|sum| <= 96). The weights' lookup
 * layout (qat_packed_lut_prepare) has, per panel of 16 rows and group, 64
 * bytes: byte 4 r + s = s << 5 | c. One vpermi2b looks up all 64 (bit 6 of
 * the index picks the table's upper half), and one vpdpbusd against ones
 * adds each row's 4 bytes into its int32 sum: 192 multiply-adds in two
 * instructions, where vpdpbusd alone does 64 in one. The sums are exact
 * integers, the same as every other path's.
 *
 * Work: items of up to 6 tokens x a part of the rows (all of them unless
 * the tokens are too few for every thread), each on one thread: per chunk
 * of 64 groups (768 inputs) the item's tables are built (48 KiB), then
 * every 64-row block of the part's rows runs over them in a tile of 4
 * panels x the item's tokens (24 zmm accumulators), 1024 rows at a time.
 * Between chunks the sums wait in the item's int32 block (24 KiB); the
 * last chunk's tiles write the outputs by the shared epilogue straight
 * from their registers. Both blocks are on the stack (72 KiB): the GEMM
 * allocates nothing. Where the tables of the whole input fit one chunk
 * (in <= 768) they are built once per item, for all its rows and for
 * every matrix of one input (qat_packed_gemm_many: q, k and v). Chunks of
 * 32 groups (the tables in L1) and of 128 ran a BERT-base forward slower
 * on Zen 4 (docs/benchmarks.md). */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/thread_pool.h"
#include "packed/packed_internal.h"

enum {
    LUT_GROUP = 12,      /* inputs of a table */
    LUT_TABLE = 128,     /* bytes of a table */
    LUT_TOKENS = 6,      /* tokens of an item, and of a tile */
    LUT_CHUNK = 64,      /* groups whose tables are built at a time */
    LUT_ITEM_ROWS = 1024 /* rows of an item at the most */
};

static int64_t lut_groups(int64_t in)
{
    return (in + LUT_GROUP - 1) / LUT_GROUP;
}

qat_status qat_packed_lut_prepare(qat_packed_matrix *m)
{
    if (m->lut || !(m->code_bits == 2 && m->offset == 1 && m->umax <= 2))
        return QAT_OK; /* done, or not ternary: the avx512vnni kernel runs it */
    const int64_t groups = lut_groups(m->in), quads = m->kpad / 4;
    uint8_t *lut = aligned_alloc(64, (size_t)(m->panels * groups * 64));
    if (!lut)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "packed: lookup layout: out of memory for %lld x %lld weights",
                        (long long)m->out, (long long)m->in);
    /* Input 3 s + j of a group is quad (3 s + j) / 4 of its three, byte
     * (3 s + j) % 4 of a row's 4. */
    for (int64_t p = 0; p < m->panels; p++) {
        const uint8_t *panel = m->data + (size_t)p * m->panel_bytes;
        for (int64_t g = 0; g < groups; g++) {
            /* The group's 3 quads as codes u (the panel layout, matrix.c:
             * 64-byte chunks of 4 quads, quad s of a chunk in bits [2 s,
             * 2 s + 2), byte 4 r + c row r's input 4 kb + c); u = 1 (q = 0)
             * past kpad, where the panel ends (its inputs from in to kpad
             * meet activations that are 0). */
            uint8_t u[3][64];
            for (int k = 0; k < 3; k++) {
                const int64_t kb = 3 * g + k;
                const uint8_t *chunk = panel + (kb / 4) * 64;
                for (int b = 0; b < 64; b++)
                    u[k][b] = kb < quads ? (uint8_t)((chunk[b] >> ((kb % 4) * 2)) & 3u) : 1;
            }
            uint8_t *dst = lut + (p * groups + g) * 64;
            for (int r = 0; r < QAT_PACKED_PANEL; r++)
                for (int s = 0; s < 4; s++) {
                    int c = 0;
                    for (int j = 2; j >= 0; j--)
                        c = 3 * c + u[(3 * s + j) / 4][4 * r + (3 * s + j) % 4];
                    dst[4 * r + s] = (uint8_t)(s << 5 | c);
                }
        }
    }
    m->lut = lut;
    return QAT_OK;
}

int qat_packed_lut_usable(const qat_packed_acts *a, const qat_packed_matrix *m)
{
    /* |codes| <= 2^(bits - 1) <= 32: a triple's sum fits int8. */
    return m->lut != NULL && a->bits >= 1 && a->bits <= 6;
}

#if defined(QAT_PACKED_X86)
#include <immintrin.h>

#include "packed/epilogue_avx512.h"

#define LUT_TARGET __attribute__((target("avx512f,avx512bw,avx512vnni,avx512vbmi")))
/* The tile's loops over tokens and panels unrolled, so that its sums are
 * registers, not a stack array. */
#define UNROLL _Pragma("GCC unroll 8")

/* Digit j (-1, 0, 1) of code c. */
static int digit(int c, int j)
{
    for (int i = 0; i < j; i++)
        c /= 3;
    return c % 3 - 1;
}

/* What a table's build takes from the group's 12 activations: per half h
 * (slots 2 h, 2 h + 1) and digit j, the byte each position p gathers from
 * the pair (a, -a) of 128 bytes (a: the group's 12 activations, zero
 * after): activation 3 (2 h + p / 32) + j, from a where digit j of code
 * p % 32 is +1, from -a where it is -1, and a zero byte (a's byte 63)
 * where it is 0 and for codes 27..31. Three gathers and two adds make a
 * half. The same for every table. */
typedef struct table_plan {
    _Alignas(64) int8_t pick[2][3][64];
} table_plan;

static void table_plan_init(table_plan *tp)
{
    for (int h = 0; h < 2; h++)
        for (int j = 0; j < 3; j++)
            for (int p = 0; p < 64; p++) {
                const int c = p % 32, d = c < 27 ? digit(c, j) : 0, k = 3 * (2 * h + p / 32) + j;
                tp->pick[h][j][p] = (int8_t)(d > 0 ? k : d < 0 ? 64 + k : 63);
            }
}

/* The tables of tokens [0, nt) of acts (rows of lda bytes, zero from in
 * to lda) over groups [g0, g0 + gn), at tables[(t * LUT_CHUNK + g) *
 * LUT_TABLE]. */
LUT_TARGET static void build_tables(const table_plan *tp, const int8_t *acts, int64_t lda, int nt, int64_t g0,
                                    int64_t gn, int8_t *tables)
{
    __m512i pick[2][3];
    for (int h = 0; h < 2; h++)
        for (int j = 0; j < 3; j++)
            pick[h][j] = _mm512_load_si512((const void *)tp->pick[h][j]);
    for (int t = 0; t < nt; t++)
        for (int64_t g = 0; g < gn; g++) {
            const int64_t at = (g0 + g) * LUT_GROUP, left = lda - at;
            const __mmask64 have = (__mmask64)((1u << (left < LUT_GROUP ? left : LUT_GROUP)) - 1u);
            const __m512i a = _mm512_maskz_loadu_epi8(have, acts + t * lda + at);
            const __m512i minus_a = _mm512_sub_epi8(_mm512_setzero_si512(), a);
            int8_t *dst = tables + (t * LUT_CHUNK + g) * LUT_TABLE;
            for (int h = 0; h < 2; h++) {
                const __m512i v = _mm512_add_epi8(_mm512_add_epi8(_mm512_permutex2var_epi8(a, pick[h][0], minus_a),
                                                                  _mm512_permutex2var_epi8(a, pick[h][1], minus_a)),
                                                  _mm512_permutex2var_epi8(a, pick[h][2], minus_a));
                _mm512_store_si512((void *)(dst + 64 * h), v);
            }
        }
}

/* Where a tile's last chunk puts its sums: the shared epilogue's floats
 * (epilogue_avx512.h) straight from the registers, the int32 block and
 * its reload skipped. Everything is at the tile's first token and row. */
typedef struct lut_out {
    const float *sa;      /* the tokens' scales */
    const float *sw;      /* the rows' scales, or NULL: sw1 for all */
    float sw1;
    const float *bias;    /* NULL: none */
    float *y;
    int64_t ldy;
    int64_t rows;         /* rows that exist (the matrix ends within the tile) */
} lut_out;

/* NB panels (from idx, panel stride groups * 64) x NT tokens over groups
 * [g0, g0 + gn) of the chunk's tables, the sums starting at 0 (first) or
 * at acc[t * ldacc + r] (r < 16 NB), and ending there (out NULL) or in
 * out's floats. */
LUT_TARGET static QAT_PACKED_INLINE void tile(const uint8_t *idx, int64_t groups, int64_t g0, int64_t gn,
                                              const int8_t *tables, int32_t *acc, int64_t ldacc, int first,
                                              const lut_out *out, const int NB, const int NT)
{
    const __m512i ones = _mm512_set1_epi8(1);
    __m512i sum[LUT_TOKENS][4];
    UNROLL for (int t = 0; t < NT; t++)
        UNROLL for (int b = 0; b < NB; b++)
            sum[t][b] = first ? _mm512_setzero_si512()
                              : _mm512_load_si512((const void *)(acc + t * ldacc + b * QAT_PACKED_PANEL));
    for (int64_t g = 0; g < gn; g++)
        UNROLL for (int t = 0; t < NT; t++) {
            const int8_t *tab = tables + (t * LUT_CHUNK + g) * LUT_TABLE;
            const __m512i lo = _mm512_load_si512((const void *)tab), hi = _mm512_load_si512((const void *)(tab + 64));
            UNROLL for (int b = 0; b < NB; b++) {
                const __m512i i = _mm512_load_si512((const void *)(idx + (b * groups + g0 + g) * 64));
                sum[t][b] = _mm512_dpbusd_epi32(sum[t][b], ones, _mm512_permutex2var_epi8(lo, i, hi));
            }
        }
    if (!out) {
        UNROLL for (int t = 0; t < NT; t++)
            UNROLL for (int b = 0; b < NB; b++)
                _mm512_store_si512((void *)(acc + t * ldacc + b * QAT_PACKED_PANEL), sum[t][b]);
        return;
    }
    const __m512 sw1 = _mm512_set1_ps(out->sw1);
    UNROLL for (int t = 0; t < NT; t++) {
        const __m512 sa = _mm512_set1_ps(out->sa[t]);
        UNROLL for (int b = 0; b < NB; b++) {
            const int64_t r = b * QAT_PACKED_PANEL, left = out->rows - r;
            if (left <= 0)
                break;
            const __mmask16 k = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1u);
            const __m512 sw = out->sw ? _mm512_maskz_loadu_ps(k, out->sw + r) : sw1;
            qat_packed_epilogue16_avx512(sum[t][b], sa, sw, out->bias ? out->bias + r : NULL, k,
                                         out->y + t * out->ldy + r);
        }
    }
}

/* One function per tile shape, each compiled on its own (the first
 * version, the tile inlined into the item loop and its loops not
 * unrolled, kept the 24 sums on the stack and ran slower than
 * avx512vnni; docs/benchmarks.md). */
#define LUT_TILE_FN(NB, NT)                                                                                  \
    LUT_TARGET __attribute__((noinline)) static void tile_##NB##x##NT(                                       \
        const uint8_t *idx, int64_t groups, int64_t g0, int64_t gn, const int8_t *tables, int32_t *acc,       \
        int64_t ldacc, int first, const lut_out *out)                                                         \
    {                                                                                                         \
        tile(idx, groups, g0, gn, tables, acc, ldacc, first, out, NB, NT);                                    \
    }
#define LUT_TILE_FNS(NB)                                                                                     \
    LUT_TILE_FN(NB, 1) LUT_TILE_FN(NB, 2) LUT_TILE_FN(NB, 3) LUT_TILE_FN(NB, 4) LUT_TILE_FN(NB, 5)           \
    LUT_TILE_FN(NB, 6)
LUT_TILE_FNS(2)
LUT_TILE_FNS(4)

typedef void (*lut_tile_fn)(const uint8_t *idx, int64_t groups, int64_t g0, int64_t gn, const int8_t *tables,
                            int32_t *acc, int64_t ldacc, int first, const lut_out *out);

/* [nb / 4][nt - 1]: 2 or 4 panels x 1..6 tokens. */
static const lut_tile_fn lut_tiles[2][LUT_TOKENS] = {
    {tile_2x1, tile_2x2, tile_2x3, tile_2x4, tile_2x5, tile_2x6},
    {tile_4x1, tile_4x2, tile_4x3, tile_4x4, tile_4x5, tile_4x6},
};

typedef struct lut_run {
    const qat_packed_acts *a;
    int n;                    /* matrices of the same input, each with its outputs */
    const qat_packed_matrix *m[QAT_PACKED_MANY];
    int32_t *acc_out;         /* (n = 1) y NULL: the accumulators here */
    int64_t ldacc_out;
    const float *bias[QAT_PACKED_MANY];
    float *y[QAT_PACKED_MANY];
    int64_t ldy[QAT_PACKED_MANY];
    int64_t parts;            /* each matrix's rows cut into parts of part_rows[i] (a multiple of 64) */
    int64_t part_rows[QAT_PACKED_MANY];
    table_plan plan;
} lut_run;

/* Panels [p0, p0 + pn) of matrix i (pn <= LUT_ITEM_ROWS / 16) against
 * the item's nt tokens from t0, their outputs written by the tiles of
 * the last chunk. *built: the tables hold the item's first chunk. */
LUT_TARGET static void run_rows(const lut_run *r, int i, int64_t t0, int nt, int64_t p0, int64_t pn, int8_t *tables,
                                int *built, int32_t *acc)
{
    const qat_packed_acts *a = r->a;
    const qat_packed_matrix *m = r->m[i];
    const int64_t groups = lut_groups(a->in), ldacc = LUT_ITEM_ROWS, o0 = p0 * QAT_PACKED_PANEL;
    const int64_t rows = m->out - o0 < pn * QAT_PACKED_PANEL ? m->out - o0 : pn * QAT_PACKED_PANEL;
    for (int64_t g0 = 0; g0 < groups; g0 += LUT_CHUNK) {
        const int64_t gn = groups - g0 < LUT_CHUNK ? groups - g0 : LUT_CHUNK;
        if (groups > LUT_CHUNK || !*built)
            build_tables(&r->plan, a->codes + t0 * a->stride, a->stride, nt, g0, gn, tables);
        *built = 1;
        const int last = g0 + gn == groups && r->y[i];
        /* Blocks of 4 panels; the matrix's panels are even, so a part
         * ends with at most one pair. */
        for (int64_t p = 0; p < pn; p += 4) {
            const int nb = pn - p >= 4 ? 4 : 2;
            const int64_t o = o0 + p * QAT_PACKED_PANEL;
            const lut_out out = {.sa = a->scale + t0, .sw = m->per_row ? m->scale + o : NULL, .sw1 = m->scale[0],
                                 .bias = r->bias[i] ? r->bias[i] + o : NULL, .y = last ? r->y[i] + t0 * r->ldy[i] + o : NULL,
                                 .ldy = r->ldy[i], .rows = m->out - o};
            lut_tiles[nb / 4][nt - 1](m->lut + (size_t)((p0 + p) * groups) * 64, groups, g0, gn, tables,
                                      acc + p * QAT_PACKED_PANEL, ldacc, g0 == 0, last ? &out : NULL);
        }
    }
    if (!r->y[i])
        for (int t = 0; t < nt; t++)
            memcpy(r->acc_out + (t0 + t) * r->ldacc_out + o0, acc + t * ldacc, (size_t)rows * sizeof *acc);
}

/* Item `item`: tokens [6 (item / parts), + 6) x rows of part item % parts
 * of every matrix, LUT_ITEM_ROWS rows at a time. Where the tables of the
 * whole input fit one chunk (in <= 768) they are built once for all the
 * matrices and rows. */
LUT_TARGET static void run_item(const lut_run *r, int64_t item)
{
    const qat_packed_acts *a = r->a;
    _Alignas(64) int8_t tables[LUT_TOKENS * LUT_CHUNK * LUT_TABLE];
    _Alignas(64) int32_t acc[LUT_TOKENS * LUT_ITEM_ROWS];
    const int64_t t0 = item / r->parts * LUT_TOKENS, part = item % r->parts;
    const int nt = (int)(a->tokens - t0 < LUT_TOKENS ? a->tokens - t0 : LUT_TOKENS);
    int built = 0;
    for (int i = 0; i < r->n; i++) {
        const qat_packed_matrix *m = r->m[i];
        const int64_t span = r->part_rows[i] / QAT_PACKED_PANEL, p0 = part * span;
        const int64_t pn = m->panels - p0 < span ? m->panels - p0 : span; /* a smaller matrix's parts end sooner */
        for (int64_t p = 0; p < pn; p += LUT_ITEM_ROWS / QAT_PACKED_PANEL) {
            const int64_t n = pn - p < LUT_ITEM_ROWS / QAT_PACKED_PANEL ? pn - p : LUT_ITEM_ROWS / QAT_PACKED_PANEL;
            run_rows(r, i, t0, nt, p0 + p, n, tables, &built, acc);
        }
    }
}

static int item_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    (void)index;
    for (int64_t i = begin; i < end; i++)
        run_item(arg, i);
    return 0;
}

/* m's rows in whole 64-row blocks (4 panels, a tile's), the last maybe short. */
static int64_t blocks_of(const qat_packed_matrix *m)
{
    return (m->panels + 3) / 4;
}

/* The n matrices' (1..QAT_PACKED_MANY, all of a's input) items, on k's
 * threads; n = 1 with y[0] NULL: the accumulators into acc_out. */
static void lut_gemm(const qat_packed_kernel *k, const qat_packed_acts *a, int n, const qat_packed_matrix *const *m,
                     int32_t *acc_out, int64_t ldacc_out, const float *const *bias, float *const *y,
                     const int64_t *ldy)
{
    lut_run r = {.a = a, .n = n, .acc_out = acc_out, .ldacc_out = ldacc_out};
    int64_t blocks = 0; /* of the largest matrix */
    for (int i = 0; i < n; i++) {
        r.m[i] = m[i];
        r.bias[i] = bias[i];
        r.y[i] = y[i];
        r.ldy[i] = ldy[i];
        blocks = blocks_of(m[i]) > blocks ? blocks_of(m[i]) : blocks;
    }
    const int64_t token_items = (a->tokens + LUT_TOKENS - 1) / LUT_TOKENS;
    if (token_items == 0 || blocks == 0)
        return;
    /* Every row in one part, so that an item builds its tables once,
     * unless the tokens are too few for every thread: then parts of
     * equal whole 64-row blocks of the largest matrix, none empty. */
    int64_t parts = 1;
    if (token_items < 2 * (int64_t)k->threads)
        parts = k->threads < blocks ? k->threads : blocks;
    const int64_t part_blocks = (blocks + parts - 1) / parts;
    r.parts = (blocks + part_blocks - 1) / part_blocks;
    for (int i = 0; i < n; i++)
        r.part_rows[i] = (blocks_of(m[i]) + r.parts - 1) / r.parts * 64;
    table_plan_init(&r.plan);
    const int64_t items = token_items * r.parts;
    if (k->pool) {
        qat_pool_for(k->pool, items, 1, item_range, &r);
        return;
    }
    const int nt = items < k->threads ? (int)items : k->threads;
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (int64_t i = 0; i < items; i++)
        run_item(&r, i);
}

void qat_packed_lut_gemm(const qat_packed_kernel *k, const qat_packed_acts *a, const qat_packed_matrix *m,
                         int32_t *acc_out, int64_t ldacc_out, const float *bias, float *y, int64_t ldy)
{
    lut_gemm(k, a, 1, &m, acc_out, ldacc_out, &bias, &y, &ldy);
}

void qat_packed_lut_gemm_many(const qat_packed_kernel *k, const qat_packed_acts *a, int n,
                              const qat_packed_matrix *const *m, const float *const *bias, float *const *y,
                              const int64_t *ldy)
{
    lut_gemm(k, a, n, m, NULL, 0, bias, y, ldy);
}

#else

void qat_packed_lut_gemm(const qat_packed_kernel *k, const qat_packed_acts *a, const qat_packed_matrix *m,
                         int32_t *acc_out, int64_t ldacc_out, const float *bias, float *y, int64_t ldy)
{
    (void)k, (void)a, (void)m, (void)acc_out, (void)ldacc_out, (void)bias, (void)y, (void)ldy;
}

void qat_packed_lut_gemm_many(const qat_packed_kernel *k, const qat_packed_acts *a, int n,
                              const qat_packed_matrix *const *m, const float *const *bias, float *const *y,
                              const int64_t *ldy)
{
    (void)k, (void)a, (void)n, (void)m, (void)bias, (void)y, (void)ldy;
}

#endif
