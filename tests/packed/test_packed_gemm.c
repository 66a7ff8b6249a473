/* The integer contract: on every ISA path and thread count, the packed
 * GEMM gives exactly the int32 accumulators sum qa * qw of the fake
 * quantizers' codes, bit-identical float outputs, and reproduces the float
 * fake-quant forward X_hat @ W_hat^T + b within 1e-5 (relative to the sum
 * of |terms|, i.e. up to accumulation order). Odd shapes, every bit width,
 * both ternary packings, per-tensor and per-row scales, adversarial values,
 * worst-case codes for int16 saturation, avx2's pair fixes and spans of 8-bit codes,
 * and the offset correction alone. */
#include <float.h>

#include "core/thread_pool.h"
#include "packed_test_util.h"
#include "qat/core.h"
#include "test_main.h"

typedef struct wcfg { qat_packed_wformat fmt; int bits; int per_row; } wcfg;

static const int64_t shapes[][3] = { /* tokens, in, out */
    {1, 1, 1}, {1, 5, 1}, {3, 37, 5}, {2, 130, 17}, {5, 161, 33}, {4, 333, 7}, {1, 768, 3}, {9, 64, 20},
    {19, 100, 70}, /* three panel pairs (the last one short) x three token tiles (the last one short) */
    /* amx's 32-token tiles of two 16-row halves: one full tile and a
     * 1-token one; exactly a tile and a half; a second half of one token */
    {33, 129, 45}, {48, 64, 64}, {17, 700, 31},
    /* amx's calls of 128 tokens with narrow panels decoded 512 inputs at a
     * time: a call and 2 tokens over 512 + 512 + 128 inputs; 64 inputs
     * past one block */
    {130, 1100, 40}, {160, 576, 33},
};
#define N_SHAPES (sizeof shapes / sizeof shapes[0])
static const int thread_counts[] = {1, 2, 3};

/* Packs w with cfg and returns the reference codes in qw (test-side
 * quantizer) and the scales in sw (out entries, expanded). */
static void pack(const float *w, int64_t out, int64_t in, wcfg cfg, qat_packed_weights *pw, int8_t *qw,
                 float *sw)
{
    float *scale = malloc((size_t)out * sizeof *scale);
    int64_t ns = cfg.per_row ? out : 1;
    if (cfg.fmt == QAT_PACKED_W_LSQ) {
        /* LSQ's init, 2 mean|W| / sqrt(Qp), on each row or the tensor. */
        ref_bitnet_gamma(w, out, in, cfg.per_row, scale);
        for (int64_t r = 0; r < ns; r++)
            scale[r] = 2.0f * scale[r] / sqrtf((float)((1 << (cfg.bits - 1)) - 1));
        ref_lsq(w, out, in, cfg.bits, scale, cfg.per_row, qw);
        QAT_ASSERT_OK(qat_packed_pack_lsq(w, out, in, cfg.bits, scale, cfg.per_row, pw));
    } else {
        QAT_ASSERT_OK(qat_packed_bitnet_gamma(w, out, in, cfg.per_row, scale));
        ref_bitnet_w(w, out, in, cfg.per_row, scale, qw);
        QAT_ASSERT_OK(qat_packed_pack_ternary(w, out, in, scale, cfg.per_row, cfg.fmt, pw));
    }
    for (int64_t o = 0; o < out; o++)
        sw[o] = scale[cfg.per_row ? o : 0];
    free(scale);
}

/* want[t, o] = sum_i qa[t, i] qw[o, i], exactly, by brute force. */
static void ref_int_gemm(const int8_t *qa, const int8_t *qw, int64_t T, int64_t O, int64_t K, int64_t *want)
{
    for (int64_t t = 0; t < T; t++)
        for (int64_t o = 0; o < O; o++) {
            int64_t s = 0;
            for (int64_t i = 0; i < K; i++)
                s += (int64_t)qa[t * K + i] * qw[o * K + i];
            want[t * O + o] = s;
        }
}

/* Runs the GEMM on every available ISA and thread count: accumulators
 * equal `want` exactly, float outputs all bit-identical; returns them. */
