/* The cpu backend's float kernels (bias + GELU, add, gelu_bwd, softmax_fwd,
 * layernorm_fwd) on every path QAT_ISA selects (scalar, avx2, avx512vnni;
 * a path this CPU lacks is skipped, saying why) with 1 and 3 threads, bit
 * for bit equal to the ref backend: odd widths (0, 1, 7, 17, 33, 773), NaN,
 * infinities (NaN where ref has NaN), huge and tiny values, masked keys.
 * Its skinny GEMMs, on every path, bit for bit equal to its scalar path. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/context.h"
#include "core/rng.h"
#include "cpu/cpu_float.h"
#include "math/float_math.h"
#include "math/row_math.h"
#include "packed/packed.h"
#include "qat/qat.h"
#include "float_compare.h"
#include "test_main.h"
#include "test_device.h"

static const int64_t widths[] = {0, 1, 7, 16, 17, 33, 773};
#define N_WIDTHS (sizeof widths / sizeof widths[0])
enum { ROWS = 90 }; /* 90 x 773: three ranges of qat_host_for, so 3 threads split rows */

/* Runs each kernel on ref and on cpu (created with QAT_ISA = isa) over
 * copies of the same inputs. */
static void compare(const char *isa, int threads)
{
    setenv("QAT_ISA", isa, 1);
    qat_context *cpu = NULL, *ref = NULL;
    QAT_ASSERT_OK(qat_context_create("cpu", &cpu));
    unsetenv("QAT_ISA");
    QAT_ASSERT_OK(qat_context_create("ref", &ref));
    QAT_ASSERT_OK(qat_context_set_int(cpu, QAT_CTX_THREADS, threads));
    QAT_ASSERT_OK(qat_context_set_int(ref, QAT_CTX_THREADS, threads));
    const struct qat_backend_ops *c = cpu->backend.ops, *r = ref->backend.ops;
    void *cs = cpu->backend_state, *rs = ref->backend_state;
    qat_rng rng;
    qat_rng_seed(&rng, 20);
    const int64_t max_n = ROWS * 773;
    float *in = malloc(max_n * sizeof *in), *in2 = malloc(max_n * sizeof *in2), *bias = malloc(773 * sizeof *bias);
    float *xa = malloc(max_n * sizeof *xa), *xb = malloc(max_n * sizeof *xb);
    float *ya = malloc(max_n * sizeof *ya), *yb = malloc(max_n * sizeof *yb);
    float ma[ROWS], mb[ROWS], ra[ROWS], rb[ROWS], kb[2 * 773];
    for (size_t wi = 0; wi < N_WIDTHS; wi++) {
        const int64_t cols = widths[wi], n = ROWS * cols;
        fill_specials(in, n, &rng, 1);
        fill_specials(in2, n, &rng, 0);
        fill_specials(bias, cols, &rng, 0);
        for (int act = QAT_ACTIVATION_NONE; act <= QAT_ACTIVATION_GELU; act++) {
            memcpy(xa, in, n * sizeof *xa);
            memcpy(xb, in, n * sizeof *xb);
            QAT_ASSERT_OK(c->bias_act_fwd(cs, xa, bias, ROWS, cols, (qat_activation)act, ya));
            QAT_ASSERT_OK(r->bias_act_fwd(rs, xb, bias, ROWS, cols, (qat_activation)act, yb));
            SAME_BITS("bias_act_fwd x", xa, xb, n);
            if (act == QAT_ACTIVATION_GELU)
                SAME_BITS("bias_act_fwd GELU", ya, yb, n);
        }
        memcpy(xa, in, n * sizeof *xa); /* no bias: GELU alone */
        QAT_ASSERT_OK(c->bias_act_fwd(cs, xa, NULL, ROWS, cols, QAT_ACTIVATION_GELU, ya));
        QAT_ASSERT_OK(r->bias_act_fwd(rs, xa, NULL, ROWS, cols, QAT_ACTIVATION_GELU, yb));
        SAME_BITS("GELU without bias", ya, yb, n);

        QAT_ASSERT_OK(c->add(cs, in, in2, ya, n));
        QAT_ASSERT_OK(r->add(rs, in, in2, yb, n));
        SAME_BITS("add", ya, yb, n);
        memcpy(xa, in, n * sizeof *xa); /* in place, as the packed forward's residual */
        QAT_ASSERT_OK(c->add(cs, xa, in2, xa, n));
        SAME_BITS("add in place", xa, yb, n);

        QAT_ASSERT_OK(c->gelu_bwd(cs, in2, in, n, ya));
        QAT_ASSERT_OK(r->gelu_bwd(rs, in2, in, n, yb));
        SAME_BITS("gelu_bwd", ya, yb, n);

        /* softmax: 2 sequences x 5 heads x 9 queries; keys masked as the
         * model masks them (-10000) and with -inf; a row of specials too. */
        fill_specials(kb, 2 * cols, &rng, 0);
        for (int64_t j = 0; j < 2 * cols; j++)
            kb[j] = j % 5 == 3 ? -10000.0f : (j % 11 == 4 ? -INFINITY : 0.0f);
        for (int with_bias = 0; with_bias <= 1; with_bias++) {
            memcpy(xa, in, n * sizeof *xa);
            memcpy(xb, in, n * sizeof *xb);
            QAT_ASSERT_OK(c->softmax_fwd(cs, xa, with_bias ? kb : NULL, 2, 5, 9, cols));
            QAT_ASSERT_OK(r->softmax_fwd(rs, xb, with_bias ? kb : NULL, 2, 5, 9, cols));
            SAME_BITS(with_bias ? "softmax_fwd masked" : "softmax_fwd", xa, xb, n);
            /* the published row function is the slot's row */
            memcpy(ya, in, (size_t)cols * sizeof *ya);
            memcpy(yb, in, (size_t)cols * sizeof *yb);
            qat_cpu_float_isa fisa;
            setenv("QAT_ISA", isa, 1);
            QAT_ASSERT_OK(qat_cpu_float_isa_from_env(&fisa));
            unsetenv("QAT_ISA");
            qat_cpu_softmax_row(fisa, ya, with_bias ? kb : NULL, cols);
            qat_softmax_row(yb, with_bias ? kb : NULL, cols);
            SAME_BITS("qat_cpu_softmax_row", ya, yb, cols);
        }

        /* LayerNorm on the plain rows (huge offsets test the float sums) and the special ones */
        for (int specials = 0; specials <= 1; specials++) {
            const float *src = specials ? in : in2;
            for (int64_t i = 0; i < n; i++)
                xa[i] = src[i] + (specials ? 0.0f : 1000.0f * (float)(i / (cols ? cols : 1) % 3));
            QAT_ASSERT_OK(c->layernorm_fwd(cs, xa, bias, in2, 1e-12f, ROWS, cols, ya, ma, ra));
            QAT_ASSERT_OK(r->layernorm_fwd(rs, xa, bias, in2, 1e-12f, ROWS, cols, yb, mb, rb));
            SAME_BITS("layernorm_fwd y", ya, yb, n);
            SAME_BITS("layernorm_fwd mean", ma, mb, ROWS);
            SAME_BITS("layernorm_fwd rstd", ra, rb, ROWS);
        }
    }
    free(in), free(in2), free(bias), free(xa), free(xb), free(ya), free(yb);
    qat_context_free(cpu);
    qat_context_free(ref);
}

