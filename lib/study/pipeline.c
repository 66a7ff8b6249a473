/* The study's protocol (docs/method.md sections 1, 6, 7): B_DAPT = alpha * B_total
 * steps of masked-LM on the corpus, then B_FT = B_total - B_DAPT steps of
 * token classification, quantizers active throughout, each phase with its
 * own AdamW and schedule; then evaluation. Every phase checkpoints and
 * resumes; results go to out_dir/results.json, metrics to metrics.jsonl. */
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
#include "data/mlm.h"
#include "data/pretok.h"
#include "data/shards.h"
#include "data/split.h"
#include "study/checkpoints.h"
#include "study/dapt.h"
#include "study/energy.h"
#include "study/evaluate.h"
#include "study/metrics_log.h"
#include "study/plan.h"
#include "study/run_dir.h"
#include "study/run_options.h"
#include "study/task_data.h"
#include "dist/comm.h"
#include "train/trainer.h"

QAT_API qat_status qat_pipeline_options_init(qat_pipeline_options *o, uint32_t version)
{
    QAT_CHECK_ARG(o != NULL, "qat_pipeline_options_init: NULL options");
    QAT_TRY(qat_options_version_check("qat_pipeline_options_init", version, 2, QAT_PIPELINE_OPTIONS_VERSION));
    /* a version-2 caller's struct ends before comm */
    memset(o, 0, version >= 3 ? sizeof *o : offsetof(qat_pipeline_options, comm));
    o->version = version;
    return qat_run_options_defaults(&o->run);
}

typedef struct run {
    qat_context *ctx;
    const qat_pipeline_options *o;
    qat_tokenizer *tok;
    qat_data_conll *files[3];
    qat_data_labels *labels;
    qat_task_set sets[3];      /* train, eval, test */
    int ner;
    qat_task task;             /* of fine-tuning: token or sequence classification */
    qat_metrics_log metrics;
    char path[4096];
    qat_energy_meter energy;
    qat_comm *comm;            /* data-parallel fine-tuning over more than one rank, or NULL */
    int writer;                /* this process writes the run's files: no comm, or rank 0 */
} run;

/* The options' communicator when it spans more than one rank (version 3). */
static qat_comm *parallel_comm(const qat_pipeline_options *o)
{
    return o->version >= 3 && o->comm && o->comm->world > 1 ? o->comm : NULL;
}

static const char *join(run *r, const char *name)
{
    snprintf(r->path, sizeof r->path, "%s/%s", r->o->run.out_dir, name);
    return r->path;
}

static qat_status progress(run *r, const char *phase, int64_t step, int64_t total, double loss)
{
    return qat_run_progress(&r->o->run, &r->energy, phase, step, total, loss);
}

/* ---- task data ---------------------------------------------------------- */

int qat_pipeline_looks_iob2(const qat_data_conll *c)
{
    size_t n = qat_data_conll_token_count(c), entities = 0;
    for (size_t t = 0; t < n; t++) {
        const char *tag = qat_data_conll_tag(c, t);
        if (strcmp(tag, "O") == 0)
            continue;
        if ((tag[0] != 'B' && tag[0] != 'I') || tag[1] != '-')
            return 0;
        entities++;
    }
    return entities > 0;
}