static float *run_all_paths(const qat_packed_acts *a, const qat_packed_weights *pw, const int64_t *want,
                            const float *bias, const char *what)
{
    int64_t T = a->tokens, O = pw->out, ld = O + 1;
    qat_packed_matrix m;
    QAT_ASSERT_OK(qat_packed_matrix_from(pw, &m));
    int32_t *acc = malloc((size_t)(T * ld) * sizeof *acc);
    float *y = malloc((size_t)(T * ld) * sizeof *y), *y0 = NULL;
    for (int i = 0; i < N_ISAS; i++) {
        if (!isa_runs(all_isas[i]))
            continue;
        /* Each thread count as an OpenMP team, then on a pool (the packed
         * model's way). */
        const size_t n_counts = sizeof thread_counts / sizeof thread_counts[0];
        for (size_t ti = 0; ti < 2 * n_counts; ti++) {
            /* Under a memory checker: one thread as a team, two on a pool
             * (a third of the time; the bits of every count are checked
             * in the plain build). */
            if (test_under_checker() && ti != 0 && ti != n_counts + 1)
                continue;
            /* Each path forced the way a user forces it: QAT_ISA, then auto. */
            qat_packed_kernel k;
            setenv("QAT_ISA", qat_packed_isa_name(all_isas[i]), 1);
            QAT_ASSERT_OK(qat_packed_kernel_init(&k, QAT_PACKED_ISA_AUTO, thread_counts[ti % n_counts]));
            unsetenv("QAT_ISA");
            qat_pool *pool = NULL;
            if (ti >= n_counts) {
                QAT_ASSERT_OK(qat_pool_create(k.threads, &pool));
                k.pool = pool;
            }
            ck_assert_int_eq(k.isa, all_isas[i]);
            QAT_ASSERT_OK(qat_packed_matrix_prepare(&m, k.isa));
            memset(acc, 0x5a, (size_t)(T * ld) * sizeof *acc);
            QAT_ASSERT_OK(qat_packed_gemm_i32(&k, a, &m, acc, ld));
            int64_t t = 0, o = 0, bad = 0;
            for (int64_t j = 0; j < T * O && !bad; j++)
                if (acc[(j / O) * ld + j % O] != want[j])
                    t = j / O, o = j % O, bad = 1;
            if (bad)
                ck_assert_msg(acc[t * ld + o] == want[t * O + o],
                                  "%s [T=%lld K=%lld O=%lld] isa %s threads %d: acc[%lld, %lld] = %d, want %lld",
                                  what, (long long)T, (long long)a->in, (long long)O,
                                  qat_packed_isa_name(k.isa), k.threads, (long long)t, (long long)o,
                                  acc[t * ld + o], (long long)want[t * O + o]);
            /* Poisoned, so an output a path leaves unwritten cannot pass
             * on the previous path's value. */
            memset(y, 0x5a, (size_t)(T * ld) * sizeof *y);
            QAT_ASSERT_OK(qat_packed_gemm(&k, a, &m, bias, y, ld));
            /* Two matrices of one input in one call (the avx512vbmi path's
             * shared tables): each output as its own call's, bit for bit;
             * the second without bias. */
            {
                float *y2 = malloc((size_t)(T * ld) * sizeof *y2), *y3 = malloc((size_t)(T * O) * sizeof *y3);
                float *nobias = malloc((size_t)(T * O) * sizeof *nobias);
                const qat_packed_matrix *ms[2] = {&m, &m};
                const float *biases[2] = {bias, NULL};
                float *ys[2] = {y2, y3};
                const int64_t lds[2] = {ld, O};
                QAT_ASSERT_OK(qat_packed_gemm_many(&k, a, 2, ms, biases, ys, lds));
                QAT_ASSERT_OK(qat_packed_gemm(&k, a, &m, NULL, nobias, O));
                for (int64_t t = 0; t < T; t++)
                    ck_assert_msg(memcmp(y2 + t * ld, y + t * ld, (size_t)O * sizeof *y) == 0 &&
                                      memcmp(y3 + t * O, nobias + t * O, (size_t)O * sizeof *y) == 0,
                                  "%s: isa %s threads %d: gemm_many's token %lld differs from gemm's", what,
                                  qat_packed_isa_name(k.isa), k.threads, (long long)t);
                free(y2), free(y3), free(nobias);
            }
            if (!y0) {
                y0 = malloc((size_t)(T * ld) * sizeof *y0);
                memcpy(y0, y, (size_t)(T * ld) * sizeof *y);
                /* The fused epilogue equals the separate one. */
                float *y2 = malloc((size_t)(T * ld) * sizeof *y2);
                QAT_ASSERT_OK(qat_packed_dequant(a, &m, acc, ld, bias, y2, ld));
                for (int64_t t = 0; t < T; t++)
                    ck_assert(memcmp(y2 + t * ld, y0 + t * ld, (size_t)O * sizeof *y) == 0);
                free(y2);
            } else {
                for (int64_t t = 0; t < T; t++)
                    ck_assert_msg(memcmp(y + t * ld, y0 + t * ld, (size_t)O * sizeof *y) == 0,
                                  "%s: isa %s threads %d: outputs of token %lld differ from the first path",
                                  what, qat_packed_isa_name(k.isa), k.threads, (long long)t);
            }
            qat_pool_free(pool);
        }
    }
    qat_packed_matrix_free(&m);
    free(acc);
    free(y);
    return y0;
}

