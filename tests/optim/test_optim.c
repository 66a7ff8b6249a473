/* AdamW + linear warm-up schedule + clip_grad_norm_ replayed against
 * torch 1.13 on a backend (the optimizer's kernels; QAT_TEST_BACKEND picks
 * it, ref by default) (golden written by gen_adamw_golden.py at test time; its path
 * comes in QAT_GOLDEN_ADAMW), plus the helpers' edge cases. */
#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/dispatch.h"
#include "core/error.h"
#include "optim/optimizer.h"
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

/* The test's flat buffers on a backend, laid out as a model's: each group
 * padded to 16 floats, the padding of the gradients NaN (no kernel may read
 * it: a norm or an update that did would turn NaN). */
typedef struct flat {
    qat_context *ctx;
    size_t floats;
    int64_t *bounds;
    uint8_t *decay;
    int64_t n;
    float *param, *grad; /* backend memory */
} flat;

static void *dev_alloc(qat_context *ctx, size_t bytes)
{
    void *p = NULL;
    QAT_ASSERT_OK(ctx->backend.ops->alloc(ctx->backend_state, bytes, &p));
    return p;
}

static void up(qat_context *ctx, void *dst, const void *src, size_t bytes)
{
    QAT_ASSERT_OK(ctx->backend.ops->upload(ctx->backend_state, dst, src, bytes));
}

static void down(qat_context *ctx, void *dst, const void *src, size_t bytes)
{
    QAT_ASSERT_OK(ctx->backend.ops->download(ctx->backend_state, dst, src, bytes));
}

static void flat_init(flat *f, qat_context *ctx, const size_t *sizes, const int *decay, int64_t n)
{
    f->ctx = ctx;
    f->n = n;
    f->bounds = calloc((size_t)n * 2, sizeof *f->bounds);
    f->decay = calloc((size_t)n, 1);
    f->floats = 0;
    for (int64_t t = 0; t < n; t++) {
        f->bounds[2 * t] = (int64_t)f->floats;
        f->bounds[2 * t + 1] = (int64_t)(f->floats + sizes[t]);
        f->decay[t] = (uint8_t)decay[t];
        f->floats += (sizes[t] + 15) / 16 * 16;
    }
    f->param = dev_alloc(ctx, f->floats * sizeof(float));
    f->grad = dev_alloc(ctx, f->floats * sizeof(float));
    float *nan = malloc(f->floats * sizeof(float));
    for (size_t i = 0; i < f->floats; i++)
        nan[i] = NAN;
    up(ctx, f->grad, nan, f->floats * sizeof(float));
    free(nan);
}

static void flat_free(flat *f)
{
    f->ctx->backend.ops->free(f->ctx->backend_state, f->param);
    f->ctx->backend.ops->free(f->ctx->backend_state, f->grad);
    free(f->bounds);
    free(f->decay);
}

/* Tensor t of a backend buffer, to or from host. */
static void put(const flat *f, float *buf, int64_t t, const float *src)
{
    up(f->ctx, buf + f->bounds[2 * t], src, (size_t)(f->bounds[2 * t + 1] - f->bounds[2 * t]) * sizeof(float));
}

static float *get_tensor(const flat *f, const float *buf, int64_t t)
{
    size_t n = (size_t)(f->bounds[2 * t + 1] - f->bounds[2 * t]);
    float *x = malloc(n * sizeof *x);
    down(f->ctx, x, buf + f->bounds[2 * t], n * sizeof *x);
    return x;
}

/* torch_norm: clip with the norm torch computed (isolating AdamW and the
 * clip arithmetic, which must then agree elementwise: the adamw slot with
 * that coefficient as its scale), else the optimizer's whole step (norm,
 * clip and update on the backend). */
