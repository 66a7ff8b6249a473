/* The quant config's private representation, read by the model graph. */
#ifndef QAT_LIB_QUANT_CONFIG_H
#define QAT_LIB_QUANT_CONFIG_H

#include "qat/quant.h"

typedef struct qat_class_quant {
    qat_quant_algo algo;
    int bits;                  /* 2..8; 32 for NONE; 2 for BitNet weights */
    qat_granularity granularity;
} qat_class_quant;

#define QAT_QS_FIRST QAT_QS_SHARING
#define QAT_QS_LAST QAT_QS_MLM_HEAD

struct qat_quant_config {
    qat_class_quant cls[QAT_CLASS_COUNT];
    int switches[QAT_QS_LAST + 1]; /* by qat_quant_switch; [0] unused */
};

extern const char qat_quant_class_letters[QAT_CLASS_COUNT];
extern const char *const qat_quant_class_names[QAT_CLASS_COUNT];

/* Whether a switch can change anything for this config (sharing and the
 * LSQ gradient need a learned quantizer, the range BitNet activations, the
 * MLM head a quantized W or A). */
int qat_quant_switch_applies(const qat_quant_config *cfg, qat_quant_switch which);
/* The switch's value where it applies, the paper's (0) elsewhere: what the
 * model graph and the canonical name use. */
int qat_quant_switch_effective(const qat_quant_config *cfg, qat_quant_switch which);
/* The integer range of a learned quantizer: signed [-2^(b-1), 2^(b-1) - 1]
 * for LSQ, unsigned [0, 2^b - 1] for LSQ+. */
static inline void qat_class_quant_range(const qat_class_quant *q, float *qn, float *qp)
{
    if (q->algo == QAT_ALGO_LSQ_PLUS) {
        *qn = 0.0f;
        *qp = (float)((1 << q->bits) - 1);
    } else {
        *qn = -(float)(1 << (q->bits - 1));
        *qp = (float)((1 << (q->bits - 1)) - 1);
    }
}

/* What the graph and the packed forward read from the switches: the
 * divisor's epsilon (the seed code's x / (s + 1e-8) under frozen steps,
 * else 0) and whether BitNet activations clamp to [-Qp, Qp]. */
static inline float qat_quant_step_eps(const qat_quant_config *cfg)
{
    return qat_quant_switch_effective(cfg, QAT_QS_LSQ_GRADIENT) == QAT_LSQ_GRAD_FROZEN ? 1e-8f : 0.0f;
}
static inline int qat_quant_symmetric_acts(const qat_quant_config *cfg)
{
    return qat_quant_switch_effective(cfg, QAT_QS_ACT_RANGE) == QAT_ACT_RANGE_SYMMETRIC;
}

/* The checks that span classes and switches (per-class sharing with
 * per-row LSQ steps). */
qat_status qat_quant_config_validate(const qat_quant_config *cfg);
/* set_profile on a config, without validation; explicit_w_granularity
 * keeps the W granularity (the notation gave one). */
void qat_quant_config_apply_profile(qat_quant_config *cfg, qat_quant_profile profile, int explicit_w_granularity);
/* A config with every class in float and the paper's switches. */
void qat_quant_config_init_fp32(qat_quant_config *cfg);

/* Checks one class setting; on failure sets the message (naming `what`). */
qat_status qat_class_quant_validate(qat_tensor_class cls, const qat_class_quant *q);

/* The defaults the notation implies for a class given its bits token and,
 * for activations, whether the weights are BitNet. */
qat_class_quant qat_class_quant_default(qat_tensor_class cls, int bits, int ternary,
                                        int weights_are_bitnet);

#endif