static void contract_case(int64_t T, int64_t K, int64_t O, wcfg wc, int a_bitnet, int a_bits, int sym,
                          int with_bias, qat_rng *rng, double *worst)
{
    float *w = malloc((size_t)(O * K) * sizeof *w), *x = malloc((size_t)(T * K) * sizeof *x);
    float *bias = malloc((size_t)O * sizeof *bias), *sw = malloc((size_t)O * sizeof *sw);
    float *sa = malloc((size_t)T * sizeof *sa);
    int8_t *qw = malloc((size_t)(O * K)), *qa = malloc((size_t)(T * K)), *got = malloc((size_t)(O * K));
    int64_t *want = malloc((size_t)(T * O) * sizeof *want);
    fill_adversarial(w, O, K, rng, 0.0625f);
    fill_adversarial(x, T, K, rng, 0.125f);
    for (int64_t o = 0; o < O; o++)
        bias[o] = qat_rng_normal(rng);

    qat_packed_weights pw;
    pack(w, O, K, wc, &pw, qw, sw);
    QAT_ASSERT_OK(qat_packed_unpack_codes(&pw, 0, O, got));
    ck_assert(memcmp(got, qw, (size_t)(O * K)) == 0);

    qat_packed_acts a;
    QAT_ASSERT_OK(qat_packed_acts_alloc(T, K, &a));
    float step = 0.125f;
    if (a_bitnet) {
        QAT_ASSERT_OK(qat_packed_quantize_bitnet(NULL, x, K, a_bits, sym, &a));
        ref_bitnet_act(x, T, K, a_bits, sym, qa, sa);
    } else {
        QAT_ASSERT_OK(qat_packed_quantize_lsq(NULL, x, K, a_bits, step, &a));
        ref_lsq(x, T, K, a_bits, &step, 0, qa);
        for (int64_t t = 0; t < T; t++)
            sa[t] = step;
    }
    for (int64_t t = 0; t < T; t++) {
        ck_assert(memcmp(a.codes + t * a.stride, qa + t * K, (size_t)K) == 0);
        ck_assert(a.scale[t] == sa[t]);
    }

    ref_int_gemm(qa, qw, T, O, K, want);
    char what[96];
    snprintf(what, sizeof what, "W fmt %d bits %d row %d, A %s%d%s", (int)wc.fmt, wc.bits, wc.per_row,
             a_bitnet ? "bitnet" : "lsq", a_bits, sym ? " sym" : "");
    float *y = run_all_paths(&a, &pw, want, with_bias ? bias : NULL, what);

    /* The float fake-quant forward. */
    for (int64_t t = 0; t < T; t++)
        for (int64_t o = 0; o < O; o++) {
            float acc = 0.0f, mag = 0.0f;
            for (int64_t i = 0; i < K; i++) {
                float xh = (float)qa[t * K + i] * sa[t], wh = (float)qw[o * K + i] * sw[o];
                acc += xh * wh;
                mag += fabsf(xh * wh);
            }
            float b = with_bias ? bias[o] : 0.0f;
            float fake = acc + b;
            float got_y = y[t * (O + 1) + o];
            double err = fabs((double)got_y - (double)fake);
            double bound = 1e-5 * ((double)mag + fabs((double)b)) + 1e-30;
            if (!(isfinite(got_y) && err <= bound))
                ck_assert_msg(isfinite(got_y) && err <= bound,
                          "%s [T=%lld K=%lld O=%lld]: y[%lld, %lld] = %.9g, fake-quant %.9g (err %.3g > %.3g)",
                          what, (long long)T, (long long)K, (long long)O, (long long)t, (long long)o,
                          (double)got_y, (double)fake, err, bound);
            if (err / bound * 1e-5 > *worst)
                *worst = err / bound * 1e-5;
        }

    free(y);
    qat_packed_acts_free(&a);
    qat_packed_weights_free(&pw);
    free(w); free(x); free(bias); free(sw); free(sa); free(qw); free(qa); free(got); free(want);
}

