/* AdamW + linear warm-up schedule + clip_grad_norm_ replayed against
 * torch 1.13 (golden written by gen_adamw_golden.py at test time; its path
 * comes in QAT_GOLDEN_ADAMW), plus the helpers' edge cases. */
#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "optim/adamw.h"
#include "optim/grad.h"
#include "optim/schedule.h"
#include "test_main.h"

static float *floats(json_object *arr, size_t *n)
{
    *n = json_object_array_length(arr);
    float *x = calloc(*n ? *n : 1, sizeof *x);
    for (size_t i = 0; i < *n; i++)
        x[i] = (float)json_object_get_double(json_object_array_get_idx(arr, i));
    return x;
}

static json_object *get(json_object *o, const char *key)
{
    json_object *v = NULL;
    ck_assert_msg(json_object_object_get_ex(o, key, &v), "golden lacks '%s'", key);
    return v;
}

/* exact: |a - b| <= 1e-6 * |b| element by element. Otherwise the error is
 * measured against the largest magnitude of the tensor: the gradient norm
 * is a reduction whose float rounding differs from torch's (its order
 * depends on the machine's vector width), and the one-ulp difference it
 * leaves in the clip coefficient is amplified in moments that cancel. */
static void expect_close(const float *got, const float *want, size_t n, const char *what, size_t group,
                         int exact)
{
    double scale = 0.0;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs((double)want[i]));
    for (size_t i = 0; i < n; i++) {
        double tol = exact ? 1e-6 * fabs((double)want[i]) : 1e-6 * scale;
        ck_assert_msg(fabs((double)got[i] - (double)want[i]) <= tol,
                      "%s[%zu][%zu] = %.9g, torch %.9g (rel err %.3g, %s)", what, group, i, got[i], want[i],
                      fabs((double)got[i] - want[i]) / fmax(fabs((double)want[i]), 1e-30),
                      exact ? "clipped with torch's norm" : "clipped with our norm");
    }
}

/* torch_norm: clip with the norm torch computed (isolating AdamW and the
 * clip arithmetic, which must then agree elementwise), else with ours. */
