/* Shared by the CUDA suites: skip without a usable "cuda" backend, Check's
 * runner in the calling process (CK_FORK=no: CUDA and fork do not mix),
 * assertion helpers. Include once, from the test file that defines
 * make_suite(). */
#ifndef QAT_CUDA_TEST_UTIL_H
#define QAT_CUDA_TEST_UTIL_H

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qat/qat.h"

/* meson's "skipped" exit status. */
#define QAT_TEST_SKIP 77

Suite *make_suite(void);

static int cuda_backend_usable(void)
{
    int count = qat_backend_count();
    for (int i = 0; i < count; i++) {
        const char *name = qat_backend_name(i);
        if (name && strcmp(name, "cuda") == 0)
            return 1;
    }
    return 0;
}

int main(void)
{
    if (!cuda_backend_usable()) {
        printf("SKIP: no usable \"cuda\" backend here (no GPU, no driver, or the module was not built)\n");
        return QAT_TEST_SKIP;
    }
    setenv("CK_FORK", "no", 1);
    SRunner *runner = srunner_create(make_suite());
    srunner_set_fork_status(runner, CK_NOFORK);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#define QAT_ASSERT_OK(expr) \
    do { qat_status st_ = (expr); \
         ck_assert_msg(st_ == QAT_OK, "%s failed: %s: %s", #expr, qat_status_string(st_), qat_last_error()); \
    } while (0)

/* max |got - want| <= atol + rtol * |want| elementwise, reporting the worst. */
static inline void expect_close(const char *what, const float *want, const float *got, size_t n, double rtol, double atol)
{
    size_t worst = 0;
    double worst_excess = -1.0;
    for (size_t i = 0; i < n; i++) {
        double tol = atol + rtol * fabs((double)want[i]);
        double err = fabs((double)got[i] - (double)want[i]);
        int bad = !(err <= tol) && !(isnan(want[i]) && isnan(got[i])) &&
                  !(isinf(want[i]) && want[i] == got[i]);
        double excess = bad ? (isnan(err) ? INFINITY : err - tol) : -1.0;
        if (excess > worst_excess) {
            worst_excess = excess;
            worst = i;
        }
    }
    ck_assert_msg(worst_excess < 0.0, "%s: element %zu of %zu is %.9g, ref %.9g (rtol %g, atol %g)", what, worst, n,
                  (double)got[worst], (double)want[worst], rtol, atol);
}

/* Bit-for-bit equality (as floats: +0 == -0, NaN == NaN). */
static inline void expect_equal(const char *what, const float *want, const float *got, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(want[i] == got[i] || (isnan(want[i]) && isnan(got[i])),
                      "%s: element %zu of %zu is %.9g, ref %.9g (exact equality expected)", what, i, n,
                      (double)got[i], (double)want[i]);
}

/* ||got - want|| / max(||want||, tiny) <= rel: for whole tensors whose
 * elements may legitimately move (quantizer codes flipping at a tie). */
static inline void expect_norm_close(const char *what, const float *want, const float *got, size_t n, double rel)
{
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)got[i] - (double)want[i];
        num += d * d;
        den += (double)want[i] * want[i];
    }
    double r = sqrt(num) / fmax(sqrt(den), 1e-30);
    ck_assert_msg(r <= rel || (num == 0.0), "%s: relative L2 error %g > %g (n = %zu)", what, r, rel, n);
}

#endif
