/* The DAPT phase (see dapt.h). The training loop is the one the per-alpha
 * pipeline always ran: the corpus is pre-tokenized into shards, sequences
 * are drawn in a seeded order per epoch and masked with the context's RNG.
 * What this file adds for the plans of issue #11:
 *   - snapshots of the model at given steps of one schedule (shared prefix);
 *   - held-out evaluation for adaptive alpha: a seeded split of the shard
 *     sequences is kept out of training and masked once with its own RNG,
 *     so every evaluation scores the same tokens; evaluating saves and
 *     restores the context's RNG (the forward draws dropout seeds from it),
 *     so a run that evaluates trains exactly as one that does not, given
 *     the same held-out split. */
#include "study/dapt.h"
#include "study/run_options.h"

#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/context.h"
#include "core/error.h"
#include "core/file_io.h"
#include "core/json.h"
#include "data/mlm.h"
#include "data/pretok.h"
#include "data/shards.h"
#include "dist/comm.h"
#include "model/model.h"
#include "study/adaptive.h"
#include "study/checkpoints.h"
#include "study/run_dir.h"
#include "train/trainer.h"

void qat_adaptive_options_defaults(qat_adaptive_options *a)
{
    memset(a, 0, sizeof *a);
    a->alpha_max = 0.9;
    a->patience = 3;
    a->min_delta = 0.01;
}

qat_status qat_adaptive_options_check(const qat_adaptive_options *a, const char *what)
{
    if (!a->enabled)
        return QAT_OK;
    QAT_CHECK_ARG(a->alpha_max > 0 && a->alpha_max < 1, "%s: adaptive.alpha_max must be in (0, 1), got %g", what,
                  a->alpha_max);
    QAT_CHECK_ARG(a->eval_every >= 0, "%s: adaptive.eval_every must be >= 0", what);
    QAT_CHECK_ARG(a->patience >= 1, "%s: adaptive.patience must be >= 1, got %lld", what, (long long)a->patience);
    QAT_CHECK_ARG(a->min_delta >= 0 && isfinite(a->min_delta), "%s: adaptive.min_delta must be >= 0", what);
    QAT_CHECK_ARG(a->heldout_sequences >= 0, "%s: adaptive.heldout_sequences must be >= 0", what);
    return QAT_OK;
}

int64_t qat_adaptive_eval_every(const qat_adaptive_options *a, int64_t schedule_steps)
{
    if (a->eval_every > 0)
        return a->eval_every;
    return schedule_steps >= 40 ? schedule_steps / 20 : 2;
}

typedef struct phase_state {
    qat_dapt_phase *p;
    int writer;              /* no comm, or rank 0 */
    char path[4096];
    qat_data_shards *shards;
    uint64_t n_seq;
    uint64_t *pool;          /* training sequences, ascending */
    uint64_t n_pool;
    int32_t *held_ids, *held_labels; /* masked held-out sequences */
    uint64_t n_held;
    int64_t held_tokens;     /* labelled positions in the held-out set */
    qat_adaptive_state rule;
    qat_adaptive_rule rule_cfg;
    int64_t every;
    json_object *evals;      /* [{"step", "loss"}] */
} phase_state;

static const char *join(phase_state *s, const char *name)
{
    snprintf(s->path, sizeof s->path, "%s/%s", s->p->run->out_dir, name);
    return s->path;
}

static qat_status encode_text(void *user, const char *text, size_t len, int32_t *ids, size_t cap, size_t *count)
{
    qat_status st = qat_tokenizer_encode(user, text, len, ids, cap, count);
    if (st == QAT_ERR_BUFFER_TOO_SMALL) {
        qat_clear_error();
        return QAT_OK; /* the stage calls again with room for *count */
    }
    return st;
}

