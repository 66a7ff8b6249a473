/* The cpu backend's NEON float kernels (cpu_float_neon.c) and attention
 * tiles (cpu_attention.c) against its scalar path, bit for bit (memcmp:
 * zero signs and NaN payloads count, except where the inputs hold NaNs of
 * several payloads; see tally): every row function of cpu_float.h,
 * and the slots that reach the twins the rows do not (AdamW, LayerNorm's
 * and the softmax's backward, bias gradients, dropout, gradient norm, fused
 * attention with and without a padding mask), whose scalar path is the ref
 * backend's kernels; and the skinny GEMM's twin against its loop. Sizes 1..67 (every tail, several 16-element lane
 * blocks) and a few large ones (GELU's 4096-element chunks and past them);
 * plain inputs; inputs where every 7th element is a special value (NaN,
 * +-0, +-inf, +-FLT_MAX, +-1e30, the smallest normals, denormals, exp's
 * clamps, GELU's branch point); those with NaNs of other signs and
 * payloads, a signalling one too; GELU's inputs by erf branch.
 * Also QAT_ISA's mapping on AArch64: neon unless it names scalar, a path
 * the CPU lacks refused.
 *
 * Built for aarch64 and run under qemu-user by float_neon_qemu.sh (this
 * file links the cpu backend's float files, ref, host and core, without
 * oneDNN or a test framework). Exit status: 0 when every case matches. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "cpu/cpu_float.h"
#include "cpu/cpu_kernels.h"
#include "math/float_bits.h"
#include "packed/packed.h"

#include "cpu/cpu_attention.h"

#define MAX_N 5003          /* past GELU's 4096-element chunk */
#define ROWS 3              /* rows of the slot cases */
#define BUF_FLOATS (1 << 18) /* each buffer: ROWS rows of MAX_N with gaps, the attention's [tokens, 3 H] */
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* The cases run, those that differ, and those where only NaNs differ, in
 * sign or payload, with NAN_KINDS' inputs: an operation on
 * two NaNs returns its first operand's, and GCC may swap the operands of a
 * commutative one (in the scalar code as in the vector code), so which
 * NaN comes out is the compiler's choice, not the kernel's. With one NaN
 * in the inputs (SPECIALS), which is also AArch64's default NaN, every bit
 * must match. */
typedef struct tally {
    int cases, bad, nan_payloads;
    int pattern; /* of the inputs now */
    uint32_t seed;
} tally;

static uint32_t rnd(tally *t)
{
    t->seed = t->seed * 1664525u + 1013904223u;
    return t->seed >> 8;
}

/* Uniform in [-8, 8). */
static float uniform(tally *t)
{
    return (float)rnd(t) / (float)(1u << 24) * 16.0f - 8.0f;
}

static const uint32_t special_bits[] = {
    0x7fc00000u,                                        /* the quiet NaN (the default NaN too) */
    0x00000000u, 0x80000000u, 0x7f800000u, 0xff800000u, /* +-0, +-inf */
    0x7f7fffffu, 0xff7fffffu, 0x7149f2cau, 0xf149f2cau, /* +-FLT_MAX, +-1e30 */
    0x00800000u, 0x80800000u,                           /* +-the smallest normal */
    0x00000001u, 0x807fffffu, 0x00400000u,              /* denormals */
    0x42b20000u, 0xc2d00000u, 0x42b30000u, 0xc2d10000u, /* 89, -104 (exp's clamps), 89.5, -104.5 */
    0x3f9e6455u, 0xbf9e6455u,                           /* +-0.875 sqrt 2: GELU's erf branch point */
    0x3f800000u, 0xbf000000u};                          /* 1, -0.5 */

/* NaNs of other signs and payloads, a signalling one among them. */
static const uint32_t other_nans[] = {0xffc00001u, 0x7f800001u, 0x7fc12345u, 0xff800100u};

/* The inputs: uniform; BRANCHES, GELU's (fill_branches); SPECIALS, every
 * 7th element (from the 3rd) a special value in turn; NAN_KINDS, also
 * every 7th from the 5th one of other_nans. */
