#include "quant/quant_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

const char qat_quant_class_letters[QAT_CLASS_COUNT] = {'E', 'W', 'A'};
const char *const qat_quant_class_names[QAT_CLASS_COUNT] = {"embedding", "weight", "activation"};
#define class_names qat_quant_class_names

qat_class_quant qat_class_quant_default(qat_tensor_class cls, int bits, int ternary,
                                        int weights_are_bitnet)
{
    qat_class_quant q = {QAT_ALGO_NONE, 32, QAT_GRAN_TENSOR};
    if (cls == QAT_CLASS_WEIGHT && ternary) {
        q.algo = QAT_ALGO_BITNET158;
        q.bits = 2;
    } else if (bits != 32) {
        q.bits = bits;
        if (cls == QAT_CLASS_ACTIVATION && weights_are_bitnet) {
            q.algo = QAT_ALGO_BITNET158;
            q.granularity = QAT_GRAN_TOKEN;
        } else {
            q.algo = QAT_ALGO_LSQ;
        }
    }
    return q;
}

qat_status qat_class_quant_validate(qat_tensor_class cls, const qat_class_quant *q)
{
    const char *name = class_names[cls];
    switch (q->algo) {
    case QAT_ALGO_NONE:
        QAT_CHECK_ARG(q->bits == 32, "%s: unquantized tensors have 32 bits, not %d", name, q->bits);
        QAT_CHECK_ARG(q->granularity == QAT_GRAN_TENSOR,
                      "%s: an unquantized tensor has no granularity", name);
        return QAT_OK;
    case QAT_ALGO_LSQ:
        QAT_CHECK_ARG(q->bits >= 2 && q->bits <= 8, "%s: LSQ bits must be 2..8, got %d", name, q->bits);
        QAT_CHECK_ARG(q->granularity == QAT_GRAN_TENSOR ||
                          (cls == QAT_CLASS_WEIGHT && q->granularity == QAT_GRAN_ROW),
                      "%s: LSQ supports per-tensor steps%s", name,
                      cls == QAT_CLASS_WEIGHT ? " or per-row steps" : " only");
        return QAT_OK;
    case QAT_ALGO_LSQ_PLUS:
        QAT_CHECK_ARG(cls == QAT_CLASS_ACTIVATION,
                      "%s: LSQ+ (learned offset, unsigned range) applies to activations only", name);
        QAT_CHECK_ARG(q->bits >= 2 && q->bits <= 8, "%s: LSQ+ bits must be 2..8, got %d", name, q->bits);
        QAT_CHECK_ARG(q->granularity == QAT_GRAN_TENSOR, "%s: LSQ+ steps are per tensor", name);
        return QAT_OK;
    case QAT_ALGO_BITNET158:
        if (cls == QAT_CLASS_WEIGHT) {
            QAT_CHECK_ARG(q->bits == 2, "weight: BitNet b1.58 weights are ternary (2 stored bits), got %d",
                          q->bits);
            QAT_CHECK_ARG(q->granularity == QAT_GRAN_TENSOR || q->granularity == QAT_GRAN_ROW,
                          "weight: BitNet b1.58 scales are per tensor or per row");
            return QAT_OK;
        }
        if (cls == QAT_CLASS_ACTIVATION) {
            QAT_CHECK_ARG(q->bits >= 2 && q->bits <= 8,
                          "activation: BitNet activation bits must be 2..8, got %d", q->bits);
            QAT_CHECK_ARG(q->granularity == QAT_GRAN_TOKEN,
                          "activation: BitNet activations are quantized per token");
            return QAT_OK;
        }
        return qat_fail(QAT_ERR_INVALID_ARGUMENT,
                        "embedding: BitNet b1.58 applies to weights and activations, not embeddings");
    }
    return qat_fail(QAT_ERR_INVALID_ARGUMENT, "%s: unknown algorithm %d", name, (int)q->algo);
}

QAT_API qat_status qat_quant_config_create(qat_quant_config **out)
{
    QAT_CHECK_ARG(out != NULL, "qat_quant_config_create: NULL out");
    *out = calloc(1, sizeof **out);
    if (!*out)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "qat_quant_config_create: out of memory");
    qat_quant_config_init_fp32(*out);
    return QAT_OK;
}

void qat_quant_config_init_fp32(qat_quant_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (int c = 0; c < QAT_CLASS_COUNT; c++)
        cfg->cls[c] = qat_class_quant_default((qat_tensor_class)c, 32, 0, 0);
}

QAT_API qat_status qat_quant_config_copy(const qat_quant_config *src, qat_quant_config **out)
{
    QAT_CHECK_ARG(out != NULL, "qat_quant_config_copy: NULL out");
    *out = NULL;
    QAT_CHECK_ARG(src != NULL, "qat_quant_config_copy: NULL config");
    QAT_TRY(qat_quant_config_create(out));
    **out = *src;
    return QAT_OK;
}

