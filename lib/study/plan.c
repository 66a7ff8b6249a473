/* The shared-prefix DAPT run (qat_dapt_run) and the plan bookkeeping of
 * pipeline runs (plan.h). The shared run is ONE schedule of
 * round(max alpha * B_total) steps (warm-up and linear decay over that
 * length, as the seed code's 27k-step run), with a model snapshot at
 * round(alpha_i * B_total) for every alpha_i; a fine-tuning run then starts
 * from its snapshot and trains (1 - alpha_i) * B_total steps on its own
 * schedule. A snapshot is the model (weights + quantizer state), not the
 * optimizer state: fine-tuning builds a fresh AdamW, as in the per-alpha
 * plan. */
#include "study/plan.h"

#include <json-c/json.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/context.h"
#include "core/error.h"
#include "core/options_version.h"
#include "core/file_io.h"
#include "core/json.h"
#include "data/split.h"
#include "dist/comm.h"
#include "study/dapt.h"
#include "study/energy.h"
#include "study/run_dir.h"
#include "study/run_options.h"

QAT_API qat_status qat_dapt_options_init(qat_dapt_options *o, uint32_t version)
{
    QAT_CHECK_ARG(o != NULL, "qat_dapt_options_init: NULL options");
    QAT_TRY(qat_options_version_check("qat_dapt_options_init", version, 2, QAT_DAPT_OPTIONS_VERSION));
    /* a version-2 caller's struct ends before comm */
    memset(o, 0, version >= 3 ? sizeof *o : offsetof(qat_dapt_options, comm));
    o->version = version;
    return qat_run_options_defaults(&o->run);
}