static qat_status open_shards(phase_state *s, int32_t *bos, int32_t *eos, int32_t *pad, int32_t *mask_id,
                              size_t *vocab)
{
    qat_dapt_phase *p = s->p;
    char shards_dir[4096];
    snprintf(shards_dir, sizeof shards_dir, "%s", join(s, "shards"));
    QAT_TRY(qat_mkdirs(shards_dir));
    QAT_TRY(qat_tokenizer_vocab_size(p->tok, vocab));
    QAT_TRY(qat_tokenizer_special_id(p->tok, QAT_TOKEN_BOS, bos));
    QAT_TRY(qat_tokenizer_special_id(p->tok, QAT_TOKEN_EOS, eos));
    QAT_TRY(qat_tokenizer_special_id(p->tok, QAT_TOKEN_MASK, mask_id));
    QAT_TRY(qat_tokenizer_special_id(p->tok, QAT_TOKEN_PAD, pad));
    if (*mask_id < 0)
        return qat_fail(QAT_ERR_UNSUPPORTED, "the tokenizer has no mask token: DAPT needs one");
    qat_data_pretok_options po;
    qat_data_pretok_options_init(&po);
    po.corpus_path = p->run->corpus;
    po.out_dir = shards_dir;
    po.encode = encode_text;
    po.encode_user = (void *)p->tok;
    po.vocab_size = (int64_t)*vocab;
    po.bos_id = *bos;
    po.eos_id = *eos;
    po.seq_len = (uint32_t)p->run->max_seq_len;
    qat_data_pretok_report report;
    qat_status st = s->writer ? qat_data_pretokenize(&po, &report) : QAT_OK;
    /* The other ranks open rank 0's shards once written; rank 0 reaches the
     * barrier even when it failed, so that no rank waits for ever (they
     * then find no shards and fail too). */
    if (p->comm) {
        qat_status b = qat_comm_barrier(p->comm);
        st = st != QAT_OK ? st : b;
    }
    QAT_TRY(st);
    QAT_TRY(qat_data_shards_open(shards_dir, 0, &s->shards));
    s->n_seq = qat_data_shards_count(s->shards);
    if (s->n_seq == 0)
        return qat_fail(QAT_ERR_FORMAT, "the corpus %s gave no sequence of %lld tokens", p->run->corpus,
                        (long long)p->run->max_seq_len);
    return QAT_OK;
}

/* The held-out split: the first n_held of a seeded permutation of the
 * sequences; training draws from the others. Without adaptive alpha every
 * sequence trains (pool[i] = i), exactly as before the split existed. */
static qat_status split_heldout(phase_state *s, const qat_data_mlm_options *mo)
{
    qat_dapt_phase *p = s->p;
    const int adaptive = p->run->adaptive.enabled;
    uint64_t n = s->n_seq, h = 0;
    if (adaptive) {
        if (n < 2)
            return qat_fail(QAT_ERR_FORMAT,
                            "adaptive alpha needs held-out sequences, but the corpus %s gave only %llu sequence of "
                            "%lld tokens", p->run->corpus, (unsigned long long)n, (long long)p->run->max_seq_len);
        h = p->run->adaptive.heldout_sequences > 0 ? (uint64_t)p->run->adaptive.heldout_sequences : n / 10;
        if (p->run->adaptive.heldout_sequences == 0 && h > 256)
            h = 256;
        if (h == 0)
            h = 1;
        if (h >= n)
            return qat_fail(QAT_ERR_INVALID_ARGUMENT,
                            "adaptive.heldout_sequences = %llu leaves no training sequence (the corpus gave %llu)",
                            (unsigned long long)h, (unsigned long long)n);
    }
    uint64_t *perm = malloc(n * sizeof *perm);
    uint8_t *held = calloc(n, 1);
    s->pool = malloc((n - h) * sizeof *s->pool);
    if (!perm || !held || !s->pool) {
        free(perm);
        free(held);
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "DAPT: out of memory");
    }
    for (uint64_t i = 0; i < n; i++)
        perm[i] = i;
    if (h > 0) {
        qat_rng rng;
        qat_rng_seed(&rng, p->run->seed ^ 0x6a09e667f3bcc909ull);
        for (uint64_t i = n - 1; i > 0; i--) {
            uint64_t j = qat_rng_below(&rng, i + 1), t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        for (uint64_t i = 0; i < h; i++)
            held[perm[i]] = 1;
    }
    s->n_pool = 0;
    for (uint64_t i = 0; i < n; i++)
        if (!held[i])
            s->pool[s->n_pool++] = i;
    s->n_held = h;
    qat_status st = QAT_OK;
    if (h > 0) {
        const int64_t L = p->run->max_seq_len;
        s->held_ids = malloc((size_t)(h * (uint64_t)L) * sizeof *s->held_ids);
        s->held_labels = malloc((size_t)(h * (uint64_t)L) * sizeof *s->held_labels);
        if (!s->held_ids || !s->held_labels)
            st = qat_fail(QAT_ERR_OUT_OF_MEMORY, "DAPT: out of memory");
        /* in corpus order, masked once: every evaluation scores the same tokens */
        for (uint64_t i = 0, k = 0; st == QAT_OK && i < n; i++)
            if (held[i])
                st = qat_data_shards_get(s->shards, i, s->held_ids + (k++) * (uint64_t)L);
        qat_rng mask_rng;
        qat_rng_seed(&mask_rng, p->run->seed ^ 0xbb67ae8584caa73bull);
        if (st == QAT_OK)
            st = qat_data_mlm_mask(mo, &mask_rng, s->held_ids, s->held_labels, (size_t)(h * (uint64_t)L));
        s->held_tokens = 0;
        for (uint64_t i = 0; st == QAT_OK && i < h * (uint64_t)L; i++)
            s->held_tokens += s->held_labels[i] != QAT_DATA_IGNORE_INDEX;
    }
    free(perm);
    free(held);
    return st;
}