START_TEST(contract_every_config)
{
    qat_rng rng;
    qat_rng_seed(&rng, 31);
    wcfg cfgs[18];
    int n = 0;
    for (int per_row = 0; per_row < 2; per_row++) {
        cfgs[n++] = (wcfg){QAT_PACKED_W_TERNARY2, 2, per_row};
        cfgs[n++] = (wcfg){QAT_PACKED_W_TERNARY1P6, 2, per_row};
        for (int b = 2; b <= 8; b++)
            cfgs[n++] = (wcfg){QAT_PACKED_W_LSQ, b, per_row};
    }
    double worst = 0.0;
    int count = 0, ran = 0;
    for (size_t si = 0; si < N_SHAPES; si++)
        for (int c = 0; c < n; c++, count++) {
            /* Activation configs rotate so every (shape, weight config)
             * pairing sees varied activation widths; over the loop every
             * width 2..8 of both quantizers appears many times. */
            int a_bits = 2 + (count % 7), a_bitnet = (count / 7) % 2, sym = a_bitnet && (count % 3 == 0);
            /* Under a memory checker, every weight config on every other
             * shape (the plain build checks all 252 cases' bits). */
            if (test_under_checker() && (si + (size_t)c) % 2)
                continue;
            contract_case(shapes[si][0], shapes[si][1], shapes[si][2], cfgs[c], a_bitnet, a_bits, sym,
                          count % 4 != 3, &rng, &worst);
            ran++;
        }
    fprintf(stderr, "contract: %d of %d cases, worst |y - y_fake| = %.3g x sum|terms|\n", ran, count, worst);
}
END_TEST

/* A batch long enough for several token blocks of the driver (in = 3000:
 * 80 tokens per block, whole 8-token tiles, so 200 tokens make blocks of 80,
 * 80 and 40). */
START_TEST(token_blocks)
{
    qat_rng rng;
    qat_rng_seed(&rng, 32);
    double worst = 0.0;
    contract_case(200, 3000, 5, (wcfg){QAT_PACKED_W_TERNARY1P6, 2, 1}, 1, 8, 0, 1, &rng, &worst);
    contract_case(200, 3000, 5, (wcfg){QAT_PACKED_W_LSQ, 8, 0}, 0, 8, 0, 1, &rng, &worst);
}
END_TEST

/* Worst-case codes for the int16 partial sums and maddubs saturation:
 * weights all at u = umax, all at u = 0 (q = Qn or -1), alternating;
 * activations all -128, all 127, alternating; in = 4099. */
START_TEST(extreme_codes)
{
    const int64_t K = 4099, T = 3, O = 3;
    float *x = malloc((size_t)(T * K) * sizeof *x), *w = malloc((size_t)(O * K) * sizeof *w);
    int8_t *qa = malloc((size_t)(T * K)), *qw = malloc((size_t)(O * K));
    int64_t want[9];
    for (int64_t i = 0; i < K; i++) {
        x[i] = -1e9f;
        x[K + i] = 1e9f;
        x[2 * K + i] = (i % 2) ? 1e9f : -1e9f;
        w[i] = 1e9f;
        w[K + i] = -1e9f;
        w[2 * K + i] = (i % 3) ? 1e9f : -1e9f;
    }
    float one = 1.0f;
    qat_packed_acts a;
    QAT_ASSERT_OK(qat_packed_acts_alloc(T, K, &a));
    QAT_ASSERT_OK(qat_packed_quantize_lsq(NULL, x, K, 8, one, &a));
    ref_lsq(x, T, K, 8, &one, 0, qa);
    for (int f = 0; f < 9; f++) {
        qat_packed_weights pw;
        if (f < 2) {
            QAT_ASSERT_OK(qat_packed_pack_ternary(w, O, K, &one, 0,
                                                  f ? QAT_PACKED_W_TERNARY1P6 : QAT_PACKED_W_TERNARY2, &pw));
            ref_bitnet_w(w, O, K, 0, &one, qw);
        } else {
            QAT_ASSERT_OK(qat_packed_pack_lsq(w, O, K, f, &one, 0, &pw));
            ref_lsq(w, O, K, f, &one, 0, qw);
        }
        ref_int_gemm(qa, qw, T, O, K, want);
        float *y = run_all_paths(&a, &pw, want, NULL, f < 2 ? "extreme ternary" : "extreme lsq");
        free(y);
        qat_packed_weights_free(&pw);
    }
    qat_packed_acts_free(&a);
    free(x); free(w); free(qa); free(qw);
}
END_TEST

