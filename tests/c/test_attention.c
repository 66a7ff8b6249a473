/* The fused attention slots. attention_fwd: PyTorch parity
 * (gen_attention_ref.py: softmax(QK^T / sqrt(dh) + mask) V, transformers'
 * inference attention), the unfused composition it replaces (gemm,
 * softmax_fwd, gemm on the same backend), and the cpu backend's blocked
 * paths (every ISA this CPU has, 1 and 2 threads) bit for bit equal to
 * ref's. attention_train_fwd and attention_bwd: out, dq, dk, dv against
 * torch.autograd on the same cases (no dropout), the cpu paths bit for bit
 * ref's with attention dropout, the descriptors' checks. The golden file's
 * path comes in QAT_GOLDEN_ATTENTION. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/dispatch.h"
#include "core/context.h"
#include "model/encoder_walk.h"
#include "model/graph.h"
#include "packed/packed.h"
#include "qat/qat.h"
#include "golden_file.h"
#include "test_main.h"

typedef struct att_case {
    int B, heads, lq, lk, dh, ld;
    int32_t *mask;
    float *q, *k, *v, *want; /* want: [B*lq, heads*dh] */
    float *dout, *dq, *dk, *dv; /* torch's, rows of heads*dh */
    float *key_bias;
} att_case;

static att_case *read_cases(int *count)
{
    uint32_t n;
    FILE *f = golden_open("QAT_GOLDEN_ATTENTION", "QATT", &n);
    att_case *c = calloc(n, sizeof *c);
    for (uint32_t i = 0; i < n; i++) {
        int32_t h[6];
        golden_read(f, h, sizeof h);
        c[i] = (att_case){.B = h[0], .heads = h[1], .lq = h[2], .lk = h[3], .dh = h[4], .ld = h[5]};
        const size_t B = (size_t)h[0], lq = (size_t)h[2], lk = (size_t)h[3], ld = (size_t)h[5];
        c[i].mask = malloc(B * lk * sizeof(int32_t));
        golden_read(f, c[i].mask, B * lk * sizeof(int32_t));
        c[i].q = golden_floats(f, B * lq * ld);
        c[i].k = golden_floats(f, B * lk * ld);
        c[i].v = golden_floats(f, B * lk * ld);
        const size_t width = (size_t)(h[1] * h[4]);
        c[i].want = golden_floats(f, B * lq * width);
        c[i].dout = golden_floats(f, B * lq * width);
        c[i].dq = golden_floats(f, B * lq * width);
        c[i].dk = golden_floats(f, B * lk * width);
        c[i].dv = golden_floats(f, B * lk * width);
        c[i].key_bias = malloc(B * lk * sizeof(float));
        for (size_t j = 0; j < B * lk; j++)
            c[i].key_bias[j] = c[i].mask[j] ? 0.0f : QAT_MASKED_SCORE;
    }
    fclose(f);
    *count = (int)n;
    return c;
}

static void free_cases(att_case *c, int n)
{
    for (int i = 0; i < n; i++) {
        free(c[i].mask), free(c[i].q), free(c[i].k), free(c[i].v), free(c[i].want), free(c[i].key_bias);
        free(c[i].dout), free(c[i].dq), free(c[i].dk), free(c[i].dv);
    }
    free(c);
}

static qat_context *context(const char *backend, int threads)
{
    qat_context *ctx;
    QAT_ASSERT_OK(qat_context_create(backend, &ctx));
    QAT_ASSERT_OK(qat_context_set_int(ctx, QAT_CTX_THREADS, threads));
    return ctx;
}

/* out [B*lq, ldo]: the slot's result; ldo > heads*dh so a write past a
 * head's columns shows in the guard columns. */
