/* Activation quantization: codes and scales equal to the fake quantizers'
 * (BitNet, LSQ, LSQ+) for every bit width, ties, the 1e-5 floor, huge and tiny magnitudes, the
 * row sums the offset correction uses, and the zero padding. */
#include "core/thread_pool.h"
#include "packed_test_util.h"
#include "qat/core.h"
#include "test_main.h"

static void check_acts(const qat_packed_acts *a, const int8_t *want, const float *want_scale,
                       const char *what)
{
    for (int64_t t = 0; t < a->tokens; t++) {
        const int8_t *q = a->codes + t * a->stride;
        int32_t sum = 0;
        int64_t bad = 0;
        while (bad < a->in && q[bad] == want[t * a->in + bad])
            bad++;
        if (bad < a->in) {
            int64_t c = bad;
            ck_assert_msg(q[c] == want[t * a->in + c], "%s: code [%lld, %lld] is %d, want %d", what,
                          (long long)t, (long long)c, q[c], want[t * a->in + c]);
        }
        for (int64_t c = 0; c < a->in; c++)
            sum += q[c];
        int64_t c = a->in;
        while (c < a->stride && q[c] == 0)
            c++;
        if (c < a->stride)
            ck_assert_msg(q[c] == 0, "%s: padding [%lld, %lld] is %d", what, (long long)t, (long long)c, q[c]);
        ck_assert_msg(a->row_sum[t] == sum, "%s: row_sum[%lld] = %d, want %d", what, (long long)t,
                      a->row_sum[t], sum);
        ck_assert_msg(memcmp(&a->scale[t], &want_scale[t], sizeof(float)) == 0, "%s: scale[%lld] = %a, want %a",
                      what, (long long)t, (double)a->scale[t], (double)want_scale[t]);
    }
}

/* Quantizer variant ki (0..2 N_ISAS): 0 is NULL (scalar, one thread), then
 * every ISA with an OpenMP team of 2 threads, then every ISA on a pool of 2
 * threads (the packed model's way). Returns 0 when that ISA cannot run
 * here, and for onednn, whose quantizer is the avx2 or the avx512vnni one
 * (quantize_act.c). */
static int kernel_at(int ki, qat_packed_kernel *buf, const qat_packed_kernel **k)
{
    static qat_pool *pool; /* one per test process, for its life */
    *k = NULL;
    if (ki == 0)
        return 1;
    const qat_packed_isa isa = all_isas[(ki - 1) % N_ISAS];
    if (isa == QAT_PACKED_ISA_ONEDNN || !isa_runs(isa))
        return 0;
    QAT_ASSERT_OK(qat_packed_kernel_init(buf, isa, 2));
    if (ki > N_ISAS) {
        if (!pool)
            QAT_ASSERT_OK(qat_pool_create(2, &pool));
        buf->pool = pool;
    }
    *k = buf;
    return 1;
}

START_TEST(bitnet_random)
{
    qat_rng rng;
    qat_rng_seed(&rng, 21);
    const int64_t shapes[][2] = {{1, 1}, {3, 5}, {7, 63}, {6, 64}, {5, 65}, {9, 129}, {4, 333}, {2, 768},
                                 {67, 1001}}; /* the last one is split over threads */
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (int bits = 2; bits <= 8; bits++)
            for (int sym = 0; sym < 2; sym++) {
                int64_t T = shapes[si][0], K = shapes[si][1], ldx = K + (int64_t)si % 3;
                float *x = malloc((size_t)(T * ldx) * sizeof *x), *xc = malloc((size_t)(T * K) * sizeof *xc);
                int8_t *want = malloc((size_t)(T * K));
                float *want_scale = malloc((size_t)T * sizeof *want_scale);
                fill_adversarial(xc, T, K, &rng, 1.0f);
                for (int64_t t = 0; t < T; t++)
                    memcpy(x + t * ldx, xc + t * K, (size_t)K * sizeof *x);
                ref_bitnet_act(xc, T, K, bits, sym, want, want_scale);
                qat_packed_acts a;
                QAT_ASSERT_OK(qat_packed_acts_alloc(T, K, &a));
                ck_assert_int_eq(a.stride % QAT_PACKED_K_ALIGN, 0);
                for (int ki = 0; ki <= 2 * N_ISAS; ki++) {
                    qat_packed_kernel kb;
                    const qat_packed_kernel *k;
                    if (!kernel_at(ki, &kb, &k))
                        continue;
                    QAT_ASSERT_OK(qat_packed_quantize_bitnet(k, x, ldx, bits, sym, &a));
                    check_acts(&a, want, want_scale, "bitnet");
                }
                if (sym) {
                    int lowest = 0;
                    for (int64_t t = 0; t < T; t++)
                        for (int64_t c = 0; c < K; c++)
                            lowest = a.codes[t * a.stride + c] < lowest ? a.codes[t * a.stride + c] : lowest;
                    ck_assert_int_ge(lowest, -((1 << (bits - 1)) - 1));
                }
                qat_packed_acts_free(&a);
                free(x);
                free(xc);
                free(want);
                free(want_scale);
            }
}
END_TEST

