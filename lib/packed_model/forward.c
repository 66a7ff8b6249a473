/* The packed forward: lib/model/forward.c's inference pass with the integer
 * GEMMs of lib/packed for every linear whose weight and input are both
 * quantized. Float parts (LayerNorm, GELU, bias) run the same backend
 * kernels as the training model; the GEMMs of the heads and of any linear
 * kept in float run lib/packed's float GEMM (float_gemm.c: fixed order,
 * no allocation, unlike oneDNN's sgemm on AVX2-only CPUs); attention is
 * the fused attention_fwd, with softmax_fwd's row function and no
 * [B, NH, L, L] buffer. So the only differences from
 * qat_model_forward are the accumulation order of the GEMMs and the
 * activation scale m/Qp vs q*m/Qp (docs/packed-kernels.md).
 * Shapes: N = B * L tokens, H hidden, I intermediate, NH heads, dh = H/NH. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "backend/dispatch.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "model/encoder_walk.h"
#include "packed_model/packed_model.h"

int64_t pm_classes(const qat_packed_model *m)
{
    return m->task == QAT_TASK_MLM ? m->dims.vocab_size : m->num_labels;
}

qat_status pm_prepare_weights(qat_packed_model *m, qat_packed_isa isa)
{
    for (int64_t i = 0; i < m->dims.num_layers; i++)
        for (int j = 0; j < QATP_LINEARS; j++)
            if (m->layers[i].lin[j].integer)
                QAT_TRY(qat_packed_matrix_prepare(&m->layers[i].lin[j].mat, isa));
    return QAT_OK;
}

qat_status pm_kernel(const qat_packed_model *m, qat_packed_kernel *k)
{
    int64_t threads = 1;
    QAT_TRY(qat_context_get_int(m->ctx, QAT_CTX_THREADS, &threads));
    if (threads < 1)
        threads = 1;
    if (threads > 1024)
        threads = 1024;
    QAT_TRY(qat_packed_kernel_init_on(k, &m->cpu, (qat_packed_isa)m->isa_setting, (int)threads));
    /* The context's threads (its backend is cpu or ref, both host-memory
     * backends): the GEMMs and the float parts between them share them. */
    const struct qat_backend_ops *ops = m->ctx->backend.ops;
    k->pool = ops->thread_pool ? ops->thread_pool(m->ctx->backend_state) : NULL;
    return QAT_OK;
}

static void *grow(void **p, size_t bytes, int *fail)
{
    free(*p);
    *p = malloc(bytes ? bytes : 1);
    if (!*p)
        *fail = 1;
    return *p;
}

/* Scratch for N = B * L tokens. Every buffer is sized by tokens alone and
 * only grows: a forward of at most as many tokens as an earlier one
 * allocates nothing (the activation buffers' views shrink to N rows). */
static qat_status prepare_scratch(qat_packed_model *m, int64_t B, int64_t L)
{
    pm_scratch *s = &m->s;
    const int64_t N = B * L, H = m->dims.hidden_size, I = m->dims.intermediate_size;
    if (N <= s->cap) {
        s->N = N;
        s->B = B;
        s->L = L;
        s->act_h.tokens = N;
        s->act_i.tokens = N;
        return QAT_OK;
    }
    int fail = 0;
    const size_t nh = (size_t)(N * H) * sizeof(float), ni = (size_t)(N * I) * sizeof(float);
    grow((void **)&s->ids, (size_t)N * sizeof(int32_t), &fail);
    grow((void **)&s->pos, (size_t)N * sizeof(int32_t), &fail);
    grow((void **)&s->types, (size_t)N * sizeof(int32_t), &fail);
    grow((void **)&s->key_bias, (size_t)N * sizeof(float), &fail);
    float **hs[] = {&s->x, &s->h1, &s->q, &s->k, &s->v, &s->ctxv, &s->res, &s->tmp};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++)
        grow((void **)hs[i], nh, &fail);
    grow((void **)&s->wide, ni, &fail);
    grow((void **)&s->fq, ni > nh ? ni : nh, &fail);
    grow((void **)&s->mean, (size_t)N * sizeof(float), &fail);
    grow((void **)&s->rstd, (size_t)N * sizeof(float), &fail);
    qat_packed_acts_free(&s->act_h);
    qat_packed_acts_free(&s->act_i);
    s->N = s->cap = 0;
    if (fail)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "packed forward: out of memory for batch %lld x %lld", (long long)B,
                        (long long)L);
    QAT_TRY(qat_packed_acts_alloc(N, H, &s->act_h));
    QAT_TRY(qat_packed_acts_alloc(N, I, &s->act_i));
    s->N = s->cap = N;
    s->B = B;
    s->L = L;
    return QAT_OK;
}

/* Position ids, token types and the additive key mask; every index is
 * checked against its table. */
