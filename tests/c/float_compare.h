/* What the cpu backend's kernel tests share: inputs with special values, a
 * bit-for-bit comparison with ref that names the path, thread count and
 * width of a failure, and the QAT_ISA paths to run (test_float_kernels.c,
 * test_train_kernels.c). */
#ifndef QAT_TESTS_FLOAT_COMPARE_H
#define QAT_TESTS_FLOAT_COMPARE_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/rng.h"
#include "packed/packed.h"

/* Uniform in [-8, 8), and when `specials`, every 97th element (from the
 * 13th) one of NaN, +-inf, +-100, 1e-30, -0, 0.875, 4, -89.5. */
static inline void fill_specials(float *x, int64_t n, qat_rng *rng, int specials)
{
    static const float special[] = {NAN, INFINITY, -INFINITY, 100.0f, -100.0f, 1e-30f, -0.0f, 0.875f, 4.0f, -89.5f};
    for (int64_t i = 0; i < n; i++) {
        x[i] = qat_rng_uniform(rng) * 16.0f - 8.0f;
        if (specials && i % 97 == 13)
            x[i] = special[(i / 97) % (sizeof special / sizeof special[0])];
    }
}

/* First index where a and b differ in bits, or -1. NaN matches NaN
 * whatever its sign and payload: which NaN an x86 operation returns
 * depends on the operand order the compiler picks for a commutative one. */
static inline int64_t first_difference(const float *a, const float *b, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (memcmp(a + i, b + i, sizeof *a) != 0 && !(isnan(a[i]) && isnan(b[i])))
            return i;
    return -1;
}

/* Needs `isa` (a string), `threads` and `cols` in scope. */
#define SAME_BITS(what, a, b, n)                                                                         \
    do {                                                                                                 \
        int64_t at_ = first_difference((a), (b), (n));                                                   \
        ck_assert_msg(at_ < 0, "%s, QAT_ISA=%s, %d threads, cols %lld: element %lld is %a, ref %a", (what), \
                      isa, threads, (long long)cols, (long long)at_, at_ < 0 ? 0.0 : (double)(a)[at_],    \
                      at_ < 0 ? 0.0 : (double)(b)[at_]);                                                 \
    } while (0)

#if defined(__aarch64__)
/* auto: the NEON float path on every AArch64 CPU, with or without the dot
 * product that QAT_ISA=neon asks of the packed kernels. */
static const qat_packed_isa float_paths[] = {QAT_PACKED_ISA_SCALAR, QAT_PACKED_ISA_AUTO};
#else
static const qat_packed_isa float_paths[] = {QAT_PACKED_ISA_SCALAR, QAT_PACKED_ISA_AVX2,
                                             QAT_PACKED_ISA_AVX512VNNI};
#endif

/* compare(isa, threads) on every path this CPU runs (a missing one is
 * skipped, saying why), with 1 and 3 threads. */
#define FOR_EVERY_PATH(compare)                                                                              \
    for (size_t p_ = 0; p_ < sizeof float_paths / sizeof float_paths[0]; p_++) {                              \
        if (!qat_packed_isa_available(float_paths[p_])) {                                                     \
            printf("skip QAT_ISA=%s: %s\n", qat_packed_isa_name(float_paths[p_]),                            \
                   qat_packed_isa_missing(float_paths[p_]));                                                  \
            continue;                                                                                         \
        }                                                                                                     \
        compare(qat_packed_isa_name(float_paths[p_]), 1);                                                     \
        compare(qat_packed_isa_name(float_paths[p_]), 3);                                                     \
    }

#endif
