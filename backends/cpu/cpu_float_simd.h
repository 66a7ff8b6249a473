/*
 * The float kernels' vector twins, written once for any vector width W:
 * expf, erff, GELU and its derivative, the softmax and LayerNorm rows. Each
 * repeats its scalar definition in lib/math (float_math.h, row_math.h)
 * operation for operation, so every path gives the scalar bits; sums keep
 * row_math.h's order (element j into lane j % 16: 16 / W accumulators,
 * stored and folded by qat_lanes_fold).
 *
 * Included once each by cpu_float_avx2.c, cpu_float_avx512.c and (on
 * AArch64) cpu_float_neon.c, after they define W, VF, VI, VM, DVF (float,
 * int, mask and double vectors),
 * TARGET, TARGET_FMA (TARGET plus FMA, for AdamW alone, whose scalar code
 * calls fmaf), SUFFIX(name) and the one-instruction operations used below.
 * WIDEN_LO / WIDEN_HI convert a float vector's low / high half to doubles;
 * Q* work on VI as 64-bit lanes, and NARROW2(a, b) packs the low 32 bits
 * of a's then b's 64-bit lanes into one VI of W int32. MIN(a, b) is
 * a < b ? a : b and MAX(a, b) is a > b ? a : b (minps / maxps, NaN
 * included); TAIL(n) masks the first n lanes; LOADN loads them with zeros
 * elsewhere, STOREN stores them alone. SCALEF(p, n), where defined, is
 * p * 2^n for integral n, rounded once (AVX-512's vscalefps): exp's last
 * step in one instruction instead of nine, with the same bits.
 * MASKBITS(m) is a compare's mask as an unsigned of W bits (lane i, bit i),
 * BITSMASK(b) the inverse; COMPRESS(v, b) moves the lanes of v set in b to
 * the first lanes, in order, and EXPAND(v, b) moves v's first lanes out to
 * the lanes set in b (other lanes: anything). SWAPk(v), for each k = W /
 * 2, ..., 1, is v with lane i moved to lane i ^ k, and FIRST(v) lane 0 as a
 * float: the folds by halves in registers. TARGET enables popcnt on
 * x86, which every CPU with AVX2 has, for the counts of lanes (AArch64's
 * cnt is base).
 */
#include "math/quant_math.h"
#include "math/row_math.h"

#define ACCS (QAT_ROW_LANES / W)
#define TAILBITS(left) ((left) >= W ? (1u << W) - 1u : (1u << (left)) - 1u)
#define SOFTMAX_ROWS 4
#define SOFTMAX_STEP 2 /* SOFTMAX_ROWS x SOFTMAX_STEP <= LOCKSTEP_MAX */
#define INL static inline __attribute__((always_inline))

/* Lockstep: the functions named _n take g vectors (a constant once
 * inlined) and do each operation on all g before the next. One chain of
 * dependent operations issues one per latency (4 cycles); written one
 * after the other, g chains fill the scheduler (about 100 waiting
 * operations) with the first one or two, while in lockstep it holds all g
 * side by side. */
#define EACH(u, g) for (int u = 0; u < (g); u++)
#define LOCKSTEP_MAX 8

/* p[u] = the polynomial c[0] x^(k-1) + ... + c[k-1] of x[u] by Horner's
 * rule, starting from c[0], each step a multiply then an add. */
TARGET INL void SUFFIX(horner_n)(VF *p, const VF *x, const float *c, const int k, const int g)
{
    EACH(u, g) p[u] = SET1(c[0]);
    for (int i = 1; i < k; i++) {
        EACH(u, g) p[u] = MUL(p[u], x[u]);
        EACH(u, g) p[u] = ADD(p[u], SET1(c[i]));
    }
}

/* x[u] = qat_expf(x[u]). */
TARGET INL void SUFFIX(vexp_n)(VF *x, const int g)
{
    VF t[LOCKSTEP_MAX], n[LOCKSTEP_MAX], r[LOCKSTEP_MAX], p[LOCKSTEP_MAX];
    EACH(u, g) x[u] = MIN(SET1(QAT_EXP_HI), x[u]);
    EACH(u, g) x[u] = MAX(SET1(QAT_EXP_LO), x[u]);
    EACH(u, g) t[u] = MUL(x[u], SET1(QAT_EXP_LOG2E));
    EACH(u, g) t[u] = ADD(t[u], SET1(QAT_ROUND_MAGIC));
    EACH(u, g) n[u] = SUB(t[u], SET1(QAT_ROUND_MAGIC));
    EACH(u, g) r[u] = SUB(x[u], MUL(n[u], SET1(QAT_EXP_LN2_HI)));
    EACH(u, g) r[u] = SUB(r[u], MUL(n[u], SET1(QAT_EXP_LN2_LO)));
    static const float c[] = {QAT_EXP_P4, QAT_EXP_P3, QAT_EXP_P2, QAT_EXP_P1, QAT_EXP_P0};
    SUFFIX(horner_n)(p, r, c, 5, g);
    EACH(u, g) p[u] = MUL(p[u], r[u]);
    EACH(u, g) p[u] = MUL(p[u], r[u]);
    EACH(u, g) p[u] = ADD(p[u], r[u]);
    EACH(u, g) p[u] = ADD(p[u], SET1(1.0f));
#ifdef SCALEF
    /* p * 2^n rounded once, as the two exact-then-rounding steps below. */
    EACH(u, g) x[u] = SCALEF(p[u], n[u]);
#else
    EACH(u, g)
    {
        const VI ni = ISUB(ASINT(t[u]), ISET1((int)qat_float_bits(QAT_ROUND_MAGIC)));
        const VI n1 = ISUB(ISRL1(IADD(ni, ISET1(256))), ISET1(128)), n2 = ISUB(ni, n1);
        p[u] = MUL(p[u], ASFLOAT(ISLL23(IADD(n1, ISET1(127)))));
        x[u] = MUL(p[u], ASFLOAT(ISLL23(IADD(n2, ISET1(127)))));
    }
#endif
}

