/* GEMM parity: every usable backend against a double-precision loop written
 * here, on odd shapes, all transposes, padding, batches and beta != 0. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/context.h"
#include "core/rng.h"
#include "qat/qat.h"
#include "test_main.h"
#include "test_device.h"

/* beta: C accumulates (beta 0.5) with one matrix too; batches always do. */
typedef struct shape { int64_t m, n, k, batch; int pad, beta; } shape;

static const shape shapes[] = {
    {1, 1, 1, 1, 0, 0}, {3, 5, 7, 1, 0, 0}, {17, 33, 65, 1, 3, 0}, {64, 3, 129, 2, 0, 0},
    {31, 47, 13, 5, 1, 0}, {128, 96, 72, 3, 0, 0}, {2, 200, 1, 1, 2, 0}, {9, 9, 0, 1, 0, 0},
    /* oneDNN packs 768 x 768 whole but not a 384-row half: the cpu
     * backend splits k instead (16 + 8 here), the second part added after */
    {768, 768, 24, 1, 1, 1},
};
#define N_SHAPES (sizeof shapes / sizeof shapes[0])

static void fill(float *x, size_t n, qat_rng *rng)
{
    for (size_t i = 0; i < n; i++)
        x[i] = qat_rng_uniform(rng) * 2.0f - 1.0f;
}

/* One case: inputs, and per element of C the double loop's sum and the
 * magnitude of its terms, computed once for every backend. */
typedef struct gemm_case {
    const shape *s;
    int ta, tb;
    int64_t lda, ldb, ldc, sa, sb, sc;
    size_t na, nb, nc;
    float *a, *b, *c, alpha, beta;
    double *acc, *mag; /* per element of C */
} gemm_case;

static gemm_case make_case(const shape *s, int ta, int tb)
{
    gemm_case g = {.s = s, .ta = ta, .tb = tb};
    qat_rng rng;
    qat_rng_seed(&rng, (uint64_t)(s->m * 1000003 + s->n * 1009 + s->k + ta * 7 + tb * 13));
    int64_t a_rows = ta ? s->k : s->m, a_cols = ta ? s->m : s->k;
    int64_t b_rows = tb ? s->n : s->k, b_cols = tb ? s->k : s->n;
    g.lda = a_cols + s->pad, g.ldb = b_cols + s->pad, g.ldc = s->n + s->pad;
    if (g.lda < 1) g.lda = 1;
    if (g.ldb < 1) g.ldb = 1;
    g.sa = a_rows * g.lda + s->pad, g.sb = b_rows * g.ldb, g.sc = s->m * g.ldc + 1;
    g.na = (size_t)(g.sa * s->batch + 1), g.nb = (size_t)(g.sb * s->batch + 1), g.nc = (size_t)(g.sc * s->batch);
    g.a = malloc(g.na * sizeof *g.a), g.b = malloc(g.nb * sizeof *g.b), g.c = malloc(g.nc * sizeof *g.c);
    g.acc = calloc(g.nc, sizeof *g.acc), g.mag = calloc(g.nc, sizeof *g.mag);
    ck_assert(g.a && g.b && g.c && g.acc && g.mag);
    fill(g.a, g.na, &rng);
    fill(g.b, g.nb, &rng);
    fill(g.c, g.nc, &rng);
    g.alpha = 0.75f, g.beta = s->batch > 1 || s->beta ? 0.5f : 0.0f;
    for (int64_t bi = 0; bi < s->batch; bi++)
        for (int64_t i = 0; i < s->m; i++)
            for (int64_t j = 0; j < s->n; j++) {
                double acc = 0.0, mag = 0.0;
                for (int64_t p = 0; p < s->k; p++) {
                    double av = ta ? g.a[bi * g.sa + p * g.lda + i] : g.a[bi * g.sa + i * g.lda + p];
                    double bv = tb ? g.b[bi * g.sb + j * g.ldb + p] : g.b[bi * g.sb + p * g.ldb + j];
                    acc += av * bv;
                    mag += fabs(av * bv);
                }
                size_t at = (size_t)(bi * g.sc + i * g.ldc + j);
                g.acc[at] = acc;
                g.mag[at] = mag;
            }
    return g;
}

static void free_case(gemm_case *g)
{
    free(g->a); free(g->b); free(g->c); free(g->acc); free(g->mag);
}

