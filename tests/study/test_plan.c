/* The plans of issue #11 on the demo data:
 *   - the adaptive-alpha stopping rule as a pure function of loss curves;
 *   - the shared-prefix DAPT run: one schedule, snapshots at every alpha's
 *     step, fine-tuning cells started from them with the documented step
 *     counts; its last snapshot is the per-alpha DAPT of the largest alpha
 *     bit for bit (same schedule, same data, same seed);
 *   - adaptive alpha in a real run (per-alpha and shared), where a huge
 *     min_delta makes the rule fire at a known evaluation. */
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qat/qat.h"
#include "run_dirs.h"
#include "test_main.h"
#include "study/adaptive.h"

#define DATA DEMO_DIR

/* ---- the rule ----------------------------------------------------------- */

START_TEST(rule_on_synthetic_curves)
{
    /* An exponential decay to a plateau at 2.0: the improvements fall
     * below min_delta once 3 e^(-i/5) drops under about 0.05 per
     * evaluation; we compute where from the curve's own definition and
     * check the rule stops `patience` evaluations after the last real
     * improvement. */
    double curve[80];
    for (int i = 0; i < 80; i++)
        curve[i] = 2.0 + 3.0 * exp(-(double)i / 5.0);
    qat_adaptive_rule rule = {3, 0.05};
    size_t stop = qat_adaptive_stop_index(curve, 80, &rule);
    /* replay by hand: best moves only when the drop from best exceeds 0.05 */
    double best = INFINITY;
    int bad = 0;
    size_t want = 80;
    for (size_t i = 0; i < 80; i++) {
        if (curve[i] < best - 0.05) {
            best = curve[i];
            bad = 0;
        } else if (++bad >= 3) {
            want = i;
            break;
        }
    }
    ck_assert_uint_lt(want, 80);
    ck_assert_uint_eq(stop, want);
    /* the plateau is reached: the loss there is within a few deltas of 2 */
    ck_assert(curve[stop] - 2.0 < 0.5);

    /* strictly improving by more than min_delta: never stops */
    double lin[30];
    for (int i = 0; i < 30; i++)
        lin[i] = 10.0 - 0.1 * i;
    ck_assert_uint_eq(qat_adaptive_stop_index(lin, 30, &rule), 30);
    /* improving by less than min_delta: stops after patience evaluations */
    rule.min_delta = 0.35;
    ck_assert_uint_eq(qat_adaptive_stop_index(lin, 30, &rule), 3);
    /* a flat curve: the first evaluation sets the best, then 3 bad ones */
    double flat[10] = {5, 5, 5, 5, 5, 5, 5, 5, 5, 5};
    rule = (qat_adaptive_rule){3, 0.0};
    ck_assert_uint_eq(qat_adaptive_stop_index(flat, 10, &rule), 3);
    /* patience 1: stop at the first non-improvement */
    rule.patience = 1;
    double dip[5] = {5, 4, 4.5, 3, 2};
    ck_assert_uint_eq(qat_adaptive_stop_index(dip, 5, &rule), 2);
    /* noise around a plateau does not reset patience unless it beats the
     * best by min_delta: 1.00 1.02 0.99 1.01 -> 0.99 is within 0.05 */
    double noisy[6] = {1.0, 1.02, 0.99, 1.01, 0.5, 0.4};
    rule = (qat_adaptive_rule){3, 0.05};
    ck_assert_uint_eq(qat_adaptive_stop_index(noisy, 6, &rule), 3);
    /* NaN (a diverged evaluation) never improves; nor does +inf */
    double nan_curve[5] = {3, NAN, INFINITY, NAN, 1};
    ck_assert_uint_eq(qat_adaptive_stop_index(nan_curve, 5, &rule), 3);
    /* empty curve */
    ck_assert_uint_eq(qat_adaptive_stop_index(NULL, 0, &rule), 0);
    /* incremental use == whole-curve use, and it stays stopped */
    qat_adaptive_state s;
    qat_adaptive_reset(&s);
    size_t fired = 80;
    for (size_t i = 0; i < 80; i++)
        if (qat_adaptive_observe(&s, &rule, curve[i]) && fired == 80)
            fired = i;
    ck_assert_uint_eq(fired, qat_adaptive_stop_index(curve, 80, &rule));
    ck_assert(qat_adaptive_observe(&s, &rule, -100.0));
}
END_TEST

/* ---- real runs ---------------------------------------------------------- */

