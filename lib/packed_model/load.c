/* From parsed .qatp records to a packed model: every record's kind, shape
 * and size is checked against the config before anything is allocated. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "packed_model/packed_model.h"

static qat_status read_f32(const qatp_file *f, const char *name, int64_t d0, int64_t d1, float **out)
{
    const qatp_record *r;
    QAT_TRY(qatp_find(f, name, QATP_F32, &r));
    uint32_t ndim = r->size >= 8 ? qatp_u32(r->payload) : 0;
    uint32_t want_ndim = d1 ? 2 : 1;
    if (r->size < 8 || ndim != want_ndim || r->size < 8 + 8 * (uint64_t)ndim)
        return qat_fail(QAT_ERR_FORMAT, "packed model: tensor '%s' has %u dimensions, expected %u", name, ndim,
                        want_ndim);
    int64_t s0 = (int64_t)qatp_u64(r->payload + 8), s1 = ndim == 2 ? (int64_t)qatp_u64(r->payload + 16) : 0;
    if (s0 != d0 || s1 != d1)
        return qat_fail(QAT_ERR_FORMAT, "packed model: tensor '%s' has shape [%lld, %lld], expected [%lld, %lld]",
                        name, (long long)s0, (long long)s1, (long long)d0, (long long)d1);
    uint64_t n = (uint64_t)d0 * (uint64_t)(d1 ? d1 : 1);
    if (r->size != 8 + 8 * (uint64_t)ndim + 4 * n)
        return qat_fail(QAT_ERR_FORMAT, "packed model: tensor '%s' has %llu bytes, expected %llu", name,
                        (unsigned long long)r->size, (unsigned long long)(8 + 8 * ndim + 4 * n));
    float *v = malloc(n ? (size_t)n * sizeof(float) : 1);
    if (!v)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "packed model: out of memory for '%s'", name);
    memcpy(v, r->payload + 8 + 8 * ndim, (size_t)n * 4); /* little-endian host (checked in packed_api.c) */
    *out = v;
    return QAT_OK;
}

/* A packed weight matrix [out, in]; lsq_bits > 0 requires LSQ codes of
 * that width, 0 requires ternary. */
