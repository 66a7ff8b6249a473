/* LSQ+ initialisation: the step and offset that minimise the quantisation
 * MSE of the first batch (docs/quantizers.md, "LSQ+ initialisation"). */
#ifndef QAT_LIB_QUANT_LSQ_PLUS_INIT_H
#define QAT_LIB_QUANT_LSQ_PLUS_INIT_H

#include <stdint.h>

#include "qat/core.h"

/* Histogram resolution and candidate grid of the search. */
#define QAT_LSQ_PLUS_BINS 2048
#define QAT_LSQ_PLUS_GRID 64

/* x [n] (host memory, finite), unsigned `bits` (range [0, 2^bits - 1]).
 * Deterministic: the same x gives the same step and offset everywhere. */
qat_status qat_lsq_plus_init(const float *x, int64_t n, int bits, float *step, float *offset);

#endif