TARGET INL VF SUFFIX(vexp)(VF x)
{
    SUFFIX(vexp_n)(&x, 1);
    return x;
}

/* e[u] = erf's two branches of ax[u] = |x| (float_math.h's qat_erff_small
 * and qat_erff_large). */
TARGET INL void SUFFIX(verf_small_n)(const VF *ax, VF *e, const int g)
{
    VF s[LOCKSTEP_MAX];
    EACH(u, g) s[u] = MUL(ax[u], ax[u]);
    static const float a[] = {QAT_ERF_A5, QAT_ERF_A4, QAT_ERF_A3, QAT_ERF_A2, QAT_ERF_A1, QAT_ERF_A0};
    SUFFIX(horner_n)(e, s, a, 6, g);
    EACH(u, g) e[u] = MUL(ax[u], e[u]);
    EACH(u, g) e[u] = ADD(ax[u], e[u]);
}

TARGET INL void SUFFIX(verf_large_n)(const VF *ax, VF *e, const int g)
{
    VF c[LOCKSTEP_MAX];
    EACH(u, g) c[u] = MIN(SET1(QAT_ERF_HI), ax[u]);
    static const float b[] = {QAT_ERF_B8, QAT_ERF_B7, QAT_ERF_B6, QAT_ERF_B5, QAT_ERF_B4,
                              QAT_ERF_B3, QAT_ERF_B2, QAT_ERF_B1, QAT_ERF_B0};
    SUFFIX(horner_n)(e, c, b, 9, g);
    SUFFIX(vexp_n)(e, g);
    EACH(u, g) e[u] = SUB(SET1(1.0f), e[u]);
}

TARGET INL VF SUFFIX(vabs)(VF v)
{
    return ASFLOAT(IANDNOT(ISET1((int)QAT_SIGN_BIT), ASINT(v)));
}

/* r (an erf of |x|) with x's sign. */
TARGET INL VF SUFFIX(vsign_of)(VF r, VF x)
{
    return ASFLOAT(IOR(ASINT(r), IAND(ASINT(x), ISET1((int)QAT_SIGN_BIT))));
}

TARGET INL VF SUFFIX(verf)(VF x)
{
    const VF ax = SUFFIX(vabs)(x);
    VF small, large;
    SUFFIX(verf_small_n)(&ax, &small, 1);
    SUFFIX(verf_large_n)(&ax, &large, 1);
    return SUFFIX(vsign_of)(SELECT(CMPLT(ax, SET1(QAT_ERF_SPLIT)), small, large), x);
}

/* 0.5 x (1 + e), e = erf(x / sqrt 2): qat_gelu's last three operations. */
TARGET INL VF SUFFIX(vgelu_of)(VF x, VF e)
{
    return MUL(MUL(SET1(0.5f), x), ADD(SET1(1.0f), e));
}

TARGET INL VF SUFFIX(vgelu_grad)(VF x)
{
    const VF cdf = MUL(SET1(0.5f), ADD(SET1(1.0f), SUFFIX(verf)(MUL(x, SET1(QAT_SQRT1_2F)))));
    const VF pdf = MUL(SET1(QAT_INV_SQRT_2PIF), SUFFIX(vexp)(MUL(MUL(SET1(-0.5f), x), x)));
    return ADD(cdf, MUL(x, pdf));
}

/* GELU by branch. erf's large branch (1 - exp of a degree-8 polynomial) is
 * three times the small one's work, and a vector computing both, as verf
 * does, pays for both on every lane. So a chunk of GELU_CHUNK elements
 * runs in three passes: every lane through the small branch, with the x of
 * the lanes that need the large one (|x / sqrt 2| >= QAT_ERF_SPLIT, or NaN)
 * packed side by side (COMPRESS); those through the large branch, on full
 * vectors; their results put back in their lanes (EXPAND). Each lane still
 * runs exactly qat_gelu's operations, so the bits are its bits. The small
 * pass goes GELU_SMALL_VECTORS vectors in lockstep, the large one (a chain
 * three times as long) GELU_VECTORS, measured best among 2, 4, 6 and 4,
 * 6, 8 on AVX-512 and AVX2 (bench/gelu_row.c's inputs). */
#define GELU_CHUNK 4096
#define GELU_VECTORS 6
#define GELU_SMALL_VECTORS 4

typedef struct SUFFIX(gelu_large_lanes) {
    float x[GELU_CHUNK + GELU_VECTORS * W]; /* their x, packed, then zeros to a whole step; GELU in place */
    int64_t n;
    int32_t at[GELU_CHUNK / W]; /* the vectors that have some, in order */
    unsigned lanes[GELU_CHUNK / W]; /* and which lanes */
    int64_t vectors;
} SUFFIX(gelu_large_lanes);

/* g vectors at x + j (the first `left` elements: g = 1 when left < W):
 * x += bias, y = GELU(x) where the small branch applies, and the other
 * lanes' x packed into l. */
