/* The packed forward: lib/model/forward.c's inference pass with the integer
 * GEMMs of lib/packed for every linear whose weight and input are both
 * quantized. Float parts (LayerNorm, softmax attention, GELU, heads) run
 * the same backend kernels as the training model (cpu backend: oneDNN
 * sgemm, ref kernels for the rest), so the only differences from
 * qat_model_forward are the accumulation order of the GEMMs and the
 * activation scale m/Qp vs q*m/Qp (docs/packed-kernels.md).
 * Shapes: N = B * L tokens, H hidden, I intermediate, NH heads, dh = H/NH. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "export/packed_model.h"
#include "model/graph.h"

/* torch.finfo(float32).min, as forward.c. */
#define MASKED_SCORE (-3.4028234663852886e+38f)

int64_t pm_classes(const qat_packed_model *m)
{
    return m->task == QAT_TASK_MLM ? m->dims.vocab_size : m->num_labels;
}

qat_status pm_kernel(const qat_packed_model *m, qat_packed_kernel *k)
{
    int64_t threads = 1;
    QAT_TRY(qat_context_get_int(m->ctx, QAT_CTX_THREADS, &threads));
    if (threads < 1)
        threads = 1;
    if (threads > 1024)
        threads = 1024;
    return qat_packed_kernel_init(k, (qat_packed_isa)m->isa_setting, (int)threads);
}

static void *grow(void **p, size_t bytes, int *fail)
{
    free(*p);
    *p = malloc(bytes ? bytes : 1);
    if (!*p)
        *fail = 1;
    return *p;
}

static qat_status prepare_scratch(qat_packed_model *m, int64_t B, int64_t L)
{
    pm_scratch *s = &m->s;
    const int64_t N = B * L, H = m->dims.hidden_size, I = m->dims.intermediate_size, NH = m->dims.num_heads;
    if (s->N == N && s->B == B && s->L == L && s->x)
        return QAT_OK;
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
    grow((void **)&s->wide2, ni, &fail);
    grow((void **)&s->fq, ni > nh ? ni : nh, &fail);
    grow((void **)&s->probs, (size_t)(B * NH * L * L) * sizeof(float), &fail);
    grow((void **)&s->mean, (size_t)N * sizeof(float), &fail);
    grow((void **)&s->rstd, (size_t)N * sizeof(float), &fail);
    grow((void **)&s->row_codes, (size_t)H, &fail);
    qat_packed_acts_free(&s->act_h);
    qat_packed_acts_free(&s->act_i);
    s->N = 0;
    if (fail)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "packed forward: out of memory for batch %lld x %lld", (long long)B,
                        (long long)L);
    QAT_TRY(qat_packed_acts_alloc(N, H, &s->act_h));
    QAT_TRY(qat_packed_acts_alloc(N, I, &s->act_i));
    s->N = N;
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
    for (int64_t b = 0; b < s->B; b++) {
        int64_t count = 0;
        for (int64_t t = 0; t < s->L; t++) {
            int64_t i = b * s->L + t;
            if (ids[i] < 0 || ids[i] >= d->vocab_size)
                return qat_fail(QAT_ERR_INVALID_ARGUMENT, "packed forward: input id %d at [%lld, %lld] is outside the vocabulary (%lld)",
                                ids[i], (long long)b, (long long)t, (long long)d->vocab_size);
            int64_t pos;
            if (d->arch == QAT_ARCH_ROBERTA) {
                int not_pad = ids[i] != d->pad_token_id;
                count += not_pad;
                pos = not_pad ? count + d->pad_token_id : d->pad_token_id;
            } else {
                pos = t;
            }
            if (pos >= d->max_position_embeddings)
                return qat_fail(QAT_ERR_INVALID_ARGUMENT, "packed forward: position %lld exceeds max_position_embeddings (%lld)",
                                (long long)pos, (long long)d->max_position_embeddings);
            int32_t type = types ? types[i] : 0;
            if (type < 0 || type >= d->type_vocab_size)
                return qat_fail(QAT_ERR_INVALID_ARGUMENT, "packed forward: token type %d outside [0, %lld)", type,
                                (long long)d->type_vocab_size);
            s->pos[i] = (int32_t)pos;
            s->types[i] = type;
            s->ids[i] = ids[i];
            s->key_bias[i] = (mask && mask[i] == 0) ? MASKED_SCORE : 0.0f;
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
            QAT_TRY(qat_packed_unpack_codes(&t->codes, index[i], 1, m->s.row_codes));
            const float step = t->codes.scale[0];
            for (int64_t c = 0; c < H; c++)
                dst[c] += (float)m->s.row_codes[c] * step;
        }
    }
    return QAT_OK;
}

