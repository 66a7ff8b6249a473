/* CoNLL reader and label maps: formats, malformed input with clear errors,
 * IOB2 validation (lenient as seqeval, counted; or strict), label map JSON
 * round trip. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "data/conll.h"
#include "data/labels.h"
#include "data_test_util.h"
#include "test_main.h"

static qat_data_conll *parse(const char *text, qat_data_tag_scheme scheme, int strict)
{
    qat_data_conll_options o = {scheme, strict};
    qat_data_conll *c = NULL;
    QAT_ASSERT_OK(qat_data_conll_read_memory(text, strlen(text), "t.conll", &o, &c));
    return c;
}

static void fails_strict(const char *text, qat_data_tag_scheme scheme, int strict, const char *needle)
{
    qat_data_conll_options o = {scheme, strict};
    qat_data_conll *c = NULL;
    QAT_ASSERT_FAILS(qat_data_conll_read_memory(text, strlen(text), "t.conll", &o, &c), QAT_ERR_FORMAT, needle);
    ck_assert_ptr_null(c);
}

static void fails(const char *text, qat_data_tag_scheme scheme, const char *needle)
{
    fails_strict(text, scheme, 0, needle);
}

START_TEST(test_formats)
{
    const char *text = "-DOCSTART-\tO\r\n\r\n# sent_id = 1\r\nLe\tDET\r\nchat\tNOUN\r\n\r\n\r\n"
                       "#\tSYM\nNew York\tPROPN\nx\ty\tz\tLAST\n\n\n";
    qat_data_conll *c = parse(text, QAT_DATA_TAGS_ANY, 0);
    ck_assert_uint_eq(qat_data_conll_sentence_count(c), 2);
    ck_assert_uint_eq(qat_data_conll_sentence_length(c, 0), 2);
    ck_assert_uint_eq(qat_data_conll_sentence_length(c, 1), 3);
    ck_assert_str_eq(qat_data_conll_token(c, 0), "Le");
    ck_assert_str_eq(qat_data_conll_tag(c, 1), "NOUN");
    ck_assert_str_eq(qat_data_conll_token(c, 2), "#");
    ck_assert_str_eq(qat_data_conll_token(c, 3), "New York");
    ck_assert_str_eq(qat_data_conll_token(c, 4), "x");
    ck_assert_str_eq(qat_data_conll_tag(c, 4), "LAST");
    ck_assert_uint_eq(qat_data_conll_line(c, 1), 5);
    qat_data_conll_free(c);
    /* Space-separated, no final newline, multi-column. */
    c = parse("Le DET\nchat  NOUN\n\nil PRON extra VERB", QAT_DATA_TAGS_ANY, 0);
    ck_assert_uint_eq(qat_data_conll_sentence_count(c), 2);
    ck_assert_str_eq(qat_data_conll_tag(c, 1), "NOUN");
    ck_assert_str_eq(qat_data_conll_tag(c, 2), "VERB");
    qat_data_conll_free(c);
}
END_TEST

START_TEST(test_malformed)
{
    fails("", QAT_DATA_TAGS_ANY, "t.conll: no sentences (the file is empty)");
    fails("\n\n# only a comment\n", QAT_DATA_TAGS_ANY, "no sentences");
    fails("a\tB\nlonely\n", QAT_DATA_TAGS_ANY, "t.conll:2: expected 'token<TAB>tag', found one field 'lonely'");
    fails("a\tB\nb\t\n", QAT_DATA_TAGS_ANY, "t.conll:2: expected 'token<TAB>tag', found one field 'b'");
    fails("a\tB\n\tC\n", QAT_DATA_TAGS_ANY, "t.conll:2: empty token");
    fails("ok\tX\n\nbad\xff\tX\n", QAT_DATA_TAGS_ANY, "t.conll:3: invalid UTF-8 at column 4");
    fails("Jean\tE-PER\n", QAT_DATA_TAGS_IOB2, "tag 'E-PER' is not IOB2");
    fails("Jean\tB-\n", QAT_DATA_TAGS_IOB2, "is not IOB2");
    /* Malformed lines stay errors in IOB2 files too. */
    fails("ls\tB-CMD\n-l\n", QAT_DATA_TAGS_IOB2, "t.conll:2: expected 'token<TAB>tag'");
    fails("ls\tB-CMD\n\tI-CMD\n", QAT_DATA_TAGS_IOB2, "t.conll:2: empty token");
    fails("ls\tB-CMD\n-\xc3l\tI-CMD\n", QAT_DATA_TAGS_IOB2, "t.conll:2: invalid UTF-8 at column 2");
    /* Strict IOB2: every inconsistency fails naming its line. */
    fails_strict("O\tO\nJean\tI-PER\n", QAT_DATA_TAGS_IOB2, 1,
                 "t.conll:2: tag 'I-PER' follows 'O' (strict IOB2 needs B-PER");
    fails_strict("Paris\tB-LOC\nJean\tI-PER\n", QAT_DATA_TAGS_IOB2, 1, "t.conll:2: tag 'I-PER' follows 'B-LOC'");
    fails_strict("x\tO\n\nJean\tI-PER\n", QAT_DATA_TAGS_IOB2, 1, "t.conll:3: tag 'I-PER' opens a sentence");
    fails_strict("ls\tB-OPT\nrm\tI-CMD\n", QAT_DATA_TAGS_IOB2, 1, "t.conll:2: tag 'I-CMD' follows 'B-OPT'");
    /* Valid IOB2: nothing counted, strict or not. */
    for (int strict = 0; strict < 2; strict++) {
        qat_data_conll *c = parse("Jean\tB-PER\nDupont\tI-PER\nà\tO\nParis\tB-LOC\n", QAT_DATA_TAGS_IOB2, strict);
        ck_assert_uint_eq(qat_data_conll_iob2_issue_count(c), 0);
        qat_data_conll_free(c);
    }
}
END_TEST