static qat_status prepare_inputs(qat_packed_model *m, const int32_t *ids, const int32_t *mask, const int32_t *types)
{
    pm_scratch *s = &m->s;
    const qat_model_dims *d = &m->dims;
    qat_encoder_positions(d, ids, mask, s->B, s->L, s->pos, s->key_bias);
    s->any_masked = 0;
    for (int64_t i = 0; mask && i < s->B * s->L && !s->any_masked; i++)
        s->any_masked = mask[i] == 0;
    for (int64_t b = 0; b < s->B; b++) {
        for (int64_t t = 0; t < s->L; t++) {
            int64_t i = b * s->L + t;
            if (ids[i] < 0 || ids[i] >= d->vocab_size)
                return qat_fail(QAT_ERR_INVALID_ARGUMENT, "packed forward: input id %d at [%lld, %lld] is outside the vocabulary (%lld)",
                                ids[i], (long long)b, (long long)t, (long long)d->vocab_size);
            const int64_t pos = s->pos[i];
            if (pos >= d->max_position_embeddings)
                return qat_fail(QAT_ERR_INVALID_ARGUMENT, "packed forward: position %lld exceeds max_position_embeddings (%lld)",
                                (long long)pos, (long long)d->max_position_embeddings);
            int32_t type = types ? types[i] : 0;
            if (type < 0 || type >= d->type_vocab_size)
                return qat_fail(QAT_ERR_INVALID_ARGUMENT, "packed forward: token type %d outside [0, %lld)", type,
                                (long long)d->type_vocab_size);
            s->types[i] = type;
            s->ids[i] = ids[i];
        }
    }
    return QAT_OK;
}

/* sum += table[index] (quantized tables: code * step, the fake quantizer's value). */
static qat_status gather_add(qat_packed_model *m, const pm_table *t, const int32_t *index, float *sum)
{
    const int64_t N = m->s.N, H = m->dims.hidden_size;
    for (int64_t i = 0; i < N; i++) {
        float *dst = sum + i * H;
        if (t->f) {
            const float *src = t->f + (int64_t)index[i] * H;
            for (int64_t c = 0; c < H; c++)
                dst[c] += src[c];
        } else {
            QAT_TRY(qat_packed_lsq_row_add(&t->codes, index[i], t->value_of, dst));
        }
    }
    return QAT_OK;
}

/* What the shared activation buffer holds: the input it was quantized
 * from and the quantizer's parameters (q, k and v share one quantization
 * when their quantizers agree). */
typedef struct pm_act_key {
    const void *x;
    qat_quant_algo algo;
    int bits;
    float step, offset;
} pm_act_key;

/* The integer path's input quantizer of linear l. */
static qat_status input_quantizer(const qat_packed_model *m, const qat_packed_kernel *k, const pm_linear *l,
                                  qat_packed_act_quantizer *q)
{
    switch (l->aq.algo) {
    case QAT_ALGO_LSQ:
        return qat_packed_act_quantizer_lsq(k, l->aq.bits, l->astep, qat_quant_step_eps(&m->cfg), q);
    case QAT_ALGO_LSQ_PLUS:
        return qat_packed_act_quantizer_lsq_plus(k, l->aq.bits, l->astep, l->aoffset, qat_quant_step_eps(&m->cfg), q);
    case QAT_ALGO_BITNET158:
        return qat_packed_act_quantizer_bitnet(k, l->aq.bits, qat_quant_symmetric_acts(&m->cfg), q);
    default:
        return qat_fail(QAT_ERR_INTERNAL, "packed forward: input quantizer %d has no integer path", (int)l->aq.algo);
    }
}

/* The activation buffer of linear l's quantized input, and its key for x. */
static qat_packed_acts *input_acts(qat_packed_model *m, const pm_linear *l)
{
    return l->in == m->dims.hidden_size ? &m->s.act_h : &m->s.act_i;
}

static pm_act_key act_key(const pm_linear *l, const float *x)
{
    const int lsq = l->aq.algo == QAT_ALGO_LSQ || l->aq.algo == QAT_ALGO_LSQ_PLUS;
    return (pm_act_key){.x = x, .algo = l->aq.algo, .bits = l->aq.bits, .step = lsq ? l->astep : 0.0f,
                        .offset = l->aq.algo == QAT_ALGO_LSQ_PLUS ? l->aoffset : 0.0f};
}

static int same_key(const pm_act_key *a, const pm_act_key *b)
{
    return a->x == b->x && a->algo == b->algo && a->bits == b->bits && a->step == b->step && a->offset == b->offset;
}

/* The integer linear l's input codes of x: those held, or made now. */
static qat_status integer_input(qat_packed_model *m, const qat_packed_kernel *k, const pm_linear *l, const float *x,
                                pm_act_key *held, qat_packed_acts **out)
{
    qat_packed_acts *a = input_acts(m, l);
    const pm_act_key want = act_key(l, x);
    if (!same_key(held, &want) || a->bits != want.bits) {
        held->x = NULL;
        qat_packed_act_quantizer q;
        QAT_TRY(input_quantizer(m, k, l, &q));
        QAT_TRY(qat_packed_quantize(k, &q, x, l->in, a));
        *held = want;
    }
    *out = a;
    return QAT_OK;
}

/* LSQ+: the offset's constant term is in ibias (pm_load.c). */
static const float *integer_bias(const pm_linear *l)
{
    return l->ibias ? l->ibias : l->bias;
}

/* y[N, out] = A(x) W^T + b. */
/* y = x w^T over dense rows: rows x in inputs, out x in weights. */
static qat_status float_gemm(const qat_packed_kernel *k, const float *x, int64_t rows, const float *w, int64_t out,
                             int64_t in, float *y)
{
    const qat_packed_fgemm g = {.x = x, .ldx = in, .rows = rows, .w = w, .ldw = in, .out = out, .in = in, .y = y,
                                .ldy = out};
    return qat_packed_float_gemm(k, &g);
}

