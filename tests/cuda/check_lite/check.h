/* The few parts of Check (libcheck) the CUDA suites use, for machines that
 * lack Check: bench/gpu_check.sh compiles tests/cuda/test_cuda_ops.c and
 * test_cuda_model.c with -I tests/cuda/check_lite, so a device run needs no
 * extra package. Same semantics as Check without fork (CK_NOFORK): a failed
 * assertion prints file:line and the message, and leaves the test through
 * longjmp; the runner counts failures. CK_LITE_TESTS=name,name runs only
 * those tests (for slow tools such as compute-sanitizer). Header-only: include it once (the
 * CUDA suites' cuda_test_util.h does). Never used by the meson build, which
 * links the real Check. */
#ifndef QAT_CHECK_LITE_H
#define QAT_CHECK_LITE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum fork_status { CK_FORK, CK_NOFORK };
enum print_output { CK_SILENT, CK_MINIMAL, CK_NORMAL, CK_VERBOSE };

typedef struct ck_test {
    const char *name;
    void (*fn)(int);
} ck_test;
typedef ck_test TTest;
typedef void (*SFun)(void);

#define CK_LITE_MAX 64
typedef struct TCase {
    const char *name;
    const TTest *tests[CK_LITE_MAX];
    int count;
    SFun setup, teardown;
} TCase;
typedef struct Suite {
    const char *name;
    TCase *cases[CK_LITE_MAX];
    int count;
} Suite;
typedef struct SRunner {
    Suite *suite;
    int run, failed;
} SRunner;

#define START_TEST(name_)                                                                                      \
    static void name_##_fn(int _i);                                                                            \
    static const TTest name_##_ttest = {#name_, name_##_fn};                                                   \
    static const TTest *name_ = &name_##_ttest;                                                                \
    static void name_##_fn(int _i)                                                                             \
    {                                                                                                          \
        (void)_i;
#define END_TEST }

static jmp_buf ck_lite_jump;

static inline void ck_lite_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    longjmp(ck_lite_jump, 1);
}

#define ck_assert_msg(cond, ...)                                                                               \
    do {                                                                                                       \
        if (!(cond))                                                                                           \
            ck_lite_fail(__FILE__, __LINE__, __VA_ARGS__);                                                     \
    } while (0)
