/* The data-parallel step (qat_trainer_set_comm): every rank gets the whole
 * global batch, trains on its shard, and the gradients and losses are
 * summed over the ranks, so the update is the one a single rank makes with
 * gradient accumulation over the same batch:
 *
 *   rank r's micro-batches are the single-rank run's numbers
 *   r * n .. r * n + n - 1 (n per rank), with the same rows;
 *   the RNG (dropout seeds) is advanced past the other ranks' forwards as
 *   the single-rank run would have drawn them (every training forward draws
 *   the same count, checked at every forward);
 *   quantizers that initialise on their first batch see global micro-batch
 *   0 on every rank: the other ranks replay rank 0's first forward once;
 *   the loss slots and gradient sums are reduced, then divided by
 *   world * n in the optimizer, as one rank divides by its n.
 *
 * With one micro-batch per rank the sums are the single-rank ones in the
 * same order (0 + g0 + g1 ... on the loopback): the same bits. With more,
 * each rank sums its own first, then the ranks are summed: equal up to the
 * order of the additions. */
#include <stdlib.h>

#include "core/error.h"
#include "train/trainer.h"

#define DEFAULT_BUCKET_BYTES (25 << 20)
/* More draws than this in one forward means the count is not what we think. */
#define MAX_DRAWS_PER_FORWARD (1 << 20)

void qat_trainer_drop_comm(qat_trainer *t)
{
    qat_bucket_plan_release(&t->reducer.plan);
    qat_comm_free(t->comm);
    t->comm = NULL;
    t->reducer.comm = NULL;
    t->synced = 0;
}

QAT_API qat_status qat_trainer_set_comm(qat_trainer *t, qat_comm *comm, int64_t bucket_bytes)
{
    QAT_CHECK_ARG(t != NULL, "qat_trainer_set_comm: NULL trainer");
    QAT_CHECK_ARG(bucket_bytes >= 0, "qat_trainer_set_comm: bucket_bytes must be >= 0 (0: 25 MB), got %lld",
                  (long long)bucket_bytes);
    qat_model *m = t->model;
    QAT_CHECK_ARG(!comm || comm->ctx == m->ctx, "qat_trainer_set_comm: the communicator was made for another "
                  "context than the model's (its collectives run on that context's backend memory)");
    qat_trainer_drop_comm(t);
    if (!comm)
        return QAT_OK;
    const int64_t cap = (bucket_bytes ? bucket_bytes : DEFAULT_BUCKET_BYTES) / (int64_t)sizeof(float);
    int64_t *spans = malloc((m->n_params ? m->n_params : 1) * 2 * sizeof *spans);
    if (!spans)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "qat_trainer_set_comm: out of memory");
    for (size_t i = 0; i < m->n_params; i++) {
        spans[i] = (int64_t)m->params[i].offset;
        spans[m->n_params + i] = m->params[i].numel;
    }
    qat_status st = qat_bucket_plan_make(spans, spans + m->n_params, (int64_t)m->n_params, (int64_t)m->total,
                                         cap > 0 ? cap : 1, &t->reducer.plan);
    free(spans);
    if (st != QAT_OK)
        return st;
    t->comm = qat_comm_retain(comm);
    t->reducer.comm = comm;
    return QAT_OK;
}

/* Rank 0's weights and RNG state on every rank (the ranks' checkpoints or
 * seeds may differ: the classifier's random initialisation, say). The RNG
 * words travel as floats' bits: collectives copy, never add, them. */
static qat_status sync_from_rank0(qat_trainer *t)
{
    qat_model *m = t->model;
    qat_context *ctx = m->ctx;
    QAT_TRY(qat_comm_broadcast(t->comm, m->w, (int64_t)m->total, 0));
    qat_model_weights_changed(m);
    const qat_status st = qat_comm_broadcast_host(t->comm, ctx->rng.s, sizeof ctx->rng.s, 0);
    if (st == QAT_OK)
        t->synced = 1;
    return st;
}