static qat_status linear(qat_packed_model *m, const qat_packed_kernel *k, const pm_linear *l, const float *x,
                         float *y, pm_act_key *held)
{
    pm_scratch *s = &m->s;
    const int64_t N = s->N;
    if (l->integer) {
        qat_packed_acts *a;
        QAT_TRY(integer_input(m, k, l, x, held, &a));
        return qat_packed_gemm(k, a, &l->mat, integer_bias(l), y, l->out);
    }
    const float *xq = x;
    if (l->aq.algo == QAT_ALGO_LSQ || l->aq.algo == QAT_ALGO_LSQ_PLUS) {
        /* LSQ+ gets here with float weights (or pm_use_float_linears). */
        qat_lsq_desc d = {.step = &l->astep, .offset = l->aq.algo == QAT_ALGO_LSQ_PLUS ? &l->aoffset : NULL,
                          .rows = N, .cols = l->in, .step_eps = qat_quant_step_eps(&m->cfg)};
        qat_class_quant_range(&l->aq, &d.qn, &d.qp);
        QAT_RUN(m->ctx, lsq_fwd, &d, x, s->fq);
        xq = s->fq;
    } else if (l->aq.algo == QAT_ALGO_BITNET158) {
        QAT_RUN(m->ctx, bitnet_act_fwd, x, N, l->in, l->aq.bits, qat_quant_symmetric_acts(&m->cfg), s->fq);
        xq = s->fq;
    }
    QAT_TRY(float_gemm(k, xq, N, l->wf, l->out, l->in, y));
    QAT_RUN(m->ctx, bias_act_fwd, y, l->bias, N, l->out, QAT_ACTIVATION_NONE, NULL);
    return QAT_OK;
}

/* A residual linear not yet run: y = l(x) + residual over n floats, run by
 * the LayerNorm that reads y (with it, block by block), or before any other
 * hook runs. */
typedef struct pending_linear {
    const pm_linear *l;
    const float *x, *residual;
    float *y;             /* NULL: nothing pending */
    int64_t n;
} pending_linear;

/* The packed runner of the encoder walk: integer GEMMs for the quantized
 * linears, the model's float kernels for the rest, no dropout. */
typedef struct packed_walk {
    qat_packed_model *m;
    qat_packed_kernel k;
    pm_act_key held;          /* what s->act_h / act_i hold */
    pending_linear pending;
    int64_t kv_done;          /* the layer whose k and v its q's call computed, or -1 */
} packed_walk;

/* y is being rewritten: a quantization of it is stale. */
static void rewrites(packed_walk *w, const float *y)
{
    if (w->held.x == y)
        w->held.x = NULL;
}

static qat_status add_pending(packed_walk *w)
{
    const pending_linear p = w->pending;
    if (!p.y)
        return QAT_OK;
    w->pending.y = NULL;
    QAT_TRY(linear(w->m, &w->k, p.l, p.x, p.y, &w->held));
    QAT_RUN(w->m->ctx, add, p.y, p.residual, p.y, p.n);
    return QAT_OK;
}

/* A float op over token rows and then, on the same rows while they are in
 * cache, the next linear's activation quantizer: y = GELU(x) in place, or
 * y = LayerNorm(x (+ residual, into x)). Chunks of tokens run on the pool;
 * each calls the backend's own slots on its rows (nested in a pool range
 * they run on the calling thread), so every float is the unfused slot's
 * and every code the whole-tensor quantizer's. */
typedef struct row_pass {
    qat_packed_model *m;
    float *x;
    const float *residual;    /* LayerNorm: x += residual first; NULL: none */
    const float *w, *b;       /* LayerNorm's weights; NULL: GELU */
    float *y;
    float *mean, *rstd;       /* LayerNorm's statistics (unused, but written) */
    int64_t cols;
    const qat_packed_act_quantizer *q;
    qat_packed_acts *a;
} row_pass;

static int row_pass_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const row_pass *p = arg;
    qat_context *ctx = p->m->ctx;
    const int64_t C = p->cols, n = end - begin;
    float *x = p->x + begin * C, *y = p->y + begin * C;
    (void)index;
    if (p->residual && QAT_KERNEL(ctx, add, x, p->residual + begin * C, x, n * C) != QAT_OK)
        return 1;
    const qat_status st = p->w ? QAT_KERNEL(ctx, layernorm_fwd, x, p->w, p->b, p->m->dims.layer_norm_eps, n, C, y,
                                            p->mean + begin, p->rstd + begin)
                               : QAT_KERNEL(ctx, bias_act_fwd, x, NULL, n, C, QAT_ACTIVATION_GELU, y);
    return st != QAT_OK || qat_packed_quantize_range(p->q, p->y, C, begin, end, p->a);
}

/* Floats per row pass chunk (16 KiB): a LayerNorm chunk's three arrays
 * (x, the residual, the output) fit a 48 KiB L1 together, so the add, the
 * LayerNorm's passes and the quantizer's two passes over its output read
 * L1, not L2. A thread's 128-token block used to run as one chunk: every
 * pass went over 384 KiB (1.5 MiB for the FFN's GELU). */
