/*
 * libqat — quantization configurations (the ExWyAz notation).
 *
 * A quant config says, for each tensor class — Embedding tables, linear-layer
 * Weights, linear-layer input Activations — which quantizer is used, with how
 * many bits and at which granularity.
 *
 * String notation (qat_quant_config_parse / qat_quant_config_to_string):
 *
 *   FP32 | none                  nothing quantized
 *   E<e>W<w>A<a>                 e.g. E8W8A8, E4W4A4, E6W2A6, E6W1.58A6
 *
 *   bits: an integer 2..8, or 32 for "kept in float"; W also accepts 1.58,
 *   BitNet b1.58 ternary weights. Defaults implied by the notation:
 *     E: LSQ, per tensor.     W: LSQ per tensor, or BitNet absmean for 1.58.
 *     A: LSQ per tensor, or BitNet per-token absmax when W is 1.58.
 *   Any class may add overrides in parentheses after its bits:
 *     (lsq) (lsq+) (bitnet) (tensor) (row) (token), comma-separated,
 *   e.g. E6W1.58(row)A6, E8W4A8(bitnet), E8W4(row)A8, E8W8A8(lsq+).
 *     row:  one scale per output row (channel) of each weight: BitNet's
 *           gamma per row, or per-channel LSQ steps (g = 1/sqrt(in * Qp)).
 *     lsq+: activations only; LSQ+ (Bhalgat et al. 2020): unsigned range
 *           [0, 2^b - 1], learned step and offset, initialised on the
 *           first batch by minimising the quantisation MSE (docs/quantizers.md).
 *   Switches follow an '@' (docs/paper-vs-seed-code.md), comma-separated:
 *     @seed-code     the study's published code: every switch below, and
 *                    BitNet weight scales per row
 *     @shared        one quantizer per class (E, W, A), not one per tensor
 *     @frozen-step   LSQ steps get no gradient, inputs' gradients pass
 *                    everywhere, and the forward divides by (s + 1e-8)
 *     @symmetric     BitNet activations clamp to [-Qp, Qp]
 *     @mlm-head      the MLM head's dense layer and decoder go through the
 *                    W and A quantizers during DAPT
 *     @paper         the default (nothing)
 *   e.g. E6W1.58A6@seed-code, E8W8A8@shared,frozen-step.
 *   to_string() prints the shortest form that parses back to the same config
 *   (overrides only where they differ from the implied defaults; switches
 *   only where they change something, @seed-code when all of them do), so
 *   the canonical name is derived from the content.
 *   Letters are case-insensitive; spaces are not allowed; at most
 *   QAT_QUANT_CONFIG_MAX_STRING characters.
 */
#ifndef QAT_QUANT_H
#define QAT_QUANT_H

#include "qat/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define QAT_QUANT_CONFIG_MAX_STRING 128

typedef enum qat_tensor_class {
    QAT_CLASS_EMBEDDING = 0,  /* word / position / token-type tables */
    QAT_CLASS_WEIGHT = 1,     /* weights of the six linear layers per block */
    QAT_CLASS_ACTIVATION = 2  /* inputs of those linear layers */
} qat_tensor_class;
#define QAT_CLASS_COUNT 3

typedef enum qat_quant_algo {
    QAT_ALGO_NONE = 0,      /* kept in float */
    QAT_ALGO_LSQ = 1,       /* learned step size quantization, signed b bits */
    QAT_ALGO_BITNET158 = 2, /* W: absmean ternary; A: per-token absmax b bits */
    QAT_ALGO_LSQ_PLUS = 3   /* activations: unsigned b bits, learned step and offset */
} qat_quant_algo;

typedef enum qat_granularity {
    QAT_GRAN_TENSOR = 0,    /* one scale per tensor */
    QAT_GRAN_ROW = 1,       /* one scale per output row (weights only) */
    QAT_GRAN_TOKEN = 2      /* one scale per token (BitNet activations only) */
} qat_granularity;

typedef enum qat_quant_param {
    QAT_QP_ALGO = 1,        /* a qat_quant_algo */
    QAT_QP_BITS = 2,        /* 2..8; 32 when ALGO is NONE; 2 (stored bits)
                               for BitNet ternary weights */
    QAT_QP_GRANULARITY = 3  /* a qat_granularity */
} qat_quant_param;

/* A new config with nothing quantized (FP32). */
QAT_API qat_status qat_quant_config_create(qat_quant_config **out);
/* Parse the notation above. Errors name the offending part of the string. */
QAT_API qat_status qat_quant_config_parse(const char *text,
                                          qat_quant_config **out);