static float *fused(qat_context *ctx, const att_case *c, int64_t ldo)
{
    const size_t n = (size_t)(c->B * c->lq) * (size_t)ldo;
    float *out = malloc(n * sizeof *out);
    for (size_t i = 0; i < n; i++)
        out[i] = 1234.5f;
    const qat_attention_desc d = {.batch = c->B, .heads = c->heads, .lq = c->lq, .lk = c->lk,
                                  .head_dim = c->dh, .scale = 1.0f / sqrtf((float)c->dh),
                                  .q = c->q, .ldq = c->ld, .k = c->k, .ldk = c->ld, .v = c->v, .ldv = c->ld,
                                  .key_bias = c->key_bias, .out = out, .ldo = ldo};
    QAT_ASSERT_OK(QAT_KERNEL(ctx, attention_fwd, &d));
    for (int64_t r = 0; r < c->B * c->lq; r++)
        for (int64_t j = (int64_t)c->heads * c->dh; j < ldo; j++)
            ck_assert_msg(out[r * ldo + j] == 1234.5f, "attention_fwd wrote past heads x head_dim (row %lld)",
                          (long long)r);
    return out;
}

/* What the packed forward ran before the slot: QK^T by gemm into
 * [B, heads, lq, lk], softmax_fwd with the key bias, then PV by gemm. */
static float *unfused(qat_context *ctx, const att_case *c, int64_t ldo)
{
    const int64_t B = c->B, NH = c->heads, lq = c->lq, lk = c->lk, dh = c->dh, ld = c->ld;
    float *probs = malloc((size_t)(B * NH * lq * lk) * sizeof(float));
    float *out = calloc((size_t)(B * lq * ldo), sizeof(float));
    for (int64_t b = 0; b < B; b++)
        QAT_ASSERT_OK(graph_gemm_batched(ctx, 0, 1, lq, lk, dh, 1.0f / sqrtf((float)dh), c->q + b * lq * ld, ld, dh,
                                         c->k + b * lk * ld, ld, dh, 0.0f, probs + b * NH * lq * lk, lk, lq * lk,
                                         NH));
    QAT_ASSERT_OK(QAT_KERNEL(ctx, softmax_fwd, probs, c->key_bias, B, NH, lq, lk));
    for (int64_t b = 0; b < B; b++)
        QAT_ASSERT_OK(graph_gemm_batched(ctx, 0, 0, lq, dh, lk, 1.0f, probs + b * NH * lq * lk, lk, lq * lk,
                                         c->v + b * lk * ld, ld, dh, 0.0f, out + b * lq * ldo, ldo, dh, NH));
    free(probs);
    return out;
}

/* |got - want| <= tol * (1 + |want|) over the heads' columns. */
static void assert_close(const att_case *c, int index, const float *got, int64_t ldg, const float *want,
                         int64_t ldw, float tol, const char *what)
{
    const int64_t width = (int64_t)c->heads * c->dh;
    for (int64_t r = 0; r < (int64_t)c->B * c->lq; r++)
        for (int64_t j = 0; j < width; j++) {
            const float g = got[r * ldg + j], w = want[r * ldw + j];
            ck_assert_msg(fabsf(g - w) <= tol * (1.0f + fabsf(w)), "case %d, %s: [%lld, %lld] = %.9g, expected %.9g",
                          index, what, (long long)r, (long long)j, g, w);
        }
}

static void assert_close_n(int index, const float *got, const float *want, size_t n, float tol, const char *what)
{
    for (size_t e = 0; e < n; e++)
        ck_assert_msg(fabsf(got[e] - want[e]) <= tol * (1.0f + fabsf(want[e])), "case %d, %s: [%zu] = %.9g, expected %.9g",
                      index, what, e, got[e], want[e]);
}

/* The training slots' outputs on one case: out, dq, dk, dv. */
typedef struct train_out {
    float *out, *dq, *dk, *dv;
    size_t nq, nk;
} train_out;

static train_out train_run(qat_context *ctx, const att_case *c, float dropout)
{
    const int64_t width = (int64_t)c->heads * c->dh;
    train_out t = {.nq = (size_t)(c->B * c->lq * width), .nk = (size_t)(c->B * c->lk * width)};
    t.out = malloc(t.nq * sizeof(float));
    t.dq = malloc(t.nq * sizeof(float)), t.dk = malloc(t.nk * sizeof(float)), t.dv = malloc(t.nk * sizeof(float));
    for (size_t e = 0; e < t.nk; e++)
        t.dk[e] = t.dv[e] = NAN; /* written, not accumulated */
    const qat_attention_train_desc d = {
        .a = {.batch = c->B, .heads = c->heads, .lq = c->lq, .lk = c->lk, .head_dim = c->dh,
              .scale = 1.0f / sqrtf((float)c->dh), .q = c->q, .ldq = c->ld, .k = c->k, .ldk = c->ld, .v = c->v,
              .ldv = c->ld, .key_bias = c->key_bias, .out = t.out, .ldo = width},
        .dropout = dropout, .seed = 77, .dout = c->dout, .lddo = width, .dq = t.dq,
        .dk = t.dk, .dv = t.dv, .ldg = width};
    QAT_ASSERT_OK(QAT_KERNEL(ctx, attention_train_fwd, &d));
    QAT_ASSERT_OK(QAT_KERNEL(ctx, attention_bwd, &d));
    return t;
}

