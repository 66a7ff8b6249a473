/* The fused linear slots (linear_fwd: y = act(x W^T + b) with the
 * pre-activation kept for GELU; gelu_bias_bwd: dGELU with the bias
 * gradient): PyTorch parity (gen_linear_ref.py: F.linear, F.gelu and
 * autograd), and on ref and cpu, bit for bit, the unfused calls the model
 * made before (gemm, bias_act_fwd with the bias, bias_act_fwd with GELU;
 * gelu_bwd, bias_grad), so its training results are unchanged. The golden
 * file's path comes in QAT_GOLDEN_LINEAR. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/dispatch.h"
#include "core/context.h"
#include "qat/qat.h"
#include "golden_file.h"
#include "test_main.h"
#include "test_context.h"

typedef struct lin_case {
    int rows, in, out, has_bias, gelu;
    float *x, *w, *b, *dy, *pre, *y, *d_pre, *db; /* torch's */
} lin_case;

static lin_case *read_cases(int *count)
{
    uint32_t n;
    FILE *f = golden_open("QAT_GOLDEN_LINEAR", "QATL", &n);
    lin_case *c = calloc(n, sizeof *c);
    for (uint32_t i = 0; i < n; i++) {
        int32_t h[5];
        golden_read(f, h, sizeof h);
        c[i] = (lin_case){.rows = h[0], .in = h[1], .out = h[2], .has_bias = h[3], .gelu = h[4]};
        const size_t r = (size_t)h[0], in = (size_t)h[1], out = (size_t)h[2];
        c[i].x = golden_floats(f, r * in);
        c[i].w = golden_floats(f, out * in);
        c[i].b = golden_floats(f, out);
        c[i].dy = golden_floats(f, r * out);
        c[i].pre = golden_floats(f, r * out);
        c[i].y = golden_floats(f, r * out);
        c[i].d_pre = golden_floats(f, r * out);
        c[i].db = golden_floats(f, out);
    }
    fclose(f);
    *count = (int)n;
    return c;
}

static void free_cases(lin_case *c, int n)
{
    for (int i = 0; i < n; i++) {
        free(c[i].x), free(c[i].w), free(c[i].b), free(c[i].dy), free(c[i].pre), free(c[i].y);
        free(c[i].d_pre), free(c[i].db);
    }
    free(c);
}

static float *filled(size_t n, float v)
{
    float *p = malloc(n * sizeof *p + 1);
    for (size_t i = 0; i < n; i++)
        p[i] = v;
    return p;
}

/* The slots' results on one case: pre (NULL without GELU), y, d_pre, db. */
typedef struct lin_result {
    float *pre, *y, *d_pre, *db;
} lin_result;

static lin_result fused(qat_context *ctx, const lin_case *c)
{
    const size_t n = (size_t)c->rows * (size_t)c->out;
    lin_result r = {.pre = c->gelu ? filled(n, NAN) : NULL, .y = filled(n, NAN), .d_pre = filled(n, NAN),
                    .db = filled((size_t)c->out, 0.0f)};
    const qat_linear_desc d = {.rows = c->rows, .in = c->in, .out = c->out, .x = c->x, .w = c->w,
                               .bias = c->has_bias ? c->b : NULL,
                               .act = c->gelu ? QAT_ACTIVATION_GELU : QAT_ACTIVATION_NONE, .pre = r.pre, .y = r.y};
    QAT_ASSERT_OK(QAT_KERNEL(ctx, linear_fwd, &d));
    if (c->gelu)
        QAT_ASSERT_OK(QAT_KERNEL(ctx, gelu_bias_bwd, c->dy, r.pre, c->rows, c->out, r.d_pre, r.db));
    return r;
}