START_TEST(every_path_and_thread_count_matches_ref)
{
    FOR_EVERY_PATH(compare)
}
END_TEST

/* The GELU row by erf branch (cpu_float_simd.h packs the lanes of the
 * large branch and runs them apart): rows of small lanes alone, large ones
 * alone, a few large among small, both sides of the branch boundary ulp by
 * ulp, and specials (NaN, infinities, +-0, subnormals, the largest
 * floats); widths with tails and across chunks; with and without bias, in
 * place as the packed forward calls it. Each element against qat_gelu. */
enum { GELU_ROW_MAX = 8192 + 23 };

static float gelu_input(int pattern, int64_t i, qat_rng *rng)
{
    static const float special[] = {NAN,    INFINITY, -INFINITY, 0.0f,     -0.0f,   1e-40f, -1e-40f,
                                    3e38f,  -3e38f,   1e30f,     -1e30f,   5.657f,  -5.657f, 0.875f};
    const float u = qat_rng_uniform(rng);
    /* the x whose x / sqrt 2 is the branch boundary, give or take a rounding */
    const float boundary = QAT_ERF_SPLIT / QAT_SQRT1_2F;
    switch (pattern) {
    case 0: /* small only */
        return u * 2.0f - 1.0f;
    case 1: /* large only */
        return (u < 0.5f ? -1.0f : 1.0f) * (1.3f + 12.0f * u);
    case 2: /* a large lane now and then */
        return i % 61 == 7 ? -3.0f * u - 1.3f : u - 0.5f;
    case 3: { /* 64 ulps either side of the boundary, both signs, among small lanes */
        if (i % 3 == 2)
            return u - 0.5f;
        float b = boundary;
        for (int64_t k = i % 128; k > 0; k--)
            b = nextafterf(b, i % 256 < 128 ? 0.0f : 2.0f);
        return i % 2 ? -b : b;
    }
    default:
        return i % 5 == 1 ? special[(i / 5) % (sizeof special / sizeof special[0])] : u * 16.0f - 8.0f;
    }
}

