/* The named-tensor collection: add/find/iterate/remove, views, skipped
 * list, and the refusals (duplicates, bad names and shapes). */
#include <stdio.h>
#include <string.h>

#include "formats/tensor_set.h"
#include "qat/core.h"
#include "test_main.h"

START_TEST(add_find_iterate)
{
    qat_tensor_set *set;
    QAT_ASSERT_OK(qat_tensor_set_create(&set));
    /* Enough tensors to grow the items array and the hash index. */
    for (int i = 0; i < 300; i++) {
        char name[32];
        int64_t shape[2] = {i % 5 + 1, 3};
        snprintf(name, sizeof name, "layer.%d.weight", i);
        qat_tensor *t;
        QAT_ASSERT_OK(qat_tensor_set_add(set, name, 2, shape, &t));
        for (int64_t k = 0; k < t->numel; k++)
            t->data[k] = (float)(i * 100 + k);
    }
    ck_assert_uint_eq(qat_tensor_set_count(set), 300);
    for (int i = 0; i < 300; i++) {
        char name[32];
        snprintf(name, sizeof name, "layer.%d.weight", i);
        const qat_tensor *t = qat_tensor_set_find(set, name);
        ck_assert_ptr_nonnull(t);
        ck_assert_ptr_eq(t, qat_tensor_set_at(set, (size_t)i)); /* insertion order */
        ck_assert_int_eq(t->shape[0], i % 5 + 1);
        ck_assert_int_eq(t->shape[2], 1); /* unused dims are 1 */
        ck_assert_float_eq(t->data[t->numel - 1], (float)(i * 100 + t->numel - 1));
        ck_assert_int_eq(t->owned, 1);
    }
    ck_assert_ptr_null(qat_tensor_set_find(set, "nope"));
    ck_assert_ptr_null(qat_tensor_set_at(set, 300));

    QAT_ASSERT_OK(qat_tensor_set_remove(set, "layer.7.weight"));
    ck_assert_ptr_null(qat_tensor_set_find(set, "layer.7.weight"));
    ck_assert_str_eq(qat_tensor_set_at(set, 7)->name, "layer.8.weight");
    ck_assert_ptr_nonnull(qat_tensor_set_find(set, "layer.299.weight"));
    QAT_ASSERT_FAILS(qat_tensor_set_remove(set, "layer.7.weight"), QAT_ERR_NOT_FOUND, "layer.7.weight");
    ck_assert_uint_eq(qat_tensor_set_count(set), 299);
    qat_tensor_set_free(set);
    qat_tensor_set_free(NULL);
}
END_TEST

START_TEST(copies_views_scalars)
{
    qat_tensor_set *set;
    QAT_ASSERT_OK(qat_tensor_set_create(&set));
    float data[6] = {1, 2, 3, 4, 5, 6};
    int64_t shape[2] = {2, 3};
    QAT_ASSERT_OK(qat_tensor_set_add_copy(set, "copy", 2, shape, data));
    QAT_ASSERT_OK(qat_tensor_set_add_view(set, "view", 2, shape, data));
    QAT_ASSERT_OK(qat_tensor_set_add_copy(set, "scalar", 0, NULL, data + 5));
    int64_t empty_shape[2] = {0, 7};
    QAT_ASSERT_OK(qat_tensor_set_add(set, "empty", 2, empty_shape, NULL));
    data[0] = 42;
    ck_assert_float_eq(qat_tensor_set_find(set, "copy")->data[0], 1);
    ck_assert_float_eq(qat_tensor_set_find(set, "view")->data[0], 42);
    ck_assert_int_eq(qat_tensor_set_find(set, "view")->owned, 0);
    const qat_tensor *s = qat_tensor_set_find(set, "scalar");
    ck_assert_int_eq(s->ndim, 0);
    ck_assert_int_eq(s->numel, 1);
    ck_assert_float_eq(s->data[0], 6);
    ck_assert_int_eq(qat_tensor_set_find(set, "empty")->numel, 0);
    qat_tensor_set_free(set); /* must not free the view's data (ASan/valgrind check) */
}
END_TEST

START_TEST(refusals)
{
    qat_tensor_set *set;
    QAT_ASSERT_OK(qat_tensor_set_create(&set));
    int64_t shape[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    QAT_ASSERT_OK(qat_tensor_set_add(set, "a", 1, shape, NULL));
    QAT_ASSERT_FAILS(qat_tensor_set_add(set, "a", 1, shape, NULL), QAT_ERR_FORMAT, "duplicate tensor name 'a'");
    QAT_ASSERT_FAILS(qat_tensor_set_add(set, "", 1, shape, NULL), QAT_ERR_INVALID_ARGUMENT, "empty");
    QAT_ASSERT_FAILS(qat_tensor_set_add(set, NULL, 1, shape, NULL), QAT_ERR_INVALID_ARGUMENT, "NULL");
    QAT_ASSERT_FAILS(qat_tensor_set_add(set, "nine", 9, shape, NULL), QAT_ERR_INVALID_ARGUMENT,
                     "at most 8");
    int64_t neg[1] = {-1};
    QAT_ASSERT_FAILS(qat_tensor_set_add(set, "neg", 1, neg, NULL), QAT_ERR_INVALID_ARGUMENT, "negative");
    int64_t huge[3] = {INT64_MAX / 2, 4, 4};
    QAT_ASSERT_FAILS(qat_tensor_set_add(set, "huge", 3, huge, NULL), QAT_ERR_INVALID_ARGUMENT, "overflow");
    int64_t big[2] = {(int64_t)1 << 40, (int64_t)1 << 30};
    QAT_ASSERT_FAILS(qat_tensor_set_add(set, "big", 2, big, NULL), QAT_ERR_INVALID_ARGUMENT, "overflow");
    char long_name[QAT_TENSOR_MAX_NAME + 2];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = 0;
    QAT_ASSERT_FAILS(qat_tensor_set_add(set, long_name, 1, shape, NULL), QAT_ERR_INVALID_ARGUMENT, "longer");
    QAT_ASSERT_FAILS(qat_tensor_set_add_view(set, "v", 1, shape, NULL), QAT_ERR_INVALID_ARGUMENT, "NULL data");
    ck_assert_uint_eq(qat_tensor_set_count(set), 1);
    ck_assert_int_eq(qat_tensor_shape_numel(2, big), -1);
    ck_assert_int_eq(qat_tensor_shape_numel(0, NULL), 1);
    qat_tensor_set_free(set);
}
END_TEST

START_TEST(skipped_list)
{
    qat_tensor_set *set;
    QAT_ASSERT_OK(qat_tensor_set_create(&set));
    QAT_ASSERT_OK(qat_tensor_set_note_skipped(set, "embeddings.position_ids", "dtype I64 not loaded"));
    ck_assert_uint_eq(qat_tensor_set_skipped_count(set), 1);
    ck_assert_str_eq(qat_tensor_set_skipped(set, 0), "embeddings.position_ids (dtype I64 not loaded)");
    ck_assert_ptr_null(qat_tensor_set_skipped(set, 1));
    ck_assert_ptr_null(qat_tensor_set_find(set, "embeddings.position_ids"));
    qat_tensor_set_free(set);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("formats_tensor_set");
    TCase *tc = tcase_create("tensor_set");
    tcase_add_test(tc, add_find_iterate);
    tcase_add_test(tc, copies_views_scalars);
    tcase_add_test(tc, refusals);
    tcase_add_test(tc, skipped_list);
    suite_add_tcase(s, tc);
    return s;
}