/* The calls the model made before the fused slots, on the same backend. */
static lin_result unfused(qat_context *ctx, const lin_case *c)
{
    const size_t n = (size_t)c->rows * (size_t)c->out;
    lin_result r = {.pre = c->gelu ? filled(n, NAN) : NULL, .y = filled(n, NAN), .d_pre = filled(n, NAN),
                    .db = filled((size_t)c->out, 0.0f)};
    float *product = c->gelu ? r.pre : r.y;
    const int64_t ld = c->in > 1 ? c->in : 1;
    const qat_gemm_desc g = {0, 1, c->rows, c->out, c->in, 1.0f, 0.0f, c->x, ld, 0, c->w, ld, 0, product, c->out,
                             0, 1};
    QAT_ASSERT_OK(QAT_KERNEL(ctx, gemm, &g));
    QAT_ASSERT_OK(QAT_KERNEL(ctx, bias_act_fwd, product, c->has_bias ? c->b : NULL, c->rows, c->out,
                             QAT_ACTIVATION_NONE, NULL));
    if (c->gelu) {
        QAT_ASSERT_OK(QAT_KERNEL(ctx, bias_act_fwd, r.pre, NULL, c->rows, c->out, QAT_ACTIVATION_GELU, r.y));
        memcpy(r.d_pre, c->dy, n * sizeof(float));
        QAT_ASSERT_OK(QAT_KERNEL(ctx, gelu_bwd, r.d_pre, r.pre, (int64_t)n, r.d_pre));
        QAT_ASSERT_OK(QAT_KERNEL(ctx, bias_grad, r.d_pre, c->rows, c->out, r.db));
    }
    return r;
}

static void free_result(lin_result r)
{
    free(r.pre), free(r.y), free(r.d_pre), free(r.db);
}

/* float32 GEMMs in another order than torch's, lib/math's erf within
 * 1.25 ulp: a few ulps of the row's magnitude. */
static void assert_close(const char *what, const char *backend, int i, const float *got, const float *want,
                         size_t n)
{
    for (size_t e = 0; e < n; e++)
        ck_assert_msg(fabsf(got[e] - want[e]) <= 2e-5f * (1.0f + fabsf(want[e])),
                      "%s, case %d, %s: element %zu is %.9g, torch %.9g", backend, i, what, e, got[e], want[e]);
}

static void assert_same_bits(const char *what, const char *backend, int i, const float *got, const float *want,
                             size_t n)
{
    for (size_t e = 0; e < n; e++)
        ck_assert_msg(memcmp(&got[e], &want[e], sizeof(float)) == 0,
                      "%s, case %d, %s: element %zu is %.9g, unfused %.9g", backend, i, what, e, got[e], want[e]);
}

static void check_backend(const char *backend, int threads)
{
    int n;
    lin_case *cs = read_cases(&n);
    qat_context *ctx = test_context(backend, threads);
    for (int i = 0; i < n; i++) {
        const lin_case *c = &cs[i];
        const size_t elems = (size_t)c->rows * (size_t)c->out;
        lin_result got = fused(ctx, c), old = unfused(ctx, c);
        assert_close("y", backend, i, got.y, c->y, elems);
        assert_same_bits("y", backend, i, got.y, old.y, elems);
        if (c->gelu) {
            assert_close("pre", backend, i, got.pre, c->pre, elems);
            assert_close("d_pre", backend, i, got.d_pre, c->d_pre, elems);
            assert_close("db", backend, i, got.db, c->db, (size_t)c->out);
            assert_same_bits("pre", backend, i, got.pre, old.pre, elems);
            assert_same_bits("d_pre", backend, i, got.d_pre, old.d_pre, elems);
            assert_same_bits("db", backend, i, got.db, old.db, (size_t)c->out);
        }
        free_result(got), free_result(old);
    }
    qat_context_free(ctx);
    free_cases(cs, n);
}

START_TEST(ref_matches_torch_and_the_unfused_kernels)
{
    check_backend("ref", 1);
    check_backend("ref", 2);
}
END_TEST

#ifdef QAT_TEST_HAVE_ONEDNN
START_TEST(cpu_matches_torch_and_its_unfused_kernels)
{
    check_backend("cpu", 1);
    check_backend("cpu", 2);
}
END_TEST
#endif

/* dx may alias dy (the model's backward works in place), and db
 * accumulates: a second call adds the same column sums again. */
