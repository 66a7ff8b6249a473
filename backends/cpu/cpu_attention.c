/* Fused inference attention on the cpu backend: per (sequence, head, block
 * of query rows), the block's scores against every key in a stack buffer
 * (a block x lk floats, L1/L2-sized), the masked row softmax, then the
 * context; never [batch, heads, lq, lk], and nothing allocated.
 *
 * Bits: the same as ref's attention_fwd on every ISA path and thread
 * count. Each score is one vector lane summing q[d] * k[d] over d
 * ascending (keys side by side in the lanes, from a panel of 16 keys
 * transposed on the stack), each context element one lane summing
 * p[j] * v[j, d] over keys ascending (d in the lanes): the order of every
 * element is kernels.h's, with separate multiplies and adds (no FMA), so
 * scalar, AVX2 and AVX-512 agree with each other and with ref. The softmax
 * is ref's row (qat_ref_softmax_row), run by its vectorised twin
 * qat_cpu_softmax_row (the same bits). Scores, softmax and context all
 * take the backend state's float path, chosen from QAT_ISA once when the
 * context is created (cpu_float.c, through lib/packed's one resolution). */
#include <string.h>

#include "backend/backend.h"
#include "core/error.h"
#include "cpu/cpu_float.h"
#include "host/host_memory.h"

#if defined(__x86_64__) || defined(__i386__)
#define ATT_X86 1
#include <immintrin.h>
#endif

enum {
    KEYS = 16,              /* keys per transposed panel: one zmm, two ymm */
    ROWS = 4,               /* query rows sharing a panel load */
    SCORES_STACK = 8192,    /* floats of the block's scores (32 KiB) */
    PANEL_DH = 256,         /* head_dim the stack panel holds */
    MAX_BLOCK = 64          /* query rows per block at most */
};

/* s[r][j0 + l] = (sum_c q_r[c] * panel[c][l]) * scale, l < nk, r < R. */
typedef void (*scores_fn)(const float *const *q, int R, const float *panel, int64_t dh, float scale, float *s,
                          int64_t lds, int nk);
/* o[c] = sum_j p[j] * v_j[c], c < dh. */
typedef void (*context_fn)(const float *p, const float *v, int64_t ldv, int64_t lk, int64_t dh, float *o);

static void scores_scalar(const float *const *q, int R, const float *panel, int64_t dh, float scale, float *s,
                          int64_t lds, int nk)
{
    for (int r = 0; r < R; r++) {
        float acc[KEYS] = {0};
        for (int64_t c = 0; c < dh; c++)
            for (int l = 0; l < KEYS; l++)
                acc[l] += q[r][c] * panel[c * KEYS + l];
        for (int l = 0; l < nk; l++)
            s[r * lds + l] = acc[l] * scale;
    }
}

static void context_scalar(const float *p, const float *v, int64_t ldv, int64_t lk, int64_t dh, float *o)
{
    for (int64_t c = 0; c < dh; c++)
        o[c] = 0.0f;
    for (int64_t j = 0; j < lk; j++)
        for (int64_t c = 0; c < dh; c++)
            o[c] += p[j] * v[j * ldv + c];
}

#ifdef ATT_X86
#define AVX2_FN __attribute__((target("avx2")))
#define AVX512_FN __attribute__((target("avx512f")))

AVX2_FN static void scores_avx2(const float *const *q, int R, const float *panel, int64_t dh, float scale,
                                float *s, int64_t lds, int nk)
{
    __m256 lo[ROWS], hi[ROWS];
    for (int r = 0; r < ROWS; r++)
        lo[r] = hi[r] = _mm256_setzero_ps();
    for (int64_t c = 0; c < dh; c++) {
        const __m256 k0 = _mm256_loadu_ps(panel + c * KEYS), k1 = _mm256_loadu_ps(panel + c * KEYS + 8);
        for (int r = 0; r < R; r++) {
            const __m256 x = _mm256_broadcast_ss(q[r] + c);
            lo[r] = _mm256_add_ps(lo[r], _mm256_mul_ps(x, k0));
            hi[r] = _mm256_add_ps(hi[r], _mm256_mul_ps(x, k1));
        }
    }
    const __m256 sc = _mm256_set1_ps(scale);
    for (int r = 0; r < R; r++) {
        float tmp[KEYS];
        _mm256_storeu_ps(tmp, _mm256_mul_ps(lo[r], sc));
        _mm256_storeu_ps(tmp + 8, _mm256_mul_ps(hi[r], sc));
        memcpy(s + r * lds, tmp, (size_t)nk * sizeof(float));
    }
}

