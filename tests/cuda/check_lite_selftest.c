/* check_lite (tests/cuda/check_lite/check.h), the Check stand-in that
 * bench/gpu_check.sh builds the CUDA suites with, behaves as Check does
 * where they rely on it: a failed assertion fails its test and stops it, the
 * other tests still run, the fixture's teardown follows a failed test,
 * srunner_ntests_failed counts the failures, and CK_LITE_TESTS selects
 * tests by name. Needs no GPU. */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include <check.h>

static int setups, teardowns, reached_after_failure, passes_ran;

static void setup(void)
{
    setups++;
}

static void teardown(void)
{
    teardowns++;
}

START_TEST(passes)
{
    passes_ran++;
    ck_assert_int_eq(2 + 2, 4);
    ck_assert_str_eq("cuda", "cuda");
    ck_assert_ptr_null(NULL);
    ck_assert_msg(1, "never shown");
}
END_TEST

START_TEST(fails_midway)
{
    ck_assert_int_ne(1, 2);
    ck_assert_msg(setups > teardowns, "inside the fixture");
    ck_assert_int_eq(1, 2); /* fails here */
    reached_after_failure = 1;
}
END_TEST

START_TEST(fails_on_string)
{
    ck_assert_str_eq("bf16", "fp32");
}
END_TEST

static int run(void)
{
    Suite *s = suite_create("selftest");
    TCase *tc = tcase_create("cases");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, passes);
    tcase_add_test(tc, fails_midway);
    tcase_add_test(tc, fails_on_string);
    tcase_add_test(tc, passes);
    suite_add_tcase(s, tc);
    SRunner *r = srunner_create(s);
    srunner_set_fork_status(r, CK_NOFORK);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed;
}

#define EXPECT(cond)                                                                                           \
    do {                                                                                                       \
        if (!(cond)) {                                                                                         \
            fprintf(stderr, "FAIL: check_lite: %s\n", #cond);                                                  \
            return 1;                                                                                          \
        }                                                                                                      \
    } while (0)

int main(void)
{
    int failed = run();
    EXPECT(failed == 2);
    EXPECT(passes_ran == 2);
    EXPECT(!reached_after_failure);
    EXPECT(setups == 4 && teardowns == 4);

    setups = teardowns = passes_ran = 0;
    setenv("CK_LITE_TESTS", "fails_on_string,passes", 1);
    failed = run();
    EXPECT(failed == 1 && passes_ran == 2 && setups == 3);
    setenv("CK_LITE_TESTS", "pass", 1); /* a prefix selects nothing */
    passes_ran = 0;
    EXPECT(run() == 0 && passes_ran == 0);
    printf("ok: check_lite fails, stops, counts and selects as the CUDA suites need\n");
    return 0;
}