/* With m = Qp the quantizer computes round(x) exactly: ties go to even. */
START_TEST(bitnet_ties_floor_magnitudes)
{
    qat_packed_acts a;
    QAT_ASSERT_OK(qat_packed_acts_alloc(4, 6, &a));
    static const float x[4][6] = {
        {127.0f, 0.5f, 1.5f, 2.5f, -0.5f, -2.5f},         /* m = 127 = Qp at 8 bits */
        {0, 0, 0, 0, 0, 0},                                /* floor: scale 1e-5/127 */
        {3e38f, -3e38f, 1e38f, 1.0f, -1e30f, 0},           /* huge */
        {1e-6f, -1e-6f, 3e-7f, 1e-38f, -1e-45f, 5e-6f},    /* tiny, below the floor */
    };
    for (int ki = 0; ki <= 2 * N_ISAS; ki++) {
    qat_packed_kernel kb;
    const qat_packed_kernel *k;
    if (!kernel_at(ki, &kb, &k))
        continue;
    QAT_ASSERT_OK(qat_packed_quantize_bitnet(k, &x[0][0], 6, 8, 0, &a));
    const int8_t *q = a.codes;
    ck_assert_int_eq(q[0], 127);
    ck_assert_int_eq(q[1], 0);
    ck_assert_int_eq(q[2], 2);
    ck_assert_int_eq(q[3], 2);
    ck_assert_int_eq(q[4], 0);
    ck_assert_int_eq(q[5], -2);
    ck_assert(a.scale[0] == 1.0f);
    ck_assert(a.scale[1] == 1e-5f / 127.0f);
    ck_assert_int_eq(a.row_sum[1], 0);
    /* Row 3: m = 1e-5 (the floor), so 1e-6 -> round(12.7) = 13. */
    int8_t want[24];
    float want_scale[4];
    ref_bitnet_act(&x[0][0], 4, 6, 8, 0, want, want_scale);
    check_acts(&a, want, want_scale, "bitnet edges");
    ck_assert_int_eq(a.codes[3 * a.stride + 0], 13);
    /* -3e38 * 127 overflows to -inf in float, as in the fake quantizer: the
     * code clamps to Qn. */
    ck_assert_int_eq(a.codes[2 * a.stride + 1], -128);
    }
    qat_packed_acts_free(&a);
}
END_TEST

