/* Weight packing: codes equal to the fake quantizers', exact round trips
 * through every layout (2-bit and 1.6-bit ternary, LSQ 2..8 bits, and the
 * embedding gather's LSQ row lookup), every
 * 5-trit byte, ties, clamps and argument errors. */
#include "packed/packed_internal.h"
#include "packed_test_util.h"
#include "qat/core.h"
#include "test_main.h"

static const int64_t widths[] = {1, 2, 3, 4, 5, 6, 7, 31, 33, 63, 64, 65, 127, 128, 129,
                                 159, 160, 161, 255, 256, 257, 319, 320, 333, 768};
#define N_WIDTHS (sizeof widths / sizeof widths[0])

static void check_codes(const qat_packed_weights *pw, const int8_t *want, const char *what)
{
    int8_t *got = malloc((size_t)(pw->out * pw->in));
    QAT_ASSERT_OK(qat_packed_unpack_codes(pw, 0, pw->out, got));
    /* Find the first mismatch, then assert once: an assertion per element
     * costs a pipe write under Check's fork mode and dominates valgrind. */
    int64_t i = 0;
    while (i < pw->out * pw->in && got[i] == want[i])
        i++;
    if (i < pw->out * pw->in)
        ck_assert_msg(got[i] == want[i], "%s [%lld x %lld]: code %lld is %d, want %d", what,
                      (long long)pw->out, (long long)pw->in, (long long)i, got[i], want[i]);
    free(got);
}

/* The kernels' layout (qat_packed_matrix_from) holds the same codes, in
 * the narrowest width that fits them, with inputs past `in` and rows past
 * `out` stored as q = 0 (u = offset; the padding activations are 0 too,
 * and avx2's 8-bit pairs need no fix for them). */
static void check_matrix(const qat_packed_weights *pw, const int8_t *want)
{
    qat_packed_matrix m;
    QAT_ASSERT_OK(qat_packed_matrix_from(pw, &m));
    ck_assert_int_eq(m.offset, pw->offset);
    ck_assert_int_eq(m.code_bits, pw->qmax + pw->offset <= 3 ? 2 : pw->qmax + pw->offset <= 15 ? 4 : 8);
    ck_assert(m.panels % 2 == 0 && m.panels * QAT_PACKED_PANEL >= pw->out);
    int64_t bad_r = -1, bad_c = -1;
    int got = 0, exp = 0;
    for (int64_t r = 0; r < m.panels * QAT_PACKED_PANEL && bad_r < 0; r++)
        for (int64_t c = 0; c < m.kpad && bad_r < 0; c++) {
            got = qat_packed_matrix_code(&m, r, c);
            exp = c >= pw->in || r >= pw->out ? pw->offset : want[r * pw->in + c] + pw->offset;
            if (got != exp)
                bad_r = r, bad_c = c;
        }
    ck_assert_msg(bad_r < 0, "matrix [%lld x %lld] bits %d: u[%lld, %lld] = %d, want %d", (long long)pw->out,
                  (long long)pw->in, pw->bits, (long long)bad_r, (long long)bad_c, got, exp);
    qat_packed_matrix_free(&m);
}