static void compare_gelu_rows(const char *isa, int threads)
{
    static const int64_t gelu_widths[] = {1, 15, 16, 17, 100, 4096, 4097, GELU_ROW_MAX};
    qat_cpu_float_isa fisa;
    setenv("QAT_ISA", isa, 1);
    QAT_ASSERT_OK(qat_cpu_float_isa_from_env(&fisa));
    unsetenv("QAT_ISA");
    qat_rng rng;
    qat_rng_seed(&rng, 21);
    float *x = malloc(GELU_ROW_MAX * sizeof *x), *bias = malloc(GELU_ROW_MAX * sizeof *bias);
    float *y = malloc(GELU_ROW_MAX * sizeof *y), *want_x = malloc(GELU_ROW_MAX * sizeof *want_x);
    float *want_y = malloc(GELU_ROW_MAX * sizeof *want_y);
    for (int64_t i = 0; i < GELU_ROW_MAX; i++)
        bias[i] = (qat_rng_uniform(&rng) - 0.5f) * 0.01f;
    for (int pattern = 0; pattern <= 4; pattern++)
        for (size_t wi = 0; wi < sizeof gelu_widths / sizeof gelu_widths[0]; wi++)
            for (int with_bias = 0; with_bias <= 1; with_bias++)
                for (int in_place = 0; in_place <= 1; in_place++) {
                    const int64_t cols = gelu_widths[wi];
                    for (int64_t i = 0; i < cols; i++) {
                        x[i] = gelu_input(pattern, i, &rng);
                        want_x[i] = with_bias ? x[i] + bias[i] : x[i];
                        want_y[i] = qat_gelu(want_x[i]);
                    }
                    float *out = in_place ? x : y;
                    qat_cpu_bias_act_row(fisa, x, with_bias ? bias : NULL, cols, 1, out);
                    if (!in_place)
                        SAME_BITS("GELU row x", x, want_x, cols);
                    SAME_BITS(pattern == 3 ? "GELU row at the branch boundary" : "GELU row", out, want_y, cols);
                }
    free(x), free(bias), free(y), free(want_x), free(want_y);
}

START_TEST(gelu_rows_match_qat_gelu_on_either_branch)
{
    FOR_EVERY_PATH(compare_gelu_rows)
}
END_TEST

/* The cpu backend's skinny GEMMs (min(m, n) <= 16: cpu_gemm_skinny.c and,
 * for B not transposed, its vector twin) on each path against the scalar
 * path, bit for bit: column tails, k not a multiple of the eight partial
 * sums, A transposed or not, beta 0 (C holding NaN) and 0.5, batches, and
 * specials among the inputs. */
typedef struct skinny_shape { int64_t m, n, k, batch; } skinny_shape;

static void run_gemm(qat_context *ctx, const qat_gemm_desc *shape, const float *a, size_t na, const float *b,
                     size_t nb, const float *c, float *out, size_t nc)
{
    const struct qat_backend_ops *ops = ctx->backend.ops;
    void *st = ctx->backend_state;
    void *da = test_to_device(ctx, a, na), *db = test_to_device(ctx, b, nb), *dc = test_to_device(ctx, c, nc);
    qat_gemm_desc d = *shape;
    d.a = da, d.b = db, d.c = dc;
    QAT_ASSERT_OK(ops->gemm(st, &d));
    QAT_ASSERT_OK(ops->download(st, out, dc, nc * sizeof(float)));
    ops->free(st, da), ops->free(st, db), ops->free(st, dc);
}