START_TEST(lsq_random_and_ties)
{
    qat_rng rng;
    qat_rng_seed(&rng, 22);
    for (int bits = 2; bits <= 8; bits++) {
        int64_t T = 5, K = 77 + bits;
        float *x = malloc((size_t)(T * K) * sizeof *x);
        int8_t *want = malloc((size_t)(T * K));
        float step = 0.0625f, steps[5];
        fill_adversarial(x, T, K, &rng, step);
        x[0] = 0.5f * step;
        x[1] = 1.5f * step;
        x[2] = -0.5f * step;
        for (int t = 0; t < T; t++)
            steps[t] = step;
        ref_lsq(x, T, K, bits, &step, 0, want);
        qat_packed_acts a;
        QAT_ASSERT_OK(qat_packed_acts_alloc(T, K, &a));
        for (int ki = N_ISAS; ki >= 0; ki--) { /* scalar last: checked below */
            qat_packed_kernel kb;
            const qat_packed_kernel *k;
            if (!kernel_at(ki, &kb, &k))
                continue;
            QAT_ASSERT_OK(qat_packed_quantize_lsq(k, x, K, bits, step, &a));
            check_acts(&a, want, steps, "lsq");
        }
        ck_assert_int_eq(a.codes[0], 0);
        ck_assert_int_eq(a.codes[1], 2 > (1 << (bits - 1)) - 1 ? (1 << (bits - 1)) - 1 : 2);
        ck_assert_int_eq(a.codes[2], 0);
        qat_packed_acts_free(&a);
        free(x);
        free(want);
    }
}
END_TEST

/* LSQ+ inputs around the offset: exact ties (x - beta)/s = k + 0.5 inside
 * and outside [0, Qp], Gaussian values, huge magnitudes (x - beta
 * overflowing to infinity), zero rows; both divisors (0 and the frozen
 * step's 1e-8); shapes with SIMD tails and one split over threads. */
static void fill_lsq_plus(float *x, int64_t T, int64_t K, qat_rng *rng, int bits, float step, float beta)
{
    const int qp = (1 << bits) - 1;
    for (int64_t t = 0; t < T; t++) {
        int kind = (int)(t % 5);
        for (int64_t c = 0; c < K; c++) {
            float v;
            switch (kind) {
            case 0: /* ties, from 4 steps below 0 to 4 above Qp */
                v = beta + ((float)((int)qat_rng_below(rng, (uint32_t)qp + 9) - 4) + 0.5f) * step;
                break;
            case 1: /* integers (exact codes) and their neighbours one ulp away */
                v = beta + (float)((int)qat_rng_below(rng, (uint32_t)qp + 3) - 1) * step;
                v = c % 3 == 0 ? v : nextafterf(v, c % 3 == 1 ? INFINITY : -INFINITY);
                break;
            case 2:
                v = beta + qat_rng_normal(rng) * step * (float)qp / 3.0f;
                break;
            case 3: /* huge values of both signs */
                v = qat_rng_normal(rng) * 3e38f;
                v = isfinite(v) ? v : 3e38f;
                break;
            default:
                v = 0.0f;
                break;
            }
            x[t * K + c] = v;
        }
    }
}

START_TEST(lsq_plus_random_ties_range)
{
    qat_rng rng;
    qat_rng_seed(&rng, 23);
    const int64_t shapes[][2] = {{1, 1}, {5, 31}, {6, 64}, {5, 97}, {7, 333}, {67, 1001}};
    /* (step, beta): power-of-two steps make the ties exact; a negative and a
     * positive offset; one so large that x - beta overflows. */
    const float params[][2] = {{0.0625f, -0.375f}, {0.25f, 1.5f}, {0.013f, -0.61f}, {1.0f, -3e38f}};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (int bits = 2; bits <= 8; bits++)
            for (size_t pi = 0; pi < sizeof params / sizeof params[0]; pi++)
                for (int frozen = 0; frozen < 2; frozen++) {
                    const int64_t T = shapes[si][0], K = shapes[si][1], ldx = K + (int64_t)si % 2;
                    const float step = params[pi][0], beta = params[pi][1], eps = frozen ? 1e-8f : 0.0f;
                    float *xc = malloc((size_t)(T * K) * sizeof *xc), *x = malloc((size_t)(T * ldx) * sizeof *x);
                    float *steps = malloc((size_t)T * sizeof *steps);
                    int8_t *want = malloc((size_t)(T * K));
                    fill_lsq_plus(xc, T, K, &rng, bits, step, beta);
                    for (int64_t t = 0; t < T; t++) {
                        memcpy(x + t * ldx, xc + t * K, (size_t)K * sizeof *x);
                        steps[t] = step;
                    }
                    ref_lsq_plus(xc, T, K, bits, step, beta, eps, want);
                    qat_packed_acts a;
                    QAT_ASSERT_OK(qat_packed_acts_alloc(T, K, &a));
                    for (int ki = 0; ki <= 2 * N_ISAS; ki++) {
                        qat_packed_kernel kb;
                        const qat_packed_kernel *k;
                        if (!kernel_at(ki, &kb, &k))
                            continue;
                        memset(a.row_sum, 0x5a, (size_t)T * sizeof *a.row_sum);
                        QAT_ASSERT_OK(qat_packed_quantize_lsq_plus(k, x, ldx, bits, step, beta, eps, &a));
                        ck_assert_int_eq(a.bits, bits);
                        char what[96];
                        snprintf(what, sizeof what, "lsq+ %lldx%lld bits %d params %zu eps %g kernel %d",
                                 (long long)T, (long long)K, bits, pi, (double)eps, ki);
                        check_acts(&a, want, steps, what);
                    }
                    qat_packed_acts_free(&a);
                    free(xc);
                    free(x);
                    free(steps);
                    free(want);
                }
}
END_TEST