START_TEST(ternary_layouts)
{
    qat_rng rng;
    qat_rng_seed(&rng, 11);
    for (size_t wi = 0; wi < N_WIDTHS; wi++) {
        int64_t in = widths[wi], out = 3 + (int64_t)wi % 4;
        float *w = malloc((size_t)(out * in) * sizeof *w);
        int8_t *want = malloc((size_t)(out * in));
        fill_adversarial(w, out, in, &rng, 0.25f);
        for (int per_row = 0; per_row < 2; per_row++) {
            float gamma[8];
            QAT_ASSERT_OK(qat_packed_bitnet_gamma(w, out, in, per_row, gamma));
            float want_gamma[8];
            ref_bitnet_gamma(w, out, in, per_row, want_gamma);
            ck_assert(memcmp(gamma, want_gamma, (size_t)(per_row ? out : 1) * sizeof(float)) == 0);
            ref_bitnet_w(w, out, in, per_row, gamma, want);
            for (int f = 0; f < 2; f++) {
                qat_packed_wformat fmt = f ? QAT_PACKED_W_TERNARY1P6 : QAT_PACKED_W_TERNARY2;
                qat_packed_weights pw;
                QAT_ASSERT_OK(qat_packed_pack_ternary(w, out, in, gamma, per_row, fmt, &pw));
                ck_assert_uint_eq(pw.row_bytes, (size_t)(f ? (in + 4) / 5 : (in + 3) / 4));
                ck_assert_int_eq(pw.offset, 1);
                check_codes(&pw, want, f ? "ternary 1.6" : "ternary 2");
                check_matrix(&pw, want);
                qat_packed_weights_free(&pw);
            }
        }
        free(w);
        free(want);
    }
}
END_TEST

/* Every one of the 243 five-trit bytes round-trips (the ceil(v*256/243)
 * encoding and the multiply-by-3^k decoding), in full and tail groups. */
START_TEST(ternary_all_trit_bytes)
{
    for (int64_t in = 5; in <= 325; in += 160) {
        int64_t out = 243;
        float *w = malloc((size_t)(out * in) * sizeof *w);
        int8_t *want = malloc((size_t)(out * in));
        for (int64_t r = 0; r < out; r++)
            for (int64_t c = 0; c < in; c++) {
                /* Row r puts the base-3 digits of r on every byte's trits. */
                int64_t g0 = c / 160 * 160, n = in - g0 < 160 ? in - g0 : 160, nb = (n + 4) / 5;
                int k = (int)((c - g0) / nb);
                int p3 = 1;
                for (int j = 0; j < 4 - k; j++)
                    p3 *= 3;
                int q = (int)(r / p3 % 3) - 1;
                w[r * in + c] = (float)q;
                want[r * in + c] = (int8_t)q;
            }
        float one = 1.0f;
        qat_packed_weights pw;
        QAT_ASSERT_OK(qat_packed_pack_ternary(w, out, in, &one, 0, QAT_PACKED_W_TERNARY1P6, &pw));
        check_codes(&pw, want, "all trit bytes");
        check_matrix(&pw, want);
        /* Row r's first byte is ceil(r * 256 / 243). */
        for (int64_t r = 0; r < out; r++)
            ck_assert_uint_eq(pw.data[r * (int64_t)pw.row_bytes], (unsigned)((r * 256 + 242) / 243));
        qat_packed_weights_free(&pw);
        free(w);
        free(want);
    }
}
END_TEST

/* Ties round half to even and clamp to [-1, 1]; zero weights give the
 * 1e-5 floor of gamma. */
START_TEST(ternary_ties_and_floor)
{
    const float w[8] = {0.5f, -0.5f, 1.5f, -1.5f, 2.5f, 0.49999997f, 7.0f, -3.0f};
    const int8_t want[8] = {0, 0, 1, -1, 1, 0, 1, -1};
    float one = 1.0f;
    qat_packed_weights pw;
    QAT_ASSERT_OK(qat_packed_pack_ternary(w, 1, 8, &one, 0, QAT_PACKED_W_TERNARY2, &pw));
    check_codes(&pw, want, "ternary ties");
    qat_packed_weights_free(&pw);

    float zeros[6] = {0}, g[2];
    QAT_ASSERT_OK(qat_packed_bitnet_gamma(zeros, 2, 3, 1, g));
    ck_assert(g[0] == 1e-5f && g[1] == 1e-5f);
    const float tiny[3] = {1e-30f, -1e-30f, 0.0f};
    QAT_ASSERT_OK(qat_packed_bitnet_gamma(tiny, 1, 3, 0, g));
    ck_assert(g[0] == 1e-5f);
}
END_TEST