TARGET INL void SUFFIX(gelu_small_n)(float *x, const float *bias, int64_t j, int64_t left, float *y,
                                     SUFFIX(gelu_large_lanes) * l, const int g)
{
    VF v[LOCKSTEP_MAX], t[LOCKSTEP_MAX], at[LOCKSTEP_MAX], e[LOCKSTEP_MAX];
    unsigned big[LOCKSTEP_MAX];
    const VM m = TAIL(left);
    EACH(u, g) v[u] = left >= W ? LOAD(x + j + u * W) : LOADN(x + j, m);
    if (bias) {
        EACH(u, g) v[u] = ADD(v[u], left >= W ? LOAD(bias + j + u * W) : LOADN(bias + j, m));
        EACH(u, g) left >= W ? STORE(x + j + u * W, v[u]) : STOREN(x + j, m, v[u]);
    }
    EACH(u, g) t[u] = MUL(v[u], SET1(QAT_SQRT1_2F));
    EACH(u, g) at[u] = SUFFIX(vabs)(t[u]);
    EACH(u, g) big[u] = ~MASKBITS(CMPLT(at[u], SET1(QAT_ERF_SPLIT))) & TAILBITS(left);
    SUFFIX(verf_small_n)(at, e, g);
    EACH(u, g) e[u] = SUFFIX(vgelu_of)(v[u], SUFFIX(vsign_of)(e[u], t[u]));
    EACH(u, g) left >= W ? STORE(y + j + u * W, e[u]) : STOREN(y + j, m, e[u]);
    EACH(u, g)
    {
        STOREU(l->x + l->n, COMPRESS(v[u], big[u]));
        l->n += __builtin_popcount(big[u]);
        l->at[l->vectors] = (int32_t)(j + u * W);
        l->lanes[l->vectors] = big[u];
        l->vectors += big[u] != 0;
    }
}

/* n <= GELU_CHUNK elements of bias_act_row with gelu set. */
TARGET INL void SUFFIX(bias_gelu_chunk)(float *x, const float *bias, int64_t n, float *y)
{
    SUFFIX(gelu_large_lanes) l;
    l.n = l.vectors = 0;
    int64_t j = 0;
    for (; j + GELU_SMALL_VECTORS * W <= n; j += GELU_SMALL_VECTORS * W)
        SUFFIX(gelu_small_n)(x, bias, j, GELU_SMALL_VECTORS * W, y, &l, GELU_SMALL_VECTORS);
    for (; j < n; j += W)
        SUFFIX(gelu_small_n)(x, bias, j, n - j, y, &l, 1);
    if (!l.n)
        return;
    /* Zeros after the packed lanes, up to a whole step: a step of
     * GELU_VECTORS costs one vector's latency, which a few vectors alone
     * would pay each. */
    for (int u = 0; u < GELU_VECTORS; u++)
        STOREU(l.x + l.n + u * W, SET1(0.0f));
    for (int64_t i = 0; i < l.n; i += GELU_VECTORS * W) {
        VF v[GELU_VECTORS], t[GELU_VECTORS], at[GELU_VECTORS], e[GELU_VECTORS];
        EACH(u, GELU_VECTORS) v[u] = LOAD(l.x + i + u * W);
        EACH(u, GELU_VECTORS) t[u] = MUL(v[u], SET1(QAT_SQRT1_2F));
        EACH(u, GELU_VECTORS) at[u] = SUFFIX(vabs)(t[u]);
        SUFFIX(verf_large_n)(at, e, GELU_VECTORS);
        EACH(u, GELU_VECTORS) STOREU(l.x + i + u * W, SUFFIX(vgelu_of)(v[u], SUFFIX(vsign_of)(e[u], t[u])));
    }
    /* A whole vector is put back by a select and a plain store: AVX2's
     * masked store (vmaskmovps) is slow on AMD, and NEON has none. */
    for (int64_t k = 0, c = 0; c < l.vectors; c++) {
        const VF large = EXPAND(LOAD(l.x + k), l.lanes[c]);
        float *at = y + l.at[c];
        if (l.at[c] + W <= n)
            STORE(at, SELECT(BITSMASK(l.lanes[c]), large, LOAD(at)));
        else
            STOREN(at, BITSMASK(l.lanes[c]), large);
        k += __builtin_popcount(l.lanes[c]);
    }
}

/* x[j] (+)= bias[j]; y[j] = GELU(x[j]) when gelu (y may be x). */
TARGET void SUFFIX(qat_cpu_bias_act_row)(float *x, const float *bias, int64_t n, int gelu, float *y)
{
    if (gelu) {
        for (int64_t j = 0; j < n; j += GELU_CHUNK)
            SUFFIX(bias_gelu_chunk)(x + j, bias ? bias + j : NULL, n - j < GELU_CHUNK ? n - j : GELU_CHUNK, y + j);
        return;
    }
    if (bias)
        SUFFIX(qat_cpu_add_run)(x, bias, x, n);
}

TARGET void SUFFIX(qat_cpu_gelu_bwd)(const float *dy, const float *pre, int64_t n, float *dx)
{
    for (int64_t j = 0; j < n; j += W) {
        const int64_t left = n - j;
        const VM m = TAIL(left);
        const VF x = left >= W ? LOAD(pre + j) : LOADN(pre + j, m);
        const VF d = left >= W ? LOAD(dy + j) : LOADN(dy + j, m);
        const VF g = MUL(d, SUFFIX(vgelu_grad)(x));
        left >= W ? STORE(dx + j, g) : STOREN(dx + j, m, g);
    }
}

/* Lane i of the fold by halves' step `half` (a power of two below W): v
 * with lane i ^ half, so that op(v, SUFFIX(swapped)(v, half)) holds in
 * lane i < half what row_math.h's step leaves there. */
TARGET INL VF SUFFIX(swapped)(VF v, const int half)
{
#if W == 16
    if (half == 8)
        return SWAP8(v);
#endif
#if W >= 8
    if (half == 4)
        return SWAP4(v);
#endif
    return half == 2 ? SWAP2(v) : SWAP1(v);
}