static void train_free(train_out *t)
{
    free(t->out), free(t->dq), free(t->dk), free(t->dv);
}

START_TEST(fused_attention_matches_torch_and_the_unfused_kernels)
{
    int n;
    att_case *cs = read_cases(&n);
    const char *backends[] = {"ref", "cpu"};
    for (int bi = 0; bi < 2; bi++) {
#ifndef QAT_TEST_HAVE_ONEDNN
        if (bi == 1)
            break;
#endif
        qat_context *ctx = context(backends[bi], 2);
        for (int i = 0; i < n; i++) {
            const att_case *c = &cs[i];
            const int64_t ldo = (int64_t)c->heads * c->dh + 3;
            float *got = fused(ctx, c, ldo), *old = unfused(ctx, c, ldo);
            /* Raw scores reach |30| here; an fp32 rounding of one (1e-6
             * absolute) scales its probability by 1 + 1e-6, and sums of 64
             * products in another order differ by a few of those. */
            assert_close(c, i, got, ldo, c->want, (int64_t)c->heads * c->dh, 1e-5f, "fused vs torch");
            assert_close(c, i, got, ldo, old, ldo, 1e-5f, "fused vs unfused");
            free(got), free(old);
            /* The training slots against torch.autograd: the same
             * tolerance; the gradients sum lk or lq products of those. */
            train_out t = train_run(ctx, c, 0.0f);
            assert_close_n(i, t.out, c->want, t.nq, 1e-5f, "training out");
            assert_close_n(i, t.dq, c->dq, t.nq, 2e-5f, "dq");
            assert_close_n(i, t.dk, c->dk, t.nk, 2e-5f, "dk");
            assert_close_n(i, t.dv, c->dv, t.nk, 2e-5f, "dv");
            train_free(&t);
        }
        qat_context_free(ctx);
    }
    free_cases(cs, n);
}
END_TEST

/* A sequence whose every key is masked attends to all keys equally (the
 * scores all become -FLT_MAX): its context is the mean of v, as in
 * transformers. */
START_TEST(fully_masked_sequence_averages_the_values)
{
    int n;
    att_case *cs = read_cases(&n);
    const att_case *c = &cs[2];
    ck_assert_msg(c->mask[(c->B - 1) * c->lk] == 0, "golden case 2 lost its fully masked sequence");
    qat_context *ctx = context("ref", 1);
    const int64_t width = (int64_t)c->heads * c->dh, b = c->B - 1;
    float *got = fused(ctx, c, width);
    for (int64_t i = 0; i < c->lq; i++)
        for (int64_t j = 0; j < width; j++) {
            double mean = 0.0;
            for (int64_t t = 0; t < c->lk; t++)
                mean += c->v[(b * c->lk + t) * c->ld + j];
            mean /= c->lk;
            const float g = got[(b * c->lq + i) * width + j];
            ck_assert_msg(fabs(g - mean) <= 1e-5, "row %lld col %lld: %.9g, mean of v %.9g", (long long)i,
                          (long long)j, g, mean);
        }
    free(got);
    qat_context_free(ctx);
    free_cases(cs, n);
}
END_TEST

#ifdef QAT_TEST_HAVE_ONEDNN
/* Bit for bit: the cpu backend's paths (QAT_ISA) with 1 and 2 threads
 * against ref's row-at-a-time oracle. */
