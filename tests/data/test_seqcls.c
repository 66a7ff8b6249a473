/* Sequence-classification task files: TSV with and without a header, JSONL,
 * the label maps (integers as ids, strings sorted), and malformed files
 * rejected naming file:line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "data/seqcls.h"
#include "data_test_util.h"
#include "test_main.h"

static qat_data_seqcls *parse(const char *name, const char *text)
{
    qat_data_seqcls *c = NULL;
    QAT_ASSERT_OK(qat_data_seqcls_read_memory(text, strlen(text), name, &c));
    return c;
}

static void fails(const char *name, const char *text, const char *needle)
{
    qat_data_seqcls *c = NULL;
    QAT_ASSERT_FAILS(qat_data_seqcls_read_memory(text, strlen(text), name, &c), QAT_ERR_FORMAT, needle);
    ck_assert_ptr_null(c);
}

static void expect(const qat_data_seqcls *c, size_t i, const char *a, const char *b, const char *label, uint64_t line)
{
    const qat_data_seqcls_example *e = qat_data_seqcls_get(c, i);
    ck_assert_str_eq(e->text_a, a);
    ck_assert_uint_eq(e->len_a, strlen(a));
    if (b) {
        ck_assert_ptr_nonnull(e->text_b);
        ck_assert_str_eq(e->text_b, b);
        ck_assert_uint_eq(e->len_b, strlen(b));
    } else {
        ck_assert_ptr_null(e->text_b);
    }
    ck_assert_str_eq(e->label, label);
    ck_assert_uint_eq(e->line, line);
}

START_TEST(test_tsv)
{
    /* GLUE-like: a header with extra columns, in another order, CRLF. */
    qat_data_seqcls *c = parse("mrpc.tsv", "idx\tlabel\tsentence1\tsentence2\r\n0\t1\tLe chat\tUn chat\r\n\r\n"
                                           "1\t0\tIl pleut.\tIl fait beau.\r\n");
    ck_assert_uint_eq(qat_data_seqcls_count(c), 2);
    ck_assert_int_eq(qat_data_seqcls_pairs(c), 1);
    expect(c, 0, "Le chat", "Un chat", "1", 2);
    expect(c, 1, "Il pleut.", "Il fait beau.", "0", 4);
    qat_data_seqcls_free(c);
    /* SST-like header, single texts; header names in any case */
    c = parse("sst.tsv", "Sentence\tLabel\nun film superbe\tpos\nennuyeux\tneg");
    ck_assert_int_eq(qat_data_seqcls_pairs(c), 0);
    expect(c, 1, "ennuyeux", NULL, "neg", 3);
    qat_data_seqcls_free(c);
    /* headerless: 2 columns text, label; 3 columns text, text_b, label */
    c = parse("a.tsv", "le chat dort\tpos\nil pleut\t neg \n");
    expect(c, 0, "le chat dort", NULL, "pos", 1);
    expect(c, 1, "il pleut", NULL, "neg", 2); /* label blanks trimmed */
    qat_data_seqcls_free(c);
    c = parse("b.tsv.gz", "A\tB\tentailment\nC\tD\tneutral\n");
    expect(c, 1, "C", "D", "neutral", 2);
    qat_data_seqcls_free(c);
    /* premise / hypothesis */
    c = parse("nli.tsv", "premise\thypothesis\tlabel\nP\tH\tcontradiction\n");
    expect(c, 0, "P", "H", "contradiction", 2);
    qat_data_seqcls_free(c);
}
END_TEST

START_TEST(test_jsonl)
{
    qat_data_seqcls *c = parse("nli.jsonl", "{\"premise\": \"Le chat\", \"hypothesis\": \"dort\", \"label\": \"entailment\", "
                                            "\"id\": 7}\n\n{\"premise\": \"\\u00e9t\\u00e9\", \"hypothesis\": \"x\", "
                                            "\"label\": 2}\r\n");
    ck_assert_uint_eq(qat_data_seqcls_count(c), 2);
    expect(c, 0, "Le chat", "dort", "entailment", 1);
    expect(c, 1, "\xc3\xa9t\xc3\xa9", "x", "2", 3);
    qat_data_seqcls_free(c);
    c = parse("s.jsonl", "{\"text\": \"bien\", \"label\": 1}\n{\"text\": \"mal\", \"text_b\": null, \"label\": 0}");
    ck_assert_int_eq(qat_data_seqcls_pairs(c), 0);
    expect(c, 1, "mal", NULL, "0", 2);
    qat_data_seqcls_free(c);
}
END_TEST

