/* Metrics against seqeval 1.2.2 / scikit-learn / numpy oracles (golden
 * written by gen_metrics_golden.py at test time, path in
 * QAT_GOLDEN_METRICS), and the bootstrap's own properties. */
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "metrics/metrics.h"
#include "test_main.h"

#define TOL 1e-9

static json_object *get(json_object *o, const char *key)
{
    json_object *v = NULL;
    ck_assert_msg(json_object_object_get_ex(o, key, &v), "golden lacks '%s'", key);
    return v;
}

static json_object *golden(void)
{
    const char *path = getenv("QAT_GOLDEN_METRICS");
    ck_assert_msg(path != NULL, "QAT_GOLDEN_METRICS is not set (run through meson test)");
    json_object *root = json_object_from_file(path);
    ck_assert_msg(root != NULL, "cannot read golden %s", path);
    return root;
}

typedef struct seqs_buf {
    int32_t *gold, *pred;
    size_t *offsets;
    qat_metrics_seqs s;
} seqs_buf;

static void load_seqs(json_object *c, seqs_buf *b)
{
    json_object *g = get(c, "gold"), *p = get(c, "pred");
    size_t ns = json_object_array_length(g), total = 0;
    for (size_t i = 0; i < ns; i++)
        total += json_object_array_length(json_object_array_get_idx(g, i));
    b->gold = calloc(total + 1, sizeof(int32_t));
    b->pred = calloc(total + 1, sizeof(int32_t));
    b->offsets = calloc(ns + 1, sizeof(size_t));
    size_t k = 0;
    for (size_t i = 0; i < ns; i++) {
        json_object *gi = json_object_array_get_idx(g, i), *pi = json_object_array_get_idx(p, i);
        ck_assert_uint_eq(json_object_array_length(gi), json_object_array_length(pi));
        for (size_t j = 0; j < json_object_array_length(gi); j++, k++) {
            b->gold[k] = json_object_get_int(json_object_array_get_idx(gi, j));
            b->pred[k] = json_object_get_int(json_object_array_get_idx(pi, j));
        }
        b->offsets[i + 1] = k;
    }
    b->s = (qat_metrics_seqs){b->gold, b->pred, b->offsets, ns};
}

static void free_seqs(seqs_buf *b)
{
    free(b->gold);
    free(b->pred);
    free(b->offsets);
}

static void expect(double got, double want, const char *what, const char *name)
{
    ck_assert_msg(fabs(got - want) <= TOL, "%s of case %s: %.17g, oracle %.17g", what, name, got, want);
}

START_TEST(test_ner_matches_seqeval)
{
    json_object *root = golden();
    json_object *cases = get(root, "ner");
    ck_assert_uint_ge(json_object_array_length(cases), 50);
    for (size_t c = 0; c < json_object_array_length(cases); c++) {
        json_object *cs = json_object_array_get_idx(cases, c);
        const char *name = json_object_get_string(get(cs, "name"));
        json_object *labels = get(cs, "labels");
        size_t nl = json_object_array_length(labels);
        const char **names = calloc(nl, sizeof *names);
        for (size_t i = 0; i < nl; i++)
            names[i] = json_object_get_string(json_object_array_get_idx(labels, i));
        qat_metrics_tagset *ts = NULL;
        QAT_ASSERT_OK(qat_metrics_tagset_create(names, nl, &ts));
        seqs_buf b;
        load_seqs(cs, &b);
        qat_metrics_prf micro;
        size_t nt = qat_metrics_tagset_type_count(ts);
        qat_metrics_prf *per = calloc(nt, sizeof *per);
        QAT_ASSERT_OK(qat_metrics_ner(ts, &b.s, &micro, per));
        expect(micro.precision, json_object_get_double(get(cs, "precision")), "precision", name);
        expect(micro.recall, json_object_get_double(get(cs, "recall")), "recall", name);
        expect(micro.f1, json_object_get_double(get(cs, "f1")), "f1", name);
        /* Every type seqeval reports, with its support; the others are empty. */
        json_object *pt = get(cs, "per_type");
        size_t seen = 0;
        for (size_t t = 0; t < nt; t++) {
            json_object *want = NULL;
            const char *tn = qat_metrics_tagset_type_name(ts, t);
            if (!json_object_object_get_ex(pt, tn, &want)) {
                ck_assert_msg(per[t].n_true == 0 && per[t].n_pred == 0, "case %s: type '%s' has entities", name, tn);
                continue;
            }
            seen++;
            expect(per[t].precision, json_object_get_double(json_object_array_get_idx(want, 0)), tn, name);
            expect(per[t].recall, json_object_get_double(json_object_array_get_idx(want, 1)), tn, name);
            expect(per[t].f1, json_object_get_double(json_object_array_get_idx(want, 2)), tn, name);
            ck_assert_int_eq(per[t].n_true, json_object_get_int(json_object_array_get_idx(want, 3)));
        }
        ck_assert_msg(seen == (size_t)json_object_object_length(pt), "case %s: types differ from seqeval's", name);
        free(per);
        free_seqs(&b);
        qat_metrics_tagset_free(ts);
        free(names);
    }
    json_object_put(root);
}
END_TEST