enum { PLAIN, BRANCHES, SPECIALS, NAN_KINDS, PATTERNS };

static void fill(tally *t, float *x, int64_t n, int pattern)
{
    for (int64_t i = 0; i < n; i++) {
        x[i] = uniform(t);
        if (pattern >= SPECIALS && i % 7 == 3)
            x[i] = qat_bits_float(special_bits[(i / 7 + t->seed) % COUNT(special_bits)]);
        if (pattern == NAN_KINDS && i % 7 == 5)
            x[i] = qat_bits_float(other_nans[(i / 7) % COUNT(other_nans)]);
    }
}

static int is_nan(const void *x, size_t size)
{
    return size == sizeof(float) ? isnan(*(const float *)x) : isnan(*(const double *)x);
}

/* Counts a case; on a difference (other than tally's NaN payloads) prints
 * the first differing element of the `count` elements of `size` bytes at
 * a (neon) and b (scalar). */
static void same(tally *t, const char *what, int64_t n, const void *a, const void *b, int64_t count, size_t size)
{
    t->cases++;
    if (memcmp(a, b, (size_t)count * size) == 0)
        return;
    int64_t i = 0;
    for (; i < count; i++) {
        const char *ai = (const char *)a + i * size, *bi = (const char *)b + i * size;
        if (memcmp(ai, bi, size) != 0 && !(t->pattern == NAN_KINDS && is_nan(ai, size) && is_nan(bi, size)))
            break;
    }
    if (i == count) {
        t->nan_payloads++;
        return;
    }
    t->bad++;
    static const char *const pattern[] = {"plain", "GELU branches", "specials", "NaN kinds"};
    if (size == sizeof(float))
        printf("DIFF %s, n=%lld, %s inputs: element %lld neon %a (0x%08x), scalar %a (0x%08x)\n", what,
               (long long)n, pattern[t->pattern], (long long)i, (double)((const float *)a)[i],
               (unsigned)qat_float_bits(((const float *)a)[i]), (double)((const float *)b)[i],
               (unsigned)qat_float_bits(((const float *)b)[i]));
    else
        printf("DIFF %s, n=%lld, %s inputs: element %lld neon %a, scalar %a\n", what, (long long)n,
               pattern[t->pattern], (long long)i, ((const double *)a)[i], ((const double *)b)[i]);
}

#define SAME(t, what, n, a, b, count) same((t), (what), (n), (a), (b), (count), sizeof *(a))

/* Buffers of BUF_FLOATS: inputs, then each output twice (neon, scalar). */
typedef struct bufs {
    float *in[4];
    float *out[2][4];
} bufs;

#define NEON QAT_CPU_FLOAT_NEON
#define SCALAR QAT_CPU_FLOAT_SCALAR

/* GELU's inputs by branch: lane i of vector v (i = j % 4, v = j / 4) takes
 * erf's large branch when bit i of v % 16 is set, so the 4-lane vectors
 * meet all 16 masks of COMPRESS and EXPAND in turn. */
static void fill_branches(tally *t, float *x, int64_t n)
{
    for (int64_t j = 0; j < n; j++) {
        const float u = (float)rnd(t) / (float)(1u << 24);
        x[j] = (((j / 4) % 16) >> (j % 4) & 1) ? 1.3f + 5.0f * u : 1.2f * u - 0.6f;
    }
}