static qat_status read_packed(const qatp_file *f, const char *name, int64_t out, int64_t in, int lsq_bits,
                              int per_row, qat_packed_weights *pw)
{
    memset(pw, 0, sizeof *pw);
    const qatp_record *r;
    QAT_TRY(qatp_find(f, name, QATP_PACKED, &r));
    if (r->size < 40)
        return qat_fail(QAT_ERR_FORMAT, "packed model: packed tensor '%s' too short", name);
    const uint8_t *p = r->payload;
    uint32_t format = qatp_u32(p), bits = qatp_u32(p + 4), row = qatp_u32(p + 8);
    int64_t o = (int64_t)qatp_u64(p + 16), i = (int64_t)qatp_u64(p + 24);
    uint64_t row_bytes = qatp_u64(p + 32);
    int ok_format = lsq_bits ? (format == QAT_PACKED_W_LSQ && (int)bits == lsq_bits)
                             : ((format == QAT_PACKED_W_TERNARY2 || format == QAT_PACKED_W_TERNARY1P6) && bits == 2);
    if (!ok_format)
        return qat_fail(QAT_ERR_FORMAT, "packed model: '%s' has format %u with %u bits, the quant config wants %s%d",
                        name, format, bits, lsq_bits ? "LSQ " : "ternary ", lsq_bits ? lsq_bits : 2);
    if ((int)row != per_row || o != out || i != in)
        return qat_fail(QAT_ERR_FORMAT, "packed model: '%s' is [%lld, %lld] per_row %u, expected [%lld, %lld] per_row %d",
                        name, (long long)o, (long long)i, row, (long long)out, (long long)in, per_row);
    if (row_bytes != qat_packed_row_bytes((qat_packed_wformat)format, (int)bits, in))
        return qat_fail(QAT_ERR_FORMAT, "packed model: '%s' has %llu bytes per row, expected %zu", name,
                        (unsigned long long)row_bytes, qat_packed_row_bytes((qat_packed_wformat)format, (int)bits, in));
    uint64_t n_scale = per_row ? (uint64_t)out : 1;
    uint64_t data_at = (40 + 4 * n_scale + 7) & ~(uint64_t)7;
    if (r->size != data_at + (uint64_t)out * row_bytes)
        return qat_fail(QAT_ERR_FORMAT, "packed model: '%s' has %llu bytes, expected %llu", name,
                        (unsigned long long)r->size, (unsigned long long)(data_at + (uint64_t)out * row_bytes));
    pw->format = (qat_packed_wformat)format;
    pw->bits = (int)bits;
    pw->offset = lsq_bits ? 1 << (bits - 1) : 1;
    pw->qmin = lsq_bits ? -(1 << (bits - 1)) : -1;
    pw->qmax = lsq_bits ? (1 << (bits - 1)) - 1 : 1;
    pw->out = out;
    pw->in = in;
    pw->per_row = per_row;
    pw->row_bytes = (size_t)row_bytes;
    pw->scale = malloc((size_t)n_scale * sizeof(float));
    pw->data = malloc((out * row_bytes) != 0 ? (size_t)(out * row_bytes) : 1);
    if (!pw->scale || !pw->data) {
        qat_packed_weights_free(pw);
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "packed model: out of memory for '%s'", name);
    }
    for (uint64_t k = 0; k < n_scale; k++) {
        pw->scale[k] = qatp_f32(p + 40 + 4 * k);
        if (!(pw->scale[k] > 0.0f) || !isfinite(pw->scale[k])) {
            qat_packed_weights_free(pw);
            return qat_fail(QAT_ERR_FORMAT, "packed model: '%s' has scale %g (must be finite and > 0)", name,
                            (double)qatp_f32(p + 40 + 4 * k));
        }
    }
    memcpy(pw->data, p + data_at, (size_t)(out * row_bytes));
    if (format == QAT_PACKED_W_TERNARY2)
        for (uint64_t k = 0; k < (uint64_t)out * row_bytes; k++) {
            uint8_t b = pw->data[k];
            if ((b & 3) == 3 || (b >> 2 & 3) == 3 || (b >> 4 & 3) == 3 || (b >> 6) == 3) {
                qat_packed_weights_free(pw);
                return qat_fail(QAT_ERR_FORMAT, "packed model: '%s' holds an invalid ternary code", name);
            }
        }
    return QAT_OK;
}

/* Float weights from codes: q * scale, exactly the fake quantizer's value. */
static qat_status dequantize(const qat_packed_weights *pw, float **out)
{
    size_t n = (size_t)(pw->out * pw->in);
    float *w = malloc(n ? n * sizeof(float) : 1);
    int8_t *q = malloc(n ? n : 1);
    qat_status st = (w && q) ? qat_packed_unpack_codes(pw, 0, pw->out, q)
                             : qat_fail(QAT_ERR_OUT_OF_MEMORY, "packed model: out of memory");
    if (st == QAT_OK)
        for (int64_t r = 0; r < pw->out; r++) {
            float s = pw->scale[pw->per_row ? r : 0];
            for (int64_t c = 0; c < pw->in; c++)
                w[r * pw->in + c] = (float)q[r * pw->in + c] * s;
        }
    free(q);
    if (st != QAT_OK) {
        free(w);
        return st;
    }
    *out = w;
    return QAT_OK;
}

/* The same from the kernels' layout (pm_use_float_linears). */
static qat_status dequantize_matrix(const qat_packed_matrix *mat, float **out)
{
    float *w = malloc((size_t)(mat->out * mat->in) * sizeof(float) + 1);
    if (!w)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "packed model: out of memory");
    for (int64_t r = 0; r < mat->out; r++) {
        const float s = mat->scale[mat->per_row ? r : 0];
        for (int64_t c = 0; c < mat->in; c++)
            w[r * mat->in + c] = (float)((int)qat_packed_matrix_code(mat, r, c) - mat->offset) * s;
    }
    *out = w;
    return QAT_OK;
}