START_TEST(gelu_bias_bwd_in_place_and_accumulating)
{
    qat_context *ctx = test_context(test_backend_or("ref"), 1);
    enum { ROWS = 3, COLS = 5 };
    float pre[ROWS * COLS], dy[ROWS * COLS], want[ROWS * COLS], db[COLS] = {0}, want_db[COLS] = {0};
    for (int e = 0; e < ROWS * COLS; e++)
        pre[e] = 0.37f * (float)(e - 7), dy[e] = 1.0f + 0.1f * (float)e;
    QAT_ASSERT_OK(QAT_KERNEL(ctx, gelu_bwd, dy, pre, ROWS * COLS, want));
    QAT_ASSERT_OK(QAT_KERNEL(ctx, bias_grad, want, ROWS, COLS, want_db));
    QAT_ASSERT_OK(QAT_KERNEL(ctx, bias_grad, want, ROWS, COLS, want_db));
    float d[ROWS * COLS];
    memcpy(d, dy, sizeof d);
    QAT_ASSERT_OK(QAT_KERNEL(ctx, gelu_bias_bwd, d, pre, ROWS, COLS, d, db));
    ck_assert(memcmp(d, want, sizeof d) == 0);
    memcpy(d, dy, sizeof d);
    QAT_ASSERT_OK(QAT_KERNEL(ctx, gelu_bias_bwd, d, pre, ROWS, COLS, d, db));
    ck_assert(memcmp(db, want_db, sizeof db) == 0);
    qat_context_free(ctx);
}
END_TEST

START_TEST(bad_arguments_are_rejected)
{
    qat_context *ctx = test_context("ref", 1);
    float x[16] = {0}, w[16] = {0}, pre[16], y[16];
    qat_linear_desc d = {.rows = 2, .in = 2, .out = 2, .x = x, .w = w, .act = QAT_ACTIVATION_GELU, .pre = pre,
                         .y = y};
    QAT_ASSERT_FAILS(QAT_KERNEL(ctx, linear_fwd, NULL), QAT_ERR_INVALID_ARGUMENT, "NULL descriptor");
    d.in = -1;
    QAT_ASSERT_FAILS(QAT_KERNEL(ctx, linear_fwd, &d), QAT_ERR_INVALID_ARGUMENT, "negative size");
    d.in = 2, d.act = QAT_ACTIVATION_TANH;
    QAT_ASSERT_FAILS(QAT_KERNEL(ctx, linear_fwd, &d), QAT_ERR_INVALID_ARGUMENT, "neither none nor GELU");
    d.act = QAT_ACTIVATION_GELU, d.pre = NULL;
    QAT_ASSERT_FAILS(QAT_KERNEL(ctx, linear_fwd, &d), QAT_ERR_INVALID_ARGUMENT, "needs the pre-activation");
    d.act = QAT_ACTIVATION_NONE, d.pre = pre;
    QAT_ASSERT_FAILS(QAT_KERNEL(ctx, linear_fwd, &d), QAT_ERR_INVALID_ARGUMENT, "without GELU");
    d.pre = NULL, d.w = NULL;
    QAT_ASSERT_FAILS(QAT_KERNEL(ctx, linear_fwd, &d), QAT_ERR_INVALID_ARGUMENT, "NULL x, w or y");
    QAT_ASSERT_FAILS(QAT_KERNEL(ctx, gelu_bias_bwd, x, pre, -1, 2, y, w), QAT_ERR_INVALID_ARGUMENT,
                     "negative size");
    QAT_ASSERT_FAILS(QAT_KERNEL(ctx, gelu_bias_bwd, x, pre, 2, 2, y, NULL), QAT_ERR_INVALID_ARGUMENT, "NULL");
    qat_context_free(ctx);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("linear");
    TCase *tc = tcase_create("linear");
    tcase_set_timeout(tc, 60); /* valgrind: the cpu case passes Check's 4 s default */
    tcase_add_test(tc, ref_matches_torch_and_the_unfused_kernels);
#ifdef QAT_TEST_HAVE_ONEDNN
    tcase_add_test(tc, cpu_matches_torch_and_its_unfused_kernels);
#endif
    tcase_add_test(tc, gelu_bias_bwd_in_place_and_accumulating);
    tcase_add_test(tc, bad_arguments_are_rejected);
    suite_add_tcase(s, tc);
    return s;
}