static void check_rows(tally *t, const bufs *b, int64_t n, int pattern)
{
    float *x = b->in[0], *y = b->in[1], *w = b->in[2], *c = b->in[3];
    if (pattern == BRANCHES)
        fill_branches(t, x, n);
    else
        fill(t, x, n, pattern);
    fill(t, y, n, pattern);
    fill(t, w, n, pattern);
    char what[64];
    for (int gelu = 0; gelu <= 1; gelu++)
        for (int with_bias = 0; with_bias <= 1; with_bias++)
            for (int in_place = 0; in_place <= 1; in_place++) {
                float *o[2][2];
                for (int p = 0; p < 2; p++) {
                    o[p][0] = b->out[p][0], o[p][1] = in_place ? o[p][0] : b->out[p][1];
                    memcpy(o[p][0], x, (size_t)n * sizeof *x);
                    memset(b->out[p][1], 0, (size_t)n * sizeof *x);
                    qat_cpu_bias_act_row(p ? SCALAR : NEON, o[p][0], with_bias ? y : NULL, n, gelu, o[p][1]);
                }
                snprintf(what, sizeof what, "bias_act gelu=%d bias=%d in_place=%d", gelu, with_bias, in_place);
                SAME(t, what, n, b->out[0][0], b->out[1][0], n);
                SAME(t, what, n, b->out[0][1], b->out[1][1], n);
            }
    for (int p = 0; p < 2; p++)
        qat_cpu_gelu_bwd_run(p ? SCALAR : NEON, y, x, n, b->out[p][0]);
    SAME(t, "gelu_bwd", n, b->out[0][0], b->out[1][0], n);

    /* the softmax: plain, and with a padding mask as the model makes it
     * (-10000) and -inf keys */
    for (int64_t j = 0; j < n; j++)
        c[j] = j % 5 == 3 ? -10000.0f : j % 11 == 4 ? -INFINITY : 0.0f;
    for (int masked = 0; masked <= 1; masked++) {
        for (int p = 0; p < 2; p++) {
            memcpy(b->out[p][0], x, (size_t)n * sizeof *x);
            qat_cpu_softmax_row(p ? SCALAR : NEON, b->out[p][0], masked ? c : NULL, n);
        }
        SAME(t, masked ? "softmax_row masked" : "softmax_row", n, b->out[0][0], b->out[1][0], n);
        /* 1..ROWS rows (SOFTMAX_ROWS at a time and one by one) at a stride
         * with a gap, which must stay as it was */
        for (int64_t rows = 1; rows <= ROWS; rows += 2) {
            const int64_t lds = n + 3, total = (rows - 1) * lds + n;
            for (int p = 0; p < 2; p++) {
                fill(&(tally){.seed = 7u}, b->out[p][1], total, pattern);
                for (int64_t r = 0; r < rows; r++)
                    memcpy(b->out[p][1] + r * lds, r % 2 ? w : x, (size_t)n * sizeof *x);
                qat_cpu_softmax_rows(p ? SCALAR : NEON, b->out[p][1], lds, rows, masked ? c : NULL, n);
            }
            SAME(t, masked ? "softmax_rows masked" : "softmax_rows", n, b->out[0][1], b->out[1][1], total);
        }
    }

    float stats[2][2];
    for (int p = 0; p < 2; p++)
        qat_cpu_layernorm_row(p ? SCALAR : NEON, x, w, y, 1e-12f, n, b->out[p][0], &stats[p][0], &stats[p][1]);
    SAME(t, "layernorm_row y", n, b->out[0][0], b->out[1][0], n);
    SAME(t, "layernorm_row mean, rstd", n, stats[0], stats[1], 2);

    for (int in_place = 0; in_place <= 1; in_place++) {
        for (int p = 0; p < 2; p++) {
            memcpy(b->out[p][0], x, (size_t)n * sizeof *x);
            qat_cpu_add_run(p ? SCALAR : NEON, b->out[p][0], y, in_place ? b->out[p][0] : b->out[p][1], n);
        }
        SAME(t, in_place ? "add in place" : "add", n, b->out[0][in_place ? 0 : 1], b->out[1][in_place ? 0 : 1], n);
    }

    double sums[2][2];
    for (int p = 0; p < 2; p++) {
        sums[p][0] = qat_cpu_abs_sum_row(p ? SCALAR : NEON, x, n);
        sums[p][1] = qat_cpu_square_sum_row(p ? SCALAR : NEON, x, n);
    }
    SAME(t, "abs_sum_row, square_sum_row", n, sums[0], sums[1], 2);

    for (int p = 0; p < 2; p++) {
        qat_cpu_bitnet_weight_row(p ? SCALAR : NEON, x, n, 0.37f, b->out[p][0]);
        qat_cpu_bitnet_act_row(p ? SCALAR : NEON, x, n, 127.0f, -128.0f, b->out[p][1]);
    }
    SAME(t, "bitnet_weight_row", n, b->out[0][0], b->out[1][0], n);
    SAME(t, "bitnet_act_row", n, b->out[0][1], b->out[1][1], n);
    if (pattern == PLAIN) {
        /* A lone NaN, which the absmax passes over (MAX is maxps's: the
         * second operand when either is NaN, where vmaxq_f32 gives the NaN):
         * the one case where MIN and MAX meet a NaN that decides more than
         * its own lane. */
        memcpy(c, x, (size_t)n * sizeof *x);
        c[n / 2] = NAN;
        for (int p = 0; p < 2; p++)
            qat_cpu_bitnet_act_row(p ? SCALAR : NEON, c, n, 127.0f, -128.0f, b->out[p][1]);
        SAME(t, "bitnet_act_row, a NaN", n, b->out[0][1], b->out[1][1], n);
    }

    const float beta = 0.3f;
    for (int with_beta = 0; with_beta <= 1; with_beta++) {
        double lsq[2][2];
        for (int p = 0; p < 2; p++) {
            qat_cpu_lsq_fwd_row(p ? SCALAR : NEON, x, n, 0.25f, 1e-5f, with_beta ? &beta : NULL, -8.0f, 7.0f,
                                b->out[p][0]);
            qat_cpu_lsq_bwd_row(p ? SCALAR : NEON, x, y, n, 0.25f, with_beta ? &beta : NULL, -8.0f, 7.0f,
                                b->out[p][1], &lsq[p][0], &lsq[p][1]);
        }
        SAME(t, with_beta ? "lsq_fwd_row beta" : "lsq_fwd_row", n, b->out[0][0], b->out[1][0], n);
        SAME(t, with_beta ? "lsq_bwd_row beta dx" : "lsq_bwd_row dx", n, b->out[0][1], b->out[1][1], n);
        SAME(t, with_beta ? "lsq_bwd_row beta sums" : "lsq_bwd_row sums", n, lsq[0], lsq[1], 2);
    }
}