/* The LSQ+ input's constant term, folded into the bias the integer
 * epilogue adds. With stored codes c = u - 2^(b-1) the input is
 * x_hat = c s + beta', beta' = beta + 2^(b-1) s, so
 *     y[o] = s sw[o] sum_k c_k qw[o,k] + beta' sw[o] sum_k qw[o,k] + b[o].
 * qw are the signed weight codes (unpack_codes removes the storage offset
 * of ternary and LSQ rows alike); sw is per row or per tensor. Computed in
 * double and rounded once: the fake forward's x_hat = u s + beta is exact
 * up to its own rounding, so this keeps the folded term at least as close. */
static qat_status fold_lsq_plus_bias(pm_linear *l, const qat_packed_weights *pw)
{
    int8_t *q = malloc((size_t)pw->in);
    l->ibias = malloc((size_t)pw->out * sizeof(float));
    if (!q || !l->ibias) {
        free(q);
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "packed model: out of memory for an LSQ+ bias of %lld",
                        (long long)pw->out);
    }
    const double beta = (double)l->aoffset + (double)(1 << (l->aq.bits - 1)) * (double)l->astep;
    for (int64_t o = 0; o < pw->out; o++) {
        qat_status st = qat_packed_unpack_codes(pw, o, 1, q);
        if (st != QAT_OK) {
            free(q);
            return st;
        }
        int64_t sum = 0;
        for (int64_t i = 0; i < pw->in; i++)
            sum += q[i];
        const double sw = (double)pw->scale[pw->per_row ? o : 0];
        l->ibias[o] = (float)((double)l->bias[o] + beta * sw * (double)sum);
    }
    free(q);
    return QAT_OK;
}

static qat_status read_linear(const qatp_file *f, const qat_quant_config *cfg, int64_t layer, int j, int64_t out,
                              int64_t in, pm_linear *l)
{
    char n[QATP_NAME_MAX + 1];
    const qat_class_quant *wc = &cfg->cls[QAT_CLASS_WEIGHT], *ac = &cfg->cls[QAT_CLASS_ACTIVATION];
    l->out = out;
    l->in = in;
    snprintf(n, sizeof n, "encoder.layer.%lld.%s.input_quantizer", (long long)layer, qatp_linear_names[j]);
    const qatp_record *r;
    QAT_TRY(qatp_find(f, n, QATP_ACTQ, &r));
    if (r->size != 24)
        return qat_fail(QAT_ERR_FORMAT, "packed model: '%s' has %llu bytes, expected 24", n,
                        (unsigned long long)r->size);
    l->aq.algo = (qat_quant_algo)qatp_u32(r->payload);
    l->aq.bits = (int)qatp_u32(r->payload + 4);
    l->aq.granularity = (qat_granularity)qatp_u32(r->payload + 8);
    l->astep = qatp_f32(r->payload + 16);
    l->aoffset = qatp_f32(r->payload + 20);
    const uint32_t symmetric = (uint32_t)qat_quant_symmetric_acts(cfg);
    if (l->aq.algo != ac->algo || l->aq.bits != ac->bits || l->aq.granularity != ac->granularity ||
        qatp_u32(r->payload + 12) != symmetric)
        return qat_fail(QAT_ERR_FORMAT, "packed model: '%s' disagrees with the quant config", n);
    if (ac->algo == QAT_ALGO_LSQ_PLUS && !isfinite(l->aoffset))
        return qat_fail(QAT_ERR_FORMAT, "packed model: '%s' has offset %g (must be finite)", n, (double)l->aoffset);
    if ((ac->algo == QAT_ALGO_LSQ || ac->algo == QAT_ALGO_LSQ_PLUS) && (!(l->astep > 0.0f) || !isfinite(l->astep)))
        return qat_fail(QAT_ERR_FORMAT, "packed model: '%s' has step %g (must be finite and > 0)", n,
                        (double)l->astep);
    snprintf(n, sizeof n, "encoder.layer.%lld.%s.bias", (long long)layer, qatp_linear_names[j]);
    QAT_TRY(read_f32(f, n, out, 0, &l->bias));
    snprintf(n, sizeof n, "encoder.layer.%lld.%s.weight", (long long)layer, qatp_linear_names[j]);
    if (wc->algo == QAT_ALGO_NONE)
        return read_f32(f, n, out, in, &l->wf);
    qat_packed_weights pw;
    QAT_TRY(read_packed(f, n, out, in, wc->algo == QAT_ALGO_LSQ ? wc->bits : 0, wc->granularity == QAT_GRAN_ROW,
                        &pw));
    qat_status st;
    if (ac->algo != QAT_ALGO_NONE) {
        /* The file's row-packed codes are reordered once into the
         * micro-kernels' panels; the forward only reads those. */
        l->integer = 1;
        st = ac->algo == QAT_ALGO_LSQ_PLUS ? fold_lsq_plus_bias(l, &pw) : QAT_OK;
        if (st == QAT_OK)
            st = qat_packed_matrix_from(&pw, &l->mat);
    } else {
        /* W quantized, A float: the float path with the dequantized weights. */
        st = dequantize(&pw, &l->wf);
    }
    qat_packed_weights_free(&pw);
    return st;
}

