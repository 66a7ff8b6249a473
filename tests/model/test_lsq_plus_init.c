/* The LSQ+ initialisation (lib/quant/lsq_plus_init.c) against the numpy
 * implementation of the documented search (gen_lsq_plus.py), and its
 * guarantees: the chosen range beats plain min/max, bad input is refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "golden.h"
#include "quant/lsq_plus_init.h"
#include "test_main.h"

static double mse(const float *x, size_t n, int bits, float step, float offset)
{
    const float qp = (float)((1 << bits) - 1);
    double err = 0.0;
    for (size_t i = 0; i < n; i++) {
        float v = (x[i] - offset) / step;
        v = v < 0.0f ? 0.0f : (v > qp ? qp : v);
        double d = nearbyintf(v) * step + offset - x[i];
        err += d * d;
    }
    return err / (double)n;
}

START_TEST(matches_numpy_search)
{
    golden g;
    ck_assert_msg(golden_load(LSQ_PLUS_GOLDEN, &g) == 0, "cannot read %s", LSQ_PLUS_GOLDEN);
    const int count = *(const int32_t *)golden_find(&g, "count")->data;
    ck_assert_int_ge(count, 5);
    for (int i = 0; i < count; i++) {
        char key[32];
        snprintf(key, sizeof key, "x%d", i);
        const golden_record *x = golden_find(&g, key);
        snprintf(key, sizeof key, "bits%d", i);
        const int bits = *(const int32_t *)golden_find(&g, key)->data;
        snprintf(key, sizeof key, "expect%d", i);
        const float *want = golden_find(&g, key)->data;
        float step, offset;
        QAT_ASSERT_OK(qat_lsq_plus_init(x->data, (int64_t)x->count, bits, &step, &offset));
        ck_assert_msg(fabsf(step - want[0]) <= 1e-6f * want[0] && fabsf(offset - want[1]) <= 1e-6f * fmaxf(1.0f, fabsf(want[1])),
                      "input %d: step %.9g offset %.9g, numpy %.9g %.9g", i, (double)step, (double)offset,
                      (double)want[0], (double)want[1]);
        /* The search starts from [min, max]: it can only do better. */
        float mn = ((const float *)x->data)[0], mx = mn;
        for (size_t j = 0; j < x->count; j++) {
            mn = fminf(mn, ((const float *)x->data)[j]);
            mx = fmaxf(mx, ((const float *)x->data)[j]);
        }
        if (mx > mn)
            ck_assert(mse(x->data, x->count, bits, step, offset) <=
                      mse(x->data, x->count, bits, (mx - mn) / (float)((1 << bits) - 1), mn) * 1.0001);
    }
    golden_free(&g);
}
END_TEST

START_TEST(bad_input_refused)
{
    float x[3] = {1.0f, NAN, 2.0f}, s, o;
    QAT_ASSERT_FAILS(qat_lsq_plus_init(x, 3, 8, &s, &o), QAT_ERR_NUMERIC, "non-finite");
    QAT_ASSERT_FAILS(qat_lsq_plus_init(x, 0, 8, &s, &o), QAT_ERR_INVALID_ARGUMENT, "no values");
    QAT_ASSERT_FAILS(qat_lsq_plus_init(x, 1, 9, &s, &o), QAT_ERR_INVALID_ARGUMENT, "2..8");
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("lsq_plus_init");
    TCase *tc = tcase_create("search");
    tcase_add_test(tc, matches_numpy_search);
    tcase_add_test(tc, bad_input_refused);
    suite_add_tcase(s, tc);
    return s;
}