START_TEST(cpu_paths_are_bit_identical_to_ref)
{
    int n;
    att_case *cs = read_cases(&n);
    qat_context *ref = context("ref", 1);
    /* The cpu backend's float paths, as QAT_ISA names them; one the CPU
     * lacks is skipped with lib/packed's reason (its detection is the one
     * the cpu backend's state asks). */
#if defined(__aarch64__)
    const qat_packed_isa paths[] = {QAT_PACKED_ISA_SCALAR, QAT_PACKED_ISA_AUTO}; /* auto: NEON on every AArch64 CPU */
#else
    const qat_packed_isa paths[] = {QAT_PACKED_ISA_SCALAR, QAT_PACKED_ISA_AVX2, QAT_PACKED_ISA_AVX512VNNI};
#endif
    /* The training slots' ref results, with attention dropout, once. */
    train_out *tw = malloc((size_t)n * sizeof *tw);
    for (int i = 0; i < n; i++)
        tw[i] = train_run(ref, &cs[i], 0.1f);
    for (int ii = 0; ii < (int)(sizeof paths / sizeof paths[0]); ii++) {
        const char *isa = qat_packed_isa_name(paths[ii]);
        if (!qat_packed_isa_available(paths[ii])) {
            printf("skip QAT_ISA=%s: %s\n", isa, qat_packed_isa_missing(paths[ii]));
            continue;
        }
        setenv("QAT_ISA", isa, 1);
        for (int threads = 1; threads <= 2; threads++) {
            qat_context *cpu = context("cpu", threads);
            for (int i = 0; i < n; i++) {
                const int64_t ldo = (int64_t)cs[i].heads * cs[i].dh;
                float *want = fused(ref, &cs[i], ldo), *got = fused(cpu, &cs[i], ldo);
                for (int64_t e = 0; e < (int64_t)cs[i].B * cs[i].lq * ldo; e++)
                    ck_assert_msg(memcmp(&got[e], &want[e], sizeof(float)) == 0,
                                  "QAT_ISA=%s, %d threads, case %d: element %lld is %.9g, ref %.9g", isa,
                                  threads, i, (long long)e, got[e], want[e]);
                free(want), free(got);
                /* The training slots, with attention dropout: each case on
                 * one of the two thread counts, alternating, so both meet
                 * every size class (under valgrind these are most of the
                 * test's time). */
                if (i % 2 != threads % 2)
                    continue;
                train_out tg = train_run(cpu, &cs[i], 0.1f);
                const float *w[4] = {tw[i].out, tw[i].dq, tw[i].dk, tw[i].dv};
                const float *g[4] = {tg.out, tg.dq, tg.dk, tg.dv};
                const size_t len[4] = {tg.nq, tg.nq, tg.nk, tg.nk};
                const char *names[4] = {"out", "dq", "dk", "dv"};
                for (int o = 0; o < 4; o++)
                    for (size_t e = 0; e < len[o]; e++)
                        ck_assert_msg(memcmp(&g[o][e], &w[o][e], sizeof(float)) == 0,
                                      "QAT_ISA=%s, %d threads, case %d: training %s[%zu] is %.9g, ref %.9g", isa,
                                      threads, i, names[o], e, g[o][e], w[o][e]);
                train_free(&tg);
            }
            qat_context_free(cpu);
        }
    }
    for (int i = 0; i < n; i++)
        train_free(&tw[i]);
    free(tw);
    unsetenv("QAT_ISA");
    qat_context_free(ref);
    free_cases(cs, n);
}
END_TEST
#endif

/* |got - want| <= tol * (1 + |want|) over n floats. */