/* qat_lanes_fold of the QAT_ROW_LANES lanes in acc (lane j: acc[j / W],
 * lane j % W), in registers: the steps whose halves lie in different
 * accumulators add them, the rest add each vector to its swap. The same
 * additions of the same pairs in the same order, so the same bits, without
 * storing the lanes and folding them in scalar code. */
TARGET INL float SUFFIX(fold)(const VF acc[ACCS])
{
    VF a[ACCS];
    for (int k = 0; k < ACCS; k++)
        a[k] = acc[k];
    for (int n = ACCS; n > 1; n /= 2)
        for (int k = 0; k < n / 2; k++)
            a[k] = ADD(a[k], a[k + n / 2]);
    for (int half = W / 2; half >= 1; half /= 2)
        a[0] = ADD(a[0], SUFFIX(swapped)(a[0], half));
    return FIRST(a[0]);
}

/* The softmax of R rows, each pass over all R before the next: a row's
 * passes wait on their chains (exp, the max and the sum folded across
 * lanes), R independent rows fill those waits. Every row's operations and
 * order are the one-row softmax's (R = 1), so grouping changes no bit. */
TARGET INL void SUFFIX(softmax_rows_of)(float *const *s, const int R, const float *bias, int64_t n)
{
    VF mx[SOFTMAX_ROWS];
    for (int r = 0; r < R; r++)
        mx[r] = SET1(-INFINITY);
    for (int64_t j = 0; j < n; j += W) {
        const int64_t left = n - j;
        const VM m = TAIL(left);
        for (int r = 0; r < R; r++) {
            VF v = left >= W ? LOAD(s[r] + j) : LOADN(s[r] + j, m);
            if (bias) {
                v = ADD(v, left >= W ? LOAD(bias + j) : LOADN(bias + j, m));
                left >= W ? STORE(s[r] + j, v) : STOREN(s[r] + j, m, v);
            }
            mx[r] = MAX(left >= W ? v : SELECT(m, v, SET1(-INFINITY)), mx[r]);
        }
    }
    /* Each row's lanes folded by halves in registers, the rows side by
     * side: log2(W) steps per row, lane 0 taking max(lane half, lane 0)
     * at each (a lane never holds a NaN, which MAX above passes over, so
     * any order gives the same maximum; a zero's sign may differ, which no
     * s - max below can tell). */
    for (int half = W / 2; half >= 1; half /= 2)
        for (int r = 0; r < R; r++)
            mx[r] = MAX(SUFFIX(swapped)(mx[r], half), mx[r]);
    VF acc[SOFTMAX_ROWS][ACCS];
    for (int r = 0; r < R; r++) {
        mx[r] = SET1(FIRST(mx[r]));
        for (int k = 0; k < ACCS; k++)
            acc[r][k] = SET1(0.0f);
    }
    /* The exps of SOFTMAX_STEP vectors of each row in lockstep (R x
     * SOFTMAX_STEP chains side by side); each row's sums still take its
     * vectors in order, so the bits are the one-row loop's. */
    int64_t j = 0;
    for (; j + SOFTMAX_STEP * W <= n; j += SOFTMAX_STEP * W) {
        VF e[SOFTMAX_ROWS * SOFTMAX_STEP];
        for (int r = 0; r < R; r++)
            EACH(u, SOFTMAX_STEP) e[r * SOFTMAX_STEP + u] = SUB(LOAD(s[r] + j + u * W), mx[r]);
        SUFFIX(vexp_n)(e, R * SOFTMAX_STEP);
        for (int r = 0; r < R; r++)
            EACH(u, SOFTMAX_STEP)
            {
                STORE(s[r] + j + u * W, e[r * SOFTMAX_STEP + u]);
                VF *a = &acc[r][(j / W + u) % ACCS];
                *a = ADD(*a, e[r * SOFTMAX_STEP + u]);
            }
    }
    for (; j < n; j += W) {
        const int64_t left = n - j;
        const VM m = TAIL(left);
        for (int r = 0; r < R; r++) {
            VF *a = &acc[r][(j / W) % ACCS];
            if (left >= W) {
                const VF e = SUFFIX(vexp)(SUB(LOAD(s[r] + j), mx[r]));
                STORE(s[r] + j, e);
                *a = ADD(*a, e);
            } else {
                const VF e = SUFFIX(vexp)(SUB(LOADN(s[r] + j, m), mx[r]));
                STOREN(s[r] + j, m, e);
                *a = ADD(*a, SELECT(m, e, SET1(0.0f)));
            }
        }
    }
    VF inv[SOFTMAX_ROWS];
    for (int r = 0; r < R; r++)
        inv[r] = SET1(1.0f / SUFFIX(fold)(acc[r]));
    for (int64_t j = 0; j < n; j += W) {
        const int64_t left = n - j;
        const VM m = TAIL(left);
        for (int r = 0; r < R; r++) {
            if (left >= W)
                STORE(s[r] + j, MUL(LOAD(s[r] + j), inv[r]));
            else
                STOREN(s[r] + j, m, MUL(LOADN(s[r] + j, m), inv[r]));
        }
    }
}

TARGET void SUFFIX(qat_cpu_softmax_row)(float *s, const float *bias, int64_t n)
{
    SUFFIX(softmax_rows_of)(&s, 1, bias, n);
}

/* rows rows of n at s + r * lds: SOFTMAX_ROWS at a time, the rest one by one. */
TARGET void SUFFIX(qat_cpu_softmax_rows)(float *s, int64_t lds, int64_t rows, const float *bias, int64_t n)
{
    int64_t r0 = 0;
    for (; r0 + SOFTMAX_ROWS <= rows; r0 += SOFTMAX_ROWS) {
        float *row[SOFTMAX_ROWS];
        for (int r = 0; r < SOFTMAX_ROWS; r++)
            row[r] = s + (r0 + r) * lds;
        SUFFIX(softmax_rows_of)(row, SOFTMAX_ROWS, bias, n);
    }
    for (; r0 < rows; r0++)
        SUFFIX(qat_cpu_softmax_row)(s + r0 * lds, bias, n);
}