qat_status pm_use_float_linears(qat_packed_model *m, qat_quant_algo algo)
{
    QAT_CHECK_ARG(m, "packed model: NULL model");
    for (int64_t i = 0; i < m->dims.num_layers; i++)
        for (int j = 0; j < QATP_LINEARS; j++) {
            pm_linear *l = &m->layers[i].lin[j];
            if (!l->integer || l->aq.algo != algo)
                continue;
            QAT_TRY(dequantize_matrix(&l->mat, &l->wf));
            qat_packed_matrix_free(&l->mat);
            free(l->ibias);
            l->ibias = NULL;
            l->integer = 0;
            m->integer_linears--;
        }
    return QAT_OK;
}

static qat_status read_table(const qatp_file *f, const qat_quant_config *cfg, const char *name, int64_t rows,
                             int64_t H, pm_table *t)
{
    t->rows = rows;
    const qat_class_quant *e = &cfg->cls[QAT_CLASS_EMBEDDING];
    if (e->algo == QAT_ALGO_NONE)
        return read_f32(f, name, rows, H, &t->f);
    if (e->algo != QAT_ALGO_LSQ || e->granularity != QAT_GRAN_TENSOR)
        return qat_fail(QAT_ERR_FORMAT, "packed model: unsupported embedding quantizer");
    QAT_TRY(read_packed(f, name, rows, H, e->bits, 0, &t->codes));
    /* (float)(u - offset) * step: the value the gather used to compute
     * per element from the signed code, the same bits. bits is 2..8 (the
     * quant string's parser refuses others, and read_packed wants the
     * file's to match), so 2^bits fits value_of. */
    for (int u = 0; u < 1 << t->codes.bits; u++)
        t->value_of[u] = (float)(u - t->codes.offset) * t->codes.scale[0];
    return QAT_OK;
}