START_TEST(bad_training_descriptors_are_rejected)
{
    qat_context *ctx = context("ref", 1);
    float x[64] = {0}, g[64];
    qat_attention_train_desc d = {
        .a = {.batch = 1, .heads = 2, .lq = 2, .lk = 2, .head_dim = 4, .scale = 1.0f, .q = x, .ldq = 8, .k = x,
              .ldk = 8, .v = x, .ldv = 8, .out = g, .ldo = 8},
        .dropout = 0.1f, .dout = x, .lddo = 8, .dq = g + 16, .dk = g + 32, .dv = g + 48, .ldg = 8};
    d.dropout = 1.0f;
    QAT_ASSERT_FAILS(QAT_KERNEL(ctx, attention_train_fwd, &d), QAT_ERR_INVALID_ARGUMENT, "dropout");
    d.dropout = 0.1f, d.a.out = NULL;
    QAT_ASSERT_FAILS(QAT_KERNEL(ctx, attention_train_fwd, &d), QAT_ERR_INVALID_ARGUMENT, "NULL q, k, v or out");
    d.a.out = g, d.a.ldk = 7;
    QAT_ASSERT_FAILS(QAT_KERNEL(ctx, attention_bwd, &d), QAT_ERR_INVALID_ARGUMENT, "row strides");
    d.a.ldk = 8, d.ldg = 7;
    QAT_ASSERT_FAILS(QAT_KERNEL(ctx, attention_bwd, &d), QAT_ERR_INVALID_ARGUMENT, "row strides");
    d.ldg = 8, d.dv = NULL;
    QAT_ASSERT_FAILS(QAT_KERNEL(ctx, attention_bwd, &d), QAT_ERR_INVALID_ARGUMENT, "NULL dout, dq, dk or dv");
    d.dv = g + 48, d.a.out = NULL;
    QAT_ASSERT_FAILS(QAT_KERNEL(ctx, attention_bwd, &d), QAT_ERR_INVALID_ARGUMENT, "NULL q, k, v or out");
    d.a.out = g, d.a.lk = 0;
    QAT_ASSERT_FAILS(QAT_KERNEL(ctx, attention_train_fwd, &d), QAT_ERR_INVALID_ARGUMENT, "no keys");
    d.a.lk = 2;
    QAT_ASSERT_OK(QAT_KERNEL(ctx, attention_train_fwd, &d));
    QAT_ASSERT_OK(QAT_KERNEL(ctx, attention_bwd, &d));
    /* No query rows: the forward has nothing to do, the backward writes dk
     * and dv (zeros: no row attends to the keys). */
    for (int i = 32; i < 64; i++)
        g[i] = NAN;
    d.a.lq = 0;
    QAT_ASSERT_OK(QAT_KERNEL(ctx, attention_train_fwd, &d));
    QAT_ASSERT_OK(QAT_KERNEL(ctx, attention_bwd, &d));
    for (int i = 32; i < 64; i++)
        ck_assert_msg(g[i] == 0.0f, "lq = 0: dk / dv[%d] = %g, expected 0", i - 32, (double)g[i]);
    qat_context_free(ctx);
}
END_TEST

START_TEST(bad_descriptors_are_rejected)
{
    qat_context *ctx = context("ref", 1);
    float x[64] = {0};
    qat_attention_desc d = {.batch = 1, .heads = 2, .lq = 2, .lk = 2, .head_dim = 4, .scale = 1.0f, .q = x,
                            .ldq = 8, .k = x, .ldk = 8, .v = x, .ldv = 8, .out = x + 32, .ldo = 8};
    d.ldk = 7;
    QAT_ASSERT_FAILS(QAT_KERNEL(ctx, attention_fwd, &d), QAT_ERR_INVALID_ARGUMENT, "row strides");
    d.ldk = 8, d.lk = 0;
    QAT_ASSERT_FAILS(QAT_KERNEL(ctx, attention_fwd, &d), QAT_ERR_INVALID_ARGUMENT, "no keys");
    d.lk = -1;
    QAT_ASSERT_FAILS(QAT_KERNEL(ctx, attention_fwd, &d), QAT_ERR_INVALID_ARGUMENT, "negative size");
    d.lk = 2, d.v = NULL;
    QAT_ASSERT_FAILS(QAT_KERNEL(ctx, attention_fwd, &d), QAT_ERR_INVALID_ARGUMENT, "NULL");
    qat_context_free(ctx);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("attention");
    TCase *tc = tcase_create("attention");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, fused_attention_matches_torch_and_the_unfused_kernels);
    tcase_add_test(tc, fully_masked_sequence_averages_the_values);
#ifdef QAT_TEST_HAVE_ONEDNN
    tcase_add_test(tc, cpu_paths_are_bit_identical_to_ref);
#endif
    tcase_add_test(tc, bad_descriptors_are_rejected);
    tcase_add_test(tc, bad_training_descriptors_are_rejected);
    suite_add_tcase(s, tc);
    return s;
}