/* qat_packed_lsq_row_add looks up each code of a row: with value_of
 * distinct per code, each element gains exactly its code's entry. */
static void check_row_add(const qat_packed_weights *pw, const int8_t *want)
{
    float value_of[256], *dst = malloc((size_t)pw->in * sizeof *dst);
    for (int u = 0; u < 256; u++)
        value_of[u] = 1000.0f + 3.0f * (float)u;
    for (int64_t r = 0; r < pw->out; r++) {
        for (int64_t c = 0; c < pw->in; c++)
            dst[c] = (float)c;
        QAT_ASSERT_OK(qat_packed_lsq_row_add(pw, r, value_of, dst));
        int64_t c = 0;
        while (c < pw->in && dst[c] == (float)c + value_of[want[r * pw->in + c] + pw->offset])
            c++;
        ck_assert_msg(c == pw->in, "row add [%lld x %lld] bits %d: row %lld element %lld is %g", (long long)pw->out,
                      (long long)pw->in, pw->bits, (long long)r, (long long)c, c < pw->in ? dst[c] : 0.0);
    }
    free(dst);
}

START_TEST(lsq_layouts)
{
    qat_rng rng;
    qat_rng_seed(&rng, 12);
    for (int bits = 2; bits <= 8; bits++)
        for (size_t wi = 0; wi < N_WIDTHS; wi++) {
            int64_t in = widths[wi], out = 2 + (int64_t)(wi + (size_t)bits) % 5;
            float *w = malloc((size_t)(out * in) * sizeof *w);
            int8_t *want = malloc((size_t)(out * in));
            float step[8];
            for (int64_t r = 0; r < out; r++)
                step[r] = 0.03125f * (float)(1 + r); /* powers of two: exact ties */
            fill_adversarial(w, out, in, &rng, 0.03125f);
            for (int per_row = 0; per_row < 2; per_row++) {
                ref_lsq(w, out, in, bits, step, per_row, want);
                qat_packed_weights pw;
                QAT_ASSERT_OK(qat_packed_pack_lsq(w, out, in, bits, step, per_row, &pw));
                ck_assert_uint_eq(pw.row_bytes, (size_t)((in * bits + 7) / 8));
                ck_assert_int_eq(pw.offset, 1 << (bits - 1));
                check_codes(&pw, want, "lsq");
                check_matrix(&pw, want);
                check_row_add(&pw, want);
                if (bits == 8) /* 8-bit weights are plain int8 codes */
                    ck_assert(memcmp(pw.data, want, (size_t)in) == 0);
                qat_packed_weights_free(&pw);
            }
            free(w);
            free(want);
        }
}
END_TEST

START_TEST(lsq_ties_and_clamps)
{
    /* step 1: v = x exactly. */
    const float w[10] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 100.0f, -100.0f, 1.4999999f, -3.5f};
    const int8_t want3[10] = {0, 2, 2, 0, -2, -2, 3, -4, 1, -4};
    float one = 1.0f;
    qat_packed_weights pw;
    QAT_ASSERT_OK(qat_packed_pack_lsq(w, 1, 10, 3, &one, 0, &pw));
    check_codes(&pw, want3, "lsq ties 3-bit");
    qat_packed_weights_free(&pw);
    const int8_t want8[10] = {0, 2, 2, 0, -2, -2, 100, -100, 1, -4};
    QAT_ASSERT_OK(qat_packed_pack_lsq(w, 1, 10, 8, &one, 0, &pw));
    check_codes(&pw, want8, "lsq ties 8-bit");
    qat_packed_weights_free(&pw);
}
END_TEST

