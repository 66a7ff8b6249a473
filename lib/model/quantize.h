/* Applying a quantizer instance inside the graph: forward into a scratch
 * buffer (or pass-through), backward in place on the incoming gradient. */
#ifndef QAT_LIB_MODEL_QUANTIZE_H
#define QAT_LIB_MODEL_QUANTIZE_H

#include "model/model.h"

/* Fake-quantizes x [rows, cols] into y (y is unused for NONE: *out = x).
 * An uninitialised LSQ step is first initialised from x (s = 2 mean|x| /
 * sqrt(Qp)). gamma receives BitNet weight scales (rows or 1 floats). */
qat_status qat_quantize_fwd(qat_model *m, qat_quantizer *q, const float *x, int64_t rows, int64_t cols,
                            float *y, float *gamma, const float **out);
/* d holds dL/dx_hat on entry and dL/dx on return (LSQ masks it; BitNet and
 * NONE pass it through); the LSQ step gradient is accumulated with
 * g = 1 / sqrt(g_numel * Qp). */
qat_status qat_quantize_bwd(qat_model *m, const qat_quantizer *q, float *d, const float *x, int64_t n,
                            int64_t g_numel);
/* Sets the step of an LSQ quantizer from x now. */
qat_status qat_quantize_init_step(qat_model *m, qat_quantizer *q, const float *x, int64_t n);

#endif