/* "e6w1.58a6" and "E6W1.58A6" are one config: compare canonical strings. */
static qat_status canonical_quant(const char *q, char *out, size_t cap)
{
    qat_quant_config *c = NULL;
    QAT_TRY(qat_quant_config_parse(q ? q : "FP32", &c));
    qat_status st = qat_quant_config_to_string(c, out, cap, NULL);
    qat_quant_config_free(c);
    return st;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The options' communicator when it spans more than one rank (version 3). */
static qat_comm *dapt_comm(const qat_dapt_options *o)
{
    return o->version >= 3 && o->comm && o->comm->world > 1 ? o->comm : NULL;
}

static qat_status dapt_validate(const qat_dapt_options *o)
{
    QAT_TRY(qat_options_version_check("DAPT options", o->version, 2, QAT_DAPT_OPTIONS_VERSION));
    QAT_CHECK_ARG(o->run.model_dir && o->run.corpus && o->run.out_dir, "DAPT options: model_dir, corpus and out_dir are required");
    QAT_CHECK_ARG(o->n_alphas == 0 || o->alphas, "DAPT options: NULL alphas");
    for (size_t i = 0; i < o->n_alphas; i++)
        QAT_CHECK_ARG(o->alphas[i] >= 0 && o->alphas[i] < 1, "DAPT options: alphas[%zu] = %g is outside [0, 1)", i,
                      o->alphas[i]);
    QAT_TRY(qat_run_options_check(&o->run, "DAPT options"));
    return QAT_OK;
}

QAT_API qat_status qat_dapt_run(qat_context *ctx, const qat_dapt_options *o)
{
    QAT_CHECK_ARG(ctx != NULL && o != NULL, "qat_dapt_run: NULL context or options");
    QAT_TRY(dapt_validate(o));
    QAT_CHECK_ARG(!dapt_comm(o) || dapt_comm(o)->ctx == ctx,
                  "qat_dapt_run: the communicator was made for another context");
    char quant[256];
    QAT_TRY(canonical_quant(o->run.quant, quant, sizeof quant));
    /* The snapshot steps, and the schedule that reaches the last of them. */
    int64_t *steps = malloc((o->n_alphas + 1) * sizeof *steps);
    if (!steps)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "qat_dapt_run: out of memory");
    size_t n = 0;
    int64_t schedule = 0;
    for (size_t i = 0; i < o->n_alphas; i++) {
        int64_t s = (int64_t)llround(o->alphas[i] * (double)o->run.total_steps);
        if (s > 0)
            steps[n++] = s;
        if (s > schedule)
            schedule = s;
    }
    if (o->run.adaptive.enabled) {
        int64_t s = (int64_t)llround(o->run.adaptive.alpha_max * (double)o->run.total_steps);
        if (s > schedule)
            schedule = s;
    }
    qsort(steps, n, sizeof *steps, cmp_i64);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (u == 0 || steps[u - 1] != steps[i])
            steps[u++] = steps[i];
    n = u;
    if (schedule == 0) {
        free(steps);
        return qat_fail(QAT_ERR_INVALID_ARGUMENT, "qat_dapt_run: no alpha gives a DAPT step (every alpha rounds to 0 "
                                                  "steps of %lld) and adaptive alpha is off",
                        (long long)o->run.total_steps);
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/dapt.json", o->run.out_dir);
    qat_status st = QAT_OK;
    if (qat_file_exists(path)) { /* finished before: only check it is this run */
        json_object *j = json_object_from_file(path);
        json_object *q = NULL, *sched = NULL, *total = NULL;
        if (!j || !json_object_object_get_ex(j, "quant", &q) || !json_object_object_get_ex(j, "schedule_steps", &sched) ||
            !json_object_object_get_ex(j, "total_steps", &total))
            st = qat_fail(QAT_ERR_FORMAT, "%s: not a DAPT run record (remove it to run again)", path);
        else if (strcmp(json_object_get_string(q), quant) || json_object_get_int64(sched) != schedule ||
                 json_object_get_int64(total) != o->run.total_steps)
            st = qat_fail(QAT_ERR_STATE,
                          "%s records %s, a schedule of %lld steps for B_total %lld; this run asks for %s, %lld "
                          "steps for %lld (use another out_dir)", path, json_object_get_string(q),
                          (long long)json_object_get_int64(sched), (long long)json_object_get_int64(total), quant,
                          (long long)schedule, (long long)o->run.total_steps);
        json_object_put(j);
        free(steps);
        return st;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* Data-parallel: rank 0 holds the directory (its lock, its cleanup)
     * and writes every file; the others read its shards and states. */
    qat_comm *comm = dapt_comm(o);
    const int writer = !comm || comm->rank == 0;
    qat_run_dir dir = {-1};
    st = writer ? qat_run_dir_open(o->run.out_dir, &dir) : QAT_OK;
    if (st != QAT_OK) {
        free(steps);
        return st;
    }
    st = qat_context_set_int(ctx, QAT_CTX_SEED, (int64_t)(o->run.seed & INT64_MAX));
    int64_t threads = 0;
    qat_context_get_int(ctx, QAT_CTX_THREADS, &threads);
    qat_energy_meter meter;
    memset(&meter, 0, sizeof meter);
    int metering = 0;
    if (st == QAT_OK && (st = qat_energy_start(&meter, qat_context_backend(ctx), threads, o->run.power_watts,
                                               o->run.carbon_intensity)) == QAT_OK)
        metering = 1;
    qat_tokenizer *tok = NULL;
    if (st == QAT_OK)
        st = qat_tokenizer_load(o->run.tokenizer ? o->run.tokenizer : o->run.model_dir, &tok);
    snprintf(path, sizeof path, "%s/metrics.jsonl", o->run.out_dir);
    qat_metrics_log metrics;
    memset(&metrics, 0, sizeof metrics);
    if (st == QAT_OK && writer)
        st = qat_metrics_log_open(path, &metrics);
    qat_dapt_phase p = {
        .ctx = ctx, .tok = tok, .run = &o->run, .final_dir = NULL, .schedule_steps = schedule, .snapshots = steps,
        .n_snapshots = n, .stop_on_rule = 0, .metrics = &metrics, .energy = &meter, .comm = comm,
    };
    if (st == QAT_OK)
        st = qat_dapt_phase_run(&p);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    qat_energy_reading energy;
    memset(&energy, 0, sizeof energy);
    if (metering)
        qat_energy_stop(&meter, &energy);
    if (st == QAT_OK && writer) {
        json_object *j = json_object_new_object();
        json_object_object_add(j, "libqat_version", json_object_new_string(qat_version()));
        json_object_object_add(j, "plan", json_object_new_string("shared-prefix"));
        json_object_object_add(j, "model", json_object_new_string(o->run.model_dir));
        json_object_object_add(j, "quant", json_object_new_string(quant));
        json_object_object_add(j, "seed", json_object_new_int64((int64_t)o->run.seed));
        json_object_object_add(j, "total_steps", json_object_new_int64(o->run.total_steps));
        json_object_object_add(j, "schedule_steps", json_object_new_int64(schedule));
        json_object_object_add(j, "warmup_steps",
                               json_object_new_int64((int64_t)ceil((double)schedule * o->run.train.warmup_ratio)));
        json_object_object_add(j, "steps_done", json_object_new_int64(p.steps_done));
        json_object *snaps = json_object_new_array();
        for (size_t i = 0; i < o->n_alphas; i++) {
            int64_t s = (int64_t)llround(o->alphas[i] * (double)o->run.total_steps);
            if (s == 0)
                continue;
            json_object *e = json_object_new_object();
            char dir[64];
            snprintf(dir, sizeof dir, "snapshots/step-%lld", (long long)s);
            json_object_object_add(e, "alpha", json_object_new_double(o->alphas[i]));
            json_object_object_add(e, "step", json_object_new_int64(s));
            json_object_object_add(e, "dir", json_object_new_string(dir));
            json_object_array_add(snaps, e);
        }
        json_object_object_add(j, "snapshots", snaps);
        if (o->run.adaptive.enabled) {
            json_object *a = qat_dapt_adaptive_json(o->run.out_dir);
            if (!a)
                a = json_object_new_object();
            int64_t step = p.rule_step >= 0 ? p.rule_step : p.steps_done;
            json_object_object_add(a, "step", json_object_new_int64(step));
            json_object_object_add(a, "alpha", json_object_new_double((double)step / (double)o->run.total_steps));
            json_object_object_add(a, "stopped_by_rule", json_object_new_boolean(p.rule_step >= 0));
            json_object_object_add(j, "adaptive", a);
        }
        json_object_object_add(j, "seconds", json_object_new_double((double)(t1.tv_sec - t0.tv_sec) +
                                                                     1e-9 * (double)(t1.tv_nsec - t0.tv_nsec)));
        json_object_object_add(j, "energy", qat_energy_json(&energy));
        snprintf(path, sizeof path, "%s/dapt.json", o->run.out_dir);
        st = qat_json_write_file(path, j); /* last: its presence means "finished" */
        json_object_put(j);
    }
    qat_metrics_log_close(&metrics);
    qat_tokenizer_free(tok);
    free(steps);
    qat_run_dir_close(&dir);
    return st;
}

/* ---- pipeline runs --------------------------------------------------- */

qat_status qat_plan_validate(const qat_pipeline_options *o)
{
    QAT_CHECK_ARG(o->plan == QAT_PLAN_PER_ALPHA || o->plan == QAT_PLAN_SHARED_PREFIX,
                  "pipeline options: unknown plan %d", (int)o->plan);
    /* alpha 0 runs no DAPT under either plan: no dapt_dir needed */
    QAT_CHECK_ARG(o->plan != QAT_PLAN_SHARED_PREFIX || o->dapt_dir || (o->alpha == 0 && !o->run.adaptive.enabled),
                  "pipeline options: the shared-prefix plan needs dapt_dir (a qat_dapt_run directory)");
    QAT_CHECK_ARG(!o->run.adaptive.enabled || o->plan == QAT_PLAN_SHARED_PREFIX || o->run.corpus,
                  "pipeline options: adaptive alpha needs a corpus for DAPT");
    QAT_CHECK_ARG(o->plan == QAT_PLAN_SHARED_PREFIX || o->run.adaptive.enabled || o->alpha == 0 || o->run.corpus,
                  "pipeline options: alpha > 0 needs a corpus for DAPT");
    return QAT_OK; /* the adaptive knobs: qat_run_options_check */
}

qat_status qat_plan_shared_snapshot(const qat_pipeline_options *o, int64_t *dapt_steps, char *dir, size_t cap,
                                    json_object **info)
{
    *info = NULL;
    char path[4200], quant[256];
    QAT_TRY(canonical_quant(o->run.quant, quant, sizeof quant));
    snprintf(path, sizeof path, "%s/dapt.json", o->dapt_dir);
    if (!qat_file_exists(path))
        return qat_fail(QAT_ERR_STATE, "the shared DAPT run %s has not finished (no dapt.json): run it first "
                                       "(qat_dapt_run, or the sweep's DAPT job)", o->dapt_dir);
    json_object *j = json_object_from_file(path), *v = NULL;
    if (!j)
        return qat_fail(QAT_ERR_FORMAT, "%s: not readable JSON", path);
    qat_status st = QAT_OK;
    const char *their = json_object_object_get_ex(j, "quant", &v) ? json_object_get_string(v) : "?";
    int64_t total = json_object_object_get_ex(j, "total_steps", &v) ? json_object_get_int64(v) : -1;
    int64_t schedule = json_object_object_get_ex(j, "schedule_steps", &v) ? json_object_get_int64(v) : -1;
    int64_t step = -1;
    if (strcmp(their, quant))
        st = qat_fail(QAT_ERR_STATE, "the shared DAPT run %s trained %s, this run is %s", o->dapt_dir, their, quant);
    else if (total != o->run.total_steps)
        st = qat_fail(QAT_ERR_STATE, "the shared DAPT run %s was planned for B_total = %lld, this run has %lld",
                      o->dapt_dir, (long long)total, (long long)o->run.total_steps);
    else if (o->run.adaptive.enabled) {
        json_object *a = NULL;
        if (json_object_object_get_ex(j, "adaptive", &a) && json_object_object_get_ex(a, "step", &v))
            step = json_object_get_int64(v);
        else
            st = qat_fail(QAT_ERR_STATE, "the shared DAPT run %s ran without adaptive alpha", o->dapt_dir);
    } else {
        step = (int64_t)llround(o->alpha * (double)o->run.total_steps);
    }
    if (st == QAT_OK) {
        snprintf(dir, cap, "%s/snapshots/step-%lld", o->dapt_dir, (long long)step);
        if (step <= 0 || !qat_run_has_model(dir))
            st = qat_fail(QAT_ERR_STATE, "the shared DAPT run %s has no snapshot at step %lld (alpha %g of %lld): was "
                                         "it planned with this alpha?", o->dapt_dir, (long long)step, o->alpha,
                          (long long)o->run.total_steps);
    }
    if (st == QAT_OK) {
        *dapt_steps = step;
        json_object *d = json_object_new_object();
        json_object_object_add(d, "dir", json_object_new_string(o->dapt_dir));
        json_object_object_add(d, "schedule_steps", json_object_new_int64(schedule));
        json_object_object_add(d, "snapshot_step", json_object_new_int64(step));
        if (json_object_object_get_ex(j, "seed", &v))
            json_object_object_add(d, "seed", json_object_get(v));
        json_object *a = NULL;
        if (o->run.adaptive.enabled && json_object_object_get_ex(j, "adaptive", &a))
            json_object_object_add(d, "adaptive", json_object_get(a));
        *info = d;
    }
    json_object_put(j);
    return st;
}

void qat_plan_results_add(json_object *r, const qat_pipeline_options *o, int64_t dapt_steps, json_object *dapt_info)
{
    json_object_object_add(r, "plan", json_object_new_string(o->plan == QAT_PLAN_SHARED_PREFIX ? "shared-prefix"
                                                                                               : "per-alpha"));
    json_object_object_add(r, "alpha_mode", json_object_new_string(o->run.adaptive.enabled ? "adaptive" : "fixed"));
    if (o->run.adaptive.enabled) {
        /* The chosen alpha is what the run did: DAPT steps over B_total. */
        json_object_object_add(r, "alpha", json_object_new_double((double)dapt_steps / (double)o->run.total_steps));
        json_object *a = NULL;
        if (o->plan == QAT_PLAN_SHARED_PREFIX && dapt_info) {
            if (json_object_object_get_ex(dapt_info, "adaptive", &a))
                json_object_get(a); /* dapt_info drops it below */
        } else {
            a = qat_dapt_adaptive_json(o->run.out_dir);
        }
        if (!a)
            a = json_object_new_object();
        json_object_object_add(a, "chosen_alpha",
                               json_object_new_double((double)dapt_steps / (double)o->run.total_steps));
        json_object_object_add(a, "chosen_steps", json_object_new_int64(dapt_steps));
        json_object_object_add(r, "adaptive", a);
    }
    if (dapt_info) {
        json_object_object_del(dapt_info, "adaptive");
        json_object_object_add(r, "dapt", dapt_info);
    }
}

json_object *qat_plan_splits_json(size_t n_train, size_t n_eval, size_t n_test, int from_files)
{
    const double k = 0.05, z = 5.0; /* docs/method.md section 7's defaults */
    const char *rule = "files";
    if (!from_files) {
        qat_data_split plan;
        rule = qat_data_split_plan(n_train + n_eval + n_test, z, k, &plan) == QAT_OK && plan.sized ? "z/k"
                                                                                                  : "70/10/20";
        qat_clear_error();
    }
    json_object *j = json_object_new_object();
    json_object_object_add(j, "rule", json_object_new_string(rule));
    json_object_object_add(j, "k", json_object_new_double(k));
    json_object_object_add(j, "z_target", json_object_new_double(z));
    json_object_object_add(j, "n_target", json_object_new_int64((int64_t)ceil((z / k) * (z / k) * (1.0 - 1e-12))));
    const char *names[3] = {"train", "eval", "test"};
    size_t ns[3] = {n_train, n_eval, n_test};
    for (int i = 0; i < 3; i++) {
        json_object *s = json_object_new_object();
        json_object_object_add(s, "n", json_object_new_int64((int64_t)ns[i]));
        if (i > 0) /* the achieved sigma: z = sqrt(n) * k */
            json_object_object_add(s, "z", json_object_new_double(sqrt((double)ns[i]) * k));
        json_object_object_add(j, names[i], s);
    }
    return j;
}
