/* GEMM parity: every usable backend against a double-precision loop written
 * here, on odd shapes, all transposes, padding, batches and beta != 0. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/context.h"
#include "core/rng.h"
#include "qat/qat.h"
#include "test_main.h"

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

/* Allocates a backend buffer and uploads host data into it. */
static void *to_device(qat_context *ctx, const float *host, size_t count)
{
    void *dev = NULL;
    QAT_ASSERT_OK(ctx->backend.ops->alloc(ctx->backend_state, count * sizeof(float), &dev));
    QAT_ASSERT_OK(ctx->backend.ops->upload(ctx->backend_state, dev, host, count * sizeof(float)));
    return dev;
}

static void check_backend_shape(const char *backend, const shape *s, int ta, int tb)
{
    qat_context *ctx = NULL;
    QAT_ASSERT_OK(qat_context_create(backend, &ctx));
    qat_rng rng;
    qat_rng_seed(&rng, (uint64_t)(s->m * 1000003 + s->n * 1009 + s->k + ta * 7 + tb * 13));
    int64_t a_rows = ta ? s->k : s->m, a_cols = ta ? s->m : s->k;
    int64_t b_rows = tb ? s->n : s->k, b_cols = tb ? s->k : s->n;
    int64_t lda = a_cols + s->pad, ldb = b_cols + s->pad, ldc = s->n + s->pad;
    if (lda < 1) lda = 1;
    if (ldb < 1) ldb = 1;
    int64_t sa = a_rows * lda + s->pad, sb = b_rows * ldb, sc = s->m * ldc + 1;
    size_t na = (size_t)(sa * s->batch + 1), nb = (size_t)(sb * s->batch + 1), nc = (size_t)(sc * s->batch);
    float *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b), *c = malloc(nc * sizeof *c);
    float *out = malloc(nc * sizeof *out);
    fill(a, na, &rng);
    fill(b, nb, &rng);
    fill(c, nc, &rng);
    float alpha = 0.75f, beta = s->batch > 1 || s->beta ? 0.5f : 0.0f;
    /* The ref backends promise the textbook sum: doubles, p ascending. */
    const int textbook = strncmp(backend, "ref", 3) == 0;

    float *da = to_device(ctx, a, na), *db = to_device(ctx, b, nb), *dc = to_device(ctx, c, nc);
    qat_gemm_desc d = {ta, tb, s->m, s->n, s->k, alpha, beta, da, lda, sa, db, ldb, sb, dc, ldc, sc, s->batch};
    QAT_ASSERT_OK(ctx->backend.ops->gemm(ctx->backend_state, &d));
    QAT_ASSERT_OK(ctx->backend.ops->download(ctx->backend_state, out, dc, nc * sizeof(float)));

    for (int64_t bi = 0; bi < s->batch; bi++)
        for (int64_t i = 0; i < s->m; i++)
            for (int64_t j = 0; j < s->n; j++) {
                double acc = 0.0, mag = 0.0;
                for (int64_t p = 0; p < s->k; p++) {
                    double av = ta ? a[bi * sa + p * lda + i] : a[bi * sa + i * lda + p];
                    double bv = tb ? b[bi * sb + j * ldb + p] : b[bi * sb + p * ldb + j];
                    acc += av * bv;
                    mag += fabs(av * bv);
                }
                size_t at = (size_t)(bi * sc + i * ldc + j);
                double want = alpha * acc + beta * c[at];
                double tol = 1e-5 * (alpha * mag + fabs(beta * c[at])) + 1e-6;
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
            for (int64_t j = s->n; j < ldc; j++) {
                size_t at = (size_t)(bi * sc + i * ldc + j);
                ck_assert_float_eq(out[at], c[at]);
            }
    ctx->backend.ops->free(ctx->backend_state, da);
    ctx->backend.ops->free(ctx->backend_state, db);
    ctx->backend.ops->free(ctx->backend_state, dc);
    free(a); free(b); free(c); free(out);
    qat_context_free(ctx);
}

START_TEST(every_backend_matches_double_loop)
{
    int n = qat_backend_count();
    for (int bi = 0; bi < n; bi++)
        for (int t = 0; t < 4; t++)
            check_backend_shape(qat_backend_name(bi), &shapes[_i], t & 1, t >> 1);
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