static void replay(json_object *run, int torch_norm)
{
    qat_optim_adamw_hparams hp;
    qat_optim_adamw_defaults(&hp);
    hp.beta1 = json_object_get_double(get(run, "beta1"));
    hp.beta2 = json_object_get_double(get(run, "beta2"));
    hp.eps = json_object_get_double(get(run, "eps"));
    hp.weight_decay = json_object_get_double(get(run, "weight_decay"));
    double lr = json_object_get_double(get(run, "lr"));
    int64_t steps = json_object_get_int64(get(run, "steps"));
    double max_norm = json_object_get_double(get(run, "max_norm"));
    qat_optim_schedule sched;
    QAT_ASSERT_OK(qat_optim_schedule_init(&sched, lr, steps, json_object_get_double(get(run, "warmup_ratio"))));
    ck_assert_int_eq(sched.warmup_steps, json_object_get_int64(get(run, "warmup")));

    json_object *groups = get(run, "groups");
    size_t ng = json_object_array_length(groups);
    qat_optim_group *g = calloc(ng, sizeof *g);
    qat_optim_grad_view *views = calloc(ng, sizeof *views);
    float **grads = calloc(ng, sizeof *grads);
    for (size_t i = 0; i < ng; i++) {
        json_object *gi = json_object_array_get_idx(groups, i);
        size_t n;
        g[i].param = floats(get(gi, "init"), &n);
        g[i].count = n;
        g[i].exp_avg = calloc(n, sizeof(float));
        g[i].exp_avg_sq = calloc(n, sizeof(float));
        grads[i] = calloc(n, sizeof(float));
        g[i].grad = grads[i];
        g[i].weight_decay = json_object_get_boolean(get(gi, "decay"));
        views[i].grad = grads[i];
        views[i].count = n;
    }
    json_object *all_grads = get(run, "grads");
    json_object *norms = get(run, "norms");
    json_object *lrs = get(run, "lrs");
    for (int64_t s = 0; s < steps; s++) {
        json_object *gs = json_object_array_get_idx(all_grads, (size_t)s);
        for (size_t i = 0; i < ng; i++) {
            size_t n;
            float *src = floats(json_object_array_get_idx(gs, i), &n);
            ck_assert_uint_eq(n, g[i].count);
            memcpy(grads[i], src, n * sizeof(float));
            free(src);
        }
        double step_lr = qat_optim_schedule_lr(&sched, s);
        double want_lr = json_object_get_double(json_object_array_get_idx(lrs, (size_t)s));
        ck_assert_msg(fabs(step_lr - want_lr) <= 1e-15 * fmax(want_lr, 1e-30), "lr at step %lld: %.17g vs %.17g",
                      (long long)s, step_lr, want_lr);
        double norm = qat_optim_grad_norm(views, ng);
        double want_norm = json_object_get_double(json_object_array_get_idx(norms, (size_t)s));
        ck_assert_msg(fabs(norm - want_norm) <= 1e-6 * want_norm, "norm at step %lld: %.9g vs %.9g",
                      (long long)s, norm, want_norm);
        if (torch_norm) {
            float coef = qat_optim_clip_coef(want_norm, max_norm);
            for (size_t i = 0; i < ng; i++)
                qat_optim_scale(grads[i], g[i].count, coef);
        } else {
            QAT_ASSERT_OK(qat_optim_clip_grad_norm(views, ng, max_norm, 1, &norm));
        }
        QAT_ASSERT_OK(qat_optim_adamw_step(&hp, step_lr, s + 1, g, ng));
    }
    json_object *final = get(run, "final");
    for (size_t i = 0; i < ng; i++) {
        json_object *fi = json_object_array_get_idx(final, i);
        size_t n;
        float *want = floats(get(fi, "param"), &n);
        expect_close(g[i].param, want, n, "param", i, torch_norm);
        free(want);
        want = floats(get(fi, "exp_avg"), &n);
        expect_close(g[i].exp_avg, want, n, "exp_avg", i, torch_norm);
        free(want);
        want = floats(get(fi, "exp_avg_sq"), &n);
        expect_close(g[i].exp_avg_sq, want, n, "exp_avg_sq", i, torch_norm);
        free(want);
        ck_assert_int_eq(json_object_get_int64(get(fi, "step")), steps);
        free(g[i].param);
        free(g[i].exp_avg);
        free(g[i].exp_avg_sq);
        free(grads[i]);
    }
    free(g);
    free(views);
    free(grads);
}

START_TEST(test_adamw_matches_torch)
{
    const char *path = getenv("QAT_GOLDEN_ADAMW");
    ck_assert_msg(path != NULL, "QAT_GOLDEN_ADAMW is not set (run through meson test)");
    json_object *root = json_object_from_file(path);
    ck_assert_msg(root != NULL, "cannot read golden %s", path);
    json_object *runs = get(root, "runs");
    ck_assert_uint_ge(json_object_array_length(runs), 3);
    for (size_t r = 0; r < json_object_array_length(runs); r++) {
        replay(json_object_array_get_idx(runs, r), 1);
        replay(json_object_array_get_idx(runs, r), 0);
    }
    json_object_put(root);
}
END_TEST

START_TEST(test_schedule)
{
    qat_optim_schedule s;
    QAT_ASSERT_OK(qat_optim_schedule_init(&s, 5e-6, 30000, 0.1));
    ck_assert_int_eq(s.warmup_steps, 3000);
    ck_assert(qat_optim_schedule_lr(&s, 0) == 0.0);
    ck_assert(fabs(qat_optim_schedule_lr(&s, 1500) - 2.5e-6) < 1e-20);
    ck_assert(qat_optim_schedule_lr(&s, 3000) == 5e-6);
    ck_assert(fabs(qat_optim_schedule_lr(&s, 16500) - 2.5e-6) < 1e-20);
    ck_assert(qat_optim_schedule_lr(&s, 30000) == 0.0);
    ck_assert(qat_optim_schedule_lr(&s, 40000) == 0.0); /* past the end: clamped */
    QAT_ASSERT_OK(qat_optim_schedule_init(&s, 1.0, 25, 0.1));
    ck_assert_int_eq(s.warmup_steps, 3); /* ceil(2.5) */
    QAT_ASSERT_OK(qat_optim_schedule_init(&s, 1.0, 10, 0.0));
    ck_assert(qat_optim_schedule_lr(&s, 0) == 1.0);
    QAT_ASSERT_OK(qat_optim_schedule_init_steps(&s, 1.0, 0, 0)); /* empty phase */
    ck_assert(qat_optim_schedule_lr(&s, 0) == 0.0);
    QAT_ASSERT_FAILS(qat_optim_schedule_init(&s, 1.0, 10, 1.5), QAT_ERR_INVALID_ARGUMENT, "warm-up ratio");
    QAT_ASSERT_FAILS(qat_optim_schedule_init(&s, -1.0, 10, 0.1), QAT_ERR_INVALID_ARGUMENT, "learning rate");
}
END_TEST

