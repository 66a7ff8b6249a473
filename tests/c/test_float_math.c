/* The library's own expf and erff (lib/math/float_math.h) against double
 * libm over a sweep of float bit patterns covering every exponent (every
 * 4099th pattern of 2^32, both signs), the largest error in ulps asserted;
 * plus the special values the kernels must carry like libm. */
#include <float.h>
#include <math.h>

#include "math/float_math.h"
#include "test_main.h"

/* |got - want| in units of the float spacing at want (the subnormal
 * spacing at the bottom), inf when only one of them is finite. */
static double ulp_error(float got, double want)
{
    if (isnan(want) || isnan(got))
        return isnan(want) && isnan(got) ? 0.0 : INFINITY;
    const float w = (float)want;
    if (isinf(w) || isinf(got))
        return w == got ? 0.0 : INFINITY;
    double spacing = fabs((double)nextafterf(fabsf(w), INFINITY) - fabs((double)fabsf(w)));
    spacing = spacing > 0x1p-149 ? spacing : 0x1p-149;
    return fabs((double)got - want) / spacing;
}

typedef struct sweep_result { double max_ulp; float worst; } sweep_result;

static sweep_result sweep(float (*f)(float), double (*ref)(double))
{
    sweep_result r = {0.0, 0.0f};
    const uint32_t stride = test_under_valgrind() ? 65537u : 4099u;
    for (uint64_t u = 0; u < (1ull << 32); u += stride) {
        const float x = qat_bits_float((uint32_t)u);
        const double e = ulp_error(f(x), ref((double)x));
        if (e > r.max_ulp || e != e) {
            r.max_ulp = e;
            r.worst = x;
        }
    }
    return r;
}

START_TEST(expf_within_one_ulp)
{
    sweep_result r = sweep(qat_expf, exp);
    ck_assert_msg(r.max_ulp <= 1.0, "qat_expf: %.3f ulp at %a", r.max_ulp, (double)r.worst);
    /* the softmax range, densely: every 1021st float of [-88, 0] */
    for (uint32_t u = qat_float_bits(-0.0f); u <= qat_float_bits(-88.0f); u += 1021) {
        const float x = qat_bits_float(u);
        const double e = ulp_error(qat_expf(x), exp((double)x));
        ck_assert_msg(e <= 1.0, "qat_expf(%a): %.3f ulp", (double)x, e);
    }
    ck_assert_float_eq(qat_expf(0.0f), 1.0f);
    ck_assert_float_eq(qat_expf(-0.0f), 1.0f);
    ck_assert(isinf(qat_expf(INFINITY)) && qat_expf(INFINITY) > 0);
    ck_assert(isinf(qat_expf(89.0f)));
    ck_assert_float_eq(qat_expf(-INFINITY), 0.0f);
    ck_assert(isnan(qat_expf(NAN)));
    ck_assert_float_eq(qat_expf(88.7f), expf(88.7f)); /* near FLT_MAX, finite */
}
END_TEST

START_TEST(erff_within_1_25_ulp)
{
    sweep_result r = sweep(qat_erff, erf);
    ck_assert_msg(r.max_ulp <= 1.25, "qat_erff: %.3f ulp at %a", r.max_ulp, (double)r.worst);
    /* GELU's working range densely: every 1019th float of [0, 6] (both signs by symmetry) */
    for (uint32_t u = 0; u <= qat_float_bits(6.0f); u += 1019) {
        const float x = qat_bits_float(u);
        const double e = ulp_error(qat_erff(x), erf((double)x));
        ck_assert_msg(e <= 1.25, "qat_erff(%a): %.3f ulp", (double)x, e);
        ck_assert(qat_float_bits(qat_erff(-x)) == (qat_float_bits(qat_erff(x)) ^ QAT_SIGN_BIT));
    }
    ck_assert_float_eq(qat_erff(INFINITY), 1.0f);
    ck_assert_float_eq(qat_erff(-INFINITY), -1.0f);
    ck_assert(qat_float_bits(qat_erff(-0.0f)) == QAT_SIGN_BIT);
    ck_assert(isnan(qat_erff(NAN)));
    ck_assert_float_eq(qat_erff(FLT_TRUE_MIN), erff(FLT_TRUE_MIN));
}
END_TEST

/* GELU and its derivative against double: relative error, since 1 + erf
 * cancels for negative x exactly as in torch's float formula. */
START_TEST(gelu_and_its_gradient_match_double)
{
    for (float x = -9.0f; x <= 9.0f; x += 0.00137f) {
        const double xd = x, cdf = 0.5 * (1.0 + erf(xd / sqrt(2.0)));
        const double g = xd * cdf, dg = cdf + xd * exp(-0.5 * xd * xd) / sqrt(2.0 * M_PI);
        ck_assert_msg(fabs(qat_gelu(x) - g) <= 4e-7 * fabs(g) + 1e-7, "gelu(%g) = %g, want %g", x, qat_gelu(x), g);
        ck_assert_msg(fabs(qat_gelu_grad(x) - dg) <= 1e-6 * fabs(dg) + 1e-7, "gelu'(%g) = %g, want %g", x,
                      qat_gelu_grad(x), dg);
    }
}
END_TEST

/* Both magic-number roundings against libm's nearbyint: every half
 * integer and its neighbours over the quantizers' range (the ties are
 * where a round-half-up would differ), then a sweep of the rest. */
START_TEST(round_even_small_is_nearbyint)
{
    for (int twice = -600; twice <= 600; twice++) {
        const float h = (float)twice * 0.5f;
        const float f[3] = {nextafterf(h, -INFINITY), h, nextafterf(h, INFINITY)};
        for (int i = 0; i < 3; i++) {
            ck_assert_msg(qat_round_even_small(f[i]) == nearbyintf(f[i]), "float %a", (double)f[i]);
            const double d[3] = {nextafter((double)f[i], -INFINITY), (double)f[i], nextafter((double)f[i], INFINITY)};
            for (int j = 0; j < 3; j++)
                ck_assert_msg(qat_round_even_small_d(d[j]) == nearbyint(d[j]), "double %a", d[j]);
        }
    }
    for (double v = -4.0e6; v < 4.0e6; v += 1234.5678)
        ck_assert_msg(qat_round_even_small_d(v) == nearbyint(v), "double %a", v);
    /* The one difference: a negative value that rounds to zero gives +0,
     * where nearbyint keeps the sign; equal as numbers, as == says above. */
    ck_assert(!signbit(qat_round_even_small(-0.25f)) && signbit(nearbyintf(-0.25f)));
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("float_math");
    TCase *tc = tcase_create("float_math");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, expf_within_one_ulp);
    tcase_add_test(tc, erff_within_1_25_ulp);
    tcase_add_test(tc, gelu_and_its_gradient_match_double);
    tcase_add_test(tc, round_even_small_is_nearbyint);
    suite_add_tcase(s, tc);
    return s;
}