static void replay(json_object *run, int torch_norm)
{
    qat_context *ctx;
    QAT_ASSERT_OK(qat_context_create(test_backend(), &ctx));
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
    size_t *sizes = calloc(ng, sizeof *sizes);
    int *decay = calloc(ng, sizeof *decay);
    float **init = calloc(ng, sizeof *init);
    for (size_t i = 0; i < ng; i++) {
        json_object *gi = json_object_array_get_idx(groups, i);
        init[i] = floats(get(gi, "init"), &sizes[i]);
        decay[i] = json_object_get_boolean(get(gi, "decay"));
    }
    flat f;
    flat_init(&f, ctx, sizes, decay, (int64_t)ng);
    for (size_t i = 0; i < ng; i++)
        put(&f, f.param, (int64_t)i, init[i]);
    qat_optim o;
    QAT_ASSERT_OK(qat_optim_init(&o, ctx, &hp, f.floats, f.bounds, f.decay, f.n));
    float *loss = dev_alloc(ctx, sizeof(float)), *norm_out = dev_alloc(ctx, 2 * sizeof(float));

    json_object *all_grads = get(run, "grads");
    json_object *norms = get(run, "norms");
    json_object *lrs = get(run, "lrs");
    for (int64_t s = 0; s < steps; s++) {
        json_object *gs = json_object_array_get_idx(all_grads, (size_t)s);
        for (size_t i = 0; i < ng; i++) {
            size_t n;
            float *src = floats(json_object_array_get_idx(gs, i), &n);
            ck_assert_uint_eq(n, sizes[i]);
            put(&f, f.grad, (int64_t)i, src);
            free(src);
        }
        double step_lr = qat_optim_schedule_lr(&sched, s);
        double want_lr = json_object_get_double(json_object_array_get_idx(lrs, (size_t)s));
        ck_assert_msg(fabs(step_lr - want_lr) <= 1e-15 * fmax(want_lr, 1e-30), "lr at step %lld: %.17g vs %.17g",
                      (long long)s, step_lr, want_lr);
        double want_norm = json_object_get_double(json_object_array_get_idx(norms, (size_t)s));
        float norm;
        if (torch_norm) {
            QAT_ASSERT_OK(QAT_KERNEL(ctx, grad_norm, &o.seg, f.grad, (float)max_norm, norm_out));
            down(ctx, &norm, norm_out, sizeof norm);
            float coef = qat_clip_coef((float)want_norm, (float)max_norm);
            up(ctx, norm_out + 1, &coef, sizeof coef);
            qat_adamw_desc d;
            QAT_ASSERT_OK(qat_optim_adamw_desc(&hp, step_lr, s + 1, &d));
            d.scale = norm_out + 1;
            QAT_ASSERT_OK(QAT_KERNEL(ctx, adamw, &d, &o.seg, f.param, f.grad, o.exp_avg, o.exp_avg_sq));
        } else {
            qat_optim_result r;
            QAT_ASSERT_OK(QAT_KERNEL(ctx, fill, loss, 1, 0.25f));
            QAT_ASSERT_OK(qat_optim_begin(&o, 1));
            QAT_ASSERT_OK(qat_optim_collect(&o, 0, f.grad, loss));
            QAT_ASSERT_OK(qat_optim_step(&o, f.param, f.grad, step_lr, s + 1, max_norm, &r));
            ck_assert(r.loss == 0.25f);
            norm = (float)r.norm;
        }
        ck_assert_msg(fabs(norm - want_norm) <= 1e-6 * want_norm, "norm at step %lld: %.9g vs %.9g", (long long)s,
                      (double)norm, want_norm);
    }
    json_object *final = get(run, "final");
    for (size_t i = 0; i < ng; i++) {
        json_object *fi = json_object_array_get_idx(final, i);
        size_t n;
        const float *bufs[3] = {f.param, o.exp_avg, o.exp_avg_sq};
        const char *names[3] = {"param", "exp_avg", "exp_avg_sq"};
        for (int b = 0; b < 3; b++) {
            float *want = floats(get(fi, names[b]), &n);
            float *got = get_tensor(&f, bufs[b], (int64_t)i);
            expect_close(got, want, n, names[b], i, torch_norm);
            free(want);
            free(got);
        }
        ck_assert_int_eq(json_object_get_int64(get(fi, "step")), steps);
        free(init[i]);
    }
    qat_optim_release(&o);
    ctx->backend.ops->free(ctx->backend_state, loss);
    ctx->backend.ops->free(ctx->backend_state, norm_out);
    flat_free(&f);
    free(sizes);
    free(decay);
    free(init);
    qat_context_free(ctx);
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

/* clip_grad_norm_'s rules through the optimizer: below max_norm the
 * gradients are untouched, above they are scaled to it; a non-finite norm
 * fails the step and changes nothing; a non-finite loss too; micro-batches
 * are averaged; without clipping a NaN gradient goes through. */
START_TEST(test_clip_and_accumulate)
{
    qat_context *ctx;
    QAT_ASSERT_OK(qat_context_create(test_backend(), &ctx));
    const size_t sizes[2] = {3, 1};
    const int decay[2] = {1, 0};
    flat f;
    flat_init(&f, ctx, sizes, decay, 2);
    qat_optim_adamw_hparams hp;
    qat_optim_adamw_defaults(&hp);
    qat_optim o;
    QAT_ASSERT_OK(qat_optim_init(&o, ctx, &hp, f.floats, f.bounds, f.decay, f.n));
    float *loss = dev_alloc(ctx, sizeof(float));
    const float a[3] = {3.0f, 0.0f, 0.0f}, b[1] = {4.0f}, p0[3] = {1.0f, 2.0f, 3.0f};
    float *got;
    qat_optim_result r;
    put(&f, f.param, 0, p0);
    float zero = 0.0f;
    up(ctx, loss, &zero, sizeof zero);

    /* norm 5 below max_norm 10: gradients as they were */
    put(&f, f.grad, 0, a);
    put(&f, f.grad, 1, b);
    QAT_ASSERT_OK(qat_optim_begin(&o, 1));
    QAT_ASSERT_OK(qat_optim_collect(&o, 0, f.grad, loss));
    QAT_ASSERT_OK(qat_optim_step(&o, f.param, f.grad, 1e-3, 1, 10.0, &r));
    ck_assert(r.norm == 5.0);
    got = get_tensor(&f, f.grad, 0);
    ck_assert(got[0] == 3.0f);
    free(got);
    /* max_norm 1: scaled by 1 / (5 + 1e-6) */
    put(&f, f.grad, 0, a);
    QAT_ASSERT_OK(qat_optim_begin(&o, 1));
    QAT_ASSERT_OK(qat_optim_collect(&o, 0, f.grad, loss));
    QAT_ASSERT_OK(qat_optim_step(&o, f.param, f.grad, 1e-3, 2, 1.0, &r));
    got = get_tensor(&f, f.grad, 0);
    ck_assert(got[0] == 3.0f * qat_clip_coef(5.0f, 1.0f) && got[0] < 0.6f);
    free(got);

    /* a NaN gradient with clipping: the step fails, nothing moves */
    float before[3], nan3[3] = {NAN, 1.0f, 1.0f};
    got = get_tensor(&f, f.param, 0);
    memcpy(before, got, sizeof before);
    free(got);
    put(&f, f.grad, 0, nan3);
    QAT_ASSERT_OK(qat_optim_begin(&o, 1));
    QAT_ASSERT_OK(qat_optim_collect(&o, 0, f.grad, loss));
    QAT_ASSERT_FAILS(qat_optim_step(&o, f.param, f.grad, 1e-3, 3, 1.0, &r), QAT_ERR_NUMERIC, "non-finite");
    got = get_tensor(&f, f.param, 0);
    ck_assert(memcmp(got, before, sizeof before) == 0);
    free(got);
    got = get_tensor(&f, f.grad, 0);
    ck_assert(isnan(got[0]) && got[1] == 1.0f); /* gradients left unchanged */
    free(got);
    /* a non-finite loss: fails, nothing moves */
    float inf = INFINITY;
    put(&f, f.grad, 0, a);
    up(ctx, loss, &inf, sizeof inf);
    QAT_ASSERT_OK(qat_optim_begin(&o, 1));
    QAT_ASSERT_OK(qat_optim_collect(&o, 0, f.grad, loss));
    QAT_ASSERT_FAILS(qat_optim_step(&o, f.param, f.grad, 1e-3, 3, 1.0, &r), QAT_ERR_NUMERIC, "loss is not finite");
    got = get_tensor(&f, f.param, 0);
    ck_assert(memcmp(got, before, sizeof before) == 0);
    free(got);
    /* no clipping (max_norm 0): torch's NaN goes through */
    up(ctx, loss, &zero, sizeof zero);
    put(&f, f.grad, 0, nan3);
    QAT_ASSERT_OK(qat_optim_begin(&o, 1));
    QAT_ASSERT_OK(qat_optim_collect(&o, 0, f.grad, loss));
    QAT_ASSERT_OK(qat_optim_step(&o, f.param, f.grad, 1e-3, 3, 0.0, &r));
    ck_assert(isnan(r.norm));
    got = get_tensor(&f, f.param, 0);
    ck_assert(isnan(got[0]) && !isnan(got[1]));
    free(got);
    QAT_ASSERT_FAILS(qat_optim_step(&o, f.param, f.grad, 1e-3, 4, 0.0, &r), QAT_ERR_INVALID_ARGUMENT, "begin");

    /* two micro-batches: the mean gradient and the mean loss (fresh
     * moments: the NaN above is in them) */
    const float m1[3] = {1, 2, 3}, m2[3] = {3, 2, 1}, l[2] = {1.0f, 2.0f};
    qat_optim_release(&o);
    QAT_ASSERT_OK(qat_optim_init(&o, ctx, &hp, f.floats, f.bounds, f.decay, f.n));
    put(&f, f.param, 0, p0);
    QAT_ASSERT_OK(qat_optim_begin(&o, 2));
    put(&f, f.grad, 0, m1);
    up(ctx, loss, &l[0], sizeof(float));
    QAT_ASSERT_OK(qat_optim_collect(&o, 0, f.grad, loss));
    put(&f, f.grad, 0, m2);
    up(ctx, loss, &l[1], sizeof(float));
    QAT_ASSERT_OK(qat_optim_collect(&o, 1, f.grad, loss));
    QAT_ASSERT_FAILS(qat_optim_collect(&o, 2, f.grad, loss), QAT_ERR_INVALID_ARGUMENT, "micro-batch 2 of 2, 2 collected");
    QAT_ASSERT_OK(qat_optim_step(&o, f.param, f.grad, 0.0, 5, 100.0, &r));
    ck_assert(r.loss == 1.5f);
    got = get_tensor(&f, f.grad, 0);
    ck_assert(got[0] == 2.0f && got[1] == 2.0f && got[2] == 2.0f);
    free(got);
    got = get_tensor(&f, f.param, 0); /* lr 0: unchanged */
    ck_assert(memcmp(got, p0, sizeof p0) == 0);
    free(got);

    ctx->backend.ops->free(ctx->backend_state, loss);
    qat_optim_release(&o);
    flat_free(&f);
    qat_context_free(ctx);
}
END_TEST

START_TEST(test_adamw_arguments)
{
    qat_optim_adamw_hparams hp;
    qat_optim_adamw_defaults(&hp);
    ck_assert(hp.beta2 == 0.98 && hp.weight_decay == 0.01);
    qat_adamw_desc d;
    QAT_ASSERT_FAILS(qat_optim_adamw_desc(&hp, 1e-3, 0, &d), QAT_ERR_INVALID_ARGUMENT, "step");
    QAT_ASSERT_FAILS(qat_optim_adamw_desc(&hp, NAN, 1, &d), QAT_ERR_INVALID_ARGUMENT, "learning rate");
    hp.beta1 = 1.0;
    QAT_ASSERT_FAILS(qat_optim_adamw_desc(&hp, 1e-3, 1, &d), QAT_ERR_INVALID_ARGUMENT, "beta1");
    qat_optim_adamw_defaults(&hp);
    /* First step of Adam moves by lr * sign(g) (bias-corrected), plus decay. */
    qat_context *ctx;
    QAT_ASSERT_OK(qat_context_create(test_backend(), &ctx));
    const size_t sizes[1] = {1};
    const int decay[1] = {1};
    flat f;
    flat_init(&f, ctx, sizes, decay, 1);
    qat_optim o;
    QAT_ASSERT_OK(qat_optim_init(&o, ctx, &hp, f.floats, f.bounds, f.decay, f.n));
    const float p = 1.0f, g = 0.5f;
    put(&f, f.param, 0, &p);
    put(&f, f.grad, 0, &g);
    QAT_ASSERT_OK(qat_optim_adamw_desc(&hp, 1e-3, 1, &d));
    QAT_ASSERT_OK(QAT_KERNEL(ctx, adamw, &d, &o.seg, f.param, f.grad, o.exp_avg, o.exp_avg_sq));
    float *got = get_tensor(&f, f.param, 0);
    ck_assert(fabs(got[0] - (1.0f * (1.0f - 1e-5f) - 1e-3f)) < 1e-6f);
    free(got);
    qat_optim_release(&o);
    flat_free(&f);
    qat_context_free(ctx);
}
END_TEST

/* A quantizer step (QAT_SEGMENT_POSITIVE) stays >= QAT_STEP_FLOOR when
 * AdamW would carry it through zero; the same update on an unflagged
 * tensor goes negative, and a step the update leaves above the floor moves
 * as AdamW says. */
START_TEST(test_adamw_keeps_steps_positive)
{
    qat_optim_adamw_hparams hp;
    qat_optim_adamw_defaults(&hp);
    qat_context *ctx;
    QAT_ASSERT_OK(qat_context_create(test_backend(), &ctx));
    const size_t sizes[3] = {1, 1, 1};
    const int flags[3] = {QAT_SEGMENT_POSITIVE, 0, QAT_SEGMENT_POSITIVE};
    flat f;
    flat_init(&f, ctx, sizes, flags, 3);
    qat_optim o;
    QAT_ASSERT_OK(qat_optim_init(&o, ctx, &hp, f.floats, f.bounds, f.decay, f.n));
    /* Adam's first step moves by lr = 1e-3 against the gradient's sign. */
    const float small = 4e-4f, large = 0.5f, g = 1.0f;
    put(&f, f.param, 0, &small);
    put(&f, f.param, 1, &small);
    put(&f, f.param, 2, &large);
    for (int t = 0; t < 3; t++)
        put(&f, f.grad, t, &g);
    qat_adamw_desc d;
    QAT_ASSERT_OK(qat_optim_adamw_desc(&hp, 1e-3, 1, &d));
    QAT_ASSERT_OK(QAT_KERNEL(ctx, adamw, &d, &o.seg, f.param, f.grad, o.exp_avg, o.exp_avg_sq));
    float *step = get_tensor(&f, f.param, 0), *plain = get_tensor(&f, f.param, 1), *big = get_tensor(&f, f.param, 2);
    ck_assert_msg(step[0] == QAT_STEP_FLOOR, "floored step %g", (double)step[0]);
    ck_assert_msg(plain[0] < 0.0f, "unflagged tensor %g", (double)plain[0]);
    ck_assert_msg(fabsf(big[0] - (large - 1e-3f)) < 1e-6f, "step above the floor %g", (double)big[0]);
    free(step);
    free(plain);
    free(big);
    qat_optim_release(&o);
    flat_free(&f);
    qat_context_free(ctx);
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
    tcase_add_test(tc, test_adamw_keeps_steps_positive);
    suite_add_tcase(s, tc);
    return s;
}