static qat_status read_config(const qatp_file *f, qat_packed_model *m)
{
    const qatp_record *r;
    QAT_TRY(qatp_find(f, "config", QATP_I64, &r));
    if (r->size != 8 * QATP_CONFIG_COUNT)
        return qat_fail(QAT_ERR_FORMAT, "packed model: record 'config' has %llu bytes, expected %d",
                        (unsigned long long)r->size, 8 * QATP_CONFIG_COUNT);
    int64_t c[QATP_CONFIG_COUNT];
    for (int i = 0; i < QATP_CONFIG_COUNT; i++)
        c[i] = (int64_t)qatp_u64(r->payload + 8 * i);
    qat_model_dims *d = &m->dims;
    const int64_t big = (int64_t)1 << 31;
#define CHECK_RANGE(v, lo, hi, what)                                                                          \
    if ((v) < (lo) || (v) > (hi))                                                                             \
    return qat_fail(QAT_ERR_FORMAT, "packed model: config %s = %lld out of range [%lld, %lld]", what,          \
                    (long long)(v), (long long)(lo), (long long)(hi))
    CHECK_RANGE(c[QATP_CFG_ARCH], 0, 1, "arch");
    CHECK_RANGE(c[QATP_CFG_TASK], 1, 3, "task");
    CHECK_RANGE(c[QATP_CFG_VOCAB], 1, big, "vocab_size");
    CHECK_RANGE(c[QATP_CFG_HIDDEN], 1, QAT_PACKED_MAX_IN, "hidden_size");
    CHECK_RANGE(c[QATP_CFG_LAYERS], 0, 1024, "num_layers");
    CHECK_RANGE(c[QATP_CFG_HEADS], 1, c[QATP_CFG_HIDDEN], "num_heads");
    CHECK_RANGE(c[QATP_CFG_INTER], 1, QAT_PACKED_MAX_IN, "intermediate_size");
    CHECK_RANGE(c[QATP_CFG_MAX_POS], 1, big, "max_position_embeddings");
    CHECK_RANGE(c[QATP_CFG_TYPE_VOCAB], 1, big, "type_vocab_size");
    CHECK_RANGE(c[QATP_CFG_PAD], 0, c[QATP_CFG_VOCAB] - 1, "pad_token_id");
    CHECK_RANGE(c[QATP_CFG_NUM_LABELS], c[QATP_CFG_TASK] == 1 ? 0 : c[QATP_CFG_TASK] == 2 ? 1 : 2, big, "num_labels");
    CHECK_RANGE(c[QATP_CFG_TIE], 0, 1, "tie_word_embeddings");
    CHECK_RANGE(c[QATP_CFG_EPS_BITS], 0, 0xffffffffLL, "layer_norm_eps");
#undef CHECK_RANGE
    if (c[QATP_CFG_HIDDEN] % c[QATP_CFG_HEADS] != 0)
        return qat_fail(QAT_ERR_FORMAT, "packed model: hidden_size %lld is not a multiple of num_heads %lld",
                        (long long)c[QATP_CFG_HIDDEN], (long long)c[QATP_CFG_HEADS]);
    d->arch = (qat_arch)c[QATP_CFG_ARCH];
    m->task = (qat_task)c[QATP_CFG_TASK];
    d->vocab_size = c[QATP_CFG_VOCAB];
    d->hidden_size = c[QATP_CFG_HIDDEN];
    d->num_layers = c[QATP_CFG_LAYERS];
    d->num_heads = c[QATP_CFG_HEADS];
    d->intermediate_size = c[QATP_CFG_INTER];
    d->max_position_embeddings = c[QATP_CFG_MAX_POS];
    d->type_vocab_size = c[QATP_CFG_TYPE_VOCAB];
    d->pad_token_id = c[QATP_CFG_PAD];
    m->num_labels = c[QATP_CFG_NUM_LABELS];
    d->num_labels = m->num_labels;
    d->tie_word_embeddings = (int)c[QATP_CFG_TIE];
    uint32_t eps_bits = (uint32_t)c[QATP_CFG_EPS_BITS];
    memcpy(&d->layer_norm_eps, &eps_bits, 4);
    if (!(d->layer_norm_eps > 0.0f) || !isfinite(d->layer_norm_eps))
        return qat_fail(QAT_ERR_FORMAT, "packed model: layer_norm_eps %g is not finite and > 0",
                        (double)d->layer_norm_eps);
    d->bos_token_id = c[QATP_CFG_BOS];
    d->eos_token_id = c[QATP_CFG_EOS];
    QAT_TRY(qatp_find(f, "model_type", QATP_BYTES, &r));
    if (r->size >= sizeof d->model_type)
        return qat_fail(QAT_ERR_FORMAT, "packed model: model_type too long");
    memcpy(d->model_type, r->payload, (size_t)r->size);
    d->model_type[r->size] = '\0';
    QAT_TRY(qatp_find(f, "quant", QATP_BYTES, &r));
    if (r->size == 0 || r->size > QAT_QUANT_CONFIG_MAX_STRING)
        return qat_fail(QAT_ERR_FORMAT, "packed model: quant string of %llu bytes", (unsigned long long)r->size);
    memcpy(m->quant, r->payload, (size_t)r->size);
    m->quant[r->size] = '\0';
    qat_quant_config *cfg = NULL;
    qat_status st = qat_quant_config_parse(m->quant, &cfg);
    if (st != QAT_OK)
        return qat_fail_prefix(QAT_ERR_FORMAT, "packed model: quant config '%s'", m->quant);
    m->cfg = *cfg;
    qat_quant_config_free(cfg);
    return QAT_OK;
}