static qat_status load_task(run *r)
{
    const qat_pipeline_options *o = r->o;
    const char *paths[3] = {o->train_file, o->eval_file, o->test_file};
    r->task = QAT_TASK_TOKEN_CLASSIFICATION;
    if (qat_data_seqcls_is_task_file(o->train_file)) { /* .tsv / .jsonl: sequence classification */
        r->task = QAT_TASK_SEQUENCE_CLASSIFICATION;
        return qat_task_sets_load_seq(paths, o->run.seed, r->tok, (size_t)o->run.max_seq_len, r->sets, &r->labels);
    }
    QAT_TRY(qat_task_conll_read(r->ctx, o->train_file, &r->ner, &r->files[0]));
    for (int i = 1; i < 3; i++)
        if (paths[i])
            QAT_TRY(qat_task_conll_read_as(r->ctx, paths[i], r->ner, &r->files[i]));
    int n_files = 1 + (r->files[1] != NULL) + (r->files[2] != NULL);
    const qat_data_conll *sets[3];
    for (int i = 0, k = 0; i < 3; i++)
        if (r->files[i])
            sets[k++] = r->files[i];
    QAT_TRY(qat_data_labels_from_conll(sets, (size_t)n_files, &r->labels));
    size_t max_len = (size_t)o->run.max_seq_len;
    if (r->files[1] && r->files[2]) {
        for (int i = 0; i < 3; i++)
            QAT_TRY(qat_task_set_encode(r->files[i], NULL, 0, r->labels, r->tok, max_len, &r->sets[i]));
        return QAT_OK;
    }
    /* No ready split: the seeded 70/10/20 (or z/k) split of docs/method.md section 7. */
    size_t n = qat_data_conll_sentence_count(r->files[0]);
    qat_data_split plan;
    QAT_TRY(qat_data_split_plan(n, 0, 0, &plan));
    size_t *order = malloc(n * sizeof *order);
    if (!order)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "pipeline: out of memory");
    qat_status st = qat_data_split_assign(n, &plan, o->run.seed, order);
    size_t counts[3] = {plan.n_train, plan.n_val, plan.n_test}, at = 0;
    for (int i = 0; st == QAT_OK && i < 3; i++) {
        st = qat_task_set_encode(r->files[0], order + at, counts[i], r->labels, r->tok, max_len, &r->sets[i]);
        at += counts[i];
    }
    free(order);
    return st;
}

/* ---- phases --------------------------------------------------------------- */

static qat_status load_model(run *r, const char *dir, qat_task task, qat_model **out)
{
    qat_load_options lo;
    qat_load_options_init(&lo, QAT_LOAD_OPTIONS_VERSION);
    lo.task = task;
    lo.quant = r->o->run.quant ? r->o->run.quant : "FP32";
    lo.num_labels = task != QAT_TASK_MLM ? (int64_t)qat_data_labels_count(r->labels) : 0;
    QAT_TRY(qat_model_load(r->ctx, dir, &lo, out));
    if (task == QAT_TASK_MLM)
        return QAT_OK;
    /* The task's label names travel with the model (config.json id2label). */
    size_t n = qat_data_labels_count(r->labels);
    const char **names = malloc(n * sizeof *names);
    if (!names)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "pipeline: out of memory");
    for (size_t i = 0; i < n; i++)
        names[i] = qat_data_labels_name(r->labels, (int32_t)i);
    qat_status st = qat_model_set_label_names(*out, names, n);
    free((void *)names);
    return st;
}

/* DAPT of this run (lib/study/dapt.c): `steps` is the schedule's length;
 * with adaptive alpha it stops where the held-out loss stopped improving
 * and *done says where. */
static qat_status run_dapt(run *r, int64_t steps, int64_t *done)
{
    const qat_pipeline_options *o = r->o;
    *done = steps;
    if (qat_run_has_model(join(r, "dapt"))) { /* finished in an earlier run */
        if (r->writer)
            remove(join(r, "dapt.state")); /* if the kill came between the two */
        /* Fine-tuning continues DAPT's RNG stream (the new head's weights,
         * then dropout), as it did in the uninterrupted run. */
        int found = 0;
        QAT_TRY(qat_run_load_rng(join(r, "dapt"), &r->ctx->rng, &found));
        json_object *a = o->run.adaptive.enabled ? qat_dapt_adaptive_json(o->run.out_dir) : NULL, *v = NULL;
        if (a && json_object_object_get_ex(a, "steps_done", &v))
            *done = json_object_get_int64(v);
        json_object_put(a);
        return QAT_OK;
    }
    char final_dir[4096];
    snprintf(final_dir, sizeof final_dir, "%s", join(r, "dapt"));
    qat_dapt_phase p = {
        .ctx = r->ctx, .tok = r->tok, .run = &o->run, .final_dir = final_dir, .schedule_steps = steps,
        .stop_on_rule = 1, .metrics = &r->metrics, .energy = &r->energy, .comm = r->comm,
    };
    QAT_TRY(qat_dapt_phase_run(&p));
    *done = p.steps_done;
    return QAT_OK;
}