/* Issue #21 item 5: a whole file was refused for one 'I-CMD' after 'B-OPT'.
 * By default each such I- is kept as written (seqeval reads it as a new
 * entity), counted, and the first few are described with file:line. */
START_TEST(test_iob2_inconsistencies_counted)
{
    qat_data_conll *c = parse("--force\tB-OPT\nrm\tI-CMD\n", QAT_DATA_TAGS_IOB2, 0);
    ck_assert_uint_eq(qat_data_conll_token_count(c), 2);
    ck_assert_str_eq(qat_data_conll_tag(c, 1), "I-CMD");
    ck_assert_uint_eq(qat_data_conll_iob2_issue_count(c), 1);
    ck_assert_str_eq(qat_data_conll_iob2_issue(c, 0), "t.conll:2: tag 'I-CMD' follows 'B-OPT'");
    qat_data_conll_free(c);
    /* Every kind, more than are kept: I- opening a sentence, after O, after
     * another type (B- or I-); I- continuing its type is not one. */
    char text[2048] = "";
    strcat(text, "Jean\tI-PER\nDupont\tI-PER\nParis\tI-LOC\nx\tO\ny\tI-LOC\n\n"); /* lines 1-5 */
    for (int i = 0; i < 4; i++)
        strcat(text, "a\tB-A\nb\tI-B\nc\tI-B\n"); /* I-B after B-A: one each */
    c = parse(text, QAT_DATA_TAGS_IOB2, 0);
    ck_assert_uint_eq(qat_data_conll_iob2_issue_count(c), 7);
    ck_assert_str_eq(qat_data_conll_iob2_issue(c, 0), "t.conll:1: tag 'I-PER' opens a sentence");
    ck_assert_str_eq(qat_data_conll_iob2_issue(c, 1), "t.conll:3: tag 'I-LOC' follows 'I-PER'");
    ck_assert_str_eq(qat_data_conll_iob2_issue(c, 2), "t.conll:5: tag 'I-LOC' follows 'O'");
    ck_assert_str_eq(qat_data_conll_iob2_issue(c, 3), "t.conll:8: tag 'I-B' follows 'B-A'");
    ck_assert_str_eq(qat_data_conll_iob2_issue(c, 4), "t.conll:11: tag 'I-B' follows 'B-A'");
    ck_assert_int_eq(QAT_DATA_CONLL_KEPT_ISSUES, 5);
    ck_assert_str_eq(qat_data_conll_tag(c, 0), "I-PER"); /* kept as written */
    ck_assert_str_eq(qat_data_conll_tag(c, 2), "I-LOC");
    ck_assert_str_eq(qat_data_conll_tag(c, 4), "I-LOC");
    qat_data_conll_free(c);
    /* POS files are not IOB2-checked. */
    c = parse("x\tI-PER\n", QAT_DATA_TAGS_ANY, 1);
    ck_assert_uint_eq(qat_data_conll_iob2_issue_count(c), 0);
    qat_data_conll_free(c);
}
END_TEST