QAT_API qat_status qat_quant_config_copy(const qat_quant_config *src,
                                         qat_quant_config **out);
QAT_API void qat_quant_config_free(qat_quant_config *cfg);

/* Per-class settings. Setting ALGO resets BITS and GRANULARITY to that
 * algorithm's defaults for the class (LSQ: 8 bits, per tensor; BitNet
 * weights: ternary per tensor; BitNet activations: 8 bits per token).
 * Combinations that make no sense (BitNet on embeddings, per-token
 * weights, 9 bits...) are refused with QAT_ERR_INVALID_ARGUMENT. */
QAT_API qat_status qat_quant_config_set(qat_quant_config *cfg,
                                        qat_tensor_class cls,
                                        qat_quant_param param, int value);
QAT_API qat_status qat_quant_config_get(const qat_quant_config *cfg,
                                        qat_tensor_class cls,
                                        qat_quant_param param, int *value);

/* Canonical string. Writes at most `capacity` bytes including the NUL;
 * *needed (if not NULL) receives the size required. Returns
 * QAT_ERR_BUFFER_TOO_SMALL when capacity < *needed. */
QAT_API qat_status qat_quant_config_to_string(const qat_quant_config *cfg,
                                              char *buffer, size_t capacity,
                                              size_t *needed);

/* Switches that are not per class (docs/method.md section 10). Value 0 is always the
 * paper's behaviour. A switch that cannot change anything for a config
 * (the activation range without BitNet activations, ...) is kept but
 * ignored by to_string, equal and training. */
typedef enum qat_quant_switch {
    QAT_QS_SHARING = 1,      /* qat_quant_sharing */
    QAT_QS_LSQ_GRADIENT = 2, /* qat_lsq_gradient */
    QAT_QS_ACT_RANGE = 3,    /* qat_act_range (BitNet activations) */
    QAT_QS_MLM_HEAD = 4      /* qat_mlm_head */
} qat_quant_switch;

typedef enum qat_quant_sharing {
    QAT_SHARING_PER_TENSOR = 0, /* one quantizer (and step) per tensor */
    QAT_SHARING_PER_CLASS = 1   /* one per class, shared by every layer,
                                   initialised on the first tensor it sees */
} qat_quant_sharing;

typedef enum qat_lsq_gradient {
    QAT_LSQ_GRAD_LEARNED = 0, /* LSQ: step gradient scaled by g, clipped inputs get none */
    QAT_LSQ_GRAD_FROZEN = 1   /* steps (and LSQ+ offsets) keep their initial value, the
                                 input gradient passes unchanged, x / (s + 1e-8) */
} qat_lsq_gradient;

typedef enum qat_act_range {
    QAT_ACT_RANGE_FULL = 0,     /* BitNet activations in [Qn, Qp] */
    QAT_ACT_RANGE_SYMMETRIC = 1 /* [-Qp, Qp] */
} qat_act_range;

typedef enum qat_mlm_head {
    QAT_MLM_HEAD_FLOAT = 0,     /* the MLM head stays in float */
    QAT_MLM_HEAD_QUANTIZED = 1  /* its dense layer and decoder use the W and A quantizers */
} qat_mlm_head;

typedef enum qat_quant_profile {
    QAT_PROFILE_PAPER = 0,      /* every switch 0, BitNet weight scales per tensor */
    QAT_PROFILE_SEED_CODE = 1,  /* every switch 1, BitNet weight scales per row */
    QAT_PROFILE_CUSTOM = 2      /* anything else (returned by get_profile only) */
} qat_quant_profile;

QAT_API qat_status qat_quant_config_set_switch(qat_quant_config *cfg, qat_quant_switch which, int value);
QAT_API qat_status qat_quant_config_get_switch(const qat_quant_config *cfg, qat_quant_switch which,
                                               int *value);
/* Sets every switch, and the BitNet weight granularity where W is BitNet,
 * as the profile says. Per-class sharing refuses per-row LSQ steps. */
QAT_API qat_status qat_quant_config_set_profile(qat_quant_config *cfg, qat_quant_profile profile);
/* PAPER or SEED_CODE when every switch that matters for this config has
 * that profile's value, CUSTOM otherwise. */
QAT_API qat_status qat_quant_config_get_profile(const qat_quant_config *cfg, qat_quant_profile *profile);

/* 1 if both configs quantize identically, 0 otherwise (NULLs are unequal). */
QAT_API int qat_quant_config_equal(const qat_quant_config *a,
                                   const qat_quant_config *b);

#ifdef __cplusplus
}
#endif

#endif /* QAT_QUANT_H */