START_TEST(test_classification_matches_sklearn)
{
    json_object *root = golden();
    json_object *cases = get(root, "cls");
    for (size_t c = 0; c < json_object_array_length(cases); c++) {
        json_object *cs = json_object_array_get_idx(cases, c);
        const char *name = json_object_get_string(get(cs, "name"));
        seqs_buf b;
        load_seqs(cs, &b);
        qat_metrics_cls r;
        QAT_ASSERT_OK(qat_metrics_classification(&b.s, (size_t)json_object_get_int(get(cs, "n_labels")), &r));
        expect(r.accuracy, json_object_get_double(get(cs, "accuracy")), "accuracy", name);
        expect(r.micro_f1, json_object_get_double(get(cs, "micro")), "micro F1", name);
        expect(r.macro_f1, json_object_get_double(get(cs, "macro")), "macro F1", name);
        expect(r.weighted_f1, json_object_get_double(get(cs, "weighted")), "weighted F1", name);
        free_seqs(&b);
    }
    json_object *pc = get(root, "percentile");
    for (size_t c = 0; c < json_object_array_length(pc); c++) {
        json_object *cs = json_object_array_get_idx(pc, c);
        json_object *v = get(cs, "values");
        size_t n = json_object_array_length(v);
        double *x = malloc(n * sizeof *x);
        for (size_t i = 0; i < n; i++)
            x[i] = json_object_get_double(json_object_array_get_idx(v, i));
        double got = qat_metrics_percentile_sorted(x, n, json_object_get_double(get(cs, "q")));
        ck_assert_msg(fabs(got - json_object_get_double(get(cs, "want"))) <= 1e-12,
                      "percentile %g of %zu values: %.17g vs numpy %.17g", json_object_get_double(get(cs, "q")), n,
                      got, json_object_get_double(get(cs, "want")));
        free(x);
    }
    json_object_put(root);
}
END_TEST

/* A synthetic NER test set: n sentences, entities mostly right. */
static void synth(size_t n, int32_t **gold, int32_t **pred, size_t **off)
{
    *gold = malloc(n * 6 * sizeof(int32_t));
    *pred = malloc(n * 6 * sizeof(int32_t));
    *off = malloc((n + 1) * sizeof(size_t));
    (*off)[0] = 0;
    uint64_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        static const int32_t pattern[6] = {0, 1, 2, 0, 3, 0}; /* O B-PER I-PER O B-LOC O */
        for (int j = 0; j < 6; j++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            (*gold)[i * 6 + j] = pattern[j];
            (*pred)[i * 6 + j] = (x >> 60) < 3 ? (int32_t)((x >> 40) % 5) : pattern[j];
        }
        (*off)[i + 1] = (i + 1) * 6;
    }
}

