/* The packed model's float GEMM (lib/packed/float_gemm.c): y = x w^T with
 * each output the documented fixed-order sum (8 lanes of fused
 * multiply-adds over i = l mod 8, then ((p0 + p4) + (p2 + p6)) + ((p1 + p5)
 * + (p3 + p7))), bit for bit on every ISA path and thread count, within
 * float rounding of a double-precision sum, over odd shapes (short vectors,
 * partial register blocks, several blocks of rows and outputs, row strides
 * wider than the row); NaN and infinity propagate; bad arguments are
 * refused. (ARM64's neon block: tests/packed/neon_check.c under qemu.) */
#include <math.h>

#include "core/thread_pool.h"
#include "packed_test_util.h"
#include "test_main.h"

/* The documented order, written out independently of the library. */
static float documented_dot(const float *x, const float *w, int64_t n)
{
    float p[8] = {0};
    for (int64_t i = 0; i < n; i++)
        p[i % 8] = fmaf(x[i], w[i], p[i % 8]);
    return ((p[0] + p[4]) + (p[2] + p[6])) + ((p[1] + p[5]) + (p[3] + p[7]));
}

static void fill(float *v, int64_t n, qat_rng *rng)
{
    for (int64_t i = 0; i < n; i++) {
        const float u = qat_rng_uniform(rng);
        /* mostly O(1), some tiny and some large: the order shows in the bits */
        v[i] = qat_rng_normal(rng) * (u < 0.05f ? 1e-4f : u > 0.95f ? 1e3f : 1.0f);
    }
}

START_TEST(every_path_same_bits)
{
    qat_rng rng;
    qat_rng_seed(&rng, 41);
    /* rows, in, out: 1-element rows; under, at and over one vector; several
     * 6-row groups of a row block (in = 769: 84 rows a block) and several
     * 32-output blocks, with a partial 4-output group at the end. */
    static const int64_t shapes[][3] = {{1, 1, 1},   {2, 7, 3},     {3, 8, 4},   {4, 9, 5},   {7, 31, 9},
                                        {13, 64, 33}, {100, 769, 70}, {5, 768, 40}, {1, 768, 768}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int64_t R = shapes[s][0], K = shapes[s][1], O = shapes[s][2], ldx = K + 3, ldw = K + 1, ldy = O + 2;
        float *x = malloc((size_t)(R * ldx) * sizeof *x), *w = malloc((size_t)(O * ldw) * sizeof *w);
        float *y = malloc((size_t)(R * ldy) * sizeof *y), *want = malloc((size_t)(R * O) * sizeof *want);
        fill(x, R * ldx, &rng);
        fill(w, O * ldw, &rng);
        double worst = 0.0;
        for (int64_t r = 0; r < R; r++)
            for (int64_t o = 0; o < O; o++) {
                want[r * O + o] = documented_dot(x + r * ldx, w + o * ldw, K);
                double sum = 0.0, mag = 0.0;
                for (int64_t i = 0; i < K; i++) {
                    sum += (double)x[r * ldx + i] * w[o * ldw + i];
                    mag += fabs((double)x[r * ldx + i] * w[o * ldw + i]);
                }
                const double err = fabs(want[r * O + o] - sum) / (mag + 1e-30);
                worst = err > worst ? err : worst;
            }
        ck_assert_msg(worst < 1e-6, "shape %zu: the documented order is %.3g off a double sum", s, worst);
        const qat_packed_fgemm g = {.x = x, .ldx = ldx, .rows = R, .w = w, .ldw = ldw, .out = O, .in = K, .y = y,
                                    .ldy = ldy};
        for (int i = 0; i < N_ISAS; i++) {
            if (!isa_runs(all_isas[i]))
                continue;
            for (int threads = 1; threads <= 3; threads++) {
                qat_packed_kernel k;
                QAT_ASSERT_OK(qat_packed_kernel_init(&k, all_isas[i], threads));
                qat_pool *pool = NULL;
                if (threads > 1) {
                    QAT_ASSERT_OK(qat_pool_create(threads, &pool));
                    k.pool = pool;
                }
                for (int64_t j = 0; j < R * ldy; j++)
                    y[j] = NAN;
                QAT_ASSERT_OK(qat_packed_float_gemm(&k, &g));
                for (int64_t r = 0; r < R; r++) {
                    for (int64_t o = 0; o < O; o++)
                        if (memcmp(&y[r * ldy + o], &want[r * O + o], sizeof(float)) != 0)
                            ck_abort_msg("[%lld x %lld] x [%lld]^T isa %s threads %d: y[%lld, %lld] = %.9g, the "
                                         "documented order gives %.9g",
                                         (long long)R, (long long)K, (long long)O, qat_packed_isa_name(k.isa),
                                         threads, (long long)r, (long long)o, (double)y[r * ldy + o],
                                         (double)want[r * O + o]);
                    /* past out, the row's padding is not written */
                    ck_assert(isnan(y[r * ldy + O]) && isnan(y[r * ldy + O + 1]));
                }
                qat_pool_free(pool);
            }
        }
        free(x); free(w); free(y); free(want);
    }
}
END_TEST