static int64_t draws_between(qat_rng from, const qat_rng *to)
{
    for (int64_t k = 0; k <= MAX_DRAWS_PER_FORWARD; k++, qat_rng_next(&from))
        if (from.s[0] == to->s[0] && from.s[1] == to->s[1] && from.s[2] == to->s[2] && from.s[3] == to->s[3])
            return k;
    return -1;
}

static void skip_draws(qat_rng *rng, int64_t n)
{
    for (int64_t k = 0; k < n; k++)
        qat_rng_next(rng);
}

/* One training forward's draws, learnt at the first and checked at every
 * one: a forward that drew another count would shift every rank's dropout. */
static qat_status count_draws(qat_trainer *t, const qat_rng *before)
{
    const int64_t d = draws_between(*before, &t->model->ctx->rng);
    if (d < 0 || (t->draws_per_forward >= 0 && d != t->draws_per_forward))
        return qat_fail(QAT_ERR_INTERNAL, "data-parallel step: a forward drew %lld random numbers, another drew "
                        "%lld: the ranks' dropout could not follow the single-rank run", (long long)d,
                        (long long)t->draws_per_forward);
    t->draws_per_forward = d;
    return QAT_OK;
}

static int quantizers_pending(const qat_model *m)
{
    for (size_t i = 0; i < m->n_params; i++)
        if (m->params[i].is_step && !m->params[i].ready)
            return 1;
    return 0;
}

qat_status qat_trainer_gradients_ranks(qat_trainer *t, const qat_step_batch *in)
{
    qat_model *m = t->model;
    qat_comm *comm = t->comm;
    const int world = comm->world, rank = comm->rank;
    QAT_CHECK_ARG(in->batch % world == 0, "data-parallel step: a batch of %lld sequences does not split evenly "
                  "over %d ranks", (long long)in->batch, world);
    const int64_t shard = in->batch / world, first = rank * shard;
    const int64_t micro = t->opt.micro_batch_size > 0 && t->opt.micro_batch_size < shard ? t->opt.micro_batch_size
                                                                                         : shard;
    const int64_t n_micro = (shard + micro - 1) / micro;
    if (!t->synced)
        QAT_TRY(sync_from_rank0(t));
    qat_rng *rng = &m->ctx->rng;
    const qat_rng start = *rng;
    if (rank > 0 && (t->draws_per_forward < 0 || quantizers_pending(m))) {
        /* rank 0's first micro-batch: the quantizers initialise as there */
        QAT_TRY(qat_trainer_micro_pass(t, in, 0, micro, 0, NULL));
        QAT_TRY(count_draws(t, &start));
        *rng = start;
    }
    if (rank > 0)
        skip_draws(rng, (int64_t)rank * n_micro * t->draws_per_forward);
    QAT_TRY(qat_optim_begin_ranks(&t->optim, n_micro, world, rank));
    for (int64_t i = 0; i < n_micro; i++) {
        const int64_t rows = i + 1 < n_micro ? micro : shard - i * micro;
        const qat_rng before = *rng;
        if (i + 1 < n_micro) {
            QAT_TRY(qat_trainer_micro_pass(t, in, first + i * micro, rows, 1, NULL));
            QAT_TRY(qat_optim_collect(&t->optim, i, m->g, m->acts.loss));
        } else {
            /* the last backward hands each bucket over as it finishes it */
            qat_reducer_begin(&t->reducer, m->g, qat_optim_gradient_sum(&t->optim, m->g));
            const qat_grad_hook hook = {qat_reducer_ready, &t->reducer};
            QAT_TRY(qat_trainer_micro_pass(t, in, first + i * micro, rows, 1, &hook));
            QAT_TRY(qat_optim_collect_loss(&t->optim, i, m->acts.loss));
        }
        /* The forward's draws end before its backward starts: counted on the whole pass. */
        QAT_TRY(count_draws(t, &before));
    }
    skip_draws(rng, (int64_t)(world - 1 - rank) * n_micro * t->draws_per_forward);
    int64_t slots;
    float *losses = qat_optim_loss_slots(&t->optim, &slots);
    QAT_TRY(qat_comm_all_reduce_sum(comm, losses, slots));
    return qat_reducer_finish(&t->reducer);
}