QAT_API void qat_quant_config_free(qat_quant_config *cfg)
{
    free(cfg);
}

static qat_status check_class(qat_tensor_class cls)
{
    QAT_CHECK_ARG((int)cls >= 0 && (int)cls < QAT_CLASS_COUNT, "unknown tensor class %d", (int)cls);
    return QAT_OK;
}

QAT_API qat_status qat_quant_config_set(qat_quant_config *cfg, qat_tensor_class cls,
                                        qat_quant_param param, int value)
{
    QAT_CHECK_ARG(cfg != NULL, "qat_quant_config_set: NULL config");
    QAT_TRY(check_class(cls));
    qat_class_quant q = cfg->cls[cls];
    switch (param) {
    case QAT_QP_ALGO:
        QAT_CHECK_ARG(value >= QAT_ALGO_NONE && value <= QAT_ALGO_LSQ_PLUS,
                      "%s: unknown algorithm %d", class_names[cls], value);
        if (value == QAT_ALGO_NONE)
            q = qat_class_quant_default(cls, 32, 0, 0);
        else if (value == QAT_ALGO_LSQ)
            q = qat_class_quant_default(cls, 8, 0, 0);
        else if (value == QAT_ALGO_LSQ_PLUS)
            q = (qat_class_quant){QAT_ALGO_LSQ_PLUS, 8, QAT_GRAN_TENSOR};
        else if (cls == QAT_CLASS_WEIGHT)
            q = qat_class_quant_default(cls, 2, 1, 0);
        else
            q = (qat_class_quant){QAT_ALGO_BITNET158, 8, QAT_GRAN_TOKEN};
        break;
    case QAT_QP_BITS:
        q.bits = value;
        break;
    case QAT_QP_GRANULARITY:
        QAT_CHECK_ARG(value >= QAT_GRAN_TENSOR && value <= QAT_GRAN_TOKEN,
                      "%s: unknown granularity %d", class_names[cls], value);
        q.granularity = (qat_granularity)value;
        break;
    default:
        return qat_fail(QAT_ERR_INVALID_ARGUMENT, "unknown quant parameter %d", (int)param);
    }
    QAT_TRY(qat_class_quant_validate(cls, &q));
    qat_quant_config next = *cfg;
    next.cls[cls] = q;
    QAT_TRY(qat_quant_config_validate(&next));
    *cfg = next;
    return QAT_OK;
}

QAT_API qat_status qat_quant_config_get(const qat_quant_config *cfg, qat_tensor_class cls,
                                        qat_quant_param param, int *value)
{
    QAT_CHECK_ARG(cfg != NULL && value != NULL, "qat_quant_config_get: NULL argument");
    QAT_TRY(check_class(cls));
    const qat_class_quant *q = &cfg->cls[cls];
    switch (param) {
    case QAT_QP_ALGO: *value = q->algo; return QAT_OK;
    case QAT_QP_BITS: *value = q->bits; return QAT_OK;
    case QAT_QP_GRANULARITY: *value = q->granularity; return QAT_OK;
    }
    return qat_fail(QAT_ERR_INVALID_ARGUMENT, "unknown quant parameter %d", (int)param);
}

QAT_API int qat_quant_config_equal(const qat_quant_config *a, const qat_quant_config *b)
{
    if (!a || !b)
        return 0;
    for (int c = 0; c < QAT_CLASS_COUNT; c++)
        if (a->cls[c].algo != b->cls[c].algo || a->cls[c].bits != b->cls[c].bits ||
            a->cls[c].granularity != b->cls[c].granularity)
            return 0;
    for (int s = QAT_QS_FIRST; s <= QAT_QS_LAST; s++)
        if (qat_quant_switch_effective(a, (qat_quant_switch)s) != qat_quant_switch_effective(b, (qat_quant_switch)s))
            return 0;
    return 1;
}

/* ---- Switches and profiles ------------------------------------------- */

static int has_learned_quantizer(const qat_quant_config *cfg)
{
    for (int c = 0; c < QAT_CLASS_COUNT; c++)
        if (cfg->cls[c].algo == QAT_ALGO_LSQ || cfg->cls[c].algo == QAT_ALGO_LSQ_PLUS)
            return 1;
    return 0;
}