static qat_status run_finetune(run *r, int64_t steps, const char *start_dir, qat_model **out)
{
    const qat_pipeline_options *o = r->o;
    qat_model *model = NULL;
    qat_trainer *t = NULL;
    qat_checkpoints ck;
    int resumable = 0;
    QAT_TRY(qat_checkpoints_init(&ck, o->run.out_dir, "finetune", &r->metrics, &resumable));
    ck.writes = r->writer;
    if (qat_run_has_model(join(r, "model"))) { /* finished earlier */
        qat_checkpoints_finish(&ck);
        return load_model(r, join(r, "model"), r->task, out);
    }
    qat_status st = load_model(r, start_dir, r->task, &model);
    if (st == QAT_OK && steps > 0)
        st = qat_trainer_create(model, &o->run.train, steps, &t);
    if (st == QAT_OK && t && r->comm)
        st = qat_trainer_set_comm(t, r->comm, 0);
    uint64_t pos[2] = {0, 0}; /* epoch, next batch of the epoch */
    if (st == QAT_OK && t && resumable) {
        st = qat_trainer_resume(t, ck.path, pos);
        ck.kept_step = t->step;
    }
    const qat_task_set *train = &r->sets[0];
    if (st == QAT_OK && train->n == 0)
        st = qat_fail(QAT_ERR_FORMAT, "%s: no training sentence", o->train_file);
    qat_data_batch_options bo;
    qat_data_batch_options_init(&bo);
    bo.batch_size = (size_t)o->run.train.batch_size;
    bo.shuffle = 1;
    bo.bucketing = 1;
    qat_data_batches *plan = NULL;
    uint64_t planned_epoch = UINT64_MAX;
    size_t cap = (size_t)(o->run.train.batch_size * o->run.max_seq_len);
    int32_t *ids = malloc(cap * sizeof *ids), *mask = malloc(cap * sizeof *mask), *labels = malloc(cap * sizeof *labels);
    int32_t *types = malloc(cap * sizeof *types);
    if (st == QAT_OK && (!ids || !mask || !labels || !types))
        st = qat_fail(QAT_ERR_OUT_OF_MEMORY, "fine-tuning: out of memory");
    while (st == QAT_OK && t && t->step < steps) {
        if (planned_epoch != pos[0]) {
            qat_data_batches_free(plan);
            plan = NULL;
            qat_rng shuffle;
            qat_rng_seed(&shuffle, o->run.seed ^ (0xbf58476d1ce4e5b9ull * (pos[0] + 1)));
            st = qat_data_batches_plan(train->examples, train->n, &bo, &shuffle, &plan);
            planned_epoch = pos[0];
            if (st != QAT_OK)
                break;
        }
        size_t rows, len;
        qat_data_batches_shape(plan, (size_t)pos[1], &rows, &len);
        st = qat_task_set_fill(train, plan, (size_t)pos[1], ids, mask, types, labels, cap);
        if (++pos[1] == qat_data_batches_count(plan)) {
            pos[0]++;
            pos[1] = 0;
        }
        /* data-parallel: the ranks split the batch evenly; the few
         * sequences beyond a multiple of the world size sit this step out */
        if (r->comm)
            rows -= rows % (size_t)r->comm->world;
        if (st == QAT_OK && rows == 0)
            st = qat_fail(QAT_ERR_INVALID_ARGUMENT, "fine-tuning: a batch of fewer sequences than the %d ranks",
                          r->comm->world);
        float loss = 0.0f;
        if (st == QAT_OK)
            st = qat_trainer_step_typed(t, ids, mask, types, labels, (int64_t)rows, (int64_t)len, &loss);
        if (st == QAT_ERR_NUMERIC)
            st = qat_checkpoints_diverged(&ck, st, "fine-tuning", t->step + 1);
        if (st == QAT_OK) {
            qat_metrics_log_write(&r->metrics, "finetune", t->step, loss, t->last_lr, t->last_norm);
            int due = o->run.checkpoint_every > 0 && t->step % o->run.checkpoint_every == 0 && t->step < steps;
            st = qat_checkpoints_step(&ck, t, pos, loss, due);
        }
        if (st == QAT_OK) {
            st = progress(r, "finetune", t->step, steps, loss);
            if (st == QAT_ERR_STATE)
                qat_checkpoints_stop(&ck, t, pos);
        }
    }
    if (st == QAT_OK)
        st = qat_metrics_log_sync(&r->metrics);
    if (st == QAT_OK && r->writer)
        st = qat_run_save_model(model, r->tok, NULL, join(r, "model"));
    if (st == QAT_OK)
        qat_checkpoints_finish(&ck);
    free(ids);
    free(mask);
    free(types);
    free(labels);
    qat_data_batches_free(plan);
    qat_trainer_free(t);
    if (st != QAT_OK) {
        qat_model_free(model);
        return st;
    }
    *out = model;
    return QAT_OK;
}