TARGET void SUFFIX(qat_cpu_layernorm_row)(const float *x, const float *w, const float *b, float eps, int64_t n,
                                          float *y, float *mean, float *rstd)
{
    VF acc[ACCS];
    for (int k = 0; k < ACCS; k++)
        acc[k] = SET1(0.0f);
    for (int64_t j = 0; j < n; j += W) {
        const int64_t left = n - j;
        VF *a = &acc[(j / W) % ACCS];
        *a = ADD(*a, left >= W ? LOAD(x + j) : LOADN(x + j, TAIL(left)));
    }
    const float mu = SUFFIX(fold)(acc) / (float)n;
    const VF muv = SET1(mu);
    for (int k = 0; k < ACCS; k++)
        acc[k] = SET1(0.0f);
    for (int64_t j = 0; j < n; j += W) {
        const int64_t left = n - j;
        VF *a = &acc[(j / W) % ACCS];
        if (left >= W) {
            const VF d = SUB(LOAD(x + j), muv);
            *a = ADD(*a, MUL(d, d));
        } else {
            const VM m = TAIL(left);
            const VF d = SUB(LOADN(x + j, m), muv);
            *a = ADD(*a, SELECT(m, MUL(d, d), SET1(0.0f)));
        }
    }
    const float var = SUFFIX(fold)(acc) / (float)n;
    const float rs = 1.0f / sqrtf(var + eps);
    *mean = mu;
    *rstd = rs;
    const VF rsv = SET1(rs);
    for (int64_t j = 0; j < n; j += W) {
        const int64_t left = n - j;
        if (left >= W) {
            STORE(y + j, ADD(MUL(MUL(SUB(LOAD(x + j), muv), rsv), LOAD(w + j)), LOAD(b + j)));
        } else {
            const VM m = TAIL(left);
            const VF v = ADD(MUL(MUL(SUB(LOADN(x + j, m), muv), rsv), LOADN(w + j, m)), LOADN(b + j, m));
            STOREN(y + j, m, v);
        }
    }
}

/* out = a + b (out may be a or b), element by element. */
TARGET void SUFFIX(qat_cpu_add_run)(const float *a, const float *b, float *out, int64_t n)
{
    for (int64_t j = 0; j < n; j += W) {
        const int64_t left = n - j;
        if (left >= W) {
            STORE(out + j, ADD(LOAD(a + j), LOAD(b + j)));
        } else {
            const VM m = TAIL(left);
            STOREN(out + j, m, ADD(LOADN(a + j, m), LOADN(b + j, m)));
        }
    }
}

/* ---- The training step's kernels: quantizer rows, whole-row double sums,
 * AdamW. */

#define DACCS (2 * ACCS) /* double vectors holding the 16 lanes */

/* row_math.h's double lanes: float vector k of a 16-element block widens
 * into double vectors 2k (its low half) and 2k + 1 (its high half). Adds a,
 * or the double product a * b when `product`. */
TARGET INL void SUFFIX(dlanes_add)(DVF acc[DACCS], int64_t j, VF a, VF b, int product)
{
    const int k = (int)((j / W) % ACCS);
    DVF lo = WIDEN_LO(a), hi = WIDEN_HI(a);
    if (product) {
        lo = DMUL(lo, WIDEN_LO(b));
        hi = DMUL(hi, WIDEN_HI(b));
    }
    acc[2 * k] = DADD(acc[2 * k], lo);
    acc[2 * k + 1] = DADD(acc[2 * k + 1], hi);
}

TARGET INL double SUFFIX(dfold)(const DVF acc[DACCS])
{
    double lane[QAT_ROW_LANES];
    for (int k = 0; k < DACCS; k++)
        DSTOREU(lane + k * (W / 2), acc[k]);
    return qat_lanes_fold_double(lane);
}

#define DZEROS(acc)                    \
    for (int k_ = 0; k_ < DACCS; k_++) \
        (acc)[k_] = DZERO()

/* sum |x| (square = 0) or sum x^2 (square = 1). Tails load zeros, which
 * leave a lane (>= +0 or NaN) as it is. */
TARGET INL double SUFFIX(dsum_row)(const float *x, int64_t n, int square)
{
    DVF acc[DACCS];
    DZEROS(acc);
    for (int64_t j = 0; j < n; j += W) {
        const int64_t left = n - j;
        const VF v = left >= W ? LOAD(x + j) : LOADN(x + j, TAIL(left));
        SUFFIX(dlanes_add)(acc, j, square ? v : SUFFIX(vabs)(v), v, square);
    }
    return SUFFIX(dfold)(acc);
}

TARGET double SUFFIX(qat_cpu_abs_sum_row)(const float *x, int64_t n)
{
    return SUFFIX(dsum_row)(x, n, 0);
}

TARGET double SUFFIX(qat_cpu_square_sum_row)(const float *x, int64_t n)
{
    return SUFFIX(dsum_row)(x, n, 1);
}

TARGET void SUFFIX(qat_cpu_bitnet_weight_row)(const float *w, int64_t n, float g, float *y)
{
    const VF gv = SET1(g);
    for (int64_t j = 0; j < n; j += W) {
        const int64_t left = n - j;
        const VM m = TAIL(left);
        VF v = DIV(left >= W ? LOAD(w + j) : LOADN(w + j, m), gv);
        v = MIN(SET1(1.0f), v);
        v = MAX(SET1(-1.0f), v);
        v = MUL(SUB(ADD(v, SET1(QAT_ROUND_MAGIC)), SET1(QAT_ROUND_MAGIC)), gv);
        left >= W ? STORE(y + j, v) : STOREN(y + j, m, v);
    }
}

