/* Fused inference attention on the cpu backend: per (sequence, head, block
 * of query rows), the block's scores against every key in a stack buffer
 * (a block x lk floats, L1/L2-sized), the masked row softmax, then the
 * context; never [batch, heads, lq, lk], and nothing allocated.
 *
 * Bits: the same as ref's attention_fwd on every ISA path and thread
 * count. Each score is one vector lane summing q[d] * k[d] over d
 * ascending (keys side by side in the lanes, from a panel of 16 keys, 32
 * on AVX-512, transposed on the stack), each context element one lane summing
 * p[j] * v[j, d] over keys ascending (d in the lanes): the order of every
 * element is kernels.h's, one fused multiply-add per step (fmaf in the
 * scalar code, vfmadd / fmla in the vector tiles: all round once), so
 * scalar, AVX2, AVX-512 and NEON agree with each other and with ref. AVX2 without FMA
 * (no such x86 CPU is common) runs the scalar path. The softmax
 * is ref's row (qat_ref_softmax_row), run by its vectorised twin
 * qat_cpu_softmax_row (the same bits). Scores, softmax and context all
 * take the backend state's float path, chosen from QAT_ISA once when the
 * context is created (cpu_float.c, through lib/packed's one resolution). */
#include <math.h>
#include <string.h>

#include "backend/backend.h"
#include "core/error.h"
#include "cpu/cpu_attention.h"
#include "cpu/cpu_float.h"
#include "host/host_attention.h"
#include "host/host_memory.h"

#if defined(__x86_64__) || defined(__i386__)
#define ATT_X86 1
#include <immintrin.h>
#elif defined(__aarch64__)
#define ATT_NEON 1
#include "cpu/cpu_neon.h"
#endif

enum {
    KEYS = 16,              /* keys per transposed panel on the scalar and AVX2 paths (two ymm) */
    KEYS_WIDE = 32,         /* on AVX-512 (two zmm): a scores step's two vector loads then feed 16
                             * FMAs, where one 16-key panel's load and 8 broadcasts fed 8 and the
                             * loads, not the FMAs, set the pace */
    SCORES_STACK = 8192,    /* floats of the block's scores (32 KiB) */
    PANEL_DH = QAT_CPU_ATT_PANEL_DH,
    PANEL_FLOATS = QAT_CPU_ATT_PANEL_FLOATS,
    MAX_BLOCK = 64,         /* query rows per block at most */
    V_STACK = 8192,         /* floats of a head's v copied side by side (32 KiB: lk x head_dim) */
    BLOCK_ROWS = 8          /* blocks are a multiple of every path's SROWS and CROWS */
};


static void scores_scalar(const float *const *q, int R, const float *panel, int64_t dh, float scale, float *s,
                          int64_t lds, int nk)
{
    for (int r = 0; r < R; r++) {
        float acc[KEYS] = {0};
        for (int64_t c = 0; c < dh; c++)
            for (int l = 0; l < KEYS; l++)
                acc[l] = fmaf(q[r][c], panel[c * KEYS + l], acc[l]);
        for (int l = 0; l < nk; l++)
            s[r * lds + l] = acc[l] * scale;
    }
}

static void context_scalar(const float *p, int64_t ldp, int R, const float *v, int64_t ldv, int64_t lk,
                           int64_t dh, float *o, int64_t ldo)
{
    for (int r = 0; r < R; r++) {
        float *out = o + r * ldo;
        const float *pr = p + r * ldp;
        for (int64_t c = 0; c < dh; c++)
            out[c] = 0.0f;
        for (int64_t j = 0; j < lk; j++)
            for (int64_t c = 0; c < dh; c++)
                out[c] = fmaf(pr[j], v[j * ldv + c], out[c]);
    }
}


/* Keys [l0, l1) of a panel `keys` wide, element by element. */
static void fill_keys(const float *k, int64_t ldk, int nk, int64_t dh, int l0, int l1, int keys, float *panel)
{
    for (int64_t c = 0; c < dh; c++)
        for (int l = l0; l < l1; l++)
            panel[c * keys + l] = l < nk ? k[l * ldk + c] : 0.0f;
}

static void panel_scalar(const float *k, int64_t ldk, int nk, int64_t dh, float *panel)
{
    fill_keys(k, ldk, nk, dh, 0, KEYS, KEYS, panel);
}

