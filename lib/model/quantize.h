/* Applying a quantizer use inside the graph: forward into a scratch buffer
 * (or pass-through), backward in place on the incoming gradient, and the
 * initialisation of learned quantizer state (docs/quantizers.md). */
#ifndef QAT_LIB_MODEL_QUANTIZE_H
#define QAT_LIB_MODEL_QUANTIZE_H

#include "model/model.h"

/* LSQ or LSQ+: a quantizer with learned state. */
static inline int qat_algo_learned(qat_quant_algo algo)
{
    return algo == QAT_ALGO_LSQ || algo == QAT_ALGO_LSQ_PLUS;
}

/* Whether q, k and v of layer L read one quantized copy of their common
 * input (BitNet, float: the same quantizer output), or each its own (LSQ,
 * LSQ+: a learned step per linear). */
static inline int qat_layer_qkv_share_input(const qat_layer *L)
{
    return !qat_algo_learned(L->q.aq.cfg.algo);
}

/* The seed code's frozen steps: no step gradient, pass-through inputs. */
static inline int qat_model_steps_frozen(const qat_model *m)
{
    return qat_quant_switch_effective(&m->quant, QAT_QS_LSQ_GRADIENT) == QAT_LSQ_GRAD_FROZEN;
}

/* Whether the backward of this quantizer does anything (learned steps that
 * get a gradient and mask clipped inputs); otherwise it is the identity. */
static inline int qat_quantizer_needs_backward(const qat_model *m, const qat_quantizer *q)
{
    return qat_algo_learned(q->cfg.algo) && !qat_model_steps_frozen(m);
}

/* Fake-quantizes x [rows, cols] into y (y is unused for NONE: *out = x).
 * Learned state that holds no value yet is first initialised from x.
 * gamma receives BitNet weight scales (rows or 1 floats). */
qat_status qat_quantize_fwd(qat_model *m, qat_quantizer *q, const float *x, int64_t rows, int64_t cols,
                            float *y, float *gamma, const float **out);
/* The input x [rows, l->in] of linear l through its activation quantizer,
 * into scratch (*out = x for float activations): the forward's call, and
 * the backward's again on the same x (the quantized copy is not kept). */
static inline qat_status qat_quantize_input(qat_model *m, qat_linear *l, const float *x, int64_t rows,
                                            float *scratch, const float **out)
{
    return qat_quantize_fwd(m, &l->aq, x, rows, l->in, scratch, NULL, out);
}

/* d holds dL/dx_hat [rows, cols] on entry and dL/dx on return (LSQ/LSQ+
 * mask clipped values; BitNet, NONE and frozen steps pass it through);
 * step (and offset) gradients are accumulated with g = 1 / sqrt(g_numel *
 * Qp), g_numel being per row for per-row steps. */
qat_status qat_quantize_bwd(qat_model *m, const qat_quantizer *q, float *d, const float *x, int64_t rows,
                            int64_t cols, int64_t g_numel);
/* Sets the learned state of q from x [rows, cols] now: LSQ s = 2 mean|x| /
 * sqrt(Qp) per tensor or per row; LSQ+ by the MSE search. */
qat_status qat_quantize_init_step(qat_model *m, qat_quantizer *q, const float *x, int64_t rows, int64_t cols);

#endif