/* The slots over ROWS rows of n: state[0] on NEON, state[1] scalar (ref's kernels). */
static void check_slots(tally *t, const bufs *b, void *const state[2], int64_t n, int pattern)
{
    const int64_t all = ROWS * n;
    float *x = b->in[0], *dy = b->in[1], *w = b->in[2], *e = b->in[3];
    fill(t, x, all, pattern);
    fill(t, dy, all, pattern);
    fill(t, w, all, pattern);
    fill(t, e, all, PLAIN);

    /* AdamW over three tensors (decay; none; a positive step) splitting the
     * ROWS * n elements, without and with a clipping scale */
    const int64_t bounds[6] = {0, n, n, n + n / 2, n + n / 2, all};
    const uint8_t flags[3] = {QAT_SEGMENT_DECAY, 0, QAT_SEGMENT_POSITIVE | QAT_SEGMENT_DECAY};
    const qat_segments seg = {3, bounds, flags};
    const float clip = 0.5f;
    for (int scaled = 0; scaled <= 1; scaled++) {
        const qat_adamw_desc d = {.decay = 0.99f, .b1 = 0.9f, .one_minus_b1 = 0.1f, .b2 = 0.999f,
                                  .one_minus_b2 = 0.001f, .neg_step_size = -1e-3f, .bc2_sqrt = 0.0316f,
                                  .eps = 1e-8f, .scale = scaled ? &clip : NULL};
        for (int p = 0; p < 2; p++) {
            float *param = b->out[p][0], *grad = b->out[p][1], *m = b->out[p][2], *v = b->out[p][3];
            memcpy(param, x, (size_t)all * sizeof *x);
            memcpy(grad, dy, (size_t)all * sizeof *x);
            memcpy(m, w, (size_t)all * sizeof *x);
            for (int64_t i = 0; i < all; i++)
                v[i] = e[i] * e[i];
            if (qat_cpu_adamw(state[p], &d, &seg, param, grad, m, v) != QAT_OK)
                printf("adamw failed: %s\n", qat_last_error());
        }
        for (int o = 0; o < 4; o++)
            SAME(t, scaled ? "adamw scaled" : "adamw", n, b->out[0][o], b->out[1][o], all);
    }

    float norm[2][2]; /* the norm, the clipping coefficient */
    for (int p = 0; p < 2; p++)
        qat_cpu_grad_norm(state[p], &seg, x, 1.0f, norm[p]);
    SAME(t, "grad_norm", n, norm[0], norm[1], 2);

    /* LayerNorm backward from the forward's statistics; dw, db accumulate */
    float mean[ROWS], rstd[ROWS];
    qat_cpu_layernorm_fwd(state[1], x, w, dy, 1e-12f, ROWS, n, e, mean, rstd);
    for (int p = 0; p < 2; p++) {
        memcpy(b->out[p][1], w, (size_t)n * sizeof *w);
        memcpy(b->out[p][2], dy, (size_t)n * sizeof *w);
        qat_cpu_layernorm_bwd(state[p], dy, x, w, mean, rstd, ROWS, n, b->out[p][0], b->out[p][1], b->out[p][2]);
    }
    SAME(t, "layernorm_bwd dx", n, b->out[0][0], b->out[1][0], all);
    SAME(t, "layernorm_bwd dw", n, b->out[0][1], b->out[1][1], n);
    SAME(t, "layernorm_bwd db", n, b->out[0][2], b->out[1][2], n);

    /* the softmax backward on probabilities */
    memcpy(e, x, (size_t)all * sizeof *x);
    qat_cpu_softmax_fwd(state[1], e, NULL, 1, 1, ROWS, n);
    for (int p = 0; p < 2; p++) {
        qat_cpu_softmax_bwd(state[p], dy, e, ROWS, n, b->out[p][0]);
        memcpy(b->out[p][1], w, (size_t)n * sizeof *w);
        qat_cpu_bias_grad(state[p], dy, ROWS, n, b->out[p][1]);
        memcpy(b->out[p][2], x, (size_t)all * sizeof *x);
        qat_cpu_dropout(state[p], b->out[p][2], all, 0.1f, 0x1234567890abcdefull + (uint64_t)n);
    }
    SAME(t, "softmax_bwd", n, b->out[0][0], b->out[1][0], all);
    SAME(t, "bias_grad", n, b->out[0][1], b->out[1][1], n);
    SAME(t, "dropout", n, b->out[0][2], b->out[1][2], all);
}