/* ---- results -------------------------------------------------------------- */

json_object *qat_eval_result_json(const qat_eval_result *e)
{
    if (e->sequence)
        return qat_eval_seq_result_json(e);
    json_object *j = json_object_new_object();
    json_object_object_add(j, "f1", json_object_new_double(e->f1));
    json_object_object_add(j, "f1_metric", json_object_new_string(e->ner ? "entity_micro_f1" : "token_micro_f1"));
    json_object_object_add(j, "f1_ci95", json_object_new_array());
    json_object *ci = json_object_object_get(j, "f1_ci95");
    json_object_array_add(ci, json_object_new_double(e->ci.low));
    json_object_array_add(ci, json_object_new_double(e->ci.high));
    json_object_object_add(j, "collapsed", json_object_new_boolean(e->collapsed));
    if (e->ner) {
        json_object_object_add(j, "precision", json_object_new_double(e->entity.precision));
        json_object_object_add(j, "recall", json_object_new_double(e->entity.recall));
    }
    json_object_object_add(j, "accuracy", json_object_new_double(e->tokens.accuracy));
    /* every F1 with its 95 % bootstrap interval (same resamples) */
    const struct { const char *name; double value; const qat_metrics_ci *ci; } f1s[3] = {
        {"micro_f1", e->tokens.micro_f1, &e->ci_micro},
        {"macro_f1", e->tokens.macro_f1, &e->ci_macro},
        {"weighted_f1", e->tokens.weighted_f1, &e->ci_weighted},
    };
    for (int i = 0; i < 3; i++) {
        char key[32];
        snprintf(key, sizeof key, "%s_ci95", f1s[i].name);
        json_object *c = json_object_new_array();
        json_object_array_add(c, json_object_new_double(f1s[i].ci->low));
        json_object_array_add(c, json_object_new_double(f1s[i].ci->high));
        json_object_object_add(j, f1s[i].name, json_object_new_double(f1s[i].value));
        json_object_object_add(j, key, c);
    }
    json_object_object_add(j, "sentences", json_object_new_int64((int64_t)e->sentences));
    json_object_object_add(j, "words", json_object_new_int64((int64_t)e->words));
    return j;
}