/* The boundaries one by one, 8 and 2 bits: codes are u - 2^(b-1). */
START_TEST(lsq_plus_edges)
{
    /* step 0.5, beta -1: v = 2 (x + 1) */
    static const float x[] = {-1.0f, -1.25f, -0.75f, -0.5f, 126.5f, 126.75f, 127.0f, 1e30f, -1e30f, -2.0f, 0.25f};
    const int n = (int)(sizeof x / sizeof x[0]);
    static const int u8[] = {0, 0, 0, 1, 255, 255, 255, 255, 0, 0, 2};   /* v = 0.5 -> 0, 1.5 -> 2 */
    static const int u2[] = {0, 0, 0, 1, 3, 3, 3, 3, 0, 0, 2};
    qat_packed_acts a;
    QAT_ASSERT_OK(qat_packed_acts_alloc(1, n, &a));
    for (int ki = 0; ki <= 2 * N_ISAS; ki++) {
        qat_packed_kernel kb;
        const qat_packed_kernel *k;
        if (!kernel_at(ki, &kb, &k))
            continue;
        QAT_ASSERT_OK(qat_packed_quantize_lsq_plus(k, x, n, 8, 0.5f, -1.0f, 0.0f, &a));
        int32_t sum = 0;
        for (int i = 0; i < n; i++) {
            ck_assert_msg(a.codes[i] == u8[i] - 128, "8 bits, x = %g: code %d, want %d", (double)x[i], a.codes[i],
                          u8[i] - 128);
            sum += u8[i] - 128;
        }
        ck_assert_int_eq(a.row_sum[0], sum);
        ck_assert(a.scale[0] == 0.5f);
        QAT_ASSERT_OK(qat_packed_quantize_lsq_plus(k, x, n, 2, 0.5f, -1.0f, 0.0f, &a));
        for (int i = 0; i < n; i++)
            ck_assert_msg(a.codes[i] == u2[i] - 2, "2 bits, x = %g: code %d, want %d", (double)x[i], a.codes[i],
                          u2[i] - 2);
    }
    qat_packed_acts_free(&a);
}
END_TEST

/* Quotients a few ulps either side of every half-integer code boundary,
 * where the AVX-512 rows' multiply by 1 / div gives way to the division:
 * BitNet with an absmax whose reciprocal is inexact, LSQ and LSQ+ with such
 * a step, and an LSQ step so small (subnormal) that its reciprocal is not a
 * normal float. Each row starts with its absmax and then walks every
 * boundary ulp by ulp; on every path, against the scalar references. */
enum { NEAR_ULPS = 6 };

/* x = origin + h * unit for every boundary h of [lo, hi], then its
 * neighbours up to NEAR_ULPS ulps each way; returns the count written. */