/* Fused attention, 2 sequences x 3 heads, q, k, v rows interleaved in one
 * [tokens, 3 H] buffer as the model's QKV projection writes them. */
static void check_attention(tally *t, const bufs *b, void *const state[2], int64_t lq, int64_t lk, int64_t dh,
                            int masked, int training)
{
    enum { B = 2, HEADS = 3 };
    const int64_t hidden = HEADS * dh, ld = 3 * hidden, tokens = B * (lq > lk ? lq : lk);
    float *qkv = b->in[0], *bias = b->in[1];
    fill(t, qkv, tokens * ld, PLAIN);
    for (int64_t i = 0; i < B * lk; i++) /* the second sequence padded after its first half */
        bias[i] = i >= lk + (lk + 1) / 2 ? -10000.0f : 0.0f;
    if (masked && lk > 2)
        bias[1] = -INFINITY;
    for (int p = 0; p < 2; p++) {
        const qat_attention_desc d = {B, HEADS, lq, lk, dh, 1.0f / sqrtf((float)dh), qkv, ld, qkv + hidden, ld,
                                      qkv + 2 * hidden, ld, masked ? bias : NULL, b->out[p][0], hidden};
        memset(b->out[p][0], 0, (size_t)(B * lq * hidden) * sizeof(float));
        if (qat_cpu_attention_fwd(state[p], &d) != QAT_OK)
            printf("attention failed: %s\n", qat_last_error());
    }
    char what[96];
    snprintf(what, sizeof what, "attention lq=%lld lk=%lld head_dim=%lld%s", (long long)lq, (long long)lk,
             (long long)dh, masked ? " masked" : "");
    SAME(t, what, lk, b->out[0][0], b->out[1][0], B * lq * hidden);
    if (!training)
        return;

    /* The training slots with attention dropout: out, then dq, dk, dv
     * (out[p][1..3]) from a gradient dout in in[2]. */
    float *dout = b->in[2];
    fill(t, dout, B * lq * hidden, PLAIN);
    for (int p = 0; p < 2; p++) {
        const qat_attention_train_desc d = {
            .a = {B, HEADS, lq, lk, dh, 1.0f / sqrtf((float)dh), qkv, ld, qkv + hidden, ld, qkv + 2 * hidden, ld,
                  masked ? bias : NULL, b->out[p][0], hidden},
            .dropout = 0.1f, .seed = 5, .dout = dout, .lddo = hidden,
            .dq = b->out[p][1], .dk = b->out[p][2], .dv = b->out[p][3], .ldg = hidden};
        if (qat_cpu_attention_train_fwd(state[p], &d) != QAT_OK || qat_cpu_attention_bwd(state[p], &d) != QAT_OK)
            printf("training attention failed: %s\n", qat_last_error());
    }
    snprintf(what, sizeof what, "training attention lq=%lld lk=%lld head_dim=%lld%s", (long long)lq, (long long)lk,
             (long long)dh, masked ? " masked" : "");
    SAME(t, what, lk, b->out[0][0], b->out[1][0], B * lq * hidden);
    SAME(t, what, lk, b->out[0][1], b->out[1][1], B * lq * hidden);
    SAME(t, what, lk, b->out[0][2], b->out[1][2], B * lk * hidden);
    SAME(t, what, lk, b->out[0][3], b->out[1][3], B * lk * hidden);
}

