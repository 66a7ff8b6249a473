/* The ExWyAz notation: parsing, per-class settings, canonical strings. */
#include <string.h>

#include "qat/qat.h"
#include "test_main.h"

typedef struct expected_class { int algo, bits, gran; } expected_class;

static void assert_class(const qat_quant_config *cfg, qat_tensor_class cls, expected_class e)
{
    int v;
    QAT_ASSERT_OK(qat_quant_config_get(cfg, cls, QAT_QP_ALGO, &v));
    ck_assert_int_eq(v, e.algo);
    QAT_ASSERT_OK(qat_quant_config_get(cfg, cls, QAT_QP_BITS, &v));
    ck_assert_int_eq(v, e.bits);
    QAT_ASSERT_OK(qat_quant_config_get(cfg, cls, QAT_QP_GRANULARITY, &v));
    ck_assert_int_eq(v, e.gran);
}

static const struct {
    const char *text;
    expected_class e, w, a;
} study_configs[] = {
    {"FP32", {QAT_ALGO_NONE, 32, QAT_GRAN_TENSOR}, {QAT_ALGO_NONE, 32, QAT_GRAN_TENSOR}, {QAT_ALGO_NONE, 32, QAT_GRAN_TENSOR}},
    {"E8W8A8", {QAT_ALGO_LSQ, 8, QAT_GRAN_TENSOR}, {QAT_ALGO_LSQ, 8, QAT_GRAN_TENSOR}, {QAT_ALGO_LSQ, 8, QAT_GRAN_TENSOR}},
    {"E4W4A4", {QAT_ALGO_LSQ, 4, QAT_GRAN_TENSOR}, {QAT_ALGO_LSQ, 4, QAT_GRAN_TENSOR}, {QAT_ALGO_LSQ, 4, QAT_GRAN_TENSOR}},
    {"E2W2A2", {QAT_ALGO_LSQ, 2, QAT_GRAN_TENSOR}, {QAT_ALGO_LSQ, 2, QAT_GRAN_TENSOR}, {QAT_ALGO_LSQ, 2, QAT_GRAN_TENSOR}},
    {"E6W2A6", {QAT_ALGO_LSQ, 6, QAT_GRAN_TENSOR}, {QAT_ALGO_LSQ, 2, QAT_GRAN_TENSOR}, {QAT_ALGO_LSQ, 6, QAT_GRAN_TENSOR}},
    {"E6W1.58A6", {QAT_ALGO_LSQ, 6, QAT_GRAN_TENSOR}, {QAT_ALGO_BITNET158, 2, QAT_GRAN_TENSOR}, {QAT_ALGO_BITNET158, 6, QAT_GRAN_TOKEN}},
    {"E32W4A8", {QAT_ALGO_NONE, 32, QAT_GRAN_TENSOR}, {QAT_ALGO_LSQ, 4, QAT_GRAN_TENSOR}, {QAT_ALGO_LSQ, 8, QAT_GRAN_TENSOR}},
    {"E8W8A8(bitnet)", {QAT_ALGO_LSQ, 8, QAT_GRAN_TENSOR}, {QAT_ALGO_LSQ, 8, QAT_GRAN_TENSOR}, {QAT_ALGO_BITNET158, 8, QAT_GRAN_TOKEN}},
    {"E6W1.58(row)A6", {QAT_ALGO_LSQ, 6, QAT_GRAN_TENSOR}, {QAT_ALGO_BITNET158, 2, QAT_GRAN_ROW}, {QAT_ALGO_BITNET158, 6, QAT_GRAN_TOKEN}},
    {"E6W1.58A8(lsq)", {QAT_ALGO_LSQ, 6, QAT_GRAN_TENSOR}, {QAT_ALGO_BITNET158, 2, QAT_GRAN_TENSOR}, {QAT_ALGO_LSQ, 8, QAT_GRAN_TENSOR}},
    {"E8W4(row)A8", {QAT_ALGO_LSQ, 8, QAT_GRAN_TENSOR}, {QAT_ALGO_LSQ, 4, QAT_GRAN_ROW}, {QAT_ALGO_LSQ, 8, QAT_GRAN_TENSOR}},
};
#define N_STUDY (sizeof study_configs / sizeof study_configs[0])