START_TEST(test_bootstrap)
{
    const char *names[] = {"O", "B-PER", "I-PER", "B-LOC", "I-LOC"};
    qat_metrics_tagset *ts = NULL;
    QAT_ASSERT_OK(qat_metrics_tagset_create(names, 5, &ts));
    double width[2];
    for (int k = 0; k < 2; k++) {
        size_t n = k == 0 ? 50 : 800;
        int32_t *g, *p;
        size_t *off;
        synth(n, &g, &p, &off);
        qat_metrics_seqs s = {g, p, off, n};
        qat_metrics_ci a, b, c;
        QAT_ASSERT_OK(qat_metrics_bootstrap(&s, QAT_METRICS_NER_F1, ts, 0, 0, 0.95, 42, &a));
        QAT_ASSERT_OK(qat_metrics_bootstrap(&s, QAT_METRICS_NER_F1, ts, 0, 0, 0.95, 42, &b));
        QAT_ASSERT_OK(qat_metrics_bootstrap(&s, QAT_METRICS_NER_F1, ts, 0, 0, 0.95, 43, &c));
        qat_metrics_prf micro;
        QAT_ASSERT_OK(qat_metrics_ner(ts, &s, &micro, NULL));
        ck_assert(a.point == micro.f1);
        ck_assert(a.low == b.low && a.high == b.high); /* same seed, same interval */
        ck_assert(a.low != c.low || a.high != c.high);
        ck_assert_int_eq(a.resamples, 1000);
        ck_assert_msg(a.low <= a.point && a.point <= a.high, "%g not in [%g, %g]", a.point, a.low, a.high);
        width[k] = a.high - a.low;
        for (int kind = QAT_METRICS_ACCURACY; kind <= QAT_METRICS_WEIGHTED_F1; kind++) {
            qat_metrics_cls cls;
            QAT_ASSERT_OK(qat_metrics_classification(&s, 5, &cls));
            QAT_ASSERT_OK(qat_metrics_bootstrap(&s, (qat_metrics_kind)kind, NULL, 5, 200, 0.9, 7, &a));
            double point = kind == QAT_METRICS_ACCURACY ? cls.accuracy
                         : kind == QAT_METRICS_MACRO_F1 ? cls.macro_f1 : cls.weighted_f1;
            ck_assert(fabs(a.point - point) < 1e-12);
            ck_assert(a.low <= a.point + 1e-12 && a.point <= a.high + 1e-12);
        }
        free(g);
        free(p);
        free(off);
    }
    ck_assert_msg(width[1] < width[0], "interval does not narrow with more data: %g vs %g", width[1], width[0]);
    qat_metrics_ci ci;
    int32_t one = 0;
    size_t off1[2] = {0, 1};
    qat_metrics_seqs s1 = {&one, &one, off1, 1};
    QAT_ASSERT_FAILS(qat_metrics_bootstrap(&s1, QAT_METRICS_NER_F1, ts, 0, 10, 1.5, 1, &ci),
                     QAT_ERR_INVALID_ARGUMENT, "level");
    QAT_ASSERT_FAILS(qat_metrics_bootstrap(&s1, QAT_METRICS_NER_F1, NULL, 0, 10, 0.9, 1, &ci),
                     QAT_ERR_INVALID_ARGUMENT, "tagset");
    qat_metrics_tagset_free(ts);
}
END_TEST

/* Coverage of the percentile bootstrap in a simulation where the true F1
 * is known: each gold token (POS) is predicted right with probability p,
 * so the population micro F1 (= accuracy) is p; for NER each gold entity
 * is found with probability q and nothing spurious is predicted, so the
 * population entity F1 is 2q / (1 + q). Over many simulated test sets the
 * 95 % interval must contain the truth about 95 % of the time. */
static uint64_t lcg(uint64_t *x)
{
    *x = *x * 6364136223846793005ull + 1442695040888963407ull;
    return *x >> 11;
}

static double unit(uint64_t *x)
{
    return (double)lcg(x) / 9007199254740992.0; /* 2^53 */
}