static int64_t fill_near_ties(float *x, float origin, float unit, int lo, int hi)
{
    int64_t n = 0;
    for (int k = lo; k < hi; k++) {
        const float at = origin + ((float)k + 0.5f) * unit;
        for (int d = -NEAR_ULPS; d <= NEAR_ULPS; d++) {
            float v = at;
            for (int i = 0; i < (d < 0 ? -d : d); i++)
                v = nextafterf(v, d < 0 ? -INFINITY : INFINITY);
            x[n++] = v;
        }
    }
    return n;
}

START_TEST(near_ties_every_path)
{
    for (int bits = 2; bits <= 8; bits++) {
        const int qp = (1 << (bits - 1)) - 1, qn = -(1 << (bits - 1)), uqp = (1 << bits) - 1;
        const int64_t K = 1 + (int64_t)(uqp + 4) * (2 * NEAR_ULPS + 1);
        float *x = calloc((size_t)K, sizeof *x), scale;
        int8_t *want = malloc((size_t)K);
        qat_packed_acts a;
        QAT_ASSERT_OK(qat_packed_acts_alloc(1, K, &a));
        for (int kind = 0; kind < 4; kind++) {
            const float m = 3.18374443f, step = 0.0731f, beta = -0.37f, tiny = 1e-39f;
            memset(x, 0, (size_t)K * sizeof *x);
            float steps[1] = {kind == 3 ? tiny : step};
            switch (kind) {
            case 0: /* BitNet: the absmax first, the walks inside it */
                x[0] = m;
                fill_near_ties(x + 1, 0.0f, m / (float)qp, -qp, qp - 1);
                ref_bitnet_act(x, 1, K, bits, 0, want, &scale);
                steps[0] = scale;
                break;
            case 1:
            case 3:
                fill_near_ties(x, 0.0f, steps[0], qn - 2, qp + 2);
                ref_lsq(x, 1, K, bits, steps, 0, want);
                break;
            default:
                fill_near_ties(x, beta, step, -2, uqp + 2);
                ref_lsq_plus(x, 1, K, bits, step, beta, 0.0f, want);
                break;
            }
            for (int ki = 0; ki <= 2 * N_ISAS; ki++) {
                qat_packed_kernel kb;
                const qat_packed_kernel *k;
                if (!kernel_at(ki, &kb, &k))
                    continue;
                if (kind == 0)
                    QAT_ASSERT_OK(qat_packed_quantize_bitnet(k, x, K, bits, 0, &a));
                else if (kind == 2)
                    QAT_ASSERT_OK(qat_packed_quantize_lsq_plus(k, x, K, bits, step, beta, 0.0f, &a));
                else
                    QAT_ASSERT_OK(qat_packed_quantize_lsq(k, x, K, bits, steps[0], &a));
                char what[64];
                snprintf(what, sizeof what, "near ties, kind %d, bits %d, kernel %d", kind, bits, ki);
                check_acts(&a, want, steps, what);
            }
        }
        qat_packed_acts_free(&a);
        free(x);
        free(want);
    }
}
END_TEST

