/* The host backends' fused slots that compose their unfused kernels: on
 * ref and cpu, at 1 and 2 threads, bit for bit the calls the model made
 * before, so training results are unchanged; and what each slot must give
 * whatever the backend.
 *
 * layernorm_bitnet_act_fwd: layernorm_fwd, then bitnet_act_fwd of its
 * output; each value a code in [lo, Qp] times max|y| / Qp, within half a
 * step of y. Odd shapes, a constant row (zero variance), 2 to 8 bits, both
 * clamp ranges, y in place over x; a yq aliasing x or y is refused.
 *
 * dropout_add: copy when y is not x, dropout, add; element i is
 * residual[i] + x[i] / (1 - p) where qat_dropout_keep(seed, i, p),
 * residual[i] + 0 elsewhere, x itself for p <= 0; without a residual
 * nothing is added (a -0 stays -0). Odd sizes, y in place over x or apart,
 * specials; a residual aliasing y is refused. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/dispatch.h"
#include "core/context.h"
#include "qat/qat.h"
#include "test_main.h"
#include "test_context.h"

typedef struct ln_case {
    int rows, cols, bits, symmetric;
} ln_case;

static const ln_case cases[] = {
    {1, 1, 8, 0}, {3, 5, 2, 0}, {7, 48, 6, 0}, {7, 48, 6, 1}, {33, 130, 8, 1}, {5, 769, 4, 0}, {2, 2048, 3, 1},
};

/* ---- layernorm_bitnet_act_fwd ---- */

/* Inputs of a case: x with a constant last row (when rows > 1), w, b. */
typedef struct ln_inputs {
    float *x, *w, *b;
} ln_inputs;

static ln_inputs inputs(const ln_case *c)
{
    const size_t n = (size_t)c->rows * (size_t)c->cols;
    ln_inputs in = {malloc(n * sizeof(float)), malloc((size_t)c->cols * sizeof(float)),
                    malloc((size_t)c->cols * sizeof(float))};
    uint32_t s = 0x9e3779b9u ^ (uint32_t)(c->rows * 131 + c->cols);
    for (size_t e = 0; e < n; e++) {
        s = s * 1664525u + 1013904223u;
        in.x[e] = ((float)(s >> 8) / 16777216.0f - 0.5f) * 6.0f + (float)(e % 7) * 0.25f;
    }
    for (int j = 0; c->rows > 1 && j < c->cols; j++)
        in.x[(size_t)(c->rows - 1) * (size_t)c->cols + (size_t)j] = 1.5f;
    for (int j = 0; j < c->cols; j++) {
        in.w[j] = 0.5f + 0.01f * (float)(j % 53);
        in.b[j] = 0.02f * (float)(j % 11) - 0.1f;
    }
    return in;
}

static void free_inputs(ln_inputs in)
{
    free(in.x), free(in.w), free(in.b);
}

/* y, yq [rows, cols], mean, rstd [rows]. */
typedef struct ln_result {
    float *y, *yq, *mean, *rstd;
} ln_result;

static float *nans(size_t n)
{
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = NAN;
    return p;
}

static ln_result result(const ln_case *c)
{
    const size_t n = (size_t)c->rows * (size_t)c->cols;
    return (ln_result){nans(n), nans(n), nans((size_t)c->rows), nans((size_t)c->rows)};
}

static void free_result(ln_result r)
{
    free(r.y), free(r.yq), free(r.mean), free(r.rstd);
}

static const float eps = 1e-5f;

static ln_result fused(qat_context *ctx, const ln_case *c, const ln_inputs *in)
{
    ln_result r = result(c);
    QAT_ASSERT_OK(QAT_KERNEL(ctx, layernorm_bitnet_act_fwd, in->x, in->w, in->b, eps, c->rows, c->cols, c->bits,
                             c->symmetric, r.y, r.yq, r.mean, r.rstd));
    return r;
}

static ln_result unfused(qat_context *ctx, const ln_case *c, const ln_inputs *in)
{
    ln_result r = result(c);
    QAT_ASSERT_OK(QAT_KERNEL(ctx, layernorm_fwd, in->x, in->w, in->b, eps, c->rows, c->cols, r.y, r.mean, r.rstd));
    QAT_ASSERT_OK(QAT_KERNEL(ctx, bitnet_act_fwd, r.y, c->rows, c->cols, c->bits, c->symmetric, r.yq));
    return r;
}