/* The avx512vbmi path's table lookups (ternary weights x codes of at most
 * 6 bits) at their bounds, against every path: 6-bit LSQ codes all -32,
 * all 31, alternating, then random; weight rows all +1, all -1, in threes,
 * then random; 13 tokens (items of 6, 6 and 1), O outputs, K inputs. */
static void lookup_case(int64_t K, int64_t O, const char *what)
{
    qat_rng rng;
    qat_rng_seed(&rng, 35);
    const int64_t T = 13;
    float *x = malloc((size_t)(T * K) * sizeof *x), *w = malloc((size_t)(O * K) * sizeof *w);
    int8_t *qa = malloc((size_t)(T * K)), *qw = malloc((size_t)(O * K));
    int64_t *want = malloc((size_t)(T * O) * sizeof *want);
    for (int64_t t = 0; t < T; t++)
        for (int64_t i = 0; i < K; i++)
            x[t * K + i] = t == 0 ? -1e9f : t == 1 ? 1e9f : t == 2 ? (i % 2 ? 1e9f : -1e9f)
                                                             : (float)((int)qat_rng_below(&rng, 81) - 40);
    for (int64_t o = 0; o < O; o++)
        for (int64_t i = 0; i < K; i++)
            w[o * K + i] = o == 0 ? 1.0f : o == 1 ? -1.0f : o == 2 ? (float)((int)(i % 3) - 1)
                                                              : (float)((int)qat_rng_below(&rng, 3) - 1);
    float *bias = malloc((size_t)O * sizeof *bias);
    for (int64_t o = 0; o < O; o++)
        bias[o] = qat_rng_normal(&rng);
    const float one = 1.0f;
    qat_packed_acts a;
    QAT_ASSERT_OK(qat_packed_acts_alloc(T, K, &a));
    QAT_ASSERT_OK(qat_packed_quantize_lsq(NULL, x, K, 6, one, &a));
    ref_lsq(x, T, K, 6, &one, 0, qa);
    ck_assert_int_eq(qa[0], -32);
    ck_assert_int_eq(qa[K], 31);
    qat_packed_weights pw;
    QAT_ASSERT_OK(qat_packed_pack_ternary(w, O, K, &one, 0, QAT_PACKED_W_TERNARY2, &pw));
    ref_bitnet_w(w, O, K, 0, &one, qw);
    ref_int_gemm(qa, qw, T, O, K, want);
    free(run_all_paths(&a, &pw, want, bias, what));
    qat_packed_weights_free(&pw);
    qat_packed_acts_free(&a);
    free(x); free(w); free(qa); free(qw); free(want); free(bias);
}

START_TEST(lookup_extremes)
{
    /* The other paths meet these codes in contract_every_config too; under
     * a memory checker whose CPU model has no AVX-512 (valgrind's), only
     * they would run here. */
    if (test_under_checker() && !qat_packed_isa_available(QAT_PACKED_ISA_AVX512VBMI)) {
        fprintf(stderr, "SKIP: lookup_extremes: %s\n", qat_packed_isa_missing(QAT_PACKED_ISA_AVX512VBMI));
        return;
    }
    /* 1100 outputs: over one item's 1024 rows at a time, and a last pair
     * of panels. 1100 inputs: 3 chunks of tables, a last group of 8
     * inputs; 700: one chunk, whose tables every 1024 rows reuse, a last
     * group of 4. */
    lookup_case(1100, 1100, "lookup extremes, 3 chunks");
    lookup_case(700, 1100, "lookup extremes, 1 chunk");
}
END_TEST

/* x [T, K] and w [O, K] integers in the 8-bit range, as LSQ 8-bit codes
 * with step 1 (the values themselves): a and pw, and want = the exact
 * products' sums by brute force. */
static void lsq8_codes(const float *x, const float *w, int64_t T, int64_t K, int64_t O, qat_packed_acts *a,
                       qat_packed_weights *pw, int64_t *want)
{
    const float one = 1.0f;
    int8_t *qa = malloc((size_t)(T * K)), *qw = malloc((size_t)(O * K));
    QAT_ASSERT_OK(qat_packed_acts_alloc(T, K, a));
    QAT_ASSERT_OK(qat_packed_quantize_lsq(NULL, x, K, 8, one, a));
    ref_lsq(x, T, K, 8, &one, 0, qa);
    QAT_ASSERT_OK(qat_packed_pack_lsq(w, O, K, 8, &one, 0, pw));
    ref_lsq(w, O, K, 8, &one, 0, qw);
    ref_int_gemm(qa, qw, T, O, K, want);
    free(qa);
    free(qw);
}