#define ck_assert(cond) ck_assert_msg(cond, "assertion '%s' failed", #cond)
#define ck_lite_cmp_int(a, op, b)                                                                              \
    do {                                                                                                       \
        long long ck_a_ = (long long)(a), ck_b_ = (long long)(b);                                              \
        ck_assert_msg(ck_a_ op ck_b_, "assertion '%s " #op " %s' failed: %lld vs %lld", #a, #b, ck_a_, ck_b_); \
    } while (0)
#define ck_assert_int_eq(a, b) ck_lite_cmp_int(a, ==, b)
#define ck_assert_int_ne(a, b) ck_lite_cmp_int(a, !=, b)
#define ck_assert_int_ge(a, b) ck_lite_cmp_int(a, >=, b)
#define ck_assert_int_gt(a, b) ck_lite_cmp_int(a, >, b)
#define ck_assert_int_le(a, b) ck_lite_cmp_int(a, <=, b)
#define ck_assert_int_lt(a, b) ck_lite_cmp_int(a, <, b)
#define ck_assert_ptr_null(p) ck_assert_msg((p) == NULL, "'%s' is not NULL", #p)
#define ck_assert_ptr_nonnull(p) ck_assert_msg((p) != NULL, "'%s' is NULL", #p)
#define ck_assert_str_eq(a, b)                                                                                 \
    do {                                                                                                       \
        const char *ck_a_ = (a), *ck_b_ = (b);                                                                 \
        ck_assert_msg(ck_a_ && ck_b_ && strcmp(ck_a_, ck_b_) == 0, "'%s' is \"%s\", expected \"%s\"", #a,      \
                      ck_a_ ? ck_a_ : "(null)", ck_b_ ? ck_b_ : "(null)");                                       \
    } while (0)

static inline Suite *suite_create(const char *name)
{
    Suite *s = calloc(1, sizeof *s);
    if (s)
        s->name = name;
    return s;
}

static inline TCase *tcase_create(const char *name)
{
    TCase *tc = calloc(1, sizeof *tc);
    if (tc)
        tc->name = name;
    return tc;
}

static inline void suite_add_tcase(Suite *s, TCase *tc)
{
    if (s && tc && s->count < CK_LITE_MAX)
        s->cases[s->count++] = tc;
}

static inline void tcase_add_test(TCase *tc, const TTest *t)
{
    if (tc && tc->count < CK_LITE_MAX)
        tc->tests[tc->count++] = t;
}

static inline void tcase_add_checked_fixture(TCase *tc, SFun setup, SFun teardown)
{
    tc->setup = setup;
    tc->teardown = teardown;
}

/* No timeouts here: bench/gpu_check.sh bounds each stage with timeout(1). */
static inline void tcase_set_timeout(TCase *tc, double seconds)
{
    (void)tc;
    (void)seconds;
}

static inline SRunner *srunner_create(Suite *s)
{
    SRunner *r = calloc(1, sizeof *r);
    if (r)
        r->suite = s;
    return r;
}

static inline void srunner_set_fork_status(SRunner *r, enum fork_status status)
{
    (void)r;
    (void)status;
}

/* Runs one test; 1 when it failed. Its own frame, so that nothing of the
 * caller's loop is live across the longjmp. The teardown runs after a
 * failed test too (it frees device memory the next tests need), but not
 * after a failed setup. */
static inline int ck_lite_run_one(const TCase *tc, const TTest *test)
{
    static volatile int setup_done;
    setup_done = 0;
    if (setjmp(ck_lite_jump) != 0) {
        if (setup_done && tc->teardown) {
            setup_done = 0; /* a failure inside the teardown lands here once more */
            tc->teardown();
        }
        return 1;
    }
    if (tc->setup)
        tc->setup();
    setup_done = 1;
    test->fn(0);
    setup_done = 0;
    if (tc->teardown)
        tc->teardown();
    return 0;
}

/* Whether $CK_LITE_TESTS (comma-separated names) selects test `name`. */
static inline int ck_lite_selected(const char *name)
{
    const char *list = getenv("CK_LITE_TESTS");
    if (!list || !*list)
        return 1;
    size_t len = strlen(name);
    for (const char *at = list; (at = strstr(at, name)) != NULL; at += len)
        if ((at == list || at[-1] == ',') && (at[len] == ',' || at[len] == '\0'))
            return 1;
    return 0;
}

static inline void srunner_run_all(SRunner *r, enum print_output mode)
{
    (void)mode;
    for (int c = 0; c < r->suite->count; c++) {
        TCase *tc = r->suite->cases[c];
        for (int t = 0; t < tc->count; t++) {
            if (!ck_lite_selected(tc->tests[t]->name))
                continue;
            struct timespec t0, t1;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            int failed = ck_lite_run_one(tc, tc->tests[t]);
            clock_gettime(CLOCK_MONOTONIC, &t1);
            double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
            printf("%s:%s:%s: %s (%.2f s)\n", r->suite->name, tc->name, tc->tests[t]->name,
                   failed ? "FAILED" : "Passed", s);
            fflush(stdout);
            r->run++;
            r->failed += failed;
        }
    }
    printf("%s: %d tests, %d failed\n", r->suite->name, r->run, r->failed);
}

static inline int srunner_ntests_failed(SRunner *r)
{
    return r->failed;
}

static inline void srunner_free(SRunner *r)
{
    if (!r)
        return;
    for (int c = 0; c < r->suite->count; c++)
        free(r->suite->cases[c]);
    free(r->suite);
    free(r);
}

#endif