static int exists(const char *dir, const char *name)
{
    char p[800];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat st;
    return stat(p, &st) == 0;
}

static json_object *read_json(const char *dir, const char *name)
{
    char p[800];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    json_object *j = json_object_from_file(p);
    ck_assert_msg(j != NULL, "cannot read %s", p);
    return j;
}

static json_object *get(json_object *o, const char *key)
{
    json_object *v = NULL;
    ck_assert_msg(json_object_object_get_ex(o, key, &v), "no key '%s'", key);
    return v;
}

static int64_t geti(json_object *o, const char *key)
{
    return json_object_get_int64(get(o, key));
}

static unsigned char *slurp(const char *dir, const char *name, size_t *size)
{
    char p[800];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return slurp_file(p, size);
}

static int same_file(const char *a, const char *b, const char *name)
{
    size_t na, nb;
    unsigned char *da = slurp(a, name, &na), *db = slurp(b, name, &nb);
    int same = na == nb && memcmp(da, db, na) == 0;
    free(da);
    free(db);
    return same;
}

static size_t count_lines(const char *dir, const char *name, const char *needle)
{
    char p[800], line[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = 0;
    while (fgets(line, sizeof line, f))
        n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

static void pipe_options(qat_pipeline_options *o, const char *out, double alpha, int64_t steps)
{
    QAT_ASSERT_OK(qat_pipeline_options_init(o, QAT_PIPELINE_OPTIONS_VERSION));
    o->run.model_dir = DATA "/model";
    o->run.tokenizer = DATA "/spm.model";
    o->train_file = DATA "/task_small.conll";
    o->run.corpus = DATA "/corpus_small.txt";
    o->run.out_dir = out;
    o->run.quant = "E6W1.58A6";
    o->alpha = alpha;
    o->run.total_steps = steps;
    o->run.max_seq_len = 32;
    o->run.train.batch_size = 4;
    o->run.train.learning_rate = 2e-3;
}

static void dapt_options(qat_dapt_options *d, const char *out, const double *alphas, size_t n, int64_t steps)
{
    QAT_ASSERT_OK(qat_dapt_options_init(d, QAT_DAPT_OPTIONS_VERSION));
    d->run.model_dir = DATA "/model";
    d->run.tokenizer = DATA "/spm.model";
    d->run.corpus = DATA "/corpus_small.txt";
    d->run.out_dir = out;
    d->run.quant = "e6w1.58a6"; /* canonicalised: the cells say E6W1.58A6 */
    d->alphas = alphas;
    d->n_alphas = n;
    d->run.total_steps = steps;
    d->run.max_seq_len = 32;
    d->run.train.batch_size = 4;
    d->run.train.learning_rate = 2e-3;
}

START_TEST(shared_prefix_plan)
{
    qat_context *ctx;
    QAT_ASSERT_OK(qat_context_create("ref", &ctx));
    QAT_ASSERT_OK(qat_context_set_int(ctx, QAT_CTX_THREADS, 1));
    char *shared = temp_dir("plan"), *cell_a = temp_dir("plan"), *cell_b = temp_dir("plan");
    char *per = temp_dir("plan");
    const double alphas[3] = {0, 0.25, 0.5};
    const int64_t B = 8;
    qat_dapt_options d;
    dapt_options(&d, shared, alphas, 3, B);
    QAT_ASSERT_OK(qat_dapt_run(ctx, &d));
    /* one schedule of round(0.5 * 8) = 4 steps, snapshots at 2 and 4 */
    json_object *dj = read_json(shared, "dapt.json");
    ck_assert_int_eq(geti(dj, "schedule_steps"), 4);
    ck_assert_int_eq(geti(dj, "steps_done"), 4);
    ck_assert_int_eq(geti(dj, "warmup_steps"), 1); /* ceil(0.1 * 4) */
    ck_assert_str_eq(json_object_get_string(get(dj, "quant")), "E6W1.58A6");
    json_object *snaps = get(dj, "snapshots");
    ck_assert_uint_eq(json_object_array_length(snaps), 2);
    ck_assert_int_eq(geti(json_object_array_get_idx(snaps, 0), "step"), 2);
    ck_assert_int_eq(geti(json_object_array_get_idx(snaps, 1), "step"), 4);
    json_object_put(dj);
    ck_assert(exists(shared, "snapshots/step-2/model.safetensors"));
    ck_assert(exists(shared, "snapshots/step-4/model.safetensors"));
    ck_assert(!exists(shared, "snapshots/step-0"));
    ck_assert_uint_eq(count_lines(shared, "metrics.jsonl", "\"dapt\""), 4);
    /* running it again finds it finished; another quant is refused */
    QAT_ASSERT_OK(qat_dapt_run(ctx, &d));
    ck_assert_uint_eq(count_lines(shared, "metrics.jsonl", "\"dapt\""), 4);
    d.run.quant = "E8W8A8";
    QAT_ASSERT_FAILS(qat_dapt_run(ctx, &d), QAT_ERR_STATE, "E6W1.58A6");

    /* fine-tuning cells from the snapshots */
    qat_pipeline_options o;
    double f1;
    pipe_options(&o, cell_a, 0.25, B);
    o.plan = QAT_PLAN_SHARED_PREFIX;
    o.dapt_dir = shared;
    o.run.corpus = NULL; /* not needed: no DAPT in the cell */
    QAT_ASSERT_OK(qat_pipeline_run(ctx, &o, &f1));
    json_object *r = read_json(cell_a, "results.json");
    ck_assert_str_eq(json_object_get_string(get(r, "plan")), "shared-prefix");
    ck_assert_int_eq(geti(r, "dapt_steps"), 2);
    ck_assert_int_eq(geti(r, "finetune_steps"), 6);
    ck_assert_int_eq(geti(get(r, "dapt"), "snapshot_step"), 2);
    ck_assert_int_eq(geti(get(r, "dapt"), "schedule_steps"), 4);
    json_object_put(r);
    ck_assert(!exists(cell_a, "dapt")); /* the cell ran no DAPT of its own */
    ck_assert_uint_eq(count_lines(cell_a, "metrics.jsonl", "\"finetune\""), 6);
    ck_assert_uint_eq(count_lines(cell_a, "metrics.jsonl", "\"dapt\""), 0);

    pipe_options(&o, cell_b, 0.5, B);
    o.plan = QAT_PLAN_SHARED_PREFIX;
    o.dapt_dir = shared;
    QAT_ASSERT_OK(qat_pipeline_run(ctx, &o, &f1));
    r = read_json(cell_b, "results.json");
    ck_assert_int_eq(geti(r, "dapt_steps"), 4);
    ck_assert_int_eq(geti(r, "finetune_steps"), 4);
    json_object_put(r);

    /* an alpha the DAPT run was not planned for, another quant: refused */
    char *bad = temp_dir("plan");
    pipe_options(&o, bad, 0.375, B);
    o.plan = QAT_PLAN_SHARED_PREFIX;
    o.dapt_dir = shared;
    QAT_ASSERT_FAILS(qat_pipeline_run(ctx, &o, &f1), QAT_ERR_STATE, "no snapshot at step 3");
    pipe_options(&o, bad, 0.4, B);
    o.plan = QAT_PLAN_SHARED_PREFIX;
    o.dapt_dir = shared;
    o.run.quant = "E8W8A8";
    QAT_ASSERT_FAILS(qat_pipeline_run(ctx, &o, &f1), QAT_ERR_STATE, "trained E6W1.58A6");
    pipe_options(&o, bad, 0.5, B);
    o.plan = QAT_PLAN_SHARED_PREFIX;
    QAT_ASSERT_FAILS(qat_pipeline_run(ctx, &o, &f1), QAT_ERR_INVALID_ARGUMENT, "dapt_dir");
    remove_tree(bad);
    free(bad);

    /* the per-alpha plan of the largest alpha runs the same schedule on the
     * same data: its DAPT model is the shared run's last snapshot, bit for
     * bit; the smaller alpha's is not (its schedule is shorter). A bit
     * comparison, whose run adaptive_alpha_runs makes too: not repeated
     * under a memory checker. */
    if (!test_under_checker()) {
        pipe_options(&o, per, 0.5, B);
        QAT_ASSERT_OK(qat_pipeline_run(ctx, &o, &f1));
        r = read_json(per, "results.json");
        ck_assert_str_eq(json_object_get_string(get(r, "plan")), "per-alpha");
        ck_assert_int_eq(geti(r, "dapt_steps"), 4);
        json_object_put(r);
        char snap4[700], snap2[700], per_dapt[700];
        snprintf(snap4, sizeof snap4, "%s/snapshots/step-4", shared);
        snprintf(snap2, sizeof snap2, "%s/snapshots/step-2", shared);
        snprintf(per_dapt, sizeof per_dapt, "%s/dapt", per);
        ck_assert_msg(same_file(snap4, per_dapt, "model.safetensors"), "shared step-4 snapshot != per-alpha DAPT");
        ck_assert(same_file(snap4, per_dapt, "qat_quantizers.safetensors"));
        ck_assert(!same_file(snap2, snap4, "model.safetensors"));
    }
    const char *dirs[4] = {shared, cell_a, cell_b, per};
    for (int i = 0; i < 4; i++) {
        remove_tree(dirs[i]);
        free((void *)dirs[i]);
    }
    qat_context_free(ctx);
}
END_TEST

START_TEST(adaptive_alpha_runs)
{
    qat_context *ctx;
    QAT_ASSERT_OK(qat_context_create("ref", &ctx));
    QAT_ASSERT_OK(qat_context_set_int(ctx, QAT_CTX_THREADS, 1));
    char *per = temp_dir("plan"), *never = temp_dir("plan"), *shared = temp_dir("plan");
    char *cell = temp_dir("plan");
    const int64_t B = 10;
    qat_pipeline_options o;
    double f1;
    /* min_delta far above any loss change: the first evaluation sets the
     * best, the next `patience` (2) do not improve -> the rule fires at the
     * third evaluation, step 3 with eval_every 1. */
    pipe_options(&o, per, 0.0, B);
    o.run.adaptive.enabled = 1;
    o.run.adaptive.eval_every = 1;
    o.run.adaptive.patience = 2;
    o.run.adaptive.min_delta = 100.0;
    o.run.adaptive.heldout_sequences = 8;
    QAT_ASSERT_OK(qat_pipeline_run(ctx, &o, &f1));
    json_object *r = read_json(per, "results.json");
    ck_assert_str_eq(json_object_get_string(get(r, "alpha_mode")), "adaptive");
    ck_assert_int_eq(geti(r, "dapt_steps"), 3);
    ck_assert_int_eq(geti(r, "finetune_steps"), 7);
    ck_assert(fabs(json_object_get_double(get(r, "alpha")) - 0.3) < 1e-12);
    json_object *a = get(r, "adaptive");
    ck_assert_int_eq(geti(a, "stopped_at"), 3);
    ck_assert_int_eq(geti(a, "schedule_steps"), 9); /* alpha_max 0.9 */
    ck_assert_int_eq(geti(a, "heldout_sequences"), 8);
    ck_assert_uint_eq(json_object_array_length(get(a, "evaluations")), 3);
    json_object *e0 = json_object_array_get_idx(get(a, "evaluations"), 0);
    ck_assert(json_object_get_double(get(e0, "loss")) > 0);
    json_object_put(r);
    ck_assert_uint_eq(count_lines(per, "metrics.jsonl", "\"dapt\""), 3);
    ck_assert_uint_eq(count_lines(per, "metrics.jsonl", "\"dapt_heldout\""), 3);

    /* patience larger than the evaluations: the whole schedule, alpha_max */
    pipe_options(&o, never, 0.0, B);
    o.run.adaptive.enabled = 1;
    o.run.adaptive.eval_every = 3;
    o.run.adaptive.patience = 50;
    QAT_ASSERT_OK(qat_pipeline_run(ctx, &o, &f1));
    r = read_json(never, "results.json");
    ck_assert_int_eq(geti(r, "dapt_steps"), 9);
    ck_assert_int_eq(geti(r, "finetune_steps"), 1);
    ck_assert(json_object_get_type(get(get(r, "adaptive"), "stopped_at")) == json_type_null);
    ck_assert_uint_eq(json_object_array_length(get(get(r, "adaptive"), "evaluations")), 3);
    json_object_put(r);

    /* the shared run with adaptive alpha: same rule, same held-out split;
     * it snapshots at the rule's step 3 and goes on to alpha 0.5's step 5,
     * then stops (nothing else is owed). */
    const double alphas[2] = {0, 0.5};
    qat_dapt_options d;
    dapt_options(&d, shared, alphas, 2, B);
    d.run.adaptive = o.run.adaptive;
    d.run.adaptive.eval_every = 1;
    d.run.adaptive.patience = 2;
    d.run.adaptive.min_delta = 100.0;
    d.run.adaptive.heldout_sequences = 8;
    QAT_ASSERT_OK(qat_dapt_run(ctx, &d));
    json_object *dj = read_json(shared, "dapt.json");
    ck_assert_int_eq(geti(dj, "schedule_steps"), 9);
    ck_assert_int_eq(geti(dj, "steps_done"), 5);
    ck_assert_int_eq(geti(get(dj, "adaptive"), "step"), 3);
    json_object_put(dj);
    /* its adaptive snapshot is the per-alpha adaptive DAPT, bit for bit */
    char snap[700], per_dapt[700];
    snprintf(snap, sizeof snap, "%s/snapshots/step-3", shared);
    snprintf(per_dapt, sizeof per_dapt, "%s/dapt", per);
    ck_assert_msg(same_file(snap, per_dapt, "model.safetensors"), "adaptive snapshot != per-alpha adaptive DAPT");

    pipe_options(&o, cell, 0.0, B);
    o.plan = QAT_PLAN_SHARED_PREFIX;
    o.dapt_dir = shared;
    o.run.adaptive.enabled = 1;
    QAT_ASSERT_OK(qat_pipeline_run(ctx, &o, &f1));
    r = read_json(cell, "results.json");
    ck_assert_int_eq(geti(r, "dapt_steps"), 3);
    ck_assert_int_eq(geti(r, "finetune_steps"), 7);
    ck_assert_str_eq(json_object_get_string(get(r, "plan")), "shared-prefix");
    ck_assert(fabs(json_object_get_double(get(get(r, "adaptive"), "chosen_alpha")) - 0.3) < 1e-12);
    json_object_put(r);
    const char *dirs[4] = {per, never, shared, cell};
    for (int i = 0; i < 4; i++) {
        remove_tree(dirs[i]);
        free((void *)dirs[i]);
    }
    qat_context_free(ctx);
}
END_TEST

START_TEST(splits_sigma_in_results)
{
    qat_context *ctx;
    QAT_ASSERT_OK(qat_context_create("ref", &ctx));
    QAT_ASSERT_OK(qat_context_set_int(ctx, QAT_CTX_THREADS, 1));
    char *dir = temp_dir("plan");
    qat_pipeline_options o;
    double f1;
    pipe_options(&o, dir, 0.0, 2);
    QAT_ASSERT_OK(qat_pipeline_run(ctx, &o, &f1));
    json_object *r = read_json(dir, "results.json");
    json_object *s = get(r, "splits");
    ck_assert_str_eq(json_object_get_string(get(s, "rule")), "70/10/20"); /* the demo set is small */
    int64_t n_eval = geti(get(s, "eval"), "n"), n_test = geti(get(s, "test"), "n");
    ck_assert_int_eq(n_eval, geti(get(r, "eval"), "sentences"));
    ck_assert_int_eq(n_test, geti(get(r, "test"), "sentences"));
    ck_assert(fabs(json_object_get_double(get(get(s, "eval"), "z")) - sqrt((double)n_eval) * 0.05) < 1e-12);
    ck_assert(fabs(json_object_get_double(get(get(s, "test"), "z")) - sqrt((double)n_test) * 0.05) < 1e-12);
    ck_assert_int_eq(geti(s, "n_target"), 10000);
    /* every F1 of each evaluation carries its bootstrap interval */
    const char *splits[2] = {"eval", "test"};
    const char *f1s[3] = {"f1", "macro_f1", "weighted_f1"};
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 3; k++) {
            json_object *ev = get(r, splits[i]);
            char key[64];
            snprintf(key, sizeof key, "%s_ci95", f1s[k]);
            json_object *ci = get(ev, key);
            double lo = json_object_get_double(json_object_array_get_idx(ci, 0));
            double hi = json_object_get_double(json_object_array_get_idx(ci, 1));
            double v = json_object_get_double(get(ev, f1s[k]));
            ck_assert_msg(lo <= v + 1e-12 && v <= hi + 1e-12, "%s %s %g not in [%g, %g]", splits[i], f1s[k], v, lo,
                          hi);
        }
    json_object_put(r);
    remove_tree(dir);
    free(dir);
    qat_context_free(ctx);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("plan");
    TCase *tc = tcase_create("plan");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, rule_on_synthetic_curves);
    tcase_add_test(tc, shared_prefix_plan);
    tcase_add_test(tc, adaptive_alpha_runs);
    tcase_add_test(tc, splits_sigma_in_results);
    suite_add_tcase(s, tc);
    return s;
}