static void assert_same_bits(const char *what, const char *backend, int i, const float *got, const float *want,
                             size_t n)
{
    for (size_t e = 0; e < n; e++)
        ck_assert_msg(memcmp(&got[e], &want[e], sizeof(float)) == 0,
                      "%s, case %d, %s: element %zu is %.9g, expected %.9g", backend, i, what, e, got[e], want[e]);
}

/* yq[r, :] = code * m / Qp with m = max(max|y[r, :]|, 1e-5), integer code
 * in [lo, Qp], and |yq - y| at most half a step (m / Qp / 2) plus the
 * roundings of x * Qp / m and code * m / Qp (a few ulps of m). */
static void assert_quantized_rows(const char *backend, int i, const ln_case *c, const ln_result *r)
{
    const float qp = (float)((1 << (c->bits - 1)) - 1);
    const float lo = c->symmetric ? -qp : -(float)(1 << (c->bits - 1));
    for (int row = 0; row < c->rows; row++) {
        const float *y = r->y + (size_t)row * (size_t)c->cols, *yq = r->yq + (size_t)row * (size_t)c->cols;
        float m = 0.0f;
        for (int j = 0; j < c->cols; j++)
            m = fmaxf(m, fabsf(y[j]));
        m = fmaxf(m, 1e-5f);
        for (int j = 0; j < c->cols; j++) {
            const double code = (double)yq[j] * qp / m;
            ck_assert_msg(fabs(code - nearbyint(code)) <= 1e-4 && code >= lo - 1e-4 && code <= qp + 1e-4,
                          "%s, case %d: row %d column %d: %.9g is not a code times max|y| / Qp (%g)", backend, i, row,
                          j, yq[j], code);
            ck_assert_msg(fabsf(yq[j] - y[j]) <= 0.5f * m / qp + 4.0f * m * 1.2e-7f,
                          "%s, case %d: row %d column %d: %.9g is more than half a step from %.9g", backend, i, row,
                          j, yq[j], y[j]);
        }
    }
}

static void check_layernorm_quant(const char *backend, int threads)
{
    qat_context *ctx = test_context(backend, threads);
    for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) {
        const ln_case *c = &cases[i];
        const size_t n = (size_t)c->rows * (size_t)c->cols;
        ln_inputs in = inputs(c);
        ln_result got = fused(ctx, c, &in), old = unfused(ctx, c, &in);
        assert_same_bits("y", backend, i, got.y, old.y, n);
        assert_same_bits("yq", backend, i, got.yq, old.yq, n);
        assert_same_bits("mean", backend, i, got.mean, old.mean, (size_t)c->rows);
        assert_same_bits("rstd", backend, i, got.rstd, old.rstd, (size_t)c->rows);
        assert_quantized_rows(backend, i, c, &got);
        /* y in place over x gives the same bits */
        ln_result place = result(c);
        memcpy(place.y, in.x, n * sizeof(float));
        QAT_ASSERT_OK(QAT_KERNEL(ctx, layernorm_bitnet_act_fwd, place.y, in.w, in.b, eps, c->rows, c->cols, c->bits,
                                 c->symmetric, place.y, place.yq, place.mean, place.rstd));
        assert_same_bits("y in place", backend, i, place.y, old.y, n);
        assert_same_bits("yq after y in place", backend, i, place.yq, old.yq, n);
        free_result(place), free_result(got), free_result(old);
        free_inputs(in);
    }
    qat_context_free(ctx);
}

/* ---- dropout_add ---- */

static const int64_t sizes[] = {1, 7, 1000, 4099};
static const float probs[] = {-0.5f, 0.0f, 0.1f, 0.5f, 0.999f};
static const uint64_t drop_seed = 0xfedcba9876543210ull;

/* x with signed zeros, an infinity and a NaN among ordinary values. */
static float *drop_inputs(int64_t n, uint32_t salt)
{
    float *x = malloc((size_t)n * sizeof *x);
    uint32_t s = 0x2545f491u ^ salt;
    for (int64_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = ((float)(s >> 8) / 16777216.0f - 0.5f) * 8.0f;
    }
    const float specials[] = {-0.0f, 0.0f, INFINITY, NAN};
    for (int64_t i = 0; i < n && i < 4; i++)
        x[(i * 5) % n] = specials[i];
    return x;
}

/* What kernels.h says element i is. */
static float contract(const float *x, const float *residual, int64_t i, float p)
{
    float d = x[i];
    if (p > 0.0f)
        d = qat_dropout_keep(drop_seed, (uint64_t)i, p) ? x[i] * (1.0f / (1.0f - p)) : 0.0f;
    return residual ? d + residual[i] : d;
}