/* Mean MLM loss over the held-out tokens, in eval mode (no dropout). */
static qat_status heldout_loss(phase_state *s, qat_model *m, double *out)
{
    qat_dapt_phase *p = s->p;
    const int64_t L = p->run->max_seq_len;
    /* Forwards of the training step's micro-batch, as a rank runs it (its
     * shard of the batch when data-parallel): the same memory, and the
     * same sums as one rank run with those micro-batches. */
    int64_t rows = p->run->train.batch_size / (p->comm ? p->comm->world : 1);
    if (p->run->train.micro_batch_size > 0 && p->run->train.micro_batch_size < rows)
        rows = p->run->train.micro_batch_size;
    rows = rows > 0 ? rows : 1;
    qat_rng saved = p->ctx->rng;
    QAT_TRY(qat_model_set_training(m, 0));
    double sum = 0.0;
    qat_status st = QAT_OK;
    for (uint64_t at = 0; st == QAT_OK && at < s->n_held; at += (uint64_t)rows) {
        int64_t b = (int64_t)(s->n_held - at < (uint64_t)rows ? s->n_held - at : (uint64_t)rows);
        const int32_t *ids = s->held_ids + at * (uint64_t)L, *labels = s->held_labels + at * (uint64_t)L;
        int64_t counted = 0;
        for (int64_t i = 0; i < b * L; i++)
            counted += labels[i] != QAT_DATA_IGNORE_INDEX;
        if (counted == 0)
            continue;
        float loss = 0.0f;
        st = qat_model_forward_pass(m, ids, NULL, NULL, labels, b, L, 1);
        if (st == QAT_OK)
            st = qat_model_loss_backward(m, labels, 0, &loss);
        sum += (double)loss * (double)counted;
    }
    p->ctx->rng = saved;
    qat_status st2 = qat_model_set_training(m, 1);
    if (st == QAT_OK)
        st = st2;
    if (st == QAT_ERR_NUMERIC) {
        qat_clear_error();
        st = QAT_OK;
        sum = NAN; /* a diverged model does not improve: the rule handles it */
    }
    *out = s->held_tokens > 0 ? sum / (double)s->held_tokens : NAN;
    return st;
}

/* The held-out loss every rank's rule sees: rank 0's, sent to the others
 * with its status (the ranks' own evaluations could differ in their last
 * bits between devices, and one rule firing a step earlier than another
 * would leave the ranks' collectives unmatched). */