/* QAT_ISA on AArch64: neon unless scalar; a path this CPU lacks refused
 * (neon and i8mm name the packed kernels' dot-product paths). The number
 * of wrong answers. */
static int check_env(void)
{
    static const char *const values[] = {NULL, "auto", "scalar", "neon", "i8mm", "avx2"};
    int wrong = 0;
    for (int i = 0; i < COUNT(values); i++) {
        if (values[i])
            setenv("QAT_ISA", values[i], 1);
        else
            unsetenv("QAT_ISA");
        qat_packed_isa named = QAT_PACKED_ISA_AUTO;
        for (int k = QAT_PACKED_ISA_SCALAR; values[i] && k < QAT_PACKED_ISA_COUNT; k++)
            if (strcmp(values[i], qat_packed_isa_name((qat_packed_isa)k)) == 0)
                named = (qat_packed_isa)k;
        const char *want = !qat_packed_isa_available(named)     ? "refused"
                         : named == QAT_PACKED_ISA_SCALAR ? "scalar"
                                                          : "neon";
        qat_cpu_float_isa isa = QAT_CPU_FLOAT_AVX2;
        const qat_status st = qat_cpu_float_isa_from_env(&isa);
        const char *got = st != QAT_OK ? "refused" : qat_cpu_float_isa_name(isa);
        printf("QAT_ISA=%s: float path %s%s\n", values[i] ? values[i] : "(unset)", got,
               strcmp(got, want) ? " (WRONG)" : "");
        wrong += strcmp(got, want) != 0;
    }
    unsetenv("QAT_ISA");
    return wrong;
}

/* The skinny GEMM's vector twin (B not transposed) against
 * cpu_gemm_skinny.c's loop: m x n (n the narrow side, every tail of 4
 * lanes) x k (k not a multiple of its eight partial sums too), A
 * transposed or not, beta 0 and 0.5. */