#define ROW_PASS_CHUNK_FLOATS 4096

/* p over its first n tokens in chunks, on the pool (NULL: on this thread,
 * in order); nonzero when a chunk failed. */
static int row_pass_rows(qat_pool *pool, row_pass *p, int64_t n)
{
    const int64_t grain = p->cols >= ROW_PASS_CHUNK_FLOATS ? 1 : ROW_PASS_CHUNK_FLOATS / p->cols;
    return qat_pool_for(pool, n, grain, row_pass_range, p);
}

/* Runs p over every token, p->q and p->a being next's input quantizer and
 * buffer; afterwards w->held says that a holds p->y quantized. */
static qat_status run_row_pass(packed_walk *w, row_pass *p, const pm_linear *next)
{
    qat_packed_model *m = w->m;
    qat_packed_act_quantizer q;
    QAT_TRY(input_quantizer(m, &w->k, next, &q));
    p->q = &q;
    p->a = input_acts(m, next);
    p->mean = m->s.mean;
    p->rstd = m->s.rstd;
    rewrites(w, p->y);
    const int failed = row_pass_rows(w->k.pool, p, m->s.N);
    QAT_TRY(qat_packed_quantize_finish(&q, p->y, p->cols, failed, p->a));
    w->held = act_key(next, p->y);
    return QAT_OK;
}

/* Tokens per block of an integer linear whose output a row pass reads
 * (the FFN's intermediate, the residual linears): 128 tokens of BERT-base's
 * 3072 intermediate floats are 1.5 MiB, written into the same rows for
 * every block, so they stay in L2 for the row pass that reads them right
 * after; the whole [N, 3072] at 8 x 128 tokens (12 MiB) went out to L3 and
 * came back. 128 is also the amx path's call (its narrow weights are
 * decoded once per call). */
#define TOKEN_BLOCK 128

/* Tokens [t0, t0 + n) of a, in a's memory. Every t0 here is a multiple of
 * TOKEN_BLOCK, so a whole number of amx's 16-token tiles: its tile loads
 * of a short block's last tile stay inside a's allocation (whole tiles,
 * QAT_PACKED_TOKEN_ALIGN) and never reach into a block another thread
 * is writing (only full blocks run one per thread). */
static qat_packed_acts rows_of(const qat_packed_acts *a, int64_t t0, int64_t n)
{
    qat_packed_acts r = *a;
    r.tokens = n;
    r.codes += t0 * a->stride;
    r.scale += t0;
    r.row_sum += t0;
    return r;
}

/* Tokens [0, n) of N that run one TOKEN_BLOCK block per thread: whole
 * rounds of one block per pool thread (none without the handle's pool:
 * OpenMP threads share every block's tiles out). */
static int64_t tokens_by_thread(const packed_walk *w)
{
    const int64_t N = w->m->s.N;
    if (!w->k.pool)
        return 0;
    const int64_t round = (int64_t)qat_pool_threads(w->k.pool) * TOKEN_BLOCK;
    return N / round * round;
}

/* k on the calling thread alone (inside a pool range). */
static qat_packed_kernel serial_kernel(const qat_packed_kernel *k)
{
    qat_packed_kernel s = *k;
    s.pool = NULL;
    s.threads = 1;
    return s;
}

static qat_status block_failed(void)
{
    return qat_fail(QAT_ERR_INTERNAL, "packed forward: a kernel failed on a block of %d tokens", TOKEN_BLOCK);
}

/* y = l(A) by blocks of TOKEN_BLOCK tokens, each block's rows then through
 * a row pass (GELU, or a residual's LayerNorm) and next's quantizer into
 * the block's rows of next's input. Only the codes and the LayerNorm's
 * output are kept: l's output rows are scratch, the same rows for every
 * block a thread runs.
 *
 * Threads: whole rounds of one block per thread run a block each, GEMM
 * and row pass on one thread with no join between them, in that thread's
 * rows of y (pool slot s: rows [s * TOKEN_BLOCK, (s + 1) * TOKEN_BLOCK)),
 * which stay in its core's L2; the blocks left over (fewer than the
 * threads: one sequence of 128, or a short tail) share each block's tiles
 * out over the threads, in y's first rows. Every code is the unblocked
 * pass's either way: the GEMM's tokens are independent, so are the row
 * pass's, and each is computed by the same functions. */
typedef struct block_pass {
    packed_walk *w;
    const pm_linear *l;
    const qat_packed_acts *in;   /* l's input codes, every token */
    float *y;                    /* l's output rows (scratch) */
    row_pass rows;               /* residual, LayerNorm weights and out at token 0; out NULL: in place in y */
    qat_packed_acts *codes;      /* next's input codes, every token (may be *in: a block's rows are
                                    rewritten only after its GEMM has read them) */
    qat_packed_kernel serial;    /* w->k on the calling thread alone */
    _Atomic int64_t bad;         /* first non-finite row-pass output as the flat index t * cols + c */
    atomic_int broken;           /* a kernel call failed (not a non-finite value) */
} block_pass;

/* Block [t0, t0 + n) on kernel k into rows y: the GEMM, then the row pass
 * (on k's pool when pooled, else on this thread). */