START_TEST(parses_study_configs)
{
    qat_quant_config *cfg = NULL;
    QAT_ASSERT_OK(qat_quant_config_parse(study_configs[_i].text, &cfg));
    assert_class(cfg, QAT_CLASS_EMBEDDING, study_configs[_i].e);
    assert_class(cfg, QAT_CLASS_WEIGHT, study_configs[_i].w);
    assert_class(cfg, QAT_CLASS_ACTIVATION, study_configs[_i].a);
    char text[QAT_QUANT_CONFIG_MAX_STRING + 1];
    QAT_ASSERT_OK(qat_quant_config_to_string(cfg, text, sizeof text, NULL));
    ck_assert_str_eq(text, study_configs[_i].text); /* every entry above is canonical */
    qat_quant_config_free(cfg);
}
END_TEST

START_TEST(aliases_and_case)
{
    const char *same_as_fp32[] = {"fp32", "none", "NONE", "E32W32A32"};
    for (size_t i = 0; i < 4; i++) {
        qat_quant_config *cfg = NULL;
        char text[64];
        QAT_ASSERT_OK(qat_quant_config_parse(same_as_fp32[i], &cfg));
        QAT_ASSERT_OK(qat_quant_config_to_string(cfg, text, sizeof text, NULL));
        ck_assert_str_eq(text, "FP32");
        qat_quant_config_free(cfg);
    }
    qat_quant_config *lower = NULL, *upper = NULL;
    QAT_ASSERT_OK(qat_quant_config_parse("e6w1.58a6", &lower));
    QAT_ASSERT_OK(qat_quant_config_parse("E6W1.58A6", &upper));
    ck_assert(qat_quant_config_equal(lower, upper));
    qat_quant_config_free(lower);
    qat_quant_config_free(upper);
}
END_TEST

static const struct { const char *text; const char *needle; } bad_configs[] = {
    {"E9W1A", "E9"},
    /* Positions count from 1 in the text as given (they were counted from
     * a stack copy: "at position -3643"). */
    {"W4", "expected 'E' (embedding bits) at position 1, found 'W'"},
    {"W8A8", "'W8A8': expected 'E' (embedding bits) at position 1, found 'W'"},
    {"E8A8W8", "expected 'W' (weight bits) at position 3, found 'A'"},
    {"E8W1.58X6@paper", "expected 'A' (activation bits) at position 8, found 'X'"},
    {"e4w4@shared", "missing A<bits> (activation) at position 5"},
    {"E6W1.5A6", "W1.5"},
    {"", "empty"},
    {"E8W8", "missing A<bits> (activation) at position 5"},
    {"E8W8A8X", "unexpected 'X'"},
    {"E1W8A8", "E1"},
    {"E8W0A8", "W0"},
    {"E8W8A1.58", "A1.58"},
    {"E1.58W8A8", "E1.58"},
    {"E8W8A8(foo)", "unknown option 'foo'"},
    {"E8W8A8(row)", "activation"},
    {"E8(bitnet)W8A8", "embedding"},
    {"E8W8(bitnet)A8", "W1.58"},
    {"E8W8A8(lsq", "unclosed"},
    {"E32(lsq)W8A8", "float"},
    {"E8 W8 A8", "expected 'W' (weight bits) at position 3, found ' '"},
    {"EW8A8", "bit width"},
    {"E8W8A8@foo", "unknown switch '@foo'"},
    {"E8W8A8@", "unknown switch"},
    {"E8W4(row)A8@shared", "per-row LSQ"},
    {"E8(lsq+)W8A8", "activations only"},
    {"E8W8(lsq+)A8", "activations only"},
    {"E8W8A8(lsq+,row)", "per tensor"},
};
#define N_BAD (sizeof bad_configs / sizeof bad_configs[0])

START_TEST(rejects_bad_strings)
{
    qat_quant_config *cfg = (qat_quant_config *)1;
    QAT_ASSERT_FAILS(qat_quant_config_parse(bad_configs[_i].text, &cfg), QAT_ERR_INVALID_ARGUMENT,
                     bad_configs[_i].needle);
    ck_assert_ptr_null(cfg);
}
END_TEST