static qat_status read_weights(const qatp_file *f, qat_packed_model *m)
{
    const qat_model_dims *d = &m->dims;
    const int64_t H = d->hidden_size, I = d->intermediate_size, V = d->vocab_size;
    QAT_TRY(read_table(f, &m->cfg, "embeddings.word_embeddings.weight", V, H, &m->word));
    QAT_TRY(read_table(f, &m->cfg, "embeddings.position_embeddings.weight", d->max_position_embeddings, H, &m->pos));
    QAT_TRY(read_table(f, &m->cfg, "embeddings.token_type_embeddings.weight", d->type_vocab_size, H, &m->type));
    QAT_TRY(read_f32(f, "embeddings.LayerNorm.weight", H, 0, &m->emb_ln_w));
    QAT_TRY(read_f32(f, "embeddings.LayerNorm.bias", H, 0, &m->emb_ln_b));
    m->layers = calloc((size_t)(d->num_layers ? d->num_layers : 1), sizeof *m->layers);
    if (!m->layers)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "packed model: out of memory");
    char n[QATP_NAME_MAX + 1];
    for (int64_t i = 0; i < d->num_layers; i++) {
        pm_layer *L = &m->layers[i];
        const int64_t outs[QATP_LINEARS] = {H, H, H, H, I, H}, ins[QATP_LINEARS] = {H, H, H, H, H, I};
        for (int j = 0; j < QATP_LINEARS; j++) {
            QAT_TRY(read_linear(f, &m->cfg, i, j, outs[j], ins[j], &L->lin[j]));
            m->integer_linears += L->lin[j].integer;
        }
        float **ln[4] = {&L->ln1_w, &L->ln1_b, &L->ln2_w, &L->ln2_b};
        const char *ln_names[4] = {"attention.output.LayerNorm.weight", "attention.output.LayerNorm.bias",
                                   "output.LayerNorm.weight", "output.LayerNorm.bias"};
        for (int j = 0; j < 4; j++) {
            snprintf(n, sizeof n, "encoder.layer.%lld.%s", (long long)i, ln_names[j]);
            QAT_TRY(read_f32(f, n, H, 0, ln[j]));
        }
    }
    if (m->task == QAT_TASK_MLM) {
        QAT_TRY(read_f32(f, "mlm.dense.weight", H, H, &m->mlm_dense_w));
        QAT_TRY(read_f32(f, "mlm.dense.bias", H, 0, &m->mlm_dense_b));
        QAT_TRY(read_f32(f, "mlm.layer_norm.weight", H, 0, &m->mlm_ln_w));
        QAT_TRY(read_f32(f, "mlm.layer_norm.bias", H, 0, &m->mlm_ln_b));
        QAT_TRY(read_f32(f, "mlm.decoder.weight", V, H, &m->mlm_decoder_w));
        QAT_TRY(read_f32(f, "mlm.bias", V, 0, &m->mlm_bias));
    } else {
        if (m->task == QAT_TASK_SEQUENCE_CLASSIFICATION) {
            QAT_TRY(read_f32(f, "pooler.dense.weight", H, H, &m->pool_w));
            QAT_TRY(read_f32(f, "pooler.dense.bias", H, 0, &m->pool_b));
        }
        QAT_TRY(read_f32(f, "classifier.weight", m->num_labels, H, &m->cls_w));
        QAT_TRY(read_f32(f, "classifier.bias", m->num_labels, 0, &m->cls_b));
    }
    return QAT_OK;
}