START_TEST(test_bootstrap_coverage)
{
    const char *names[] = {"O", "B-PER", "I-PER"};
    qat_metrics_tagset *ts = NULL;
    QAT_ASSERT_OK(qat_metrics_tagset_create(names, 3, &ts));
    enum { SETS = 300, SENT = 120, LEN = 8 };
    int32_t *gold = malloc(SENT * LEN * sizeof *gold), *pred = malloc(SENT * LEN * sizeof *pred);
    size_t off[SENT + 1];
    for (size_t i = 0; i <= SENT; i++)
        off[i] = i * LEN;
    qat_metrics_seqs s = {gold, pred, off, SENT};
    uint64_t x = 20240611;
    const double p = 0.8, q = 0.7, ner_truth = 2 * q / (1 + q);
    int covered_pos = 0, covered_ner = 0;
    for (int k = 0; k < SETS; k++) {
        /* POS: 3 labels, uniform gold, right with probability p */
        for (size_t t = 0; t < SENT * LEN; t++) {
            gold[t] = (int32_t)(lcg(&x) % 3);
            pred[t] = unit(&x) < p ? gold[t] : (gold[t] + 1 + (int32_t)(lcg(&x) % 2)) % 3;
        }
        qat_metrics_ci ci;
        QAT_ASSERT_OK(qat_metrics_bootstrap(&s, QAT_METRICS_ACCURACY, NULL, 3, 200, 0.95, (uint64_t)k, &ci));
        covered_pos += ci.low <= p && p <= ci.high;
        /* NER: "B-PER I-PER O O" twice per sentence; each entity found
         * (both tokens right) with probability q, else predicted O O */
        for (size_t i = 0; i < SENT; i++)
            for (int e = 0; e < 2; e++) {
                int32_t *g = gold + i * LEN + e * 4, *pr = pred + i * LEN + e * 4;
                g[0] = 1, g[1] = 2, g[2] = g[3] = 0;
                int found = unit(&x) < q;
                pr[0] = found ? 1 : 0, pr[1] = found ? 2 : 0, pr[2] = pr[3] = 0;
            }
        QAT_ASSERT_OK(qat_metrics_bootstrap(&s, QAT_METRICS_NER_F1, ts, 0, 200, 0.95, (uint64_t)k, &ci));
        covered_ner += ci.low <= ner_truth && ner_truth <= ci.high;
    }
    /* 95 % nominal; the binomial s.e. over 300 sets is 1.3 %: accept
     * 0.90..0.99 (a broken interval, e.g. half as wide, covers ~70 %). */
    double cov_pos = (double)covered_pos / SETS, cov_ner = (double)covered_ner / SETS;
    printf("bootstrap CI95 coverage over %d simulated test sets: POS %.3f, NER %.3f\n", SETS, cov_pos, cov_ner);
    ck_assert_msg(cov_pos >= 0.90 && cov_pos <= 0.99, "POS coverage %.3f", cov_pos);
    ck_assert_msg(cov_ner >= 0.90 && cov_ner <= 0.99, "NER coverage %.3f", cov_ner);
    free(gold);
    free(pred);
    qat_metrics_tagset_free(ts);
}
END_TEST

START_TEST(test_misc)
{
    ck_assert(qat_metrics_collapsed(0.1999));
    ck_assert(!qat_metrics_collapsed(0.20));
    ck_assert(qat_metrics_collapsed(NAN));
    double v[3] = {0.8, 0.9, 1.0}, mean, sd;
    QAT_ASSERT_OK(qat_metrics_mean_std(v, 3, &mean, &sd));
    ck_assert(fabs(mean - 0.9) < 1e-15 && fabs(sd - 0.1) < 1e-15);
    QAT_ASSERT_OK(qat_metrics_mean_std(v, 1, &mean, &sd));
    ck_assert(sd == 0.0);

    const char *names[] = {"O", "B-X"};
    qat_metrics_tagset *ts = NULL;
    QAT_ASSERT_OK(qat_metrics_tagset_create(names, 2, &ts));
    int32_t gold[2] = {0, 1}, bad[2] = {0, 2};
    size_t off[2] = {0, 2};
    qat_metrics_seqs s = {gold, bad, off, 1};
    qat_metrics_prf prf;
    QAT_ASSERT_FAILS(qat_metrics_ner(ts, &s, &prf, NULL), QAT_ERR_INVALID_ARGUMENT, "predicted label 2 at token 1");
    qat_metrics_cls cls;
    size_t none[1] = {0};
    qat_metrics_seqs empty = {gold, gold, none, 0};
    QAT_ASSERT_FAILS(qat_metrics_classification(&empty, 2, &cls), QAT_ERR_INVALID_ARGUMENT, "no tokens");
    QAT_ASSERT_OK(qat_metrics_ner(ts, &empty, &prf, NULL));
    ck_assert(prf.f1 == 0.0 && prf.n_true == 0);
    const char *empty_name[] = {""};
    qat_metrics_tagset *t2 = NULL;
    QAT_ASSERT_FAILS(qat_metrics_tagset_create(empty_name, 1, &t2), QAT_ERR_INVALID_ARGUMENT, "empty");
    ck_assert_ptr_null(t2);
    qat_metrics_tagset_free(ts);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("metrics");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_ner_matches_seqeval);
    tcase_add_test(tc, test_classification_matches_sklearn);
    tcase_add_test(tc, test_bootstrap);
    tcase_add_test(tc, test_bootstrap_coverage);
    tcase_add_test(tc, test_misc);
    suite_add_tcase(s, tc);
    return s;
}