START_TEST(rejects_overlong_and_null)
{
    char text[QAT_QUANT_CONFIG_MAX_STRING + 8];
    memset(text, 'E', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    qat_quant_config *cfg = NULL;
    QAT_ASSERT_FAILS(qat_quant_config_parse(text, &cfg), QAT_ERR_INVALID_ARGUMENT, "longer than");
    QAT_ASSERT_FAILS(qat_quant_config_parse(NULL, &cfg), QAT_ERR_INVALID_ARGUMENT, "NULL");
    QAT_ASSERT_FAILS(qat_quant_config_parse("FP32", NULL), QAT_ERR_INVALID_ARGUMENT, "NULL");
}
END_TEST

/* Every valid per-class combination, built through the setters, must print
 * a string that parses back to the same config. */
START_TEST(round_trip_every_combination)
{
    const int algos[] = {QAT_ALGO_NONE, QAT_ALGO_LSQ, QAT_ALGO_BITNET158, QAT_ALGO_LSQ_PLUS};
    const int bits[] = {2, 8};
    int checked = 0;
    for (int ea = 0; ea < 4; ea++)
    for (int eb = 0; eb < 2; eb++)
    for (int wa = 0; wa < 4; wa++)
    for (int wb = 0; wb < 2; wb++)
    for (int wg = 0; wg < 3; wg++)
    for (int aa = 0; aa < 4; aa++)
    for (int ab = 0; ab < 2; ab++)
    for (int ag = 0; ag < 3; ag++)
    for (int sw = 0; sw < 16; sw++) {
        qat_quant_config *cfg = NULL, *back = NULL;
        QAT_ASSERT_OK(qat_quant_config_create(&cfg));
        int ok = qat_quant_config_set(cfg, QAT_CLASS_EMBEDDING, QAT_QP_ALGO, algos[ea]) == QAT_OK;
        if (ok && algos[ea] != QAT_ALGO_NONE)
            ok = qat_quant_config_set(cfg, QAT_CLASS_EMBEDDING, QAT_QP_BITS, bits[eb]) == QAT_OK;
        ok = ok && qat_quant_config_set(cfg, QAT_CLASS_WEIGHT, QAT_QP_ALGO, algos[wa]) == QAT_OK;
        if (ok && algos[wa] == QAT_ALGO_LSQ)
            ok = qat_quant_config_set(cfg, QAT_CLASS_WEIGHT, QAT_QP_BITS, bits[wb]) == QAT_OK;
        if (ok && algos[wa] != QAT_ALGO_NONE)
            ok = qat_quant_config_set(cfg, QAT_CLASS_WEIGHT, QAT_QP_GRANULARITY, wg) == QAT_OK;
        ok = ok && qat_quant_config_set(cfg, QAT_CLASS_ACTIVATION, QAT_QP_ALGO, algos[aa]) == QAT_OK;
        if (ok && algos[aa] != QAT_ALGO_NONE)
            ok = qat_quant_config_set(cfg, QAT_CLASS_ACTIVATION, QAT_QP_BITS, bits[ab]) == QAT_OK;
        if (ok && algos[aa] != QAT_ALGO_NONE)
            ok = qat_quant_config_set(cfg, QAT_CLASS_ACTIVATION, QAT_QP_GRANULARITY, ag) == QAT_OK;
        for (int k = 0; ok && k < 4; k++)
            ok = qat_quant_config_set_switch(cfg, (qat_quant_switch)(QAT_QS_SHARING + k), (sw >> k) & 1) == QAT_OK;
        if (ok) {
            char text[QAT_QUANT_CONFIG_MAX_STRING + 1];
            QAT_ASSERT_OK(qat_quant_config_to_string(cfg, text, sizeof text, NULL));
            QAT_ASSERT_OK(qat_quant_config_parse(text, &back));
            ck_assert_msg(qat_quant_config_equal(cfg, back), "'%s' does not round-trip", text);
            checked++;
        }
        qat_quant_config_free(back);
        qat_quant_config_free(cfg);
    }
    ck_assert_int_gt(checked, 5000);
}
END_TEST

/* Canonical names are derived from the content: switches that change
 * nothing are dropped, a full set is written @seed-code. */
static const struct {
    const char *text, *canonical;
    int profile;
} named_configs[] = {
    {"E6W1.58A6@seed-code", "E6W1.58A6@seed-code", QAT_PROFILE_SEED_CODE},
    {"E6W1.58(row)A6@shared,frozen-step,symmetric,mlm-head", "E6W1.58A6@seed-code", QAT_PROFILE_SEED_CODE},
    {"E6W1.58(tensor)A6@seed-code", "E6W1.58A6@shared,frozen-step,symmetric,mlm-head", QAT_PROFILE_CUSTOM},
    {"E6W1.58(row)A6", "E6W1.58(row)A6", QAT_PROFILE_CUSTOM},
    {"E8W8A8@seed-code", "E8W8A8@seed-code", QAT_PROFILE_SEED_CODE},
    {"E8W8A8@shared,frozen-step,mlm-head", "E8W8A8@seed-code", QAT_PROFILE_SEED_CODE},
    {"E8W8A8@symmetric", "E8W8A8", QAT_PROFILE_PAPER},
    {"E8W8A8@seed-code,paper", "E8W8A8", QAT_PROFILE_PAPER},
    {"FP32@seed-code", "FP32", QAT_PROFILE_PAPER},
    {"E8W8A8@mlm-head,shared", "E8W8A8@shared,mlm-head", QAT_PROFILE_CUSTOM},
    {"e8w8a8(LSQ+)", "E8W8A8(lsq+)", QAT_PROFILE_PAPER},
    {"E6W1.58A6(lsq+)", "E6W1.58A6(lsq+)", QAT_PROFILE_PAPER},
    {"E32W1.58A32@seed-code", "E32W1.58A32@seed-code", QAT_PROFILE_SEED_CODE},
    {"E8W4(row)A8(lsq+)@frozen-step", "E8W4(row)A8(lsq+)@frozen-step", QAT_PROFILE_CUSTOM},
};
#define N_NAMED (sizeof named_configs / sizeof named_configs[0])

START_TEST(canonical_names_and_profiles)
{
    qat_quant_config *cfg = NULL, *back = NULL;
    QAT_ASSERT_OK(qat_quant_config_parse(named_configs[_i].text, &cfg));
    char text[QAT_QUANT_CONFIG_MAX_STRING + 1];
    QAT_ASSERT_OK(qat_quant_config_to_string(cfg, text, sizeof text, NULL));
    ck_assert_str_eq(text, named_configs[_i].canonical);
    qat_quant_profile profile;
    QAT_ASSERT_OK(qat_quant_config_get_profile(cfg, &profile));
    ck_assert_int_eq(profile, named_configs[_i].profile);
    QAT_ASSERT_OK(qat_quant_config_parse(text, &back));
    ck_assert(qat_quant_config_equal(cfg, back));
    qat_quant_config_free(back);
    qat_quant_config_free(cfg);
}
END_TEST

START_TEST(switches_and_profiles_through_setters)
{
    qat_quant_config *cfg = NULL, *paper = NULL;
    QAT_ASSERT_OK(qat_quant_config_parse("E6W1.58A6", &cfg));
    QAT_ASSERT_OK(qat_quant_config_parse("E6W1.58A6", &paper));
    QAT_ASSERT_OK(qat_quant_config_set_profile(cfg, QAT_PROFILE_SEED_CODE));
    ck_assert(!qat_quant_config_equal(cfg, paper));
    int v;
    QAT_ASSERT_OK(qat_quant_config_get(cfg, QAT_CLASS_WEIGHT, QAT_QP_GRANULARITY, &v));
    ck_assert_int_eq(v, QAT_GRAN_ROW);
    for (int s = QAT_QS_SHARING; s <= QAT_QS_MLM_HEAD; s++) {
        QAT_ASSERT_OK(qat_quant_config_get_switch(cfg, (qat_quant_switch)s, &v));
        ck_assert_int_eq(v, 1);
    }
    QAT_ASSERT_OK(qat_quant_config_set_profile(cfg, QAT_PROFILE_PAPER));
    ck_assert(qat_quant_config_equal(cfg, paper));
    QAT_ASSERT_FAILS(qat_quant_config_set_profile(cfg, QAT_PROFILE_CUSTOM), QAT_ERR_INVALID_ARGUMENT, "PAPER");
    QAT_ASSERT_FAILS(qat_quant_config_set_switch(cfg, QAT_QS_SHARING, 2), QAT_ERR_INVALID_ARGUMENT, "not 0 or 1");
    QAT_ASSERT_FAILS(qat_quant_config_set_switch(cfg, (qat_quant_switch)9, 1), QAT_ERR_INVALID_ARGUMENT, "switch 9");
    QAT_ASSERT_FAILS(qat_quant_config_get_switch(cfg, (qat_quant_switch)0, &v), QAT_ERR_INVALID_ARGUMENT, "switch 0");
    /* Per-class sharing and per-row LSQ steps exclude each other, in either order. */
    qat_quant_config_free(cfg);
    QAT_ASSERT_OK(qat_quant_config_parse("E8W4A8@shared", &cfg));
    QAT_ASSERT_FAILS(qat_quant_config_set(cfg, QAT_CLASS_WEIGHT, QAT_QP_GRANULARITY, QAT_GRAN_ROW),
                     QAT_ERR_INVALID_ARGUMENT, "per-row");
    qat_quant_config_free(cfg);
    QAT_ASSERT_OK(qat_quant_config_parse("E8W4(row)A8", &cfg));
    QAT_ASSERT_FAILS(qat_quant_config_set_switch(cfg, QAT_QS_SHARING, 1), QAT_ERR_INVALID_ARGUMENT, "per-row");
    QAT_ASSERT_FAILS(qat_quant_config_set_profile(cfg, QAT_PROFILE_SEED_CODE), QAT_ERR_INVALID_ARGUMENT, "per-row");
    QAT_ASSERT_OK(qat_quant_config_get_switch(cfg, QAT_QS_SHARING, &v));
    ck_assert_int_eq(v, 0); /* a refused change leaves the config as it was */
    /* LSQ+ through the setter: activations only, 8 bits per tensor by default. */
    QAT_ASSERT_OK(qat_quant_config_set(cfg, QAT_CLASS_ACTIVATION, QAT_QP_ALGO, QAT_ALGO_LSQ_PLUS));
    QAT_ASSERT_OK(qat_quant_config_get(cfg, QAT_CLASS_ACTIVATION, QAT_QP_BITS, &v));
    ck_assert_int_eq(v, 8);
    QAT_ASSERT_FAILS(qat_quant_config_set(cfg, QAT_CLASS_EMBEDDING, QAT_QP_ALGO, QAT_ALGO_LSQ_PLUS),
                     QAT_ERR_INVALID_ARGUMENT, "activations only");
    qat_quant_config_free(cfg);
    qat_quant_config_free(paper);
}
END_TEST

START_TEST(setters_validate)
{
    qat_quant_config *cfg = NULL;
    QAT_ASSERT_OK(qat_quant_config_create(&cfg));
    QAT_ASSERT_FAILS(qat_quant_config_set(cfg, QAT_CLASS_EMBEDDING, QAT_QP_ALGO, QAT_ALGO_BITNET158),
                     QAT_ERR_INVALID_ARGUMENT, "embedding");
    QAT_ASSERT_OK(qat_quant_config_set(cfg, QAT_CLASS_WEIGHT, QAT_QP_ALGO, QAT_ALGO_LSQ));
    QAT_ASSERT_FAILS(qat_quant_config_set(cfg, QAT_CLASS_WEIGHT, QAT_QP_BITS, 9), QAT_ERR_INVALID_ARGUMENT, "2..8");
    QAT_ASSERT_FAILS(qat_quant_config_set(cfg, QAT_CLASS_WEIGHT, QAT_QP_GRANULARITY, QAT_GRAN_TOKEN),
                     QAT_ERR_INVALID_ARGUMENT, "per-row");
    QAT_ASSERT_FAILS(qat_quant_config_set(cfg, (qat_tensor_class)3, QAT_QP_BITS, 4), QAT_ERR_INVALID_ARGUMENT,
                     "class");
    QAT_ASSERT_FAILS(qat_quant_config_set(cfg, QAT_CLASS_WEIGHT, (qat_quant_param)9, 4), QAT_ERR_INVALID_ARGUMENT,
                     "parameter");
    /* A refused setting leaves the config as it was. */
    int bits;
    QAT_ASSERT_OK(qat_quant_config_get(cfg, QAT_CLASS_WEIGHT, QAT_QP_BITS, &bits));
    ck_assert_int_eq(bits, 8);
    char small[4];
    size_t needed = 0;
    QAT_ASSERT_FAILS(qat_quant_config_to_string(cfg, small, sizeof small, &needed), QAT_ERR_BUFFER_TOO_SMALL,
                     "needs");
    ck_assert_int_eq(needed, strlen("E32W8A32") + 1);
    ck_assert(!qat_quant_config_equal(cfg, NULL));
    qat_quant_config *copy = NULL;
    QAT_ASSERT_OK(qat_quant_config_copy(cfg, &copy));
    ck_assert(qat_quant_config_equal(cfg, copy));
    qat_quant_config_free(copy);
    qat_quant_config_free(cfg);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("quant_config");
    TCase *tc = tcase_create("notation");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, parses_study_configs, 0, N_STUDY);
    tcase_add_test(tc, aliases_and_case);
    tcase_add_loop_test(tc, rejects_bad_strings, 0, N_BAD);
    tcase_add_test(tc, rejects_overlong_and_null);
    tcase_add_test(tc, round_trip_every_combination);
    tcase_add_test(tc, setters_validate);
    tcase_add_loop_test(tc, canonical_names_and_profiles, 0, N_NAMED);
    tcase_add_test(tc, switches_and_profiles_through_setters);
    suite_add_tcase(s, tc);
    return s;
}