static void compare_skinny_gemm(const char *isa, int threads)
{
    static const skinny_shape shapes[] = {{42, 16, 42, 1}, {43, 7, 19, 2}, {5, 37, 8, 1}, {16, 1, 1, 1},
                                          {1, 100, 129, 1}, {33, 9, 64, 3}};
    qat_context *vec = NULL, *scalar = NULL;
    setenv("QAT_ISA", isa, 1);
    QAT_ASSERT_OK(qat_context_create("cpu", &vec));
    setenv("QAT_ISA", "scalar", 1);
    QAT_ASSERT_OK(qat_context_create("cpu", &scalar));
    unsetenv("QAT_ISA");
    QAT_ASSERT_OK(qat_context_set_int(vec, QAT_CTX_THREADS, threads));
    qat_rng rng;
    qat_rng_seed(&rng, 22);
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (int t = 0; t < 8; t++) {
            const skinny_shape *sh = &shapes[si];
            const int64_t cols = sh->n; /* SAME_BITS says it */
            const int ta = t & 1, tb = (t >> 1) & 1, with_beta = t >> 2;
            const int64_t lda = (ta ? sh->m : sh->k) + 3, ldb = (tb ? sh->k : sh->n) + 1, ldc = sh->n + 2;
            const int64_t sa = (ta ? sh->k : sh->m) * lda, sb = (tb ? sh->n : sh->k) * ldb, sc = sh->m * ldc;
            const size_t na = (size_t)(sa * sh->batch), nb = (size_t)(sb * sh->batch), nc = (size_t)(sc * sh->batch);
            float *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b), *c = malloc(nc * sizeof *c);
            float *want = malloc(nc * sizeof *want), *got = malloc(nc * sizeof *got);
            fill_specials(a, (int64_t)na, &rng, si % 2 == 1);
            fill_specials(b, (int64_t)nb, &rng, 0);
            fill_specials(c, (int64_t)nc, &rng, 0);
            if (!with_beta)
                for (size_t i = 0; i < nc; i++)
                    c[i] = NAN; /* beta 0 must not read C */
            const qat_gemm_desc d = {ta, tb, sh->m, sh->n, sh->k, 0.75f, with_beta ? 0.5f : 0.0f,
                                     NULL, lda, sa, NULL, ldb, sb, NULL, ldc, sc, sh->batch};
            run_gemm(scalar, &d, a, na, b, nb, c, want, nc);
            run_gemm(vec, &d, a, na, b, nb, c, got, nc);
            for (size_t i = 0; i < nc; i++) /* padding columns: C as it was, on both */
                if ((int64_t)(i % (size_t)sc) % ldc >= sh->n)
                    got[i] = want[i] = 0.0f;
            SAME_BITS(ta ? (tb ? "skinny gemm, A and B transposed" : "skinny gemm, A transposed")
                         : (tb ? "skinny gemm, B transposed" : "skinny gemm"),
                      got, want, (int64_t)nc);
            free(a), free(b), free(c), free(want), free(got);
        }
    qat_context_free(vec);
    qat_context_free(scalar);
}

START_TEST(skinny_gemm_every_path_matches_scalar)
{
    FOR_EVERY_PATH(compare_skinny_gemm)
}
END_TEST

START_TEST(isa_follows_qat_isa)
{
    qat_cpu_float_isa isa;
    setenv("QAT_ISA", "scalar", 1);
    QAT_ASSERT_OK(qat_cpu_float_isa_from_env(&isa));
    ck_assert_str_eq(qat_cpu_float_isa_name(isa), "scalar");
    if (qat_packed_isa_available(QAT_PACKED_ISA_AVX2)) {
        setenv("QAT_ISA", "avx2", 1);
        QAT_ASSERT_OK(qat_cpu_float_isa_from_env(&isa));
        ck_assert_str_eq(qat_cpu_float_isa_name(isa), "avx2");
    }
    setenv("QAT_ISA", "sse9", 1);
    qat_context *ctx = NULL;
    ck_assert_int_eq(qat_context_create("cpu", &ctx), QAT_ERR_INVALID_ARGUMENT);
    ck_assert_msg(strstr(qat_last_error(), "QAT_ISA='sse9'") != NULL, "%s", qat_last_error());
    unsetenv("QAT_ISA");
    QAT_ASSERT_OK(qat_cpu_float_isa_from_env(&isa));
#if defined(__aarch64__)
    ck_assert_str_eq(qat_cpu_float_isa_name(isa), "neon");
#else
    ck_assert_str_eq(qat_cpu_float_isa_name(isa), qat_packed_isa_available(QAT_PACKED_ISA_AVX512VNNI) ? "avx512"
                                                  : qat_packed_isa_available(QAT_PACKED_ISA_AVX2) ? "avx2" : "scalar");
#endif
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("float_kernels");
    TCase *tc = tcase_create("float_kernels");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, every_path_and_thread_count_matches_ref);
    tcase_add_test(tc, gelu_rows_match_qat_gelu_on_either_branch);
    tcase_add_test(tc, skinny_gemm_every_path_matches_scalar);
    tcase_add_test(tc, isa_follows_qat_isa);
    suite_add_tcase(s, tc);
    return s;
}