/* 8-bit weights on avx2's maddubs form (qat_packed_matrix.fix): pairs of
 * large codes of one sign are cut to the exact range and the cut added back
 * per token. Codes: 1 in 4 large (65..127 or -128..-65), so 3 % of the pairs
 * need a fix, at the first, last and chunk-edge inputs among others;
 * activations over the whole 8-bit range, with tokens all 127 and all -128;
 * 130 tokens (two 128-token calls) over 1100 inputs (KC chunks and a
 * short one). A matrix whose every pair needs a fix takes vpmaddwd instead. */
START_TEST(pair_fixes)
{
    qat_rng rng;
    qat_rng_seed(&rng, 34);
    const int64_t T = 130, K = 1100, O = 40;
    float *x = malloc((size_t)(T * K) * sizeof *x), *w = malloc((size_t)(O * K) * sizeof *w);
    int64_t *want = malloc((size_t)(T * O) * sizeof *want);
    for (int64_t i = 0; i < O * K; i++) {
        const float u = qat_rng_uniform(&rng), sign = qat_rng_uniform(&rng) < 0.5f ? -1.0f : 1.0f;
        w[i] = u < 0.25f ? sign * (65.0f + floorf(qat_rng_uniform(&rng) * 64.0f))
                         : floorf(qat_rng_uniform(&rng) * 41.0f) - 20.0f;
    }
    /* Pairs at the edges: the first inputs, the last, either side of input 256. */
    const int64_t edge[] = {0, 254, 256, K - 2};
    for (int64_t o = 0; o < O; o++)
        for (size_t e = 0; e < sizeof edge / sizeof edge[0]; e++) {
            w[o * K + edge[e]] = o % 2 ? 127.0f : -128.0f;
            w[o * K + edge[e] + 1] = o % 3 ? (o % 2 ? 127.0f : -128.0f) : (o % 2 ? 2.0f : -1.0f);
        }
    for (int64_t i = 0; i < T * K; i++)
        x[i] = i / K == 0 ? 127.0f : i / K == 1 ? -128.0f : floorf(qat_rng_uniform(&rng) * 256.0f) - 128.0f;
    qat_packed_acts a;
    qat_packed_weights pw;
    lsq8_codes(x, w, T, K, O, &a, &pw, want);
    qat_packed_matrix m;
    QAT_ASSERT_OK(qat_packed_matrix_from(&pw, &m));
#if defined(__x86_64__)
    ck_assert_msg(m.fix != NULL, "pair fixes: the matrix takes vpmaddwd, not the fixed maddubs form");
    const int64_t fixes = m.fix_start[m.panels];
    ck_assert_msg(fixes > O * K / 2 / 50, "pair fixes: only %lld of %lld pairs fixed", (long long)fixes,
                  (long long)(O * K / 2));
#else
    ck_assert(m.fix == NULL && m.spans == NULL); /* avx2's alone: not made here */
#endif
    qat_packed_matrix_free(&m);
    free(run_all_paths(&a, &pw, want, NULL, "pair fixes"));
    qat_packed_weights_free(&pw);
    /* Every pair over the range: no fixes, vpmaddwd. */
    for (int64_t i = 0; i < O * K; i++)
        w[i] = 127.0f;
    const float one = 1.0f;
    QAT_ASSERT_OK(qat_packed_pack_lsq(w, O, K, 8, &one, 0, &pw));
    QAT_ASSERT_OK(qat_packed_matrix_from(&pw, &m));
    ck_assert(m.fix == NULL);
    qat_packed_matrix_free(&m);
    qat_packed_weights_free(&pw);
    qat_packed_acts_free(&a);
    free(x); free(w); free(want);
}
END_TEST

/* avx2's int16 spans of 8-bit codes (qat_packed_matrix.spans): a span
 * ends where one more quad would take a lane's sum of positive (or
 * negative) codes past 128, which times activations all 127 (shifted to
 * 255) would wrap int16. Row 0's first lane holds 64 + 64 at quad 0 and 1
 * at quad 1; row 1's, -64 - 64 at quad 2 and -1 at quad 3, then 127 + 127
 * at quad 5, which its cut brings to 128; so spans start at quads 0, 1
 * and 3 and run to the chunk's end, and the second chunk
 * (inputs 256..299) has one. A budget one larger wraps token 0's sums. */