START_TEST(nan_and_inf_propagate)
{
    enum { R = 3, K = 21, O = 5 };
    float x[R * K], w[O * K], y[R * O];
    for (int i = 0; i < R * K; i++)
        x[i] = 1.0f;
    for (int i = 0; i < O * K; i++)
        w[i] = 0.5f;
    x[0 * K + 20] = NAN;      /* row 0: the last, partial vector */
    x[1 * K + 3] = INFINITY;  /* row 1: a full vector */
    const qat_packed_fgemm g = {.x = x, .ldx = K, .rows = R, .w = w, .ldw = K, .out = O, .in = K, .y = y, .ldy = O};
    for (int i = 0; i < N_ISAS; i++) {
        if (!isa_runs(all_isas[i]))
            continue;
        qat_packed_kernel k;
        QAT_ASSERT_OK(qat_packed_kernel_init(&k, all_isas[i], 1));
        QAT_ASSERT_OK(qat_packed_float_gemm(&k, &g));
        for (int o = 0; o < O; o++) {
            ck_assert(isnan(y[o]));
            ck_assert(isinf(y[O + o]) && y[O + o] > 0);
            ck_assert(y[2 * O + o] == 10.5f);
        }
    }
}
END_TEST

START_TEST(bad_arguments)
{
    float x[4] = {1, 2, 3, 4}, w[4] = {1, 1, 1, 1}, y[4];
    qat_packed_kernel k = {.isa = QAT_PACKED_ISA_AUTO, .threads = 0};
    qat_packed_fgemm g = {.x = x, .ldx = 2, .rows = 2, .w = w, .ldw = 2, .out = 2, .in = 2, .y = y, .ldy = 2};
    QAT_ASSERT_FAILS(qat_packed_float_gemm(&k, &g), QAT_ERR_INVALID_ARGUMENT, "not initialised");
    QAT_ASSERT_OK(qat_packed_kernel_init(&k, QAT_PACKED_ISA_SCALAR, 1));
    QAT_ASSERT_FAILS(qat_packed_float_gemm(&k, NULL), QAT_ERR_INVALID_ARGUMENT, "NULL");
    g.ldx = 1;
    QAT_ASSERT_FAILS(qat_packed_float_gemm(&k, &g), QAT_ERR_INVALID_ARGUMENT, "ld");
    g.ldx = 2, g.y = NULL;
    QAT_ASSERT_FAILS(qat_packed_float_gemm(&k, &g), QAT_ERR_INVALID_ARGUMENT, "NULL");
    g.y = y, g.rows = 0;
    QAT_ASSERT_OK(qat_packed_float_gemm(&k, &g)); /* nothing to do */
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("packed_float_gemm");
    TCase *tc = tcase_create("float_gemm");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, every_path_same_bits);
    tcase_add_test(tc, nan_and_inf_propagate);
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}