static void check_dropout_add(const char *backend, int threads)
{
    qat_context *ctx = test_context(backend, threads);
    int at = 0;
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        for (size_t j = 0; j < sizeof probs / sizeof probs[0]; j++)
            for (int with_residual = 0; with_residual < 2; with_residual++, at++) {
                const int64_t n = sizes[k];
                const float p = probs[j];
                float *x = drop_inputs(n, 1), *r = with_residual ? drop_inputs(n, 2) : NULL;
                float *apart = malloc((size_t)n * sizeof *apart), *place = malloc((size_t)n * sizeof *place);
                float *old = malloc((size_t)n * sizeof *old), *want = malloc((size_t)n * sizeof *want);
                QAT_ASSERT_OK(QAT_KERNEL(ctx, dropout_add, x, r, n, p, drop_seed, apart));
                memcpy(place, x, (size_t)n * sizeof *place);
                QAT_ASSERT_OK(QAT_KERNEL(ctx, dropout_add, place, r, n, p, drop_seed, place));
                QAT_ASSERT_OK(QAT_KERNEL(ctx, copy, x, old, n));
                QAT_ASSERT_OK(QAT_KERNEL(ctx, dropout, old, n, p, drop_seed));
                if (r)
                    QAT_ASSERT_OK(QAT_KERNEL(ctx, add, old, r, old, n));
                for (int64_t i = 0; i < n; i++)
                    want[i] = contract(x, r, i, p);
                /* case `at`: n = sizes[k], p = probs[j], with or without the residual */
                assert_same_bits("dropout_add y apart vs the unfused calls", backend, at, apart, old, (size_t)n);
                assert_same_bits("dropout_add y in place vs the unfused calls", backend, at, place, old, (size_t)n);
                assert_same_bits("dropout_add y vs the contract", backend, at, apart, want, (size_t)n);
                free(x), free(r), free(apart), free(place), free(old), free(want);
            }
    qat_context_free(ctx);
}

START_TEST(ref_is_its_unfused_kernels)
{
    for (int threads = 1; threads <= 2; threads++) {
        check_layernorm_quant("ref", threads);
        check_dropout_add("ref", threads);
    }
}
END_TEST

#ifdef QAT_TEST_HAVE_ONEDNN
START_TEST(cpu_is_its_unfused_kernels)
{
    for (int threads = 1; threads <= 2; threads++) {
        check_layernorm_quant("cpu", threads);
        check_dropout_add("cpu", threads);
    }
}
END_TEST
#endif

START_TEST(aliasing_is_refused_and_empty_is_a_no_op)
{
    qat_context *ctx = test_context("ref", 1);
    float x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, w[4] = {1, 1, 1, 1}, b[4] = {0}, y[8], mean[2], rstd[2];
    QAT_ASSERT_FAILS(QAT_KERNEL(ctx, layernorm_bitnet_act_fwd, x, w, b, eps, 2, 4, 8, 0, y, x, mean, rstd),
                     QAT_ERR_INVALID_ARGUMENT, "may not alias");
    QAT_ASSERT_FAILS(QAT_KERNEL(ctx, layernorm_bitnet_act_fwd, x, w, b, eps, 2, 4, 8, 0, y, y, mean, rstd),
                     QAT_ERR_INVALID_ARGUMENT, "may not alias");
    QAT_ASSERT_OK(QAT_KERNEL(ctx, layernorm_bitnet_act_fwd, NULL, NULL, NULL, eps, 0, 4, 8, 0, NULL, NULL, NULL,
                             NULL));
    QAT_ASSERT_FAILS(QAT_KERNEL(ctx, dropout_add, x, y, 4, 0.5f, drop_seed, y), QAT_ERR_INVALID_ARGUMENT, "alias");
    QAT_ASSERT_OK(QAT_KERNEL(ctx, dropout_add, NULL, NULL, 0, 0.5f, drop_seed, NULL));
    qat_context_free(ctx);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("fused_slots");
    TCase *tc = tcase_create("fused_slots");
    tcase_set_timeout(tc, 60); /* valgrind */
    tcase_add_test(tc, ref_is_its_unfused_kernels);
#ifdef QAT_TEST_HAVE_ONEDNN
    tcase_add_test(tc, cpu_is_its_unfused_kernels);
#endif
    tcase_add_test(tc, aliasing_is_refused_and_empty_is_a_no_op);
    suite_add_tcase(s, tc);
    return s;
}