START_TEST(test_files_and_labels)
{
    char *dir = scratch_dir();
    const char *train = "Jean\tB-PER\nvit\tO\nà\tO\nParis\tB-LOC\n\nMarie\tB-PER\nCurie\tI-PER\n";
    const char *test = "Lyon\tB-LOC\n\nx\tB-MISC\n";
    char *p1 = path_in(dir, "train.conll"), *p2 = path_in(dir, "test.conll.gz"), *pl = path_in(dir, "labels.json");
    write_bytes(p1, train, strlen(train));
    write_gz(p2, test, strlen(test));
    qat_data_conll_options o = {QAT_DATA_TAGS_IOB2, 0};
    qat_data_conll *a = NULL, *b = NULL;
    QAT_ASSERT_OK(qat_data_conll_read_file(p1, &o, &a));
    QAT_ASSERT_OK(qat_data_conll_read_file(p2, &o, &b));
    ck_assert_uint_eq(qat_data_conll_sentence_count(b), 2);
    const qat_data_conll *sets[2] = {a, b};
    qat_data_labels *l = NULL;
    QAT_ASSERT_OK(qat_data_labels_from_conll(sets, 2, &l));
    ck_assert_uint_eq(qat_data_labels_count(l), 5);
    static const char *sorted[] = {"B-LOC", "B-MISC", "B-PER", "I-PER", "O"};
    for (int i = 0; i < 5; i++)
        ck_assert_str_eq(qat_data_labels_name(l, i), sorted[i]);
    int32_t ids[8];
    QAT_ASSERT_OK(qat_data_labels_encode(l, a, ids));
    ck_assert_int_eq(ids[0], 2);
    ck_assert_int_eq(ids[1], 4);
    ck_assert_int_eq(ids[5], 3);
    QAT_ASSERT_OK(qat_data_labels_save(l, pl));
    qat_data_labels *m = NULL;
    QAT_ASSERT_OK(qat_data_labels_load(pl, &m));
    ck_assert_uint_eq(qat_data_labels_count(m), 5);
    for (int i = 0; i < 5; i++)
        ck_assert_str_eq(qat_data_labels_name(m, i), sorted[i]);
    int32_t id;
    QAT_ASSERT_OK(qat_data_labels_id(m, "O", &id));
    ck_assert_int_eq(id, 4);
    QAT_ASSERT_FAILS(qat_data_labels_id(m, "B-ORG", &id), QAT_ERR_NOT_FOUND, "unknown label 'B-ORG'");
    /* A map that lacks a tag of the data names the line. */
    const char *only[] = {"O", "B-PER", "I-PER"};
    qat_data_labels *small = NULL;
    QAT_ASSERT_OK(qat_data_labels_from_names(only, 3, &small));
    QAT_ASSERT_FAILS(qat_data_labels_encode(small, a, ids), QAT_ERR_NOT_FOUND, "line 4: tag 'B-LOC'");
    /* Malformed label files. */
    write_bytes(pl, "{\"id2label\": {\"0\": \"O\", \"2\": \"B-X\"}}", 36);
    qat_data_labels *bad = NULL;
    QAT_ASSERT_FAILS(qat_data_labels_load(pl, &bad), QAT_ERR_FORMAT, "not an id in [0, 2)");
    write_bytes(pl, "{\"id2label\": {\"0\": \"O\", \"1\": \"O\"}}", 35);
    QAT_ASSERT_FAILS(qat_data_labels_load(pl, &bad), QAT_ERR_FORMAT, "two ids");
    write_bytes(pl, "not json", 8);
    QAT_ASSERT_FAILS(qat_data_labels_load(pl, &bad), QAT_ERR_FORMAT, "cannot read");
    ck_assert_ptr_null(bad);
    /* A truncated gzip'ed CoNLL file. */
    size_t gn;
    char *gz = read_bytes(p2, &gn);
    write_bytes(p2, gz, gn - 6);
    qat_data_conll *cut = NULL;
    qat_status st = qat_data_conll_read_file(p2, &o, &cut);
    ck_assert_msg(st == QAT_ERR_FORMAT, "truncated gzip: %s", qat_last_error());
    free(gz);
    QAT_ASSERT_FAILS(qat_data_conll_read_file("/nonexistent.conll", &o, &cut), QAT_ERR_IO, "cannot open");

    qat_data_labels_free(small);
    qat_data_labels_free(m);
    qat_data_labels_free(l);
    qat_data_conll_free(a);
    qat_data_conll_free(b);
    free(p1);
    free(p2);
    free(pl);
    remove_dir(dir);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("data_conll");
    TCase *tc = tcase_create("conll");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_formats);
    tcase_add_test(tc, test_malformed);
    tcase_add_test(tc, test_iob2_inconsistencies_counted);
    tcase_add_test(tc, test_files_and_labels);
    suite_add_tcase(s, tc);
    return s;
}