START_TEST(test_clip_and_accumulate)
{
    float a[3] = {3.0f, 0.0f, 0.0f}, b[1] = {4.0f};
    qat_optim_grad_view v[2] = {{a, 3}, {b, 1}};
    double norm;
    QAT_ASSERT_OK(qat_optim_clip_grad_norm(v, 2, 10.0, 1, &norm));
    ck_assert(norm == 5.0);
    ck_assert(a[0] == 3.0f && b[0] == 4.0f); /* below the threshold: untouched */
    QAT_ASSERT_OK(qat_optim_clip_grad_norm(v, 2, 1.0, 1, &norm));
    ck_assert(fabs(qat_optim_grad_norm(v, 2) - 1.0) < 1e-6);
    a[1] = NAN;
    float before = a[0];
    QAT_ASSERT_FAILS(qat_optim_clip_grad_norm(v, 2, 1.0, 1, &norm), QAT_ERR_NUMERIC, "non-finite");
    ck_assert(a[0] == before);
    QAT_ASSERT_OK(qat_optim_clip_grad_norm(v, 2, 1.0, 0, &norm)); /* torch default: NaN spreads */
    ck_assert(isnan(a[0]) && isnan(b[0]));
    QAT_ASSERT_FAILS(qat_optim_clip_grad_norm(v, 2, 0.0, 0, &norm), QAT_ERR_INVALID_ARGUMENT, "max_norm");

    float acc[4] = {0}, m1[4] = {1, 2, 3, 4}, m2[4] = {4, 3, 2, 1};
    qat_optim_accumulate_scaled(acc, m1, 4, 0.5f);
    qat_optim_accumulate_scaled(acc, m2, 4, 0.5f);
    for (int i = 0; i < 4; i++)
        ck_assert(acc[i] == 2.5f);
    qat_optim_accumulate(acc, m1, 4);
    qat_optim_scale(acc, 4, 2.0f);
    ck_assert(acc[0] == 7.0f && acc[3] == 13.0f);
}
END_TEST

START_TEST(test_adamw_arguments)
{
    qat_optim_adamw_hparams hp;
    qat_optim_adamw_defaults(&hp);
    ck_assert(hp.beta2 == 0.98 && hp.weight_decay == 0.01);
    float p = 1.0f, g = 0.5f, m = 0.0f, v = 0.0f;
    qat_optim_group grp = {&p, &g, &m, &v, 1, 1};
    QAT_ASSERT_FAILS(qat_optim_adamw_step(&hp, 1e-3, 0, &grp, 1), QAT_ERR_INVALID_ARGUMENT, "step");
    hp.beta1 = 1.0;
    QAT_ASSERT_FAILS(qat_optim_adamw_step(&hp, 1e-3, 1, &grp, 1), QAT_ERR_INVALID_ARGUMENT, "beta1");
    qat_optim_adamw_defaults(&hp);
    grp.exp_avg = NULL;
    QAT_ASSERT_FAILS(qat_optim_adamw_step(&hp, 1e-3, 1, &grp, 1), QAT_ERR_INVALID_ARGUMENT, "group 0");
    grp.exp_avg = &m;
    /* First step of Adam moves by lr * sign(g) (bias-corrected), plus decay. */
    QAT_ASSERT_OK(qat_optim_adamw_step(&hp, 1e-3, 1, &grp, 1));
    ck_assert(fabs(p - (1.0f * (1.0f - 1e-5f) - 1e-3f)) < 1e-6f);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("optim");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_adamw_matches_torch);
    tcase_add_test(tc, test_schedule);
    tcase_add_test(tc, test_clip_and_accumulate);
    tcase_add_test(tc, test_adamw_arguments);
    suite_add_tcase(s, tc);
    return s;
}