START_TEST(pack_errors)
{
    float w[4] = {1, 2, 3, 4}, one = 1.0f, zero = 0.0f, nan = NAN;
    qat_packed_weights pw;
    QAT_ASSERT_FAILS(qat_packed_pack_lsq(w, 1, 4, 9, &one, 0, &pw), QAT_ERR_INVALID_ARGUMENT, "bits = 9");
    QAT_ASSERT_FAILS(qat_packed_pack_lsq(w, 1, 4, 1, &one, 0, &pw), QAT_ERR_INVALID_ARGUMENT, "2..8");
    QAT_ASSERT_FAILS(qat_packed_pack_lsq(w, 1, 4, 4, &zero, 0, &pw), QAT_ERR_INVALID_ARGUMENT, "step[0]");
    QAT_ASSERT_FAILS(qat_packed_pack_ternary(w, 1, 4, &nan, 0, QAT_PACKED_W_TERNARY2, &pw),
                     QAT_ERR_INVALID_ARGUMENT, "gamma[0]");
    QAT_ASSERT_FAILS(qat_packed_pack_ternary(w, 1, 4, &one, 0, QAT_PACKED_W_LSQ, &pw),
                     QAT_ERR_INVALID_ARGUMENT, "format");
    QAT_ASSERT_FAILS(qat_packed_pack_ternary(w, 0, 4, &one, 0, QAT_PACKED_W_TERNARY2, &pw),
                     QAT_ERR_INVALID_ARGUMENT, "shape");
    QAT_ASSERT_FAILS(qat_packed_pack_lsq(w, 1, QAT_PACKED_MAX_IN + 1, 4, &one, 0, &pw),
                     QAT_ERR_INVALID_ARGUMENT, "out of range");
    w[2] = INFINITY;
    QAT_ASSERT_FAILS(qat_packed_pack_lsq(w, 1, 4, 4, &one, 0, &pw), QAT_ERR_NUMERIC, "[0, 2]");
    QAT_ASSERT_FAILS(qat_packed_bitnet_gamma(w, 1, 4, 0, &one), QAT_ERR_NUMERIC, "not finite");
    ck_assert_ptr_null(pw.data);
    qat_packed_weights_free(&pw);
    qat_packed_weights_free(NULL);
    int8_t q[4];
    float g = 1.0f;
    w[2] = 0.0f;
    QAT_ASSERT_OK(qat_packed_pack_ternary(w, 1, 4, &g, 0, QAT_PACKED_W_TERNARY2, &pw));
    QAT_ASSERT_FAILS(qat_packed_unpack_codes(&pw, 0, 2, q), QAT_ERR_INVALID_ARGUMENT, "outside");
    float value_of[256] = {0}, row[4] = {0};
    QAT_ASSERT_FAILS(qat_packed_lsq_row_add(&pw, 0, value_of, row), QAT_ERR_INVALID_ARGUMENT, "not LSQ codes");
    qat_packed_weights_free(&pw);
    QAT_ASSERT_OK(qat_packed_pack_lsq(w, 1, 4, 4, &one, 0, &pw));
    QAT_ASSERT_FAILS(qat_packed_lsq_row_add(&pw, 1, value_of, row), QAT_ERR_INVALID_ARGUMENT, "row 1 outside [0, 1)");
    QAT_ASSERT_FAILS(qat_packed_lsq_row_add(&pw, -1, value_of, row), QAT_ERR_INVALID_ARGUMENT, "outside");
    QAT_ASSERT_FAILS(qat_packed_lsq_row_add(&pw, 0, NULL, row), QAT_ERR_INVALID_ARGUMENT, "NULL");
    QAT_ASSERT_FAILS(qat_packed_lsq_row_add(NULL, 0, value_of, row), QAT_ERR_INVALID_ARGUMENT, "NULL");
    qat_packed_weights_free(&pw);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("packed_pack");
    TCase *tc = tcase_create("pack");
    tcase_add_test(tc, ternary_layouts);
    tcase_add_test(tc, ternary_all_trit_bytes);
    tcase_add_test(tc, ternary_ties_and_floor);
    tcase_add_test(tc, lsq_layouts);
    tcase_add_test(tc, lsq_ties_and_clamps);
    tcase_add_test(tc, pack_errors);
    suite_add_tcase(s, tc);
    return s;
}
