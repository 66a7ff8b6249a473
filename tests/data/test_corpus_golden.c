/* The corpus reader against Python: bytes.decode("utf-8", "replace") and an
 * independent implementation of the long-line rule (golden written by
 * gen_corpus_golden.py at test time, path in QAT_GOLDEN_CORPUS). */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "data/corpus.h"
#include "test_main.h"

static int nibble(char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

static unsigned char *unhex(const char *h, size_t *n)
{
    *n = strlen(h) / 2;
    unsigned char *b = malloc(*n + 1);
    for (size_t i = 0; i < *n; i++)
        b[i] = (unsigned char)(nibble(h[2 * i]) << 4 | nibble(h[2 * i + 1]));
    return b;
}

START_TEST(test_matches_python)
{
    const char *path = getenv("QAT_GOLDEN_CORPUS");
    ck_assert_msg(path != NULL, "QAT_GOLDEN_CORPUS is not set (run through meson test)");
    json_object *root = json_object_from_file(path), *cases;
    ck_assert_ptr_nonnull(root);
    ck_assert(json_object_object_get_ex(root, "cases", &cases));
    for (size_t k = 0; k < json_object_array_length(cases); k++) {
        json_object *c = json_object_array_get_idx(cases, k), *m, *in, *recs;
        ck_assert(json_object_object_get_ex(c, "max_chars", &m) && json_object_object_get_ex(c, "input", &in) &&
                  json_object_object_get_ex(c, "records", &recs));
        qat_data_corpus_options o;
        qat_data_corpus_options_init(&o);
        o.max_chars = (size_t)json_object_get_int(m);
        size_t n;
        unsigned char *data = unhex(json_object_get_string(in), &n);
        qat_data_corpus *cr = NULL;
        QAT_ASSERT_OK(qat_data_corpus_open_memory(data, n, "golden", &o, &cr));
        size_t i = 0;
        for (;; i++) {
            const char *t;
            size_t len;
            QAT_ASSERT_OK(qat_data_corpus_next(cr, &t, &len));
            if (!t)
                break;
            ck_assert_msg(i < json_object_array_length(recs), "max_chars %zu: extra record '%s'", o.max_chars, t);
            const char *want = json_object_get_string(json_object_array_get_idx(recs, i));
            ck_assert_msg(strcmp(t, want) == 0, "max_chars %zu, record %zu: '%s', Python '%s'", o.max_chars, i, t,
                          want);
        }
        ck_assert_uint_eq(i, json_object_array_length(recs));
        qat_data_corpus_close(cr);
        free(data);
    }
    json_object_put(root);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("data_corpus_golden");
    TCase *tc = tcase_create("golden");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_matches_python);
    suite_add_tcase(s, tc);
    return s;
}