static qat_status write_results(run *r, int64_t dapt_steps, int64_t ft_steps, const qat_eval_result *ev,
                                const qat_eval_result *test, double seconds, const qat_energy_reading *energy,
                                json_object *dapt_info)
{
    const qat_pipeline_options *o = r->o;
    json_object *j = json_object_new_object();
    json_object_object_add(j, "libqat_version", json_object_new_string(qat_version()));
    json_object_object_add(j, "model", json_object_new_string(o->run.model_dir));
    json_object_object_add(j, "quant", json_object_new_string(o->run.quant ? o->run.quant : "FP32"));
    json_object_object_add(j, "alpha", json_object_new_double(o->alpha));
    json_object_object_add(j, "total_steps", json_object_new_int64(o->run.total_steps));
    json_object_object_add(j, "dapt_steps", json_object_new_int64(dapt_steps));
    json_object_object_add(j, "finetune_steps", json_object_new_int64(ft_steps));
    qat_plan_results_add(j, o, dapt_steps, dapt_info);
    json_object_object_add(j, "task", json_object_new_string(r->task == QAT_TASK_SEQUENCE_CLASSIFICATION
                                                                 ? "sequence-classification" : r->ner ? "ner" : "pos"));
    json_object_object_add(j, "seed", json_object_new_int64((int64_t)o->run.seed));
    json_object_object_add(j, "backend", json_object_new_string(qat_context_backend(r->ctx)));
    json_object_object_add(j, "precision", json_object_new_string(qat_precision_name(qat_context_precision(r->ctx))));
    json_object_object_add(j, "fused_attention", json_object_new_boolean(r->ctx->fused_attention));
    json_object_object_add(j, "seconds", json_object_new_double(seconds));
    json_object_object_add(j, "eval", qat_eval_result_json(ev));
    json_object_object_add(j, "test", qat_eval_result_json(test));
    json_object_object_add(j, "splits", qat_plan_splits_json(r->sets[0].n, r->sets[1].n, r->sets[2].n,
                                                             o->eval_file != NULL));
    json_object_object_add(j, "energy", qat_energy_json(energy));
    qat_status st = qat_json_write_file(join(r, "results.json"), j);
    json_object_put(j);
    return st;
}

static qat_status validate(const qat_pipeline_options *o)
{
    QAT_TRY(qat_options_version_check("pipeline options", o->version, 2, QAT_PIPELINE_OPTIONS_VERSION));
    QAT_CHECK_ARG(o->run.model_dir && o->train_file && o->run.out_dir,
                  "pipeline options: model_dir, train_file and out_dir are required");
    QAT_CHECK_ARG(o->alpha >= 0 && o->alpha < 1, "pipeline options: alpha must be in [0, 1), got %g", o->alpha);
    QAT_TRY(qat_run_options_check(&o->run, "pipeline options"));
    QAT_TRY(qat_plan_validate(o));
    QAT_CHECK_ARG((o->eval_file == NULL) == (o->test_file == NULL),
                  "pipeline options: give both eval_file and test_file, or neither (a seeded split is made)");
    return QAT_OK;
}