qat_status pm_from_file(const qatp_file *f, size_t file_bytes, qat_packed_model **out)
{
    *out = NULL;
    qat_packed_model *m = calloc(1, sizeof *m);
    if (!m)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "packed model: out of memory");
    m->file_bytes = file_bytes;
    m->isa_setting = QAT_PACKED_ISA_AUTO;
    qat_packed_cpu_probe(&m->cpu);
    qat_status st = read_config(f, m);
    if (st == QAT_OK)
        st = pm_load_labels(f, m);
    if (st == QAT_OK)
        st = pm_load_pooling(f, m);
    if (st == QAT_OK)
        st = read_weights(f, m);
    if (st == QAT_OK)
        st = pm_load_tokenizer(f, m);
    if (st == QAT_OK) {
        st = qat_context_create("cpu", &m->ctx);
        if (st != QAT_OK)
            st = qat_context_create("ref", &m->ctx);
    }
    /* The chosen path's weight layout now, so that the first forward costs
     * what the next ones do (onednn: its copy of the codes). A
     * QAT_ISA this CPU cannot run is the forward's error to report, as
     * before: the model still loads (qat info, its isa setting). */
    qat_packed_kernel k;
    if (st == QAT_OK && pm_kernel(m, &k) == QAT_OK)
        st = pm_prepare_weights(m, k.isa);
    if (st != QAT_OK) {
        pm_free(m);
        return st;
    }
    *out = m;
    return QAT_OK;
}

static void free_linear(pm_linear *l)
{
    qat_packed_matrix_free(&l->mat);
    free(l->wf);
    free(l->bias);
    free(l->ibias);
}

void pm_free(qat_packed_model *m)
{
    if (!m)
        return;
    pm_table *tables[3] = {&m->word, &m->pos, &m->type};
    for (int t = 0; t < 3; t++) {
        free(tables[t]->f);
        qat_packed_weights_free(&tables[t]->codes);
    }
    free(m->emb_ln_w);
    free(m->emb_ln_b);
    if (m->layers)
        for (int64_t i = 0; i < m->dims.num_layers; i++) {
            for (int j = 0; j < QATP_LINEARS; j++)
                free_linear(&m->layers[i].lin[j]);
            free(m->layers[i].ln1_w);
            free(m->layers[i].ln1_b);
            free(m->layers[i].ln2_w);
            free(m->layers[i].ln2_b);
        }
    free(m->layers);
    float *heads[10] = {m->mlm_dense_w, m->mlm_dense_b, m->mlm_ln_w, m->mlm_ln_b,
                        m->mlm_decoder_w, m->mlm_bias, m->cls_w, m->cls_b, m->pool_w, m->pool_b};
    for (int i = 0; i < 10; i++)
        free(heads[i]);
    qat_tokenizer_free(m->tokenizer);
    free(m->label_names);
    free(m->label_text);
    pm_scratch *s = &m->s;
    void *bufs[] = {s->ids, s->pos, s->types, s->key_bias, s->x, s->h1, s->q, s->k, s->v, s->ctxv, s->res,
                    s->wide, s->tmp, s->fq, s->mean, s->rstd};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
    qat_packed_acts_free(&s->act_h);
    qat_packed_acts_free(&s->act_i);
    qat_context_free(m->ctx);
    free(m);
}