TARGET void SUFFIX(qat_cpu_bitnet_act_row)(const float *x, int64_t n, float qp, float lo, float *y)
{
    VF mx = SET1(0.0f);
    for (int64_t j = 0; j < n; j += W) {
        const int64_t left = n - j;
        mx = MAX(SUFFIX(vabs)(left >= W ? LOAD(x + j) : LOADN(x + j, TAIL(left))), mx);
    }
    /* The lanes' maxima hold no NaN, so any order gives the scalar max. */
    float lanes[W], m = 0.0f;
    STOREU(lanes, mx);
    for (int i = 0; i < W; i++)
        m = lanes[i] > m ? lanes[i] : m;
    m = m > 1e-5f ? m : 1e-5f;
    const VF mv = SET1(m), qpv = SET1(qp);
    for (int64_t j = 0; j < n; j += W) {
        const int64_t left = n - j;
        const VM mk = TAIL(left);
        VF v = DIV(MUL(left >= W ? LOAD(x + j) : LOADN(x + j, mk), qpv), mv);
        v = MIN(qpv, v);
        v = MAX(SET1(lo), v);
        v = DIV(MUL(SUB(ADD(v, SET1(QAT_ROUND_MAGIC)), SET1(QAT_ROUND_MAGIC)), mv), qpv);
        left >= W ? STORE(y + j, v) : STOREN(y + j, mk, v);
    }
}

/* backends/ref/ref_optim.c's adamw_range over n elements of one tensor
 * (decay: the tensor's; scale: the clipping coefficient; positive: floor
 * a quantizer step). */
TARGET_FMA void SUFFIX(qat_cpu_adamw_run)(const qat_adamw_desc *d, float decay, int positive, float scale,
                                          float *param, float *grad, float *exp_avg, float *exp_avg_sq, int64_t n)
{
    const VF b1 = SET1(d->b1), omb1 = SET1(d->one_minus_b1), b2 = SET1(d->b2), omb2 = SET1(d->one_minus_b2);
    const VF nss = SET1(d->neg_step_size), bc2 = SET1(d->bc2_sqrt), eps = SET1(d->eps);
    const VF dec = SET1(decay), sc = SET1(scale), floor = SET1(QAT_STEP_FLOOR);
    for (int64_t j = 0; j < n; j += W) {
        const int64_t left = n - j;
        const VM mk = TAIL(left);
#define LD(p) (left >= W ? LOAD((p) + j) : LOADN((p) + j, mk))
#define ST(p, v) (left >= W ? STORE((p) + j, (v)) : STOREN((p) + j, mk, (v)))
        VF g = LD(grad);
        if (scale != 1.0f) {
            g = MUL(g, sc);
            ST(grad, g);
        }
        VF p = MUL(LD(param), dec);
        const VF m = FMADD(g, omb1, MUL(LD(exp_avg), b1));
        const VF v = FMADD(MUL(omb2, g), g, MUL(LD(exp_avg_sq), b2));
        const VF denom = ADD(DIV(SQRT(v), bc2), eps);
        p = ADD(p, DIV(MUL(nss, m), denom));
        if (positive)
            p = MAX(floor, p);
        ST(param, p);
        ST(exp_avg, m);
        ST(exp_avg_sq, v);
#undef LD
#undef ST
    }
}

TARGET void SUFFIX(qat_cpu_layernorm_bwd_row)(const float *dy, const float *x, const float *w, float mean,
                                              float rstd, int64_t n, float *dx)
{
    DVF ag[DACCS], agx[DACCS];
    DZEROS(ag);
    DZEROS(agx);
    const VF muv = SET1(mean), rsv = SET1(rstd);
    for (int64_t j = 0; j < n; j += W) {
        const int64_t left = n - j;
        const VM m = TAIL(left);
        VF xhat = MUL(SUB(left >= W ? LOAD(x + j) : LOADN(x + j, m), muv), rsv);
        xhat = left >= W ? xhat : SELECT(m, xhat, SET1(0.0f)); /* 0 * xhat of a tail lane could be NaN */
        const VF g = MUL(left >= W ? LOAD(dy + j) : LOADN(dy + j, m), left >= W ? LOAD(w + j) : LOADN(w + j, m));
        SUFFIX(dlanes_add)(ag, j, g, g, 0);
        SUFFIX(dlanes_add)(agx, j, g, xhat, 1);
    }
    const VF mg = SET1((float)(SUFFIX(dfold)(ag) / (double)n));
    const VF mgx = SET1((float)(SUFFIX(dfold)(agx) / (double)n));
    for (int64_t j = 0; j < n; j += W) {
        const int64_t left = n - j;
        const VM m = TAIL(left);
        const VF xhat = MUL(SUB(left >= W ? LOAD(x + j) : LOADN(x + j, m), muv), rsv);
        const VF g = MUL(left >= W ? LOAD(dy + j) : LOADN(dy + j, m), left >= W ? LOAD(w + j) : LOADN(w + j, m));
        const VF d = MUL(rsv, SUB(SUB(g, mg), MUL(xhat, mgx)));
        left >= W ? STORE(dx + j, d) : STOREN(dx + j, m, d);
    }
}