/* Up to 64 outputs (8 ymm) per pass over the keys; the tail past the last
 * full 8 in scalar, in the same order. */
AVX2_FN static void context_avx2(const float *p, const float *v, int64_t ldv, int64_t lk, int64_t dh, float *o)
{
    int64_t c0 = 0;
    for (; c0 + 8 <= dh; c0 += 64) {
        const int n = (int)((dh - c0) / 8 < 8 ? (dh - c0) / 8 : 8);
        __m256 acc[8];
        for (int t = 0; t < 8; t++)
            acc[t] = _mm256_setzero_ps();
        for (int64_t j = 0; j < lk; j++) {
            const __m256 x = _mm256_broadcast_ss(p + j);
            const float *vj = v + j * ldv + c0;
            for (int t = 0; t < n; t++)
                acc[t] = _mm256_add_ps(acc[t], _mm256_mul_ps(x, _mm256_loadu_ps(vj + 8 * t)));
        }
        for (int t = 0; t < n; t++)
            _mm256_storeu_ps(o + c0 + 8 * t, acc[t]);
        if (n < 8) {
            c0 += 8 * n;
            break;
        }
    }
    if (c0 < dh)
        context_scalar(p, v + c0, ldv, lk, dh - c0, o + c0);
}

AVX512_FN static void scores_avx512(const float *const *q, int R, const float *panel, int64_t dh, float scale,
                                    float *s, int64_t lds, int nk)
{
    __m512 acc[ROWS];
    for (int r = 0; r < ROWS; r++)
        acc[r] = _mm512_setzero_ps();
    for (int64_t c = 0; c < dh; c++) {
        const __m512 k = _mm512_loadu_ps(panel + c * KEYS);
        for (int r = 0; r < R; r++)
            acc[r] = _mm512_add_ps(acc[r], _mm512_mul_ps(_mm512_set1_ps(q[r][c]), k));
    }
    const __m512 sc = _mm512_set1_ps(scale);
    const __mmask16 keep = (__mmask16)((1u << nk) - 1u);
    for (int r = 0; r < R; r++)
        _mm512_mask_storeu_ps(s + r * lds, keep, _mm512_mul_ps(acc[r], sc));
}

AVX512_FN static void context_avx512(const float *p, const float *v, int64_t ldv, int64_t lk, int64_t dh,
                                     float *o)
{
    int64_t c0 = 0;
    for (; c0 + 16 <= dh; c0 += 64) {
        const int n = (int)((dh - c0) / 16 < 4 ? (dh - c0) / 16 : 4);
        __m512 acc[4];
        for (int t = 0; t < 4; t++)
            acc[t] = _mm512_setzero_ps();
        for (int64_t j = 0; j < lk; j++) {
            const __m512 x = _mm512_set1_ps(p[j]);
            const float *vj = v + j * ldv + c0;
            for (int t = 0; t < n; t++)
                acc[t] = _mm512_add_ps(acc[t], _mm512_mul_ps(x, _mm512_loadu_ps(vj + 16 * t)));
        }
        for (int t = 0; t < n; t++)
            _mm512_storeu_ps(o + c0 + 16 * t, acc[t]);
        if (n < 4) {
            c0 += 16 * n;
            break;
        }
    }
    if (c0 < dh)
        context_scalar(p, v + c0, ldv, lk, dh - c0, o + c0);
}

#endif