START_TEST(test_labels)
{
    /* strings: sorted, whatever the order of appearance, across files */
    qat_data_seqcls *a = parse("a.tsv", "x\tneutral\ny\tentailment\n");
    qat_data_seqcls *b = parse("b.tsv", "z\tcontradiction\n");
    const qat_data_seqcls *sets[2] = {a, b};
    qat_data_labels *l = NULL;
    QAT_ASSERT_OK(qat_data_seqcls_labels(sets, 2, &l));
    ck_assert_uint_eq(qat_data_labels_count(l), 3);
    ck_assert_str_eq(qat_data_labels_name(l, 0), "contradiction");
    ck_assert_str_eq(qat_data_labels_name(l, 1), "entailment");
    ck_assert_str_eq(qat_data_labels_name(l, 2), "neutral");
    int32_t id;
    QAT_ASSERT_OK(qat_data_seqcls_label_id(a, 0, l, &id));
    ck_assert_int_eq(id, 2);
    qat_data_labels_free(l);
    qat_data_seqcls_free(a);
    qat_data_seqcls_free(b);
    /* integers: the id is the value ("10" after "9", not after "1") */
    a = parse("i.tsv", "x\t10\ny\t2\nz\t0\n");
    sets[0] = a;
    QAT_ASSERT_OK(qat_data_seqcls_labels(sets, 1, &l));
    ck_assert_uint_eq(qat_data_labels_count(l), 11);
    QAT_ASSERT_OK(qat_data_seqcls_label_id(a, 0, l, &id));
    ck_assert_int_eq(id, 10);
    QAT_ASSERT_OK(qat_data_seqcls_label_id(a, 1, l, &id));
    ck_assert_int_eq(id, 2);
    qat_data_labels_free(l);
    qat_data_seqcls_free(a);
    /* a file of 0s only still gives a binary task */
    a = parse("z.tsv", "x\t0\ny\t0\n");
    sets[0] = a;
    QAT_ASSERT_OK(qat_data_seqcls_labels(sets, 1, &l));
    ck_assert_uint_eq(qat_data_labels_count(l), 2);
    qat_data_labels_free(l);
    qat_data_seqcls_free(a);
    /* one string class is not a classification task */
    a = parse("one.tsv", "x\tpos\ny\tpos\n");
    sets[0] = a;
    QAT_ASSERT_FAILS(qat_data_seqcls_labels(sets, 1, &l), QAT_ERR_FORMAT, "two classes");
    /* a model's LABEL_k names take integer labels; unknown labels name the line */
    const char *names[2] = {"LABEL_0", "LABEL_1"};
    QAT_ASSERT_OK(qat_data_labels_from_ordered(names, 2, &l));
    QAT_ASSERT_FAILS(qat_data_seqcls_label_id(a, 1, l, &id), QAT_ERR_FORMAT, "one.tsv:2: label 'pos'");
    qat_data_seqcls_free(a);
    a = parse("k.tsv", "x\t1\ny\t5\n");
    QAT_ASSERT_OK(qat_data_seqcls_label_id(a, 0, l, &id));
    ck_assert_int_eq(id, 1);
    QAT_ASSERT_FAILS(qat_data_seqcls_label_id(a, 1, l, &id), QAT_ERR_FORMAT, "k.tsv:2");
    qat_data_labels_free(l);
    qat_data_seqcls_free(a);
}
END_TEST

/* Class counts are bounded before any work proportional to them (issue
 * #17): integer label 999999 asked for 10^6 classes and O(n^2) work, and
 * libFuzzer's 8-byte input ":M\t13956" (TSV "M", label 13956) hung. */
START_TEST(test_label_count_bounded)
{
    qat_data_labels *l = NULL;
    const char *const files[][2] = {{"big.tsv", "x\t1\ny\t999999\n"},
                                    {"big.jsonl", "{\"text\": \"x\", \"label\": 0}\n{\"text\": \"y\", \"label\": 999999}\n"},
                                    {"fuzz.tsv", "M\t13956"}};
    const char *const where[] = {"big.tsv:2: label 999999", "big.jsonl:2: label 999999", "fuzz.tsv:1: label 13956"};
    for (int i = 0; i < 3; i++) {
        qat_data_seqcls *c = parse(files[i][0], files[i][1]);
        const qat_data_seqcls *sets[1] = {c};
        QAT_ASSERT_FAILS(qat_data_seqcls_labels(sets, 1, &l), QAT_ERR_FORMAT, where[i]);
        ck_assert_msg(strstr(qat_last_error(), "more than the 10000"), "%s", qat_last_error());
        ck_assert_ptr_null(l);
        qat_data_seqcls_free(c);
    }
    /* the largest integer label accepted: 9999, 10000 classes */
    qat_data_seqcls *c = parse("edge.tsv", "x\t9999\ny\t0\n");
    const qat_data_seqcls *sets[1] = {c};
    QAT_ASSERT_OK(qat_data_seqcls_labels(sets, 1, &l));
    ck_assert_uint_eq(qat_data_labels_count(l), 10000);
    int32_t id;
    QAT_ASSERT_OK(qat_data_labels_id(l, "9999", &id));
    ck_assert_int_eq(id, 9999);
    qat_data_labels_free(l);
    qat_data_seqcls_free(c);
    /* 10000 distinct string labels are fine (sorted in n log n), 10001 are not */
    static char names[10001][8];
    const char *ptr[10001];
    for (int i = 0; i < 10001; i++) {
        snprintf(names[i], sizeof names[i], "c%05d", (i * 7919) % 10001);
        ptr[i] = names[i];
    }
    QAT_ASSERT_OK(qat_data_labels_from_names(ptr, 10000, &l));
    ck_assert_uint_eq(qat_data_labels_count(l), 10000);
    for (int32_t k = 1; k < 10000; k++)
        ck_assert(strcmp(qat_data_labels_name(l, k - 1), qat_data_labels_name(l, k)) < 0);
    QAT_ASSERT_OK(qat_data_labels_id(l, names[5], &id));
    ck_assert_str_eq(qat_data_labels_name(l, id), names[5]);
    qat_data_labels_free(l);
    QAT_ASSERT_FAILS(qat_data_labels_from_names(ptr, 10001, &l), QAT_ERR_FORMAT, "10001 classes");
    QAT_ASSERT_FAILS(qat_data_labels_from_ordered(ptr, 10001, &l), QAT_ERR_FORMAT, "10001 classes");
    /* ordered names: a duplicate is found, named with both ids */
    const char *dup[4] = {"a", "b", "c", "b"};
    QAT_ASSERT_FAILS(qat_data_labels_from_ordered(dup, 4, &l), QAT_ERR_INVALID_ARGUMENT, "'b' appears twice (ids 1 and 3)");
}
END_TEST