TARGET void SUFFIX(qat_cpu_softmax_bwd_row)(const float *dp, const float *p, int64_t n, float *ds)
{
    DVF acc[DACCS];
    DZEROS(acc);
    for (int64_t j = 0; j < n; j += W) {
        const int64_t left = n - j;
        const VM m = TAIL(left);
        SUFFIX(dlanes_add)(acc, j, left >= W ? LOAD(dp + j) : LOADN(dp + j, m),
                           left >= W ? LOAD(p + j) : LOADN(p + j, m), 1);
    }
    const VF d = SET1((float)SUFFIX(dfold)(acc));
    for (int64_t j = 0; j < n; j += W) {
        const int64_t left = n - j;
        const VM m = TAIL(left);
        const VF v = MUL(left >= W ? LOAD(p + j) : LOADN(p + j, m), SUB(left >= W ? LOAD(dp + j) : LOADN(dp + j, m), d));
        left >= W ? STORE(ds + j, v) : STOREN(ds + j, m, v);
    }
}

/* ref's column sums (bias_grad; LayerNorm's dw and db) for the block of
 * QAT_CPU_COLUMN_VECTORS * W columns from c0: each column summed in double
 * over the rows in order, so across columns the vector lanes are ref's
 * scalar sums. db[c] += (float)sum dy[r, c]; with x, also
 * dw[c] += (float)sum (double)dy[r, c] * xhat, xhat = (x[r, c] - mean[r]) * rstd[r]. */
TARGET void SUFFIX(qat_cpu_column_grads)(const float *dy, const float *x, const float *mean, const float *rstd,
                                         int64_t rows, int64_t cols, int64_t c0, float *dw, float *db)
{
    enum { V = QAT_CPU_COLUMN_VECTORS };
    const int64_t width = cols - c0 < V * W ? cols - c0 : V * W;
    DVF sb[2 * V], sw[2 * V];
    for (int k = 0; k < 2 * V; k++)
        sb[k] = sw[k] = DZERO();
    for (int64_t r = 0; r < rows; r++) {
        const float *dyr = dy + r * cols + c0, *xr = x ? x + r * cols + c0 : NULL;
        const VF muv = SET1(x ? mean[r] : 0.0f), rsv = SET1(x ? rstd[r] : 0.0f);
        for (int v = 0; v < V && v * W < width; v++) {
            const int64_t left = width - v * W;
            const VM m = TAIL(left);
            const VF d = left >= W ? LOAD(dyr + v * W) : LOADN(dyr + v * W, m);
            const DVF dlo = WIDEN_LO(d), dhi = WIDEN_HI(d);
            sb[2 * v] = DADD(sb[2 * v], dlo);
            sb[2 * v + 1] = DADD(sb[2 * v + 1], dhi);
            if (xr) {
                const VF xhat = MUL(SUB(left >= W ? LOAD(xr + v * W) : LOADN(xr + v * W, m), muv), rsv);
                sw[2 * v] = DADD(sw[2 * v], DMUL(dlo, WIDEN_LO(xhat)));
                sw[2 * v + 1] = DADD(sw[2 * v + 1], DMUL(dhi, WIDEN_HI(xhat)));
            }
        }
    }
    double sum[V * W];
    for (int k = 0; k < 2 * V; k++)
        DSTOREU(sum + k * (W / 2), sb[k]);
    for (int64_t c = 0; c < width; c++)
        db[c0 + c] += (float)sum[c];
    if (!x)
        return;
    for (int k = 0; k < 2 * V; k++)
        DSTOREU(sum + k * (W / 2), sw[k]);
    for (int64_t c = 0; c < width; c++)
        dw[c0 + c] += (float)sum[c];
}

/* 64-bit lanes: a * b mod 2^64 from 32-bit multiplies (no AVX-512 DQ
 * needed): alo blo + ((alo bhi + ahi blo) << 32). */
TARGET INL VI SUFFIX(qmul)(VI a, VI b)
{
    const VI cross = QADD(QMULU32(a, QSRLI(b, 32)), QMULU32(QSRLI(a, 32), b));
    return QADD(QMULU32(a, b), QSLLI(cross, 32));
}

/* backend/kernels.h's qat_dropout_keep on W/2 consecutive indices, given
 * z = seed + (index + 1) * 0x9e3779b97f4a7c15: (z >> 40), still in 64-bit lanes. */
TARGET INL VI SUFFIX(dropout_bits)(VI z)
{
    z = SUFFIX(qmul)(QXOR(z, QSRLI(z, 30)), QSET1((long long)0xbf58476d1ce4e5b9ull));
    z = SUFFIX(qmul)(QXOR(z, QSRLI(z, 27)), QSET1((long long)0x94d049bb133111ebull));
    z = QXOR(z, QSRLI(z, 31));
    return QSRLI(z, 40);
}

/* ref's dropout over elements [begin, begin + n) of x: kept iff
 * (float)(z >> 40) * 2^-24 >= p, scaled by keep_scale; 0 otherwise. The
 * hash's first step, seed + (i + 1) * golden, advances by W * golden per
 * vector, wrapping as the scalar's uint64_t does. */
TARGET void SUFFIX(qat_cpu_dropout_run)(float *x, int64_t begin, int64_t n, float p, float keep_scale, uint64_t seed)
{
    const uint64_t golden = 0x9e3779b97f4a7c15ull;
    uint64_t first[W];
    for (int l = 0; l < W; l++)
        first[l] = seed + ((uint64_t)begin + (uint64_t)l + 1u) * golden;
    VI za = QLOADU(first), zb = QLOADU(first + W / 2);
    const VI step = QSET1((long long)(golden * (uint64_t)W));
    const VF pv = SET1(p), ks = SET1(keep_scale), unit = SET1(1.0f / 16777216.0f);
    for (int64_t j = 0; j < n; j += W) {
        const int64_t left = n - j;
        const VM m = TAIL(left);
        const VF u = MUL(I2F(NARROW2(SUFFIX(dropout_bits)(za), SUFFIX(dropout_bits)(zb))), unit);
        const VF v = left >= W ? LOAD(x + begin + j) : LOADN(x + begin + j, m);
        const VF y = SELECT(CMPGE(u, pv), MUL(v, ks), SET1(0.0f));
        left >= W ? STORE(x + begin + j, y) : STOREN(x + begin + j, m, y);
        za = QADD(za, step);
        zb = QADD(zb, step);
    }
}