static void run_block(block_pass *j, const qat_packed_kernel *k, int pooled, int64_t t0, int64_t n, float *y)
{
    const int64_t C = j->l->out;
    qat_packed_acts in = rows_of(j->in, t0, n), out = rows_of(j->codes, t0, n);
    if (qat_packed_gemm(k, &in, &j->l->mat, integer_bias(j->l), y, C) != QAT_OK) {
        atomic_store(&j->broken, 1);
        return;
    }
    row_pass p = j->rows;
    p.x = y;
    p.residual = p.residual ? p.residual + t0 * C : NULL;
    p.y = p.y ? p.y + t0 * C : y;
    p.mean += t0;
    p.rstd += t0;
    p.a = &out;
    if (!row_pass_rows(pooled ? j->w->k.pool : NULL, &p, n))
        return;
    const int64_t at = qat_packed_first_not_finite(p.q, p.y, C, C, n);
    if (at < 0) {
        atomic_store(&j->broken, 1);
        return;
    }
    int64_t first = atomic_load(&j->bad);
    while (t0 * C + at < first && !atomic_compare_exchange_weak(&j->bad, &first, t0 * C + at))
        ;
}

static int block_range(void *arg, int64_t begin, int64_t end, int slot)
{
    block_pass *j = arg;
    run_block(j, &j->serial, 0, begin, end - begin, j->y + (int64_t)slot * TOKEN_BLOCK * j->l->out);
    return 0;
}

/* Runs j over every token; next's quantizer is j->rows.q. */
static qat_status run_blocks(block_pass *j)
{
    packed_walk *w = j->w;
    const int64_t N = w->m->s.N, C = j->l->out, by_thread = tokens_by_thread(w);
    j->serial = serial_kernel(&w->k);
    atomic_init(&j->bad, INT64_MAX);
    atomic_init(&j->broken, 0);
    if (by_thread)
        qat_pool_for_slots(w->k.pool, by_thread, TOKEN_BLOCK, block_range, j);
    for (int64_t t0 = by_thread; t0 < N; t0 += TOKEN_BLOCK)
        run_block(j, &w->k, 1, t0, N - t0 < TOKEN_BLOCK ? N - t0 : TOKEN_BLOCK, j->y);
    const int64_t bad = atomic_load(&j->bad);
    if (atomic_load(&j->broken) || bad != INT64_MAX) {
        j->codes->bits = 0;
        if (bad == INT64_MAX)
            return block_failed();
        return qat_packed_not_finite_at(j->rows.q, bad / C, bad % C);
    }
    j->codes->bits = j->rows.q->bits;
    return QAT_OK;
}

/* The FFN: next's input codes = quantized GELU(l(x)); w->held says they
 * are ready, so nothing reads y (scratch) again. */
static qat_status intermediate_by_blocks(packed_walk *w, const pm_linear *l, const pm_linear *next, const float *x,
                                         float *y)
{
    qat_packed_model *m = w->m;
    block_pass j = {.w = w, .l = l, .y = y, .codes = input_acts(m, next)};
    qat_packed_acts *a;
    QAT_TRY(integer_input(m, &w->k, l, x, &w->held, &a));
    qat_packed_act_quantizer q;
    QAT_TRY(input_quantizer(m, &w->k, next, &q));
    j.in = a;
    j.rows = (row_pass){.m = m, .mean = m->s.mean, .rstd = m->s.rstd, .cols = l->out, .q = &q};
    rewrites(w, y);
    QAT_TRY(run_blocks(&j));
    w->held = act_key(next, y);
    return QAT_OK;
}

/* The pending residual linear and the LayerNorm after it: out =
 * LayerNorm(l(x) + residual) with next's input codes of it, by blocks
 * (l's output rows are scratch). */
static qat_status residual_norm_by_blocks(packed_walk *w, const float *wt, const float *b, const pm_linear *next,
                                          float *out)
{
    qat_packed_model *m = w->m;
    const pending_linear p = w->pending;
    w->pending.y = NULL;
    qat_packed_acts *a;
    QAT_TRY(integer_input(m, &w->k, p.l, p.x, &w->held, &a));
    qat_packed_act_quantizer q;
    QAT_TRY(input_quantizer(m, &w->k, next, &q));
    block_pass j = {.w = w, .l = p.l, .in = a, .y = p.y, .codes = input_acts(m, next)};
    j.rows = (row_pass){.m = m, .residual = p.residual, .w = wt, .b = b, .y = out, .mean = m->s.mean,
                        .rstd = m->s.rstd, .cols = m->dims.hidden_size, .q = &q};
    w->held.x = NULL; /* next's codes overwrite a's when they share the buffer */
    QAT_TRY(run_blocks(&j));
    w->held = act_key(next, out);
    return QAT_OK;
}

/* Integer linears of one input: y_i = l_i(A). Whole rounds of one block
 * per thread run each block's GEMMs on one thread, whose block of A stays
 * in its L2 for all of them, with one join for the lot; the tokens left
 * over share their tiles out over the threads (as run_blocks). */
typedef struct shared_input {
    const qat_packed_acts *in;
    const pm_linear *const *l;
    float *const *y;
    int n;
    qat_packed_kernel serial;
    atomic_int broken;
} shared_input;