START_TEST(test_malformed)
{
    fails("e.tsv", "", "no examples");
    fails("e.tsv", "sentence\tlabel\n\n", "no examples");
    fails("m.tsv", "le chat\tpos\nil pleut\n", "m.tsv:2: 1 columns, expected 2");
    fails("m.tsv", "sentence\tlabel\nle chat\tpos\tEXTRA\n", "m.tsv:2: 3 columns, expected 2");
    fails("m.tsv", "only one column\n", "m.tsv:1: 1 columns");
    fails("m.tsv", "a\tb\tc\td\n", "m.tsv:1: 4 columns");
    fails("m.tsv", "le chat\tpos\nil pleut\t\n", "m.tsv:2: empty label");
    fails("m.tsv", "le chat\tpos\n  \tneg\n", "m.tsv:2: empty text");
    fails("m.tsv", "a\tb\tpos\nc\t \tneg\n", "m.tsv:2: empty second text");
    fails("m.tsv", "le chat\tpos\nil \xff pleut\tneg\n", "m.tsv:2: invalid UTF-8 in the text at byte 4");
    fails("m.jsonl", "{\"text\": \"a\", \"label\": 1}\n{\"text\": \"b\"}\n", "m.jsonl:2: no label");
    fails("m.jsonl", "{\"text\": \"a\", \"label\": 1}\n{\"text\": \"b\", \"label\": 1\n", "m.jsonl:2: not valid JSON");
    fails("m.jsonl", "[1, 2]\n", "m.jsonl:1: a line must be a JSON object");
    fails("m.jsonl", "{\"label\": 1}\n", "m.jsonl:1: no text");
    fails("m.jsonl", "{\"text\": \"\", \"label\": 1}\n", "m.jsonl:1: empty text");
    fails("m.jsonl", "{\"text\": 3, \"label\": 1}\n", "m.jsonl:1: \"text\" must be a string");
    fails("m.jsonl", "{\"text\": \"a\", \"label\": 1.5}\n", "m.jsonl:1: the label must be a string or an integer");
    fails("m.jsonl", "{\"text\": \"a\", \"label\": 1} {\"text\": \"b\"}\n", "m.jsonl:1: data after the JSON object");
    fails("m.jsonl", "{\"text\": \"a\\u0000b\", \"label\": 1}\n", "m.jsonl:1: NUL character in the text");
    fails("m.jsonl", "{\"text\": \"caf\xc3\", \"label\": 1}\n", "m.jsonl:1: invalid UTF-8");
    fails("m.jsonl", "{\"sentence1\": \"a\", \"sentence2\": \"b\", \"label\": 1}\n{\"sentence1\": \"a\", \"label\": 0}\n",
          "m.jsonl:2: no second text, unlike line 1");
    qat_data_seqcls *c = NULL;
    QAT_ASSERT_FAILS(qat_data_seqcls_read_memory("a\t1\n", 4, "x.csv", &c), QAT_ERR_INVALID_ARGUMENT, ".tsv or .jsonl");
    QAT_ASSERT_FAILS(qat_data_seqcls_read_file("/nonexistent/t.tsv", &c), QAT_ERR_IO, "/nonexistent/t.tsv");
    ck_assert_int_eq(qat_data_seqcls_is_task_file("x/train.tsv"), 1);
    ck_assert_int_eq(qat_data_seqcls_is_task_file("x/train.jsonl.gz"), 1);
    ck_assert_int_eq(qat_data_seqcls_is_task_file("x/train.conll"), 0);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("data_seqcls");
    TCase *tc = tcase_create("seqcls");
    tcase_add_test(tc, test_tsv);
    tcase_add_test(tc, test_jsonl);
    tcase_add_test(tc, test_labels);
    tcase_add_test(tc, test_label_count_bounded);
    tcase_add_test(tc, test_malformed);
    suite_add_tcase(s, tc);
    return s;
}