static void check_backend_case(const char *backend, const gemm_case *g)
{
    const shape *s = g->s;
    const int ta = g->ta, tb = g->tb;
    const float alpha = g->alpha, beta = g->beta;
    const float *c = g->c;
    qat_context *ctx = NULL;
    QAT_ASSERT_OK(qat_context_create(backend, &ctx));
    float *out = malloc(g->nc * sizeof *out);
    /* The ref backends promise the textbook sum: doubles, p ascending. */
    const int textbook = strncmp(backend, "ref", 3) == 0;

    float *da = test_to_device(ctx, g->a, g->na), *db = test_to_device(ctx, g->b, g->nb);
    float *dc = test_to_device(ctx, c, g->nc);
    qat_gemm_desc d = {ta, tb, s->m, s->n, s->k, alpha, beta, da, g->lda, g->sa, db, g->ldb, g->sb,
                       dc, g->ldc, g->sc, s->batch};
    QAT_ASSERT_OK(ctx->backend.ops->gemm(ctx->backend_state, &d));
    QAT_ASSERT_OK(ctx->backend.ops->download(ctx->backend_state, out, dc, g->nc * sizeof(float)));

    for (int64_t bi = 0; bi < s->batch; bi++)
        for (int64_t i = 0; i < s->m; i++)
            for (int64_t j = 0; j < s->n; j++) {
                size_t at = (size_t)(bi * g->sc + i * g->ldc + j);
                const double acc = g->acc[at];
                double want = alpha * acc + beta * c[at];
                double tol = 1e-5 * (alpha * g->mag[at] + fabs(beta * c[at])) + 1e-6;
                if (textbook) { /* the ref backends' rounding, bit for bit */
                    float exact = (float)(alpha * acc) + (beta == 0.0f ? 0.0f : beta * c[at]);
                    ck_assert_msg(memcmp(&out[at], &exact, sizeof exact) == 0,
                                  "%s gemm m=%lld n=%lld k=%lld ta=%d tb=%d at (%lld,%lld,%lld): %a, textbook %a",
                                  backend, (long long)s->m, (long long)s->n, (long long)s->k, ta, tb,
                                  (long long)bi, (long long)i, (long long)j, out[at], exact);
                }
                ck_assert_msg(fabs(out[at] - want) <= tol,
                              "%s gemm m=%lld n=%lld k=%lld ta=%d tb=%d at (%lld,%lld,%lld): %g vs %g",
                              backend, (long long)s->m, (long long)s->n, (long long)s->k, ta, tb,
                              (long long)bi, (long long)i, (long long)j, out[at], want);
            }
    /* Padding between rows and batches must be left untouched. */
    for (int64_t bi = 0; bi < s->batch; bi++)
        for (int64_t i = 0; i < s->m; i++)
            for (int64_t j = s->n; j < g->ldc; j++) {
                size_t at = (size_t)(bi * g->sc + i * g->ldc + j);
                ck_assert_float_eq(out[at], c[at]);
            }
    ctx->backend.ops->free(ctx->backend_state, da);
    ctx->backend.ops->free(ctx->backend_state, db);
    ctx->backend.ops->free(ctx->backend_state, dc);
    free(out);
    qat_context_free(ctx);
}

START_TEST(every_backend_matches_double_loop)
{
    int n = qat_backend_count();
    for (int t = 0; t < 4; t++) {
        gemm_case g = make_case(&shapes[_i], t & 1, t >> 1);
        for (int bi = 0; bi < n; bi++)
            check_backend_case(qat_backend_name(bi), &g);
        free_case(&g);
    }
}
END_TEST

START_TEST(invalid_descriptors_rejected)
{
    int n = qat_backend_count();
    for (int bi = 0; bi < n; bi++) {
        qat_context *ctx = NULL;
        QAT_ASSERT_OK(qat_context_create(qat_backend_name(bi), &ctx));
        float x[16] = {0};
        qat_gemm_desc d = {0, 0, 4, 4, 4, 1.0f, 0.0f, x, 2, 0, x, 4, 0, x, 4, 0, 1};
        qat_status st = ctx->backend.ops->gemm(ctx->backend_state, &d);
        ck_assert_int_eq(st, QAT_ERR_INVALID_ARGUMENT);
        d.lda = 4;
        d.m = -1;
        st = ctx->backend.ops->gemm(ctx->backend_state, &d);
        ck_assert_int_eq(st, QAT_ERR_INVALID_ARGUMENT);
        qat_context_free(ctx);
    }
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("gemm");
    TCase *tc = tcase_create("parity");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, every_backend_matches_double_loop, 0, N_SHAPES);
    tcase_add_test(tc, invalid_descriptors_rejected);
    suite_add_tcase(s, tc);
    return s;
}