static qat_status embeddings(qat_packed_model *m, float *out)
{
    pm_scratch *s = &m->s;
    const int64_t N = s->N, H = m->dims.hidden_size;
    memset(s->tmp, 0, (size_t)(N * H) * sizeof(float));
    QAT_TRY(gather_add(m, &m->word, s->ids, s->tmp));
    QAT_TRY(gather_add(m, &m->type, s->types, s->tmp));
    QAT_TRY(gather_add(m, &m->pos, s->pos, s->tmp));
    QAT_RUN(m->ctx, layernorm_fwd, s->tmp, m->emb_ln_w, m->emb_ln_b, m->dims.layer_norm_eps, N, H, out, s->mean,
            s->rstd);
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

static qat_status quantize_input(const qat_packed_model *m, const qat_packed_kernel *k, const pm_linear *l,
                                 const float *x, qat_packed_acts *a)
{
    switch (l->aq.algo) {
    case QAT_ALGO_LSQ:
        return qat_packed_quantize_lsq_eps(k, x, l->in, l->aq.bits, l->astep, qat_quant_step_eps(&m->cfg), a);
    case QAT_ALGO_LSQ_PLUS:
        return qat_packed_quantize_lsq_plus(k, x, l->in, l->aq.bits, l->astep, l->aoffset, qat_quant_step_eps(&m->cfg),
                                            a);
    case QAT_ALGO_BITNET158:
        return qat_packed_quantize_bitnet(k, x, l->in, l->aq.bits, qat_quant_symmetric_acts(&m->cfg), a);
    default:
        return qat_fail(QAT_ERR_INTERNAL, "packed forward: input quantizer %d has no integer path", (int)l->aq.algo);
    }
}

/* y[N, out] = A(x) W^T + b. */
static qat_status linear(qat_packed_model *m, const qat_packed_kernel *k, const pm_linear *l, const float *x,
                         float *y, pm_act_key *held)
{
    pm_scratch *s = &m->s;
    const int64_t N = s->N;
    if (l->integer) {
        qat_packed_acts *a = l->in == m->dims.hidden_size ? &s->act_h : &s->act_i;
        const int lsq = l->aq.algo == QAT_ALGO_LSQ || l->aq.algo == QAT_ALGO_LSQ_PLUS;
        const pm_act_key want = {.x = x, .algo = l->aq.algo, .bits = l->aq.bits,
                                 .step = lsq ? l->astep : 0.0f,
                                 .offset = l->aq.algo == QAT_ALGO_LSQ_PLUS ? l->aoffset : 0.0f};
        if (held->x != want.x || held->algo != want.algo || held->bits != want.bits || held->step != want.step ||
            held->offset != want.offset || a->bits != want.bits) {
            held->x = NULL;
            QAT_TRY(quantize_input(m, k, l, x, a));
            *held = want;
        }
        /* LSQ+: the offset's constant term is in ibias (pm_load.c). */
        return qat_packed_gemm(k, a, &l->pw, l->ibias ? l->ibias : l->bias, y, l->out);
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
    QAT_TRY(graph_gemm(m->ctx, 0, 1, N, l->out, l->in, 1.0f, xq, l->in, l->wf, l->in, 0.0f, y, l->out));
    QAT_RUN(m->ctx, bias_act_fwd, y, l->bias, N, l->out, QAT_ACTIVATION_NONE, NULL);
    return QAT_OK;
}

static qat_status layer(qat_packed_model *m, const qat_packed_kernel *k, const pm_layer *Ly)
{
    pm_scratch *s = &m->s;
    qat_context *ctx = m->ctx;
    const int64_t B = s->B, S = s->L, N = s->N, H = m->dims.hidden_size, I = m->dims.intermediate_size;
    const int64_t NH = m->dims.num_heads, dh = H / NH;
    const float eps = m->dims.layer_norm_eps;
    pm_act_key held = {0};
    QAT_TRY(linear(m, k, &Ly->lin[PM_Q], s->x, s->q, &held));
    QAT_TRY(linear(m, k, &Ly->lin[PM_K], s->x, s->k, &held));
    QAT_TRY(linear(m, k, &Ly->lin[PM_V], s->x, s->v, &held));
    const float scale = 1.0f / sqrtf((float)dh);
    for (int64_t b = 0; b < B; b++)
        QAT_TRY(graph_gemm_batched(ctx, 0, 1, S, S, dh, scale, s->q + b * S * H, H, dh, s->k + b * S * H, H, dh,
                                   0.0f, s->probs + b * NH * S * S, S, S * S, NH));
    QAT_RUN(ctx, softmax_fwd, s->probs, s->key_bias, B, NH, S, S);
    for (int64_t b = 0; b < B; b++)
        QAT_TRY(graph_gemm_batched(ctx, 0, 0, S, dh, S, 1.0f, s->probs + b * NH * S * S, S, S * S, s->v + b * S * H,
                                   H, dh, 0.0f, s->ctxv + b * S * H, H, dh, NH));
    QAT_TRY(linear(m, k, &Ly->lin[PM_ATTN_OUT], s->ctxv, s->res, &held));
    QAT_RUN(ctx, add, s->res, s->x, s->res, N * H);
    QAT_RUN(ctx, layernorm_fwd, s->res, Ly->ln1_w, Ly->ln1_b, eps, N, H, s->h1, s->mean, s->rstd);
    QAT_TRY(linear(m, k, &Ly->lin[PM_INTER], s->h1, s->wide, &held));
    QAT_RUN(ctx, bias_act_fwd, s->wide, NULL, N, I, QAT_ACTIVATION_GELU, s->wide2);
    QAT_TRY(linear(m, k, &Ly->lin[PM_OUT], s->wide2, s->res, &held));
    QAT_RUN(ctx, add, s->res, s->h1, s->res, N * H);
    QAT_RUN(ctx, layernorm_fwd, s->res, Ly->ln2_w, Ly->ln2_b, eps, N, H, s->x, s->mean, s->rstd);
    return QAT_OK;
}

static qat_status head(qat_packed_model *m, float *logits)
{
    pm_scratch *s = &m->s;
    qat_context *ctx = m->ctx;
    const int64_t N = s->N, H = m->dims.hidden_size;
    if (m->task == QAT_TASK_SEQUENCE_CLASSIFICATION) {
        /* First token of each sequence -> dense -> tanh -> classifier, as
         * the training model's head (dropout is off at inference). */
        const int64_t B = s->B, C = m->num_labels;
        for (int64_t b = 0; b < B; b++)
            memcpy(s->tmp + b * H, s->x + b * s->L * H, (size_t)H * sizeof(float));
        QAT_TRY(graph_gemm(ctx, 0, 1, B, H, H, 1.0f, s->tmp, H, m->pool_w, H, 0.0f, s->q, H));
        QAT_RUN(ctx, bias_act_fwd, s->q, m->pool_b, B, H, QAT_ACTIVATION_TANH, s->h1);
        QAT_TRY(graph_gemm(ctx, 0, 1, B, C, H, 1.0f, s->h1, H, m->cls_w, H, 0.0f, logits, C));
        QAT_RUN(ctx, bias_act_fwd, logits, m->cls_b, B, C, QAT_ACTIVATION_NONE, NULL);
        return QAT_OK;
    }
    if (m->task == QAT_TASK_TOKEN_CLASSIFICATION) {
        QAT_TRY(graph_gemm(ctx, 0, 1, N, m->num_labels, H, 1.0f, s->x, H, m->cls_w, H, 0.0f, logits, m->num_labels));
        QAT_RUN(ctx, bias_act_fwd, logits, m->cls_b, N, m->num_labels, QAT_ACTIVATION_NONE, NULL);
        return QAT_OK;
    }
    const int64_t V = m->dims.vocab_size;
    QAT_TRY(graph_gemm(ctx, 0, 1, N, H, H, 1.0f, s->x, H, m->mlm_dense_w, H, 0.0f, s->tmp, H));
    QAT_RUN(ctx, bias_act_fwd, s->tmp, m->mlm_dense_b, N, H, QAT_ACTIVATION_GELU, s->q);
    QAT_RUN(ctx, layernorm_fwd, s->q, m->mlm_ln_w, m->mlm_ln_b, m->dims.layer_norm_eps, N, H, s->h1, s->mean,
            s->rstd);
    QAT_TRY(graph_gemm(ctx, 0, 1, N, V, H, 1.0f, s->h1, H, m->mlm_decoder_w, H, 0.0f, logits, V));
    QAT_RUN(ctx, bias_act_fwd, logits, m->mlm_bias, N, V, QAT_ACTIVATION_NONE, NULL);
    return QAT_OK;
}

qat_status pm_forward(qat_packed_model *m, const int32_t *ids, const int32_t *mask, const int32_t *types, int64_t B,
                      int64_t L, float *logits)
{
    qat_packed_kernel k;
    QAT_TRY(pm_kernel(m, &k));
    QAT_TRY(prepare_scratch(m, B, L));
    QAT_TRY(prepare_inputs(m, ids, mask, types));
    QAT_TRY(embeddings(m, m->s.x));
    for (int64_t i = 0; i < m->dims.num_layers; i++)
        QAT_TRY(layer(m, &k, &m->layers[i]));
    return head(m, logits);
}