static qat_status heldout_loss_of_rank0(phase_state *s, qat_model *m, double *out)
{
    qat_comm *comm = s->p->comm;
    if (!comm || comm->world == 1)
        return heldout_loss(s, m, out);
    struct {
        double loss;
        int32_t status, pad;
    } msg = {NAN, QAT_OK, 0};
    if (comm->rank == 0) {
        msg.status = heldout_loss(s, m, &msg.loss);
        if (msg.status != QAT_OK)
            msg.loss = NAN;
    }
    QAT_TRY(qat_comm_broadcast_host(comm, &msg, sizeof msg, 0));
    if (comm->rank == 0 && msg.status != QAT_OK)
        return (qat_status)msg.status; /* its own error message stands */
    if (msg.status != QAT_OK)
        return qat_fail((qat_status)msg.status, "DAPT: rank 0's held-out evaluation failed (%s)",
                        qat_status_string((qat_status)msg.status));
    *out = msg.loss;
    return QAT_OK;
}

static qat_status save_adaptive(phase_state *s, int64_t step_done)
{
    qat_dapt_phase *p = s->p;
    if (!s->writer)
        return QAT_OK;
    json_object *j = json_object_new_object();
    json_object_object_add(j, "schedule_steps", json_object_new_int64(p->schedule_steps));
    json_object_object_add(j, "alpha_max", json_object_new_double(p->run->adaptive.alpha_max));
    json_object_object_add(j, "eval_every", json_object_new_int64(s->every));
    json_object_object_add(j, "patience", json_object_new_int64(p->run->adaptive.patience));
    json_object_object_add(j, "min_delta", json_object_new_double(p->run->adaptive.min_delta));
    json_object_object_add(j, "heldout_sequences", json_object_new_int64((int64_t)s->n_held));
    json_object_object_add(j, "heldout_tokens", json_object_new_int64(s->held_tokens));
    json_object_object_add(j, "evaluations", json_object_get(s->evals));
    json_object_object_add(j, "best_step", s->rule.seen ? json_object_new_int64(
        json_object_get_int64(json_object_object_get(json_object_array_get_idx(s->evals, s->rule.best_index),
                                                     "step"))) : NULL);
    json_object_object_add(j, "best_loss", s->rule.seen && isfinite(s->rule.best) ? json_object_new_double(s->rule.best)
                                                                                   : NULL);
    json_object_object_add(j, "stopped_at", p->rule_step >= 0 ? json_object_new_int64(p->rule_step) : NULL);
    json_object_object_add(j, "steps_done", json_object_new_int64(step_done));
    qat_status st = qat_json_write_file(join(s, "adaptive.json"), j);
    json_object_put(j);
    return st;
}

json_object *qat_dapt_adaptive_json(const char *out_dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/adaptive.json", out_dir);
    return qat_file_exists(path) ? json_object_from_file(path) : NULL;
}

/* A resumed run: keep the evaluations up to the resumed step and replay
 * the rule on them (the later ones will be recomputed identically). */
static void restore_evaluations(phase_state *s, int64_t step)
{
    json_object *old = qat_dapt_adaptive_json(s->p->run->out_dir), *list = NULL;
    if (old && json_object_object_get_ex(old, "evaluations", &list) && json_object_is_type(list, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(list); i++) {
            json_object *e = json_object_array_get_idx(list, i);
            int64_t at = json_object_get_int64(json_object_object_get(e, "step"));
            if (at > step)
                break;
            json_object *l = json_object_object_get(e, "loss");
            double loss = l && !json_object_is_type(l, json_type_null) ? json_object_get_double(l) : NAN;
            json_object_array_add(s->evals, json_object_get(e));
            if (qat_adaptive_observe(&s->rule, &s->rule_cfg, loss) && s->p->rule_step < 0)
                s->p->rule_step = at;
        }
    }
    json_object_put(old);
}

static qat_status snapshot(phase_state *s, qat_model *m, int64_t step)
{
    char dir[4096 + 64];
    snprintf(dir, sizeof dir, "%s/snapshots/step-%lld", s->p->run->out_dir, (long long)step);
    if (!s->writer || qat_run_has_model(dir))
        return QAT_OK; /* taken before an interruption: the same weights */
    return qat_run_save_model(m, s->p->tok, NULL, dir);
}