typedef struct att_plan {
    const qat_attention_desc *d;
    int64_t block, blocks;   /* query rows per block, blocks per (b, h) */
    scores_fn scores;
    context_fn context;
    qat_cpu_float_isa isa; /* the backend state's float path (cpu_float.h) */
} att_plan;

static void run_block(const att_plan *pl, int64_t b, int64_t h, int64_t i0, float *s, float *panel)
{
    const qat_attention_desc *d = pl->d;
    const int64_t dh = d->head_dim, lk = d->lk, n = d->lq - i0 < pl->block ? d->lq - i0 : pl->block;
    const float *qrow[MAX_BLOCK];
    for (int64_t r = 0; r < n; r++)
        qrow[r] = d->q + (b * d->lq + i0 + r) * d->ldq + h * dh;
    const float *k = d->k + b * lk * d->ldk + h * dh;
    for (int64_t j0 = 0; j0 < lk; j0 += KEYS) {
        const int nk = (int)(lk - j0 < KEYS ? lk - j0 : KEYS);
        for (int64_t c = 0; c < dh; c++)
            for (int l = 0; l < KEYS; l++)
                panel[c * KEYS + l] = l < nk ? k[(j0 + l) * d->ldk + c] : 0.0f;
        for (int64_t r = 0; r < n; r += ROWS)
            pl->scores(qrow + r, (int)(n - r < ROWS ? n - r : ROWS), panel, dh, d->scale, s + r * lk + j0, lk, nk);
    }
    const float *kb = d->key_bias ? d->key_bias + b * lk : NULL;
    const float *v = d->v + b * lk * d->ldv + h * dh;
    for (int64_t r = 0; r < n; r++) {
        qat_cpu_softmax_row(pl->isa, s + r * lk, kb, lk); /* ref's bits, vectorised */
        pl->context(s + r * lk, v, d->ldv, lk, dh, d->out + (b * d->lq + i0 + r) * d->ldo + h * dh);
    }
}

/* Units u = ((b * heads) + h) * blocks + block. */
static int unit_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const att_plan *pl = arg;
    (void)index;
    _Alignas(64) float s[SCORES_STACK];
    _Alignas(64) float panel[PANEL_DH * KEYS];
    for (int64_t u = begin; u < end; u++) {
        const int64_t bh = u / pl->blocks;
        run_block(pl, bh / pl->d->heads, bh % pl->d->heads, u % pl->blocks * pl->block, s, panel);
    }
    return 0;
}

qat_status qat_cpu_attention_fwd(void *state, const qat_attention_desc *d)
{
    QAT_TRY(qat_attention_desc_validate(d));
    if (d->batch == 0 || d->heads == 0 || d->lq == 0 || d->head_dim == 0)
        return QAT_OK;
    /* Rows too long for the stack buffers: ref's row at a time. */
    if (d->lk > SCORES_STACK || d->head_dim > PANEL_DH)
        return qat_backend_ref_ops.attention_fwd(state, d);
    att_plan pl = {.d = d, .scores = scores_scalar, .context = context_scalar,
                   .isa = ((qat_cpu_state *)state)->isa};
    int64_t block = SCORES_STACK / d->lk;
    block = block > MAX_BLOCK ? MAX_BLOCK : block;
    block = block >= ROWS ? block / ROWS * ROWS : block;
    pl.block = block < d->lq ? block : d->lq;
    pl.blocks = (d->lq + pl.block - 1) / pl.block;
#ifdef ATT_X86
    switch (pl.isa) {
    case QAT_CPU_FLOAT_AVX512:
        pl.scores = scores_avx512, pl.context = context_avx512;
        break;
    case QAT_CPU_FLOAT_AVX2:
        pl.scores = scores_avx2, pl.context = context_avx2;
        break;
    case QAT_CPU_FLOAT_SCALAR:
        break;
    }
#endif
    qat_pool_for(((qat_host_state *)state)->pool, d->batch * d->heads * pl.blocks, 1, unit_range, &pl);
    return QAT_OK;
}