/* Linears l[0, n) of the same codes `in` (tokens t0.. of the batch), into
 * y[i]'s rows from t0, in one qat_packed_gemm_many (one set of lookup
 * tables for them all on the avx512vbmi path). */
static qat_status gemms_of_one_input(const qat_packed_kernel *k, const qat_packed_acts *in,
                                     const pm_linear *const *l, float *const *y, int n, int64_t t0)
{
    const qat_packed_matrix *m[QAT_PACKED_MANY];
    const float *bias[QAT_PACKED_MANY];
    float *out[QAT_PACKED_MANY];
    int64_t ld[QAT_PACKED_MANY];
    for (int i = 0; i < n && i < QAT_PACKED_MANY; i++) {
        m[i] = &l[i]->mat;
        bias[i] = integer_bias(l[i]);
        out[i] = y[i] + t0 * l[i]->out;
        ld[i] = l[i]->out;
    }
    return qat_packed_gemm_many(k, in, n, m, bias, out, ld);
}

static int shared_input_range(void *arg, int64_t begin, int64_t end, int slot)
{
    shared_input *j = arg;
    const qat_packed_acts in = rows_of(j->in, begin, end - begin);
    (void)slot;
    if (gemms_of_one_input(&j->serial, &in, j->l, j->y, j->n, begin) != QAT_OK)
        atomic_store(&j->broken, 1);
    return 0;
}

static qat_status linears_of_one_input(packed_walk *w, const qat_packed_acts *a, const pm_linear *const *l,
                                       float *const *y, int n)
{
    const int64_t N = w->m->s.N, by_thread = tokens_by_thread(w);
    shared_input j = {.in = a, .l = l, .y = y, .n = n, .serial = serial_kernel(&w->k)};
    atomic_init(&j.broken, 0);
    if (by_thread)
        qat_pool_for_slots(w->k.pool, by_thread, TOKEN_BLOCK, shared_input_range, &j);
    if (atomic_load(&j.broken))
        return block_failed();
    if (by_thread == N)
        return QAT_OK;
    const qat_packed_acts rest = rows_of(a, by_thread, N - by_thread);
    return gemms_of_one_input(&w->k, &rest, l, y, n, by_thread);
}

/* Layer's q, k and v at once when all three are integer linears of the
 * same quantization of x (k and v's calls then find them done); 0: not. */
static int qkv_at_once(const packed_walk *w, int64_t layer, const float *x)
{
    const pm_linear *l = w->m->layers[layer].lin;
    const pm_act_key q = act_key(&l[QAT_WALK_Q], x), k = act_key(&l[QAT_WALK_K], x), v = act_key(&l[QAT_WALK_V], x);
    return l[QAT_WALK_Q].integer && l[QAT_WALK_K].integer && l[QAT_WALK_V].integer && same_key(&q, &k) &&
           same_key(&q, &v);
}

static qat_status qkv(packed_walk *w, int64_t layer, const float *x)
{
    qat_packed_model *m = w->m;
    const pm_linear *l = m->layers[layer].lin;
    qat_packed_acts *a;
    QAT_TRY(integer_input(m, &w->k, &l[QAT_WALK_Q], x, &w->held, &a));
    const pm_linear *const lins[3] = {&l[QAT_WALK_Q], &l[QAT_WALK_K], &l[QAT_WALK_V]};
    float *const ys[3] = {m->s.q, m->s.k, m->s.v};
    rewrites(w, m->s.k);
    rewrites(w, m->s.v);
    QAT_TRY(linears_of_one_input(w, a, lins, ys, 3));
    w->kv_done = layer;
    return QAT_OK;
}

/* The integer linear that reads what a LayerNorm (norm, layer) writes, or
 * NULL: the next layer's q (k and v share its quantization when their
 * quantizers agree), the layer's intermediate dense, or none (the head). */
static const pm_linear *linear_after_norm(const qat_packed_model *m, qat_walk_norm norm, int64_t layer)
{
    const pm_linear *l = NULL;
    if (norm == QAT_WALK_NORM_EMBEDDINGS && m->dims.num_layers > 0)
        l = &m->layers[0].lin[QAT_WALK_Q];
    else if (norm == QAT_WALK_NORM_ATTENTION)
        l = &m->layers[layer].lin[QAT_WALK_INTER];
    else if (norm == QAT_WALK_NORM_OUTPUT && layer + 1 < m->dims.num_layers)
        l = &m->layers[layer + 1].lin[QAT_WALK_Q];
    return l && l->integer ? l : NULL;
}

static qat_status walk_embed_sum(void *self, float **sum)
{
    packed_walk *w = self;
    qat_packed_model *m = w->m;
    pm_scratch *s = &m->s;
    rewrites(w, s->tmp);
    memset(s->tmp, 0, (size_t)(s->N * m->dims.hidden_size) * sizeof(float));
    QAT_TRY(gather_add(m, &m->word, s->ids, s->tmp));
    QAT_TRY(gather_add(m, &m->type, s->types, s->tmp));
    QAT_TRY(gather_add(m, &m->pos, s->pos, s->tmp));
    *sum = s->tmp;
    return QAT_OK;
}

