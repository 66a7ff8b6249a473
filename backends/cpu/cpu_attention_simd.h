/*
 * The fused attention's two inner kernels for one vector width W, written
 * once and included by cpu_attention.c for AVX2, AVX-512 and NEON after it
 * defines W, VF, VM, TARGET, SUFFIX(name), SET1, ZERO, MADD (a * b + c,
 * fused), MUL, LOAD,
 * STORE, LOADN / STOREN (masked, zeros elsewhere) and TAIL(n) (the first
 * n lanes, none when n <= 0, all when n >= W); PANEL_KEYS (keys per
 * transposed panel, a multiple of W); SROWS (query rows of a
 * scores pass), CROWS_WIDE (rows of a context pass of CV_MAX vectors) and
 * CROWS_MAX (of one or two vectors, for short heads: MiniLM's are 32).
 *
 * Register tiles of fixed size, so that the compiler keeps every
 * accumulator in a register (variable trip counts made it spill them to
 * the stack: a store and a reload in each add's dependency chain). A tail
 * of fewer rows repeats the last row's pointer and stores only the real
 * rows, so the tile's shape never varies. Each accumulator lane is one
 * output element summed in kernels.h's order, one FMA per step, as the
 * scalar code in cpu_attention.c (fmaf).
 */
#define KV (PANEL_KEYS / W) /* vectors per panel row */
#define CV_MAX 4      /* vectors of head_dim per context pass */

/* s[r * lds + l] = (sum_c q_r[c] * panel[c * PANEL_KEYS + l]) * scale, r < R, l < nk. */
TARGET static void SUFFIX(scores)(const float *const *q, int R, const float *panel, int64_t dh, float scale,
                                  float *s, int64_t lds, int nk)
{
    const float *qr[SROWS];
    for (int r = 0; r < SROWS; r++)
        qr[r] = q[r < R ? r : R - 1];
    VF acc[SROWS][KV];
    for (int r = 0; r < SROWS; r++)
        for (int v = 0; v < KV; v++)
            acc[r][v] = ZERO();
    for (int64_t c = 0; c < dh; c++) {
        VF k[KV];
        for (int v = 0; v < KV; v++)
            k[v] = LOAD(panel + c * PANEL_KEYS + v * W);
        for (int r = 0; r < SROWS; r++) {
            const VF x = SET1(qr[r][c]);
            for (int v = 0; v < KV; v++)
                acc[r][v] = MADD(x, k[v], acc[r][v]);
        }
    }
    const VF sc = SET1(scale);
    for (int r = 0; r < R; r++)
        for (int v = 0; v < KV; v++) {
            if (nk - v * W >= W) /* unmasked: AVX2's masked store is slow on AMD */
                STORE(s + r * lds + v * W, MUL(acc[r][v], sc));
            else
                STOREN(s + r * lds + v * W, TAIL(nk - v * W), MUL(acc[r][v], sc));
        }
}

/* o_r[c] = sum_j p_r[j] * v[j * ldv + c] over j ascending, for the R rows
 * p_r = p + r * ldp, o_r = o + r * ldo, c < dh: CR rows share each load
 * of v, CV * W outputs per pass over the keys. A macro, so that each tile
 * has arrays of its exact size and loops of constant trips (a generic
 * tile with a runtime full/masked choice in its key loop had the compiler
 * keep the accumulators on the stack). Passes of whole vectors run the
 * key loop without masks; the last, partial one with them. */
/* The pass over the keys: row r's acc[r][t] += p_r[j] * x[t], x[t] the
 * key's vector t read by LOADV (with or without masks). */
#define CONTEXT_KEYS(CV, CR, LOADV)                                                                           \
    for (int64_t j = 0; j < lk; j++) {                                                                        \
        VF x[CV];                                                                                             \
        for (int t = 0; t < CV; t++)                                                                          \
            x[t] = LOADV;                                                                                     \
        for (int r = 0; r < CR; r++) {                                                                        \
            const VF pj = SET1(pr[r][j]);                                                                     \
            for (int t = 0; t < CV; t++)                                                                      \
                acc[r][t] = MADD(pj, x[t], acc[r][t]);                                                        \
        }                                                                                                     \
    }

#define CONTEXT_TILE(NAME, CV, CR)                                                                            \
    TARGET static void SUFFIX(NAME)(const float *p, int64_t ldp, int R, const float *v, int64_t ldv,          \
                                    int64_t lk, int64_t dh, float *o, int64_t ldo)                            \
    {                                                                                                         \
        const float *pr[CR];                                                                                  \
        for (int r = 0; r < CR; r++)                                                                          \
            pr[r] = p + (r < R ? r : R - 1) * ldp;                                                            \
        for (int64_t c0 = 0; c0 < dh; c0 += CV * W) {                                                         \
            VM m[CV];                                                                                         \
            for (int t = 0; t < CV; t++)                                                                      \
                m[t] = TAIL(dh - c0 - t * W);                                                                 \
            VF acc[CR][CV];                                                                                   \
            for (int r = 0; r < CR; r++)                                                                      \
                for (int t = 0; t < CV; t++)                                                                  \
                    acc[r][t] = ZERO();                                                                       \
            const float *vc = v + c0;                                                                         \
            if (dh - c0 >= CV * W)                                                                            \
                CONTEXT_KEYS(CV, CR, LOAD(vc + j * ldv + t * W))                                              \
            else                                                                                              \
                CONTEXT_KEYS(CV, CR, LOADN(vc + j * ldv + t * W, m[t]))                                       \
            /* Whole vectors unmasked: AVX2's masked store (vmaskmovps) is   \
             * slow on AMD. */                                                                                \
            for (int r = 0; r < CR && r < R; r++)                                                             \
                for (int t = 0; t < CV; t++)                                                                  \
                    if (dh - c0 - t * W >= W)                                                                 \
                        STORE(o + r * ldo + c0 + t * W, acc[r][t]);                                           \
                    else                                                                                      \
                        STOREN(o + r * ldo + c0 + t * W, m[t], acc[r][t]);                                    \
        }                                                                                                     \
    }

/* By head_dim: as many vectors per pass as dh fills (up to CV_MAX), and
 * more rows where they are fewer. */
CONTEXT_TILE(context_wide, CV_MAX, CROWS_WIDE)
CONTEXT_TILE(context_half, CV_MAX / 2, CROWS_MAX)
CONTEXT_TILE(context_one, 1, CROWS_MAX)
#undef CONTEXT_TILE
#undef CONTEXT_KEYS

/* The context function for head_dim dh and its rows per call. */
static context_fn SUFFIX(context_for)(int64_t dh, int *rows)
{
    if (dh <= W) {
        *rows = CROWS_MAX;
        return SUFFIX(context_one);
    }
    if (dh <= CV_MAX / 2 * W) {
        *rows = CROWS_MAX;
        return SUFFIX(context_half);
    }
    *rows = CROWS_WIDE;
    return SUFFIX(context_wide);
}

#undef KV
#undef CV_MAX
