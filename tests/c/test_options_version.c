/* Option structs and their versions (issue #21 item 6c): a program built
 * against an older header passes an older version and a shorter struct; the
 * library accepts it and touches only what that version holds. Versions it
 * does not read are refused with the range it reads. */
#define QAT_EXPERIMENTAL
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qat/qat.h"
#include "test_main.h"

/* The struct a program built against qat_load_options version 1 has: the
 * fields before `flags` (allocated exactly, so ASan catches a write past it). */
START_TEST(load_options_version_1_is_filled_up_to_its_size)
{
    const size_t v1_size = offsetof(qat_load_options, flags);
    unsigned char *block = malloc(v1_size + 16);
    ck_assert_ptr_nonnull(block);
    memset(block, 0xA5, v1_size + 16);
    QAT_ASSERT_OK(qat_load_options_init((qat_load_options *)block, 1));
    const qat_load_options *o = (const qat_load_options *)block;
    ck_assert_uint_eq(o->version, 1);
    ck_assert_int_eq(o->task, QAT_TASK_MLM);
    ck_assert_ptr_null(o->quant);
    for (size_t i = v1_size; i < v1_size + 16; i++)
        ck_assert_msg(block[i] == 0xA5, "init wrote byte %zu, past a version-1 struct of %zu bytes", i, v1_size);
    free(block);
}
END_TEST

START_TEST(current_versions_are_accepted)
{
    qat_model_options m;
    qat_load_options l;
    qat_train_options t;
    qat_export_options e;
    qat_pipeline_options p;
    qat_dapt_options d;
    QAT_ASSERT_OK(qat_model_options_init(&m, QAT_MODEL_OPTIONS_VERSION));
    QAT_ASSERT_OK(qat_load_options_init(&l, QAT_LOAD_OPTIONS_VERSION));
    QAT_ASSERT_OK(qat_train_options_init(&t, QAT_TRAIN_OPTIONS_VERSION));
    QAT_ASSERT_OK(qat_export_options_init(&e, QAT_EXPORT_OPTIONS_VERSION));
    QAT_ASSERT_OK(qat_pipeline_options_init(&p, QAT_PIPELINE_OPTIONS_VERSION));
    QAT_ASSERT_OK(qat_dapt_options_init(&d, QAT_DAPT_OPTIONS_VERSION));
    ck_assert_uint_eq(l.version, QAT_LOAD_OPTIONS_VERSION);
    ck_assert_uint_eq(l.flags, 0);
}
END_TEST

START_TEST(unknown_versions_name_the_range_read)
{
    qat_load_options l;
    qat_train_options t;
    qat_pipeline_options p;
    char range[64];
    snprintf(range, sizeof range, "reads versions 1 to %d", QAT_LOAD_OPTIONS_VERSION);
    QAT_ASSERT_FAILS(qat_load_options_init(&l, QAT_LOAD_OPTIONS_VERSION + 1), QAT_ERR_INVALID_ARGUMENT, range);
    QAT_ASSERT_FAILS(qat_load_options_init(&l, 0), QAT_ERR_INVALID_ARGUMENT, "options version 0 unknown");
    QAT_ASSERT_FAILS(qat_train_options_init(&t, 7), QAT_ERR_INVALID_ARGUMENT, "reads version 1");
    /* Version 1 of the pipeline options nested its fields differently: not a prefix of today's. */
    snprintf(range, sizeof range, "reads versions 2 to %d", QAT_PIPELINE_OPTIONS_VERSION);
    QAT_ASSERT_FAILS(qat_pipeline_options_init(&p, 1), QAT_ERR_INVALID_ARGUMENT, range);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("options_version");
    TCase *tc = tcase_create("versions");
    tcase_add_test(tc, load_options_version_1_is_filled_up_to_its_size);
    tcase_add_test(tc, current_versions_are_accepted);
    tcase_add_test(tc, unknown_versions_name_the_range_read);
    suite_add_tcase(s, tc);
    return s;
}