TARGET void SUFFIX(qat_cpu_lsq_fwd_row)(const float *x, int64_t n, float s, float eps, const float *beta, float qn,
                                        float qp, float *y)
{
    const VF div = SET1(s + eps), sv = SET1(s), qnv = SET1(qn), qpv = SET1(qp), bv = SET1(beta ? *beta : 0.0f);
    for (int64_t j = 0; j < n; j += W) {
        const int64_t left = n - j;
        const VM m = TAIL(left);
        VF v = left >= W ? LOAD(x + j) : LOADN(x + j, m);
        v = DIV(beta ? SUB(v, bv) : v, div);
        v = MAX(qnv, MIN(qpv, v));
        v = MUL(SUB(ADD(v, SET1(QAT_ROUND_MAGIC)), SET1(QAT_ROUND_MAGIC)), sv);
        v = beta ? ADD(v, bv) : v;
        left >= W ? STORE(y + j, v) : STOREN(y + j, m, v);
    }
}

TARGET void SUFFIX(qat_cpu_lsq_bwd_row)(const float *x, const float *dy, int64_t n, float div, const float *beta,
                                        float qn, float qp, float *dx, double *step_sum, double *offset_sum)
{
    const VF dv = SET1(div), qnv = SET1(qn), qpv = SET1(qp), bv = SET1(beta ? *beta : 0.0f), zero = SET1(0.0f);
    DVF ls[DACCS], lo[DACCS];
    DZEROS(ls);
    DZEROS(lo);
    for (int64_t j = 0; j < n; j += W) {
        const int64_t left = n - j;
        const VM m = TAIL(left);
        VF v = left >= W ? LOAD(x + j) : LOADN(x + j, m);
        v = DIV(beta ? SUB(v, bv) : v, dv);
        const VF g = left >= W ? LOAD(dy + j) : LOADN(dy + j, m);
        const VM below = CMPLT(v, qnv), above = CMPLT(qpv, v);
        VF factor = SELECT(below, qnv, SELECT(above, qpv, SUB(SUB(ADD(v, SET1(QAT_ROUND_MAGIC)),
                                                                  SET1(QAT_ROUND_MAGIC)), v)));
        factor = left >= W ? factor : SELECT(m, factor, zero); /* 0 * a tail lane's factor could be NaN */
        const VF outside = SELECT(below, g, SELECT(above, g, zero));
        SUFFIX(dlanes_add)(ls, j, g, factor, 1);
        SUFFIX(dlanes_add)(lo, j, outside, outside, 0);
        const VF d = SELECT(below, zero, SELECT(above, zero, g));
        left >= W ? STORE(dx + j, d) : STOREN(dx + j, m, d);
    }
    *step_sum = SUFFIX(dfold)(ls);
    *offset_sum = SUFFIX(dfold)(lo);
}

/* qat_cpu_gemm_skinny (cpu_gemm_skinny.c) with B not transposed: W
 * columns of C at a time, each lane with the scalar kernel's eight partial
 * sums (product p into sum p % 8, a multiply then an add), folded in the
 * same order, so every element gets the scalar bits. The attention
 * products of small heads (n = head size <= 16) are such GEMMs. */
TARGET void SUFFIX(qat_cpu_gemm_skinny_nb)(int trans_a, int64_t m, int64_t n, int64_t k, float alpha,
                                           const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                                           float *c, int64_t ldc)
{
    enum { PARTS = 8 }; /* the scalar kernel's partial sums */
    const int64_t a_k = trans_a ? lda : 1, a_i = trans_a ? 1 : lda;
    for (int64_t i = 0; i < m; i++) {
        const float *x = a + i * a_i;
        float *crow = c + i * ldc;
        for (int64_t j = 0; j < n; j += W) {
            const int64_t left = n - j;
            const VM tail = TAIL(left);
            VF part[PARTS];
            for (int l = 0; l < PARTS; l++)
                part[l] = SET1(0.0f);
            int64_t p = 0;
            for (; p + PARTS <= k; p += PARTS)
                for (int l = 0; l < PARTS; l++) {
                    const float *y = b + (p + l) * ldb + j;
                    part[l] = ADD(part[l], MUL(SET1(x[(p + l) * a_k]), left >= W ? LOAD(y) : LOADN(y, tail)));
                }
            for (int l = 0; p < k; p++, l++) {
                const float *y = b + p * ldb + j;
                part[l] = ADD(part[l], MUL(SET1(x[p * a_k]), left >= W ? LOAD(y) : LOADN(y, tail)));
            }
            VF dot = SET1(0.0f);
            for (int l = 0; l < PARTS; l++)
                dot = ADD(dot, part[l]);
            VF out = MUL(SET1(alpha), dot);
            /* beta = 0 does not read C, as BLAS: it may hold NaN. */
            if (beta != 0.0f)
                out = ADD(out, MUL(SET1(beta), left >= W ? LOAD(crow + j) : LOADN(crow + j, tail)));
            if (left >= W)
                STORE(crow + j, out);
            else
                STOREN(crow + j, tail, out);
        }
    }
}

#undef DACCS
#undef DZEROS

#undef GELU_VECTORS
#undef GELU_SMALL_VECTORS
#undef EACH
#undef LOCKSTEP_MAX
#undef GELU_CHUNK
#undef TAILBITS
#undef SOFTMAX_ROWS
#undef ACCS
#undef INL