/* Every layer in the same scratch: out overwrites x once x is used. */
static void walk_layer_buffers(void *self, int64_t layer, qat_walk_layer *b)
{
    pm_scratch *s = &((packed_walk *)self)->m->s;
    (void)layer;
    *b = (qat_walk_layer){.x = s->x, .q = s->q, .k = s->k, .v = s->v, .ctx = s->ctxv, .res1 = s->res,
                          .h1 = s->h1, .act = s->wide, .res2 = s->res, .out = s->x};
}

static float *walk_hidden(void *self)
{
    return ((packed_walk *)self)->m->s.x;
}

static float *walk_head_buffer(void *self, qat_walk_head_buf which)
{
    pm_scratch *s = &((packed_walk *)self)->m->s;
    return which == QAT_WALK_BUF_MLM_ACT ? s->q : s->h1;
}

static qat_status head_linear(qat_packed_model *m, const qat_packed_kernel *k, const qat_walk_call *c,
                              const float *x, int64_t R, float *y)
{
    const int64_t H = m->dims.hidden_size;
    const float *w, *b;
    int64_t out = H;
    qat_activation act = QAT_ACTIVATION_NONE;
    switch (c->linear) {
    case QAT_WALK_POOLER:
        w = m->pool_w, b = m->pool_b, act = QAT_ACTIVATION_TANH;
        break;
    case QAT_WALK_CLASSIFIER:
        w = m->cls_w, b = m->cls_b, out = m->num_labels;
        break;
    case QAT_WALK_MLM_DENSE:
        w = m->mlm_dense_w, b = m->mlm_dense_b, act = QAT_ACTIVATION_GELU;
        break;
    case QAT_WALK_MLM_DECODER:
        w = m->mlm_decoder_w, b = m->mlm_bias, out = m->dims.vocab_size;
        break;
    default:
        return qat_fail(QAT_ERR_INTERNAL, "packed forward: linear %d is not a head's", (int)c->linear);
    }
    float *pre = act == QAT_ACTIVATION_NONE ? y : m->s.tmp;
    QAT_TRY(float_gemm(k, x, R, w, out, H, pre));
    QAT_RUN(m->ctx, bias_act_fwd, pre, b, R, out, act, y);
    return QAT_OK;
}

static qat_status walk_linear(void *self, const qat_walk_call *c, const float *x, int64_t rows, float *y)
{
    packed_walk *w = self;
    qat_packed_model *m = w->m;
    QAT_TRY(add_pending(w));
    rewrites(w, y);
    if (c->layer < 0)
        return head_linear(m, &w->k, c, x, rows, y);
    const pm_linear *l = &m->layers[c->layer].lin[c->linear];
    switch (c->epilogue) {
    case QAT_WALK_PLAIN:
        if (c->linear == QAT_WALK_Q && y == m->s.q && qkv_at_once(w, c->layer, x))
            return qkv(w, c->layer, x);
        if (w->kv_done == c->layer &&
            ((c->linear == QAT_WALK_K && y == m->s.k) || (c->linear == QAT_WALK_V && y == m->s.v)))
            return QAT_OK;
        return linear(m, &w->k, l, x, y, &w->held);
    case QAT_WALK_GELU: {
        const pm_linear *next = &m->layers[c->layer].lin[QAT_WALK_OUT];
        if (l->integer && next->integer)
            return intermediate_by_blocks(w, l, next, x, y);
        QAT_TRY(linear(m, &w->k, l, x, y, &w->held));
        if (!next->integer) {
            QAT_RUN(m->ctx, bias_act_fwd, y, NULL, rows, l->out, QAT_ACTIVATION_GELU, y);
            return QAT_OK;
        }
        row_pass p = {.m = m, .x = y, .y = y, .cols = l->out};
        return run_row_pass(w, &p, next);
    }
    case QAT_WALK_RESIDUAL:
        /* Run by the LayerNorm that follows, with the residual's sum. */
        w->pending = (pending_linear){.l = l, .x = x, .residual = c->residual, .y = y, .n = rows * l->out};
        return QAT_OK;
    case QAT_WALK_TANH:
        break;
    }
    return qat_fail(QAT_ERR_INTERNAL, "packed forward: epilogue %d on an encoder linear", (int)c->epilogue);
}

/* ctx = softmax(q k^T / sqrt(dh) + key mask) v, fused per head (the
 * backend's attention_fwd: no [B, NH, L, L] scores). */
static qat_status walk_attention(void *self, int64_t layer, const qat_walk_layer *b)
{
    packed_walk *w = self;
    qat_packed_model *m = w->m;
    pm_scratch *s = &m->s;
    const int64_t H = m->dims.hidden_size, NH = m->dims.num_heads, dh = H / NH;
    (void)layer;
    QAT_TRY(add_pending(w));
    rewrites(w, b->ctx);
    /* No key bias when no key is masked: adding its zeros changes nothing
     * but a -0 score into +0, whose exp(s - max) is the same. */
    const qat_attention_desc d = {.batch = s->B, .heads = NH, .lq = s->L, .lk = s->L, .head_dim = dh,
                                  .scale = 1.0f / sqrtf((float)dh), .q = b->q, .ldq = H, .k = b->k, .ldk = H,
                                  .v = b->v, .ldv = H, .key_bias = s->any_masked ? s->key_bias : NULL,
                                  .out = b->ctx, .ldo = H};
    QAT_RUN(m->ctx, attention_fwd, &d);
    return QAT_OK;
}