START_TEST(spans_at_budget)
{
    const int64_t T = 3, K = 300, O = 20;
    float *x = malloc((size_t)(T * K) * sizeof *x), *w = calloc((size_t)(O * K), sizeof *w);
    int64_t *want = malloc((size_t)(T * O) * sizeof *want);
    w[0] = w[1] = 64.0f;
    w[4] = 1.0f;
    w[K + 8] = w[K + 9] = -64.0f;
    w[K + 12] = -1.0f;
    w[K + 20] = w[K + 21] = 127.0f; /* quad 5: a pair cut to 1 + 127, 128: inside the span from quad 3 */
    /* The other rows: codes -1, 0, 1, at most 2 a lane a quad, 126 a span. */
    for (int64_t i = 0; i < K; i++)
        for (int64_t o = 2; o < O; o++)
            w[o * K + i] = (float)((i * 7 + o * 3) % 3) - 1.0f;
    for (int64_t i = 0; i < T * K; i++)
        x[i] = i / K == 0 ? 127.0f : i / K == 1 ? -128.0f : (float)((i * 37) % 256) - 128.0f;
    qat_packed_acts a;
    qat_packed_weights pw;
    lsq8_codes(x, w, T, K, O, &a, &pw, want);
    qat_packed_matrix m;
    QAT_ASSERT_OK(qat_packed_matrix_from(&pw, &m));
#if defined(__x86_64__)
    ck_assert_msg(m.fix && m.spans, "spans: the matrix takes vpmaddwd, not the maddubs spans");
    ck_assert_int_eq(m.span_words, 2);
    ck_assert_msg(m.spans[0] == 0xb, "spans: panel 0's first chunk starts spans at %#llx, want 0xb",
                  (unsigned long long)m.spans[0]);
    ck_assert_msg(m.spans[1] == 1, "spans: panel 0's second chunk: %#llx, want 1", (unsigned long long)m.spans[1]);
#else
    ck_assert(m.fix == NULL && m.spans == NULL);
#endif
    qat_packed_matrix_free(&m);
    free(run_all_paths(&a, &pw, want, NULL, "spans at the budget"));
    qat_packed_weights_free(&pw);
    qat_packed_acts_free(&a);
    free(x); free(w); free(want);
}
END_TEST

/* The offset correction alone: all-zero weight codes are stored as
 * u = offset, so every path must return exactly 0 (and y = bias), whatever
 * the activations' sums; a missing or wrong correction shows here. */
START_TEST(offset_correction)
{
    qat_rng rng;
    qat_rng_seed(&rng, 33);
    const int64_t T = 5, K = 203, O = 9;
    float *x = malloc((size_t)(T * K) * sizeof *x), *w = calloc((size_t)(O * K), sizeof *w);
    float bias[9];
    int64_t want[45] = {0};
    for (int64_t i = 0; i < T * K; i++)
        x[i] = qat_rng_uniform(&rng) * 3.0f - 0.5f; /* large positive sums */
    for (int o = 0; o < O; o++)
        bias[o] = (float)o - 4.0f;
    qat_packed_acts a;
    QAT_ASSERT_OK(qat_packed_acts_alloc(T, K, &a));
    QAT_ASSERT_OK(qat_packed_quantize_bitnet(NULL, x, K, 8, 0, &a));
    for (int64_t t = 0; t < T; t++)
        ck_assert_int_gt(a.row_sum[t], 1000);
    for (int f = 0; f < 9; f++) {
        qat_packed_weights pw;
        const float one = 1.0f, ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
        if (f < 2) /* per-row gamma for one packing, per tensor for the other */
            QAT_ASSERT_OK(qat_packed_pack_ternary(w, O, K, ones, 1 - f,
                                                  f ? QAT_PACKED_W_TERNARY1P6 : QAT_PACKED_W_TERNARY2, &pw));
        else
            QAT_ASSERT_OK(qat_packed_pack_lsq(w, O, K, f, &one, 0, &pw));
        ck_assert_int_gt(pw.offset, 0);
        float *y = run_all_paths(&a, &pw, want, bias, "offset correction");
        int exact = 1;
        for (int64_t t = 0; t < T; t++)
            for (int64_t o = 0; o < O; o++)
                exact &= y[t * (O + 1) + o] == bias[o];
        ck_assert_msg(exact, "offset correction: y != bias for all-zero weights");
        free(y);
        qat_packed_weights_free(&pw);
    }
    qat_packed_acts_free(&a);
    free(x);
    free(w);
}
END_TEST

