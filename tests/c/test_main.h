/* Shared main() for the Check suites: each test file defines
 * `Suite *make_suite(void)` and includes this header once. */
#ifndef QAT_TEST_MAIN_H
#define QAT_TEST_MAIN_H

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* Check's passing assertion records its place (_mark_point packs a message
 * for the runner), so a test that asserts per element spent a third of its
 * instructions there, and most of its time under valgrind. Here a passing
 * assertion costs its comparison alone; a failing one reports its file,
 * line and message as before. (A crash is still reported with its test;
 * call mark_point() where a crash's last place matters.) */
#undef ck_assert_msg
#define ck_assert_msg(expr, ...) \
    ((expr) ? (void)0 : _ck_assert_failed(__FILE__, __LINE__, "Assertion '" #expr "' failed", ##__VA_ARGS__))

Suite *make_suite(void);

int main(void)
{
    SRunner *runner = srunner_create(make_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* The backend a test's contexts use: $QAT_TEST_BACKEND when set (meson runs
 * some suites again on "ref-sealed", the backend whose memory the host
 * cannot touch: docs/architecture.md), else `fallback` (NULL: the best one). */
static inline const char *test_backend_or(const char *fallback)
{
    const char *name = getenv("QAT_TEST_BACKEND");
    return name && *name ? name : fallback;
}
#define test_backend() test_backend_or("ref")

/* 1 under valgrind's memcheck (its preload library is in LD_PRELOAD): the
 * packed onednn path is skipped there, memcheck reporting oneDNN's JIT code
 * (exact, and checked everywhere else) as reading uninitialised values. */
static inline int test_under_valgrind(void)
{
    const char *p = getenv("LD_PRELOAD");
    return p && strstr(p, "vgpreload_memcheck") != NULL;
}

/* 1 under a memory checker: valgrind's memcheck, or a build with ASan.
 * Tests whose repetitions differ only in what the checkers cannot see
 * (thread counts of the same code, say) run fewer of them there; the plain
 * build runs them all. */
static inline int test_under_checker(void)
{
#if defined(__SANITIZE_ADDRESS__)
    return 1;
#else
    return test_under_valgrind();
#endif
}

/* Why a packed ISA path (a QAT_PACKED_ISA value) is not run under
 * valgrind, NULL when it is: onednn (above), and amx, since valgrind
 * (3.19) hides AMX-TILE/INT8 from CPUID and cannot decode tile
 * instructions, so the path reports "this CPU lacks AMX" there. */
static inline const char *test_valgrind_skips(int isa)
{
    if (!test_under_valgrind())
        return NULL;
    if (isa == 4)
        return "under valgrind, whose memcheck reports oneDNN's JIT code (test_under_valgrind)";
    if (isa == 6)
        return "under valgrind, which hides AMX from CPUID and cannot run tile instructions";
    return NULL;
}

/* Asserts a libqat call succeeded, showing the library's message if not. */
#define QAT_ASSERT_OK(expr) \
    do { qat_status st_ = (expr); \
         ck_assert_msg(st_ == QAT_OK, "%s failed: %s: %s", #expr, qat_status_string(st_), qat_last_error()); \
    } while (0)

/* Asserts a call failed with `code` and that its message contains `needle`. */
#define QAT_ASSERT_FAILS(expr, code, needle) \
    do { qat_status st_ = (expr); \
         ck_assert_msg(st_ == (code), "%s returned %s, expected %s (%s)", #expr, qat_status_string(st_), \
                       qat_status_string(code), qat_last_error()); \
         ck_assert_msg(strstr(qat_last_error(), (needle)) != NULL, "message of %s is '%s', lacks '%s'", \
                       #expr, qat_last_error(), (needle)); \
    } while (0)

#endif