static void check_skinny(tally *t, const bufs *b)
{
    static const int64_t ms[] = {1, 5, 42}, ns[] = {1, 3, 4, 7, 16, 37}, ks[] = {1, 8, 19, 42};
    for (int i = 0; i < COUNT(ms); i++)
        for (int j = 0; j < COUNT(ns); j++)
            for (int h = 0; h < COUNT(ks); h++)
                for (int v = 0; v < 4; v++) {
                    const int64_t m = ms[i], n = ns[j], k = ks[h];
                    const int ta = v & 1;
                    const float beta = v >> 1 ? 0.5f : 0.0f;
                    const int64_t lda = (ta ? m : k) + 1, ldb = n + 2, ldc = n + 3;
                    fill(t, b->in[0], (ta ? k : m) * lda, PLAIN);
                    fill(t, b->in[1], k * ldb, PLAIN);
                    fill(t, b->out[0][0], m * ldc, PLAIN);
                    memcpy(b->out[1][0], b->out[0][0], (size_t)(m * ldc) * sizeof(float));
                    qat_cpu_gemm_skinny_nb_neon(ta, m, n, k, 0.75f, b->in[0], lda, b->in[1], ldb, beta, b->out[0][0],
                                                ldc);
                    qat_cpu_gemm_skinny(ta, 0, m, n, k, 0.75f, b->in[0], lda, b->in[1], ldb, beta, b->out[1][0], ldc);
                    SAME(t, ta ? "skinny gemm, A transposed" : "skinny gemm", n, b->out[0][0], b->out[1][0], m * ldc);
                }
}

int main(void)
{
    tally t = {.seed = 12345u};
    bufs b;
    const size_t floats = BUF_FLOATS;
    for (int i = 0; i < 4; i++) {
        b.in[i] = malloc(floats * sizeof(float));
        b.out[0][i] = malloc(floats * sizeof(float));
        b.out[1][i] = malloc(floats * sizeof(float));
        if (!b.in[i] || !b.out[0][i] || !b.out[1][i]) {
            printf("out of memory\n");
            return 1;
        }
    }
    int wrong = check_env();
    void *state[3][2];
    for (int s = 0; s < 3; s++) /* NEON with 1, 2 and 3 threads against scalar with 1 */
        for (int p = 0; p < 2; p++) {
            if (qat_cpu_state_create(p ? 1 : s + 1, &state[s][p]) != QAT_OK) {
                printf("cpu state: %s\n", qat_last_error());
                return 1;
            }
            ((qat_cpu_state *)state[s][p])->isa = p ? SCALAR : NEON;
        }
    static const int64_t large[] = {256, 1000, 4096, 4097, MAX_N};
    for (int64_t k = 1; k <= 67 + COUNT(large); k++) {
        const int64_t n = k <= 67 ? k : large[k - 68];
        for (int pattern = PLAIN; pattern < PATTERNS; pattern++) {
            t.pattern = pattern;
            check_rows(&t, &b, n, pattern);
            if (pattern != BRANCHES)
                check_slots(&t, &b, state[k % 3], n, pattern);
        }
    }
    t.pattern = PLAIN;
    check_skinny(&t, &b);
    static const int64_t lq[] = {1, 5, 13, 70}, lk[] = {1, 3, 16, 17, 40, 129}, dh[] = {1, 3, 4, 7, 16, 32, 33, 64};
    for (int i = 0; i < COUNT(lq); i++)
        for (int j = 0; j < COUNT(lk); j++)
            for (int h = 0; h < COUNT(dh); h++)
                for (int masked = 0; masked <= 1; masked++)
                    check_attention(&t, &b, state[(i + j + h) % 3], lq[i], lk[j], dh[h], masked,
                                    (i + j + h + masked) % 8 == 0); /* an eighth of the shapes: qemu is slow */
    for (int s = 0; s < 3; s++)
        for (int p = 0; p < 2; p++)
            qat_cpu_state_destroy(state[s][p]);
    for (int i = 0; i < 4; i++)
        free(b.in[i]), free(b.out[0][i]), free(b.out[1][i]);
    printf("neon vs scalar: %d cases, %d mismatches (%d cases equal but for NaN payloads, with NaN kinds inputs);"
           " QAT_ISA mapping: %d wrong\n", t.cases, t.bad, t.nan_payloads, wrong);
    return t.bad || wrong ? 1 : 0;
}