START_TEST(gemm_errors)
{
    float x[6] = {1, 2, 3, 4, 5, 6}, one = 1.0f, y[4];
    int32_t acc[4];
    qat_packed_acts a;
    qat_packed_weights pw;
    qat_packed_matrix m, none;
    memset(&none, 0, sizeof none);
    qat_packed_kernel k = {.isa = QAT_PACKED_ISA_AUTO, .threads = 0};
    QAT_ASSERT_OK(qat_packed_acts_alloc(2, 3, &a));
    QAT_ASSERT_OK(qat_packed_pack_lsq(x, 2, 3, 4, &one, 0, &pw));
    QAT_ASSERT_OK(qat_packed_matrix_from(&pw, &m));
    qat_packed_weights_free(&pw);
    QAT_ASSERT_FAILS(qat_packed_gemm(&k, &a, &m, NULL, y, 2), QAT_ERR_INVALID_ARGUMENT, "not initialised");
    QAT_ASSERT_OK(qat_packed_kernel_init(&k, QAT_PACKED_ISA_SCALAR, 1));
    QAT_ASSERT_FAILS(qat_packed_gemm(&k, &a, &m, NULL, y, 2), QAT_ERR_INVALID_ARGUMENT, "not quantized");
    QAT_ASSERT_OK(qat_packed_quantize_lsq(NULL, x, 3, 8, one, &a));
    QAT_ASSERT_FAILS(qat_packed_gemm_i32(&k, &a, &m, acc, 1), QAT_ERR_INVALID_ARGUMENT, "ld = 1");
    QAT_ASSERT_FAILS(qat_packed_gemm(&k, &a, &none, NULL, y, 2), QAT_ERR_INVALID_ARGUMENT, "not laid out");
    {
        const qat_packed_matrix *ms[QAT_PACKED_MANY + 1] = {&m, &m, &m, &m, &m}, *with_none[2] = {&m, &none};
        const float *biases[QAT_PACKED_MANY + 1] = {NULL};
        float *ys[QAT_PACKED_MANY + 1] = {y, y, y, y, y};
        const int64_t lds[QAT_PACKED_MANY + 1] = {2, 2, 2, 2, 2};
        QAT_ASSERT_FAILS(qat_packed_gemm_many(&k, &a, 0, ms, biases, ys, lds), QAT_ERR_INVALID_ARGUMENT, "n = 0");
        QAT_ASSERT_FAILS(qat_packed_gemm_many(&k, &a, QAT_PACKED_MANY + 1, ms, biases, ys, lds),
                         QAT_ERR_INVALID_ARGUMENT, "expected 1..");
        QAT_ASSERT_FAILS(qat_packed_gemm_many(&k, &a, 1, ms, NULL, ys, lds), QAT_ERR_INVALID_ARGUMENT, "NULL array");
        QAT_ASSERT_FAILS(qat_packed_gemm_many(&k, &a, 2, with_none, biases, ys, lds), QAT_ERR_INVALID_ARGUMENT,
                         "not laid out");
    }
    /* onednn, the path with a layout of its own, refuses a matrix not prepared for it. */
    if (isa_runs(QAT_PACKED_ISA_ONEDNN)) {
        qat_packed_kernel ko;
        QAT_ASSERT_OK(qat_packed_kernel_init(&ko, QAT_PACKED_ISA_ONEDNN, 1));
        QAT_ASSERT_FAILS(qat_packed_gemm(&ko, &a, &m, NULL, y, 2), QAT_ERR_INVALID_ARGUMENT, "not prepared");
        QAT_ASSERT_FAILS(qat_packed_gemm_i32(&ko, &a, &m, acc, 2), QAT_ERR_INVALID_ARGUMENT, "not prepared");
    }
    qat_packed_matrix_free(&m);
    QAT_ASSERT_OK(qat_packed_pack_lsq(x, 3, 2, 4, &one, 0, &pw));
    QAT_ASSERT_OK(qat_packed_matrix_from(&pw, &m));
    QAT_ASSERT_FAILS(qat_packed_gemm(&k, &a, &m, NULL, y, 3), QAT_ERR_INVALID_ARGUMENT, "features");
    qat_packed_matrix_free(&m);
    qat_packed_weights_free(&pw);
    QAT_ASSERT_FAILS(qat_packed_matrix_from(&pw, &m), QAT_ERR_INVALID_ARGUMENT, "not packed");
    qat_packed_acts_free(&a);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("packed_gemm");
    TCase *tc = tcase_create("gemm");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, contract_every_config);
    tcase_add_test(tc, token_blocks);
    tcase_add_test(tc, extreme_codes);
    tcase_add_test(tc, lookup_extremes);
    tcase_add_test(tc, pair_fixes);
    tcase_add_test(tc, spans_at_budget);
    tcase_add_test(tc, offset_correction);
    tcase_add_test(tc, gemm_errors);
    suite_add_tcase(s, tc);
    return s;
}