START_TEST(act_errors)
{
    qat_packed_acts a;
    QAT_ASSERT_FAILS(qat_packed_acts_alloc(0, 4, &a), QAT_ERR_INVALID_ARGUMENT, "shape");
    /* 3 tokens of 43: a NaN at [1, 41] (in the SIMD absmax's scalar tail)
     * and an infinity at [2, 3] (in its vector part). */
    QAT_ASSERT_OK(qat_packed_acts_alloc(3, 43, &a));
    float x[129];
    for (int i = 0; i < 129; i++)
        x[i] = (float)i;
    for (int ki = 0; ki <= 2 * N_ISAS; ki++) {
        qat_packed_kernel kb;
        const qat_packed_kernel *k;
        if (!kernel_at(ki, &kb, &k))
            continue;
        x[43 + 41] = NAN;
        x[86 + 3] = -INFINITY;
        QAT_ASSERT_FAILS(qat_packed_quantize_bitnet(k, x, 43, 8, 0, &a), QAT_ERR_NUMERIC, "[1, 41]");
        QAT_ASSERT_FAILS(qat_packed_quantize_lsq(k, x, 43, 8, 1.0f, &a), QAT_ERR_NUMERIC, "[1, 41]");
        x[43 + 41] = 3;
        QAT_ASSERT_FAILS(qat_packed_quantize_bitnet(k, x, 43, 8, 0, &a), QAT_ERR_NUMERIC, "[2, 3]");
        QAT_ASSERT_FAILS(qat_packed_quantize_lsq(k, x, 43, 8, 1.0f, &a), QAT_ERR_NUMERIC, "not finite");
        x[43 + 41] = NAN;
        x[86 + 3] = -INFINITY;
        QAT_ASSERT_FAILS(qat_packed_quantize_lsq_plus(k, x, 43, 8, 1.0f, 0.5f, 0.0f, &a), QAT_ERR_NUMERIC, "[1, 41]");
        ck_assert_int_eq(a.bits, 0);
        x[43 + 41] = 3;
        QAT_ASSERT_FAILS(qat_packed_quantize_lsq_plus(k, x, 43, 8, 1.0f, 0.5f, 0.0f, &a), QAT_ERR_NUMERIC, "[2, 3]");
        x[86 + 3] = 3;
        /* past the AVX2 absmax's 4-vector steps, in its 1-vector loop */
        x[35] = NAN;
        QAT_ASSERT_FAILS(qat_packed_quantize_bitnet(k, x, 43, 8, 0, &a), QAT_ERR_NUMERIC, "[0, 35]");
        x[35] = 35;
    }
    QAT_ASSERT_FAILS(qat_packed_quantize_lsq_plus(NULL, x, 43, 8, 0.0f, 0.0f, 0.0f, &a), QAT_ERR_INVALID_ARGUMENT,
                     "step");
    QAT_ASSERT_FAILS(qat_packed_quantize_lsq_plus(NULL, x, 43, 8, 1.0f, NAN, 0.0f, &a), QAT_ERR_INVALID_ARGUMENT,
                     "offset");
    QAT_ASSERT_FAILS(qat_packed_quantize_lsq_plus(NULL, x, 43, 8, 1.0f, 0.0f, -1.0f, &a), QAT_ERR_INVALID_ARGUMENT,
                     "step_eps");
    QAT_ASSERT_FAILS(qat_packed_quantize_lsq_plus(NULL, x, 43, 1, 1.0f, 0.0f, 0.0f, &a), QAT_ERR_INVALID_ARGUMENT,
                     "bits = 1");
    QAT_ASSERT_FAILS(qat_packed_quantize_lsq(NULL, x, 43, 8, 0.0f, &a), QAT_ERR_INVALID_ARGUMENT, "step");
    QAT_ASSERT_FAILS(qat_packed_quantize_lsq(NULL, x, 43, 9, 1.0f, &a), QAT_ERR_INVALID_ARGUMENT, "bits = 9");
    QAT_ASSERT_FAILS(qat_packed_quantize_bitnet(NULL, x, 42, 8, 0, &a), QAT_ERR_INVALID_ARGUMENT, "ldx");
    qat_packed_kernel bad = {.isa = QAT_PACKED_ISA_AUTO, .threads = 1};
    QAT_ASSERT_FAILS(qat_packed_quantize_bitnet(&bad, x, 43, 8, 0, &a), QAT_ERR_INVALID_ARGUMENT,
                     "not initialised");
    qat_packed_acts_free(&a);
    qat_packed_acts_free(NULL);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("packed_act");
    TCase *tc = tcase_create("act");
    tcase_set_timeout(tc, 120); /* Check's 4 s default fails under ASan on a loaded machine (meson's limit rules) */
    tcase_add_test(tc, bitnet_random);
    tcase_add_test(tc, bitnet_ties_floor_magnitudes);
    tcase_add_test(tc, lsq_random_and_ties);
    tcase_add_test(tc, lsq_plus_random_ties_range);
    tcase_add_test(tc, lsq_plus_edges);
    tcase_add_test(tc, near_ties_every_path);
    tcase_add_test(tc, act_errors);
    suite_add_tcase(s, tc);
    return s;
}