static int is_snapshot(const qat_dapt_phase *p, int64_t step)
{
    for (size_t i = 0; i < p->n_snapshots; i++)
        if (p->snapshots[i] == step)
            return 1;
    return 0;
}

static int64_t last_snapshot(const qat_dapt_phase *p)
{
    int64_t last = 0;
    for (size_t i = 0; i < p->n_snapshots; i++)
        if (p->snapshots[i] > last)
            last = p->snapshots[i];
    return last;
}

qat_status qat_dapt_phase_run(qat_dapt_phase *p)
{
    phase_state s;
    memset(&s, 0, sizeof s);
    s.p = p;
    s.writer = !p->comm || p->comm->rank == 0;
    p->steps_done = 0;
    p->rule_step = -1;
    const int adaptive = p->run->adaptive.enabled;
    size_t vocab;
    int32_t bos, eos, mask_id, pad;
    qat_status st = open_shards(&s, &bos, &eos, &pad, &mask_id, &vocab);
    int32_t specials[3] = {bos, eos, pad};
    qat_data_mlm_options mo;
    qat_data_mlm_options_init(&mo);
    mo.mask_id = mask_id;
    mo.vocab_size = (int64_t)vocab;
    mo.special_ids = specials;
    mo.n_special = 3;
    if (st == QAT_OK)
        st = split_heldout(&s, &mo);
    qat_model *model = NULL;
    qat_trainer *t = NULL;
    qat_load_options lo;
    qat_load_options_init(&lo, QAT_LOAD_OPTIONS_VERSION);
    lo.task = QAT_TASK_MLM;
    lo.quant = p->run->quant ? p->run->quant : "FP32";
    if (st == QAT_OK)
        st = qat_model_load(p->ctx, p->run->model_dir, &lo, &model);
    if (st == QAT_OK)
        st = qat_trainer_create(model, &p->run->train, p->schedule_steps, &t);
    if (st == QAT_OK && p->comm)
        st = qat_trainer_set_comm(t, p->comm, 0);
    uint64_t pos[2] = {0, 0}; /* epoch, next sequence in the epoch's order */
    qat_checkpoints ck;
    memset(&ck, 0, sizeof ck);
    int resumable = 0;
    if (st == QAT_OK)
        st = qat_checkpoints_init(&ck, p->run->out_dir, "dapt", p->metrics, &resumable);
    ck.writes = s.writer;
    if (st == QAT_OK && resumable) {
        st = qat_trainer_resume(t, ck.path, pos);
        ck.kept_step = t->step;
    }
    if (adaptive) {
        s.rule_cfg = (qat_adaptive_rule){p->run->adaptive.patience, p->run->adaptive.min_delta};
        qat_adaptive_reset(&s.rule);
        s.every = qat_adaptive_eval_every(&p->run->adaptive, p->schedule_steps);
        s.evals = json_object_new_array();
        if (st == QAT_OK)
            restore_evaluations(&s, t->step);
    }
    const int64_t B = p->run->train.batch_size, L = p->run->max_seq_len;
    int32_t *ids = malloc((size_t)(B * L) * sizeof *ids), *labels = malloc((size_t)(B * L) * sizeof *labels);
    uint64_t *order = malloc((s.n_pool ? s.n_pool : 1) * sizeof *order);
    if (st == QAT_OK && (!ids || !labels || !order))
        st = qat_fail(QAT_ERR_OUT_OF_MEMORY, "DAPT: out of memory");
    uint64_t ordered_epoch = UINT64_MAX;
    /* resumed after the rule fired, with nothing left to do */
    int done = st == QAT_OK && p->rule_step >= 0 &&
               (p->stop_on_rule || (!p->final_dir && t->step >= last_snapshot(p)));
    while (st == QAT_OK && !done && t->step < p->schedule_steps) {
        if (ordered_epoch != pos[0]) { /* the epoch's order: a seeded shuffle */
            qat_rng shuffle;
            qat_rng_seed(&shuffle, p->run->seed ^ (0x9e3779b97f4a7c15ull * (pos[0] + 1)));
            for (uint64_t i = 0; i < s.n_pool; i++)
                order[i] = s.pool[i];
            for (uint64_t i = s.n_pool - 1; i > 0; i--) {
                uint64_t j = qat_rng_below(&shuffle, i + 1), tmp = order[i];
                order[i] = order[j];
                order[j] = tmp;
            }
            ordered_epoch = pos[0];
        }
        for (int64_t b = 0; st == QAT_OK && b < B; b++) {
            st = qat_data_shards_get(s.shards, order[pos[1]], ids + b * L);
            if (++pos[1] == s.n_pool) {
                pos[0]++;
                pos[1] = 0;
            }
        }
        if (st == QAT_OK)
            st = qat_data_mlm_mask(&mo, &p->ctx->rng, ids, labels, (size_t)(B * L));
        float loss = 0.0f;
        if (st == QAT_OK)
            st = qat_trainer_step(t, ids, NULL, labels, B, L, &loss);
        if (st == QAT_ERR_NUMERIC)
            st = qat_checkpoints_diverged(&ck, st, "DAPT", t->step + 1);
        if (st != QAT_OK)
            break;
        const int64_t step = t->step;
        qat_metrics_log_write(p->metrics, "dapt", step, loss, t->last_lr, t->last_norm);
        if (is_snapshot(p, step))
            st = snapshot(&s, model, step);
        if (st == QAT_OK && adaptive && p->rule_step < 0 && step % s.every == 0) {
            double held;
            st = heldout_loss_of_rank0(&s, model, &held);
            if (st == QAT_OK) {
                json_object *e = json_object_new_object();
                json_object_object_add(e, "step", json_object_new_int64(step));
                json_object_object_add(e, "loss", isfinite(held) ? json_object_new_double(held) : NULL);
                json_object_array_add(s.evals, e);
                qat_metrics_log_write(p->metrics, "dapt_heldout", step, held, NAN, NAN);
                if (qat_adaptive_observe(&s.rule, &s.rule_cfg, held)) {
                    p->rule_step = step;
                    if (!p->final_dir) /* a shared run: the adaptive cells start here */
                        st = snapshot(&s, model, step);
                }
                if (st == QAT_OK)
                    st = save_adaptive(&s, step);
            }
        }
        /* Past the rule, the run only goes on for snapshots still owed. */
        if (st == QAT_OK && p->rule_step >= 0 &&
            (p->stop_on_rule || (!p->final_dir && step >= last_snapshot(p))))
            done = 1;
        if (st == QAT_OK) {
            int due = !done && p->run->checkpoint_every > 0 && step % p->run->checkpoint_every == 0 &&
                      step < p->schedule_steps;
            st = qat_checkpoints_step(&ck, t, pos, loss, due);
        }
        if (st == QAT_OK) {
            st = qat_run_progress(p->run, p->energy, "dapt", step, p->schedule_steps, loss);
            if (st == QAT_ERR_STATE)
                qat_checkpoints_stop(&ck, t, pos);
        }
    }
    if (st == QAT_OK) {
        p->steps_done = t->step;
        /* The rule never fired: adaptive alpha falls back to alpha_max,
         * the end of the schedule. */
        if (adaptive && p->rule_step < 0 && !p->final_dir)
            st = snapshot(&s, model, t->step);
        if (st == QAT_OK && adaptive)
            st = save_adaptive(&s, t->step);
    }
    if (st == QAT_OK)
        st = qat_metrics_log_sync(p->metrics);
    if (st == QAT_OK && p->final_dir && s.writer)
        st = qat_run_save_model(model, p->tok, &p->ctx->rng, p->final_dir);
    if (st == QAT_OK && p->comm) /* the others go on from rank 0's model */
        st = qat_comm_barrier(p->comm);
    if (st == QAT_OK)
        qat_checkpoints_finish(&ck);
    free(ids);
    free(labels);
    free(order);
    free(s.pool);
    free(s.held_ids);
    free(s.held_labels);
    json_object_put(s.evals);
    qat_trainer_free(t);
    qat_model_free(model);
    qat_data_shards_close(s.shards);
    return st;
}