static qat_status run_pipeline(qat_context *ctx, const qat_pipeline_options *o, double *test_f1)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    run r;
    memset(&r, 0, sizeof r);
    r.ctx = ctx;
    r.o = o;
    r.comm = parallel_comm(o);
    r.writer = !r.comm || r.comm->rank == 0;
    QAT_TRY(qat_context_set_int(ctx, QAT_CTX_SEED, (int64_t)(o->run.seed & INT64_MAX)));
    int64_t threads = 0;
    qat_context_get_int(ctx, QAT_CTX_THREADS, &threads);
    QAT_TRY(qat_energy_start(&r.energy, qat_context_backend(ctx), threads, o->run.power_watts, o->run.carbon_intensity));
    qat_status st = qat_tokenizer_load(o->run.tokenizer ? o->run.tokenizer : o->run.model_dir, &r.tok);
    if (st == QAT_OK)
        st = load_task(&r);
    if (st == QAT_OK && r.writer)
        st = qat_metrics_log_open(join(&r, "metrics.jsonl"), &r.metrics);
    /* The plan decides where fine-tuning starts and how many steps DAPT
     * took (lib/study/plan.c, docs/training.md "Plans"). */
    int64_t dapt_steps = (int64_t)llround(o->alpha * (double)o->run.total_steps);
    char start[4096];
    snprintf(start, sizeof start, "%s", o->run.model_dir);
    json_object *dapt_info = NULL;
    if (st == QAT_OK && o->plan == QAT_PLAN_SHARED_PREFIX && (o->run.adaptive.enabled || dapt_steps > 0)) {
        st = qat_plan_shared_snapshot(o, &dapt_steps, start, sizeof start, &dapt_info);
    } else if (st == QAT_OK && (o->run.adaptive.enabled || dapt_steps > 0)) {
        int64_t schedule = o->run.adaptive.enabled ? (int64_t)llround(o->run.adaptive.alpha_max * (double)o->run.total_steps)
                                               : dapt_steps;
        if (schedule > 0)
            st = run_dapt(&r, schedule, &dapt_steps);
        else
            dapt_steps = 0;
        if (st == QAT_OK && dapt_steps > 0)
            snprintf(start, sizeof start, "%s", join(&r, "dapt"));
    }
    const int64_t ft_steps = o->run.total_steps - dapt_steps;
    qat_model *model = NULL;
    if (st == QAT_OK)
        st = run_finetune(&r, ft_steps, start, &model);
    qat_eval_result ev, test;
    if (st == QAT_OK && !r.writer) { /* rank 0 evaluates and writes the results */
        if (test_f1)
            *test_f1 = NAN;
        qat_energy_reading unused;
        qat_energy_stop(&r.energy, &unused);
        goto done;
    }
    if (st == QAT_OK)
        st = progress(&r, "eval", 0, 2, NAN);
    if (st == QAT_OK)
        st = qat_evaluate(model, &r.sets[1], r.labels, r.ner, (size_t)o->run.train.batch_size, o->run.seed, &ev, NULL);
    if (st == QAT_OK)
        st = qat_evaluate(model, &r.sets[2], r.labels, r.ner, (size_t)o->run.train.batch_size, o->run.seed, &test, NULL);
    /* The meter stops before the run's clock does, so its interval nests
     * inside the run's (it started after t0): energy.seconds <= seconds
     * holds however slow the machine, under valgrind too. */
    qat_energy_reading energy;
    qat_energy_stop(&r.energy, &energy);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (st == QAT_OK)
        st = write_results(&r, dapt_steps, ft_steps, &ev, &test,
                           (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec), &energy,
                           dapt_info);
    else
        json_object_put(dapt_info);
    if (st == QAT_OK && test_f1)
        *test_f1 = test.f1;
done:
    qat_model_free(model);
    qat_metrics_log_close(&r.metrics);
    for (int i = 0; i < 3; i++) {
        qat_task_set_free(&r.sets[i]);
        qat_data_conll_free(r.files[i]);
    }
    qat_data_labels_free(r.labels);
    qat_tokenizer_free(r.tok);
    return st;
}

QAT_API qat_status qat_pipeline_run(qat_context *ctx, const qat_pipeline_options *o, double *test_f1)
{
    QAT_CHECK_ARG(ctx != NULL && o != NULL, "qat_pipeline_run: NULL context or options");
    QAT_TRY(validate(o));
    const qat_comm *comm = parallel_comm(o);
    QAT_CHECK_ARG(!comm || comm->ctx == ctx, "qat_pipeline_run: the communicator was made for another context");
    /* Data-parallel: rank 0 holds the directory (its lock, its cleanup);
     * the other ranks only read its states and the starting model. */
    if (comm && comm->rank > 0)
        return run_pipeline(ctx, o, test_f1);
    qat_run_dir dir;
    QAT_TRY(qat_run_dir_open(o->run.out_dir, &dir));
    qat_status st = run_pipeline(ctx, o, test_f1);
    qat_run_dir_close(&dir);
    return st;
}