#ifdef ATT_X86
/* The first columns of `block` keys transposed in registers into a panel
 * row segment; returns how many columns (whole vectors of them). */
typedef int64_t (*keys_block_fn)(const float *k, int64_t ldk, int64_t dh, float *panel);

/* A panel `keys` wide: each whole `block` keys by fn, the columns it leaves
 * and a short last part (with the zeros past nk) by the scalar fill. Pure
 * data movement: the scalar fill's bits. */
static void panel_by_blocks(const float *k, int64_t ldk, int nk, int64_t dh, float *panel, int keys, int block,
                            keys_block_fn fn)
{
    int l0 = 0;
    for (; l0 + block <= nk && l0 < keys; l0 += block) {
        const int64_t done = fn(k + l0 * ldk, ldk, dh, panel + l0);
        if (done < dh)
            fill_keys(k + l0 * ldk + done, ldk, block, dh - done, 0, block, keys, panel + l0 + done * keys);
    }
    if (l0 < keys)
        fill_keys(k, ldk, nk, dh, l0, keys, keys, panel);
}
#endif

#ifdef ATT_X86
#define W 8
#define VF __m256
#define VM __m256i
#define TARGET __attribute__((target("avx2,fma")))
#define SUFFIX(name) name##_avx2
#define SET1 _mm256_set1_ps
#define ZERO _mm256_setzero_ps
#define MADD _mm256_fmadd_ps
#define MUL _mm256_mul_ps
#define LOAD _mm256_loadu_ps
#define STORE _mm256_storeu_ps
#define LOADN(p, m) _mm256_maskload_ps((p), (m))
#define STOREN(p, m, v) _mm256_maskstore_ps((p), (m), (v))
#define TAIL(n) _mm256_cmpgt_epi32(_mm256_set1_epi32((int)((n) < W ? (n) : W)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define PANEL_KEYS KEYS
#define SROWS 4
#define CROWS_WIDE 2
#define CROWS_MAX 4
#include "cpu/cpu_attention_simd.h"
enum { AVX2_SROWS = SROWS };

/* Eight keys of a KEYS-wide panel, 8 columns at a time: 8 rows of k in, one
 * 8 x 8 transpose in registers (24 shuffles, against 64 scalar moves), 8
 * panel rows out. */