int qat_quant_switch_applies(const qat_quant_config *cfg, qat_quant_switch which)
{
    switch (which) {
    case QAT_QS_SHARING:
    case QAT_QS_LSQ_GRADIENT:
        return has_learned_quantizer(cfg);
    case QAT_QS_ACT_RANGE:
        return cfg->cls[QAT_CLASS_ACTIVATION].algo == QAT_ALGO_BITNET158;
    case QAT_QS_MLM_HEAD:
        return cfg->cls[QAT_CLASS_WEIGHT].algo != QAT_ALGO_NONE ||
               cfg->cls[QAT_CLASS_ACTIVATION].algo != QAT_ALGO_NONE;
    }
    return 0;
}

int qat_quant_switch_effective(const qat_quant_config *cfg, qat_quant_switch which)
{
    return qat_quant_switch_applies(cfg, which) ? cfg->switches[which] : 0;
}

qat_status qat_quant_config_validate(const qat_quant_config *cfg)
{
    const qat_class_quant *w = &cfg->cls[QAT_CLASS_WEIGHT];
    QAT_CHECK_ARG(!(cfg->switches[QAT_QS_SHARING] == QAT_SHARING_PER_CLASS && w->algo == QAT_ALGO_LSQ &&
                    w->granularity == QAT_GRAN_ROW),
                  "one quantizer per class (shared, as the seed code) cannot hold per-row LSQ steps: "
                  "the layers' weights have different row counts");
    return QAT_OK;
}

static qat_status check_switch(qat_quant_switch which)
{
    QAT_CHECK_ARG((int)which >= QAT_QS_FIRST && (int)which <= QAT_QS_LAST, "unknown quant switch %d", (int)which);
    return QAT_OK;
}

QAT_API qat_status qat_quant_config_set_switch(qat_quant_config *cfg, qat_quant_switch which, int value)
{
    QAT_CHECK_ARG(cfg != NULL, "qat_quant_config_set_switch: NULL config");
    QAT_TRY(check_switch(which));
    QAT_CHECK_ARG(value == 0 || value == 1, "quant switch %d: value %d is not 0 or 1", (int)which, value);
    qat_quant_config next = *cfg;
    next.switches[which] = value;
    QAT_TRY(qat_quant_config_validate(&next));
    *cfg = next;
    return QAT_OK;
}

QAT_API qat_status qat_quant_config_get_switch(const qat_quant_config *cfg, qat_quant_switch which, int *value)
{
    QAT_CHECK_ARG(cfg != NULL && value != NULL, "qat_quant_config_get_switch: NULL argument");
    QAT_TRY(check_switch(which));
    *value = cfg->switches[which];
    return QAT_OK;
}

void qat_quant_config_apply_profile(qat_quant_config *cfg, qat_quant_profile profile, int explicit_w_granularity)
{
    int v = profile == QAT_PROFILE_SEED_CODE;
    for (int s = QAT_QS_FIRST; s <= QAT_QS_LAST; s++)
        cfg->switches[s] = v;
    qat_class_quant *w = &cfg->cls[QAT_CLASS_WEIGHT];
    if (w->algo == QAT_ALGO_BITNET158 && !explicit_w_granularity)
        w->granularity = v ? QAT_GRAN_ROW : QAT_GRAN_TENSOR;
}

QAT_API qat_status qat_quant_config_set_profile(qat_quant_config *cfg, qat_quant_profile profile)
{
    QAT_CHECK_ARG(cfg != NULL, "qat_quant_config_set_profile: NULL config");
    QAT_CHECK_ARG(profile == QAT_PROFILE_PAPER || profile == QAT_PROFILE_SEED_CODE,
                  "qat_quant_config_set_profile: profile %d is not PAPER or SEED_CODE", (int)profile);
    qat_quant_config next = *cfg;
    qat_quant_config_apply_profile(&next, profile, 0);
    QAT_TRY(qat_quant_config_validate(&next));
    *cfg = next;
    return QAT_OK;
}

static int matches_profile(const qat_quant_config *cfg, int v)
{
    for (int s = QAT_QS_FIRST; s <= QAT_QS_LAST; s++)
        if (qat_quant_switch_applies(cfg, (qat_quant_switch)s) && cfg->switches[s] != v)
            return 0;
    const qat_class_quant *w = &cfg->cls[QAT_CLASS_WEIGHT];
    return w->algo != QAT_ALGO_BITNET158 || w->granularity == (v ? QAT_GRAN_ROW : QAT_GRAN_TENSOR);
}

QAT_API qat_status qat_quant_config_get_profile(const qat_quant_config *cfg, qat_quant_profile *profile)
{
    QAT_CHECK_ARG(cfg != NULL && profile != NULL, "qat_quant_config_get_profile: NULL argument");
    *profile = matches_profile(cfg, 0)   ? QAT_PROFILE_PAPER
               : matches_profile(cfg, 1) ? QAT_PROFILE_SEED_CODE
                                         : QAT_PROFILE_CUSTOM;
    return QAT_OK;
}