static qat_status walk_layernorm(void *self, qat_walk_norm norm, int64_t layer, const float *x, int64_t rows,
                                 float *y)
{
    packed_walk *w = self;
    qat_packed_model *m = w->m;
    const float *wt, *b;
    switch (norm) {
    case QAT_WALK_NORM_EMBEDDINGS:
        wt = m->emb_ln_w, b = m->emb_ln_b;
        break;
    case QAT_WALK_NORM_ATTENTION:
        wt = m->layers[layer].ln1_w, b = m->layers[layer].ln1_b;
        break;
    case QAT_WALK_NORM_OUTPUT:
        wt = m->layers[layer].ln2_w, b = m->layers[layer].ln2_b;
        break;
    default:
        wt = m->mlm_ln_w, b = m->mlm_ln_b;
        break;
    }
    const pm_linear *next = linear_after_norm(m, norm, layer);
    const int joins = w->pending.y == x && w->pending.n == rows * m->dims.hidden_size;
    if (!next || !joins)
        QAT_TRY(add_pending(w));
    rewrites(w, x);
    rewrites(w, y);
    if (!next) {
        QAT_RUN(m->ctx, layernorm_fwd, x, wt, b, m->dims.layer_norm_eps, rows, m->dims.hidden_size, y, m->s.mean,
                m->s.rstd);
        return QAT_OK;
    }
    if (w->pending.y && w->pending.l->integer)
        return residual_norm_by_blocks(w, wt, b, next, y);
    /* x is the runner's own buffer (the residual's sum, or the embeddings'). */
    row_pass p = {.m = m, .x = (float *)x, .w = wt, .b = b, .y = y, .cols = m->dims.hidden_size};
    if (w->pending.y) { /* a float residual linear: its output, then the sum in the row pass */
        const pending_linear pl = w->pending;
        w->pending.y = NULL;
        QAT_TRY(linear(m, &w->k, pl.l, pl.x, pl.y, &w->held));
        p.residual = pl.residual;
    }
    return run_row_pass(w, &p, next);
}

/* Inference: no dropout. */
static qat_status walk_dropout(void *self, qat_walk_drop place, int active, float *x, int64_t n, float **out)
{
    (void)self, (void)place, (void)active, (void)n;
    *out = x;
    return QAT_OK;
}

static qat_status walk_head_rows(void *self, const float *hidden, float **x, int64_t *rows)
{
    packed_walk *w = self;
    qat_packed_model *m = w->m;
    pm_scratch *s = &m->s;
    QAT_TRY(add_pending(w));
    rewrites(w, s->k);
    const int64_t H = m->dims.hidden_size;
    if (m->task != QAT_TASK_SEQUENCE_CLASSIFICATION) {
        *x = (float *)hidden; /* s->x, the runner's own buffer */
        *rows = s->N;
        return QAT_OK;
    }
    /* Not in s->tmp: head_linear puts pre-activations there. */
    for (int64_t b = 0; b < s->B; b++)
        memcpy(s->k + b * H, hidden + b * s->L * H, (size_t)H * sizeof(float));
    *x = s->k;
    *rows = s->B;
    return QAT_OK;
}

static const qat_walk_ops packed_walk_ops = {
    .embed_sum = walk_embed_sum,
    .layer_buffers = walk_layer_buffers,
    .hidden = walk_hidden,
    .head_buffer = walk_head_buffer,
    .linear = walk_linear,
    .attention = walk_attention,
    .layernorm = walk_layernorm,
    .dropout = walk_dropout,
    .head_rows = walk_head_rows,
};

/* The walk, with the head (logits != NULL) or without (the last hidden
 * state is left in m->s.x). */
static qat_status run_walk(qat_packed_model *m, const int32_t *ids, const int32_t *mask, const int32_t *types,
                           int64_t B, int64_t L, float *logits)
{
    packed_walk w = {.m = m, .kv_done = -1};
    QAT_TRY(pm_kernel(m, &w.k));
    QAT_TRY(pm_prepare_weights(m, w.k.isa));
    QAT_TRY(prepare_scratch(m, B, L));
    QAT_TRY(prepare_inputs(m, ids, mask, types));
    const qat_walk walk = {.dims = &m->dims, .task = m->task, .B = B, .L = L, .ops = &packed_walk_ops, .self = &w,
                           .out = logits, .encoder_only = logits == NULL};
    QAT_TRY(qat_encoder_walk(&walk));
    return add_pending(&w);
}

qat_status pm_forward(qat_packed_model *m, const int32_t *ids, const int32_t *mask, const int32_t *types, int64_t B,
                      int64_t L, float *logits)
{
    return run_walk(m, ids, mask, types, B, L, logits);
}

qat_status pm_embed(qat_packed_model *m, const int32_t *ids, const int32_t *mask, const int32_t *types, int64_t B,
                    int64_t L, qat_pooling pooling, uint32_t flags, float *out)
{
    QAT_TRY(run_walk(m, ids, mask, types, B, L, NULL));
    qat_pool_hidden(m->s.x, mask, B, L, m->dims.hidden_size, pooling, flags, out);
    return QAT_OK;
}