__attribute__((target("avx2"))) static int64_t eight_keys_avx2(const float *k, int64_t ldk, int64_t dh, float *panel)
{
    int64_t c0 = 0;
    for (; c0 + 8 <= dh; c0 += 8) {
        __m256 r[8], a[8], b[8];
        for (int l = 0; l < 8; l++)
            r[l] = _mm256_loadu_ps(k + l * ldk + c0);
        for (int i = 0; i < 4; i++) { /* per 128-bit lane: (x0 y0 x1 y1), (x2 y2 x3 y3) */
            a[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
            a[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
        }
        for (int g = 0; g < 2; g++) { /* b[4g + c]: column c (c + 4 in the high lane) of rows 4g..4g+3 */
            const __m256d a0 = _mm256_castps_pd(a[4 * g]), a1 = _mm256_castps_pd(a[4 * g + 1]);
            const __m256d a2 = _mm256_castps_pd(a[4 * g + 2]), a3 = _mm256_castps_pd(a[4 * g + 3]);
            b[4 * g] = _mm256_castpd_ps(_mm256_unpacklo_pd(a0, a2));
            b[4 * g + 1] = _mm256_castpd_ps(_mm256_unpackhi_pd(a0, a2));
            b[4 * g + 2] = _mm256_castpd_ps(_mm256_unpacklo_pd(a1, a3));
            b[4 * g + 3] = _mm256_castpd_ps(_mm256_unpackhi_pd(a1, a3));
        }
        for (int c = 0; c < 4; c++) { /* rows 0-3 of column c in b[c]'s low lane, rows 4-7 in b[4 + c]'s */
            _mm256_storeu_ps(panel + (c0 + c) * KEYS, _mm256_permute2f128_ps(b[c], b[4 + c], 0x20));
            _mm256_storeu_ps(panel + (c0 + c + 4) * KEYS, _mm256_permute2f128_ps(b[c], b[4 + c], 0x31));
        }
    }
    return c0;
}

static void panel_avx2(const float *k, int64_t ldk, int nk, int64_t dh, float *panel)
{
    panel_by_blocks(k, ldk, nk, dh, panel, KEYS, 8, eight_keys_avx2);
}
#undef W
#undef VF
#undef VM
#undef TARGET
#undef SUFFIX
#undef SET1
#undef ZERO
#undef MADD
#undef MUL
#undef LOAD
#undef STORE
#undef LOADN
#undef STOREN
#undef TAIL
#undef PANEL_KEYS
#undef SROWS
#undef CROWS_WIDE
#undef CROWS_MAX

#define W 16
#define VF __m512
#define VM __mmask16
#define TARGET __attribute__((target("avx512f")))
#define SUFFIX(name) name##_avx512
#define SET1 _mm512_set1_ps
#define ZERO _mm512_setzero_ps
#define MADD _mm512_fmadd_ps
#define MUL _mm512_mul_ps
#define LOAD _mm512_loadu_ps
#define STORE _mm512_storeu_ps
#define LOADN(p, m) _mm512_maskz_loadu_ps((m), (p))
#define STOREN(p, m, v) _mm512_mask_storeu_ps((p), (m), (v))
#define TAIL(n) ((__mmask16)((n) >= W ? 0xffffu : (n) <= 0 ? 0u : (1u << (n)) - 1u))
#define PANEL_KEYS KEYS_WIDE
#define SROWS 8
#define CROWS_WIDE 4
#define CROWS_MAX 8
#include "cpu/cpu_attention_simd.h"
enum { AVX512_SROWS = SROWS };

/* Sixteen keys of a panel KEYS_WIDE wide, 16 columns at a time: 16 rows of
 * k in, one 16 x 16 transpose in registers (64 shuffles, against 512 scalar
 * moves), 16 panel rows out. */
__attribute__((target("avx512f"))) static int64_t sixteen_keys_avx512(const float *k, int64_t ldk, int64_t dh,
                                                                      float *panel)
{
    int64_t c0 = 0;
    for (; c0 + 16 <= dh; c0 += 16) {
        __m512 r[16], a[16], b[16];
        for (int l = 0; l < 16; l++)
            r[l] = _mm512_loadu_ps(k + l * ldk + c0);
        for (int i = 0; i < 8; i++) { /* per 128-bit lane: (x0 y0 x1 y1), (x2 y2 x3 y3) */
            a[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
            a[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
        }
        for (int g = 0; g < 4; g++) { /* b[4g + c]: column c (+4, +8, +12 in lanes 1-3) of rows 4g..4g+3 */
            const __m512d a0 = _mm512_castps_pd(a[4 * g]), a1 = _mm512_castps_pd(a[4 * g + 1]);
            const __m512d a2 = _mm512_castps_pd(a[4 * g + 2]), a3 = _mm512_castps_pd(a[4 * g + 3]);
            b[4 * g] = _mm512_castpd_ps(_mm512_unpacklo_pd(a0, a2));
            b[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a0, a2));
            b[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(a1, a3));
            b[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(a1, a3));
        }
        for (int c = 0; c < 4; c++) { /* column c + 4 L gathers lane L of the four groups */
            const __m512 e0 = _mm512_shuffle_f32x4(b[c], b[4 + c], 0x44), e1 = _mm512_shuffle_f32x4(b[c], b[4 + c], 0xee);
            const __m512 f0 = _mm512_shuffle_f32x4(b[8 + c], b[12 + c], 0x44);
            const __m512 f1 = _mm512_shuffle_f32x4(b[8 + c], b[12 + c], 0xee);
            _mm512_storeu_ps(panel + (c0 + c) * KEYS_WIDE, _mm512_shuffle_f32x4(e0, f0, 0x88));
            _mm512_storeu_ps(panel + (c0 + c + 4) * KEYS_WIDE, _mm512_shuffle_f32x4(e0, f0, 0xdd));
            _mm512_storeu_ps(panel + (c0 + c + 8) * KEYS_WIDE, _mm512_shuffle_f32x4(e1, f1, 0x88));
            _mm512_storeu_ps(panel + (c0 + c + 12) * KEYS_WIDE, _mm512_shuffle_f32x4(e1, f1, 0xdd));
        }
    }
    return c0;
}

static void panel_avx512(const float *k, int64_t ldk, int nk, int64_t dh, float *panel)
{
    panel_by_blocks(k, ldk, nk, dh, panel, KEYS_WIDE, 16, sixteen_keys_avx512);
}
#endif

#ifdef ATT_NEON
/* 32 vector registers: a scores pass of 4 rows holds 16 accumulators, 4
 * key vectors and a broadcast; a context pass of CV_MAX vectors 4 rows (16
 * accumulators), of one or two vectors 8 (chosen by register count, not
 * measured: no ARM64 machine has run them). The panel is the scalar
 * fill's, 16 keys wide. */
#define W 4
#define VF float32x4_t
#define VM uint32x4_t
#define TARGET
#define SUFFIX(name) name##_neon
#define SET1 vdupq_n_f32
#define ZERO() vdupq_n_f32(0.0f)
#define MADD(a, b, c) vfmaq_f32((c), (a), (b)) /* a * b + c, rounded once, as fmaf */
#define MUL vmulq_f32
#define LOAD vld1q_f32
#define STORE vst1q_f32
#define LOADN qat_neon_loadn
#define STOREN qat_neon_storen
#define TAIL qat_neon_tail
#define PANEL_KEYS KEYS
#define SROWS 4
#define CROWS_WIDE 4
#define CROWS_MAX 8
#include "cpu/cpu_attention_simd.h"
enum { NEON_SROWS = SROWS };
#endif

typedef struct att_plan {
    const qat_attention_desc *d;
    const qat_attention_train_desc *train; /* attention_train_fwd's (its dropout), else NULL */
    int64_t block, blocks;   /* query rows per block, blocks per (b, h) */
    qat_cpu_att_kernels k;
    qat_cpu_float_isa isa; /* the backend state's float path (cpu_float.h) */
} att_plan;

/* Block i0 of head (b, h). same_head: the block before, in these
 * buffers, was this head's, so its key panels (when they all fit the
 * panel buffer) and its v copy are there already. */
static void run_block(const att_plan *pl, int64_t b, int64_t h, int64_t i0, int same_head, float *s, float *panel,
                      float *vcopy)
{
    const qat_attention_desc *d = pl->d;
    const int64_t dh = d->head_dim, lk = d->lk, n = d->lq - i0 < pl->block ? d->lq - i0 : pl->block;
    const float *qrow[MAX_BLOCK];
    for (int64_t r = 0; r < n; r++)
        qrow[r] = d->q + (b * d->lq + i0 + r) * d->ldq + h * dh;
    const float *k = d->k + b * lk * d->ldk + h * dh;
    /* Every panel of the head side by side when they fit, built once per
     * head; else one panel at a time, rebuilt for every block. */
    const int64_t panel_floats = dh * pl->k.keys;
    const int whole = (lk + pl->k.keys - 1) / pl->k.keys * panel_floats <= PANEL_FLOATS;
    for (int64_t j0 = 0; j0 < lk; j0 += pl->k.keys) {
        const int nk = (int)(lk - j0 < pl->k.keys ? lk - j0 : pl->k.keys);
        float *pj = whole ? panel + j0 / pl->k.keys * panel_floats : panel;
        if (!whole || !same_head)
            pl->k.panel(k + j0 * d->ldk, d->ldk, nk, dh, pj);
        for (int64_t r = 0; r < n; r += pl->k.srows)
            pl->k.scores(qrow + r, (int)(n - r < pl->k.srows ? n - r : pl->k.srows), pj, dh, d->scale, s + r * lk + j0,
                       lk, nk);
    }
    const float *kb = d->key_bias ? d->key_bias + b * lk : NULL;
    const float *v = d->v + b * lk * d->ldv + h * dh;
    int64_t ldv = d->ldv;
    qat_cpu_softmax_rows(pl->isa, s, lk, n, kb, lk); /* ref's row, vectorised */
    for (int64_t r = 0; pl->train && r < n; r++)
        qat_host_attention_drop_row(pl->train, b, h, i0 + r, s + r * lk);
    if (lk * dh <= V_STACK) {
        /* The head's v rows side by side: every context pass reads them
         * all, and at the model's row stride (H floats) they fall into a
         * few L1 sets and are evicted between passes. */
        if (!same_head)
            for (int64_t j = 0; j < lk; j++)
                memcpy(vcopy + j * dh, v + j * d->ldv, (size_t)dh * sizeof *v);
        v = vcopy, ldv = dh;
    }
    for (int64_t r = 0; r < n; r += pl->k.crows)
        pl->k.context(s + r * lk, lk, (int)(n - r < pl->k.crows ? n - r : pl->k.crows), v, ldv, lk, dh,
                    d->out + (b * d->lq + i0 + r) * d->ldo + h * dh, d->ldo);
}

/* Units u = ((b * heads) + h) * blocks + block; a range holds whole heads. */
static int unit_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const att_plan *pl = arg;
    (void)index;
    _Alignas(64) float s[SCORES_STACK];
    _Alignas(64) float panel[PANEL_FLOATS];
    _Alignas(64) float vcopy[V_STACK];
    for (int64_t u = begin, prev = -1; u < end; u++) {
        const int64_t bh = u / pl->blocks;
        run_block(pl, bh / pl->d->heads, bh % pl->d->heads, u % pl->blocks * pl->block, bh == prev, s, panel,
                  vcopy);
        prev = bh;
    }
    return 0;
}

void qat_cpu_att_kernels_for(qat_cpu_float_isa isa, int64_t head_dim, qat_cpu_att_kernels *k)
{
    *k = (qat_cpu_att_kernels){.scores = scores_scalar, .context = context_scalar, .panel = panel_scalar,
                               .keys = KEYS, .srows = BLOCK_ROWS, .crows = BLOCK_ROWS};
    switch (isa) {
#ifdef ATT_X86
    case QAT_CPU_FLOAT_AVX512:
        k->scores = scores_avx512, k->panel = panel_avx512, k->keys = KEYS_WIDE, k->srows = AVX512_SROWS;
        k->context = context_for_avx512(head_dim, &k->crows);
        break;
    case QAT_CPU_FLOAT_AVX2:
        if (!__builtin_cpu_supports("fma"))
            break;
        k->scores = scores_avx2, k->panel = panel_avx2, k->srows = AVX2_SROWS;
        k->context = context_for_avx2(head_dim, &k->crows);
        break;
#endif
#ifdef ATT_NEON
    case QAT_CPU_FLOAT_NEON:
        k->scores = scores_neon, k->srows = NEON_SROWS;
        k->context = context_for_neon(head_dim, &k->crows);
        break;
#endif
    default: /* scalar, or a path this architecture has not */
        break;
    }
}

/* attention_fwd (train NULL) or attention_train_fwd's forward. */
static qat_status run(void *state, const qat_attention_desc *d, const qat_attention_train_desc *train)
{
    if (d->batch == 0 || d->heads == 0 || d->lq == 0 || d->head_dim == 0)
        return QAT_OK;
    /* Rows too long for the stack buffers: ref's row at a time. */
    if (d->lk > SCORES_STACK || d->head_dim > PANEL_DH)
        return train ? qat_backend_ref_ops.attention_train_fwd(state, train)
                     : qat_backend_ref_ops.attention_fwd(state, d);
    att_plan pl = {.d = d, .train = train, .isa = ((qat_cpu_state *)state)->isa};
    qat_cpu_att_kernels_for(pl.isa, d->head_dim, &pl.k);
    int64_t block = SCORES_STACK / d->lk;
    block = block > MAX_BLOCK ? MAX_BLOCK : block;
    block = block >= BLOCK_ROWS ? block / BLOCK_ROWS * BLOCK_ROWS : block;
    pl.block = block < d->lq ? block : d->lq;
    pl.blocks = (d->lq + pl.block - 1) / pl.block;
    /* Whole heads per range, so that a head's blocks share its key panels
     * and v copy. */
    qat_pool_for(((qat_host_state *)state)->pool, d->batch * d->heads * pl.blocks, pl.blocks, unit_range, &pl);
    return QAT_OK;
}

qat_status qat_cpu_attention_fwd(void *state, const qat_attention_desc *d)
{
    QAT_TRY(qat_attention_desc_validate(d));
    return run(state, d, NULL);
}

qat_status qat_cpu_attention_train_fwd(void *state, const qat_attention_train_desc *d)
{
    QAT_TRY(qat_attention_train_desc_validate(d, 0));
    return run(state, &d->a, d);
}
