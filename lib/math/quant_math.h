/*
 * The BitNet b1.58 quantizers' rows (docs/method.md section 4), as scalar
 * definitions the ref backend runs and the cpu backend's AVX2 / AVX-512
 * twins (backends/cpu/cpu_float_simd.h) repeat operation for operation:
 * IEEE +, -, *, / in the order written, clamps as `a OP b ? a : b`
 * (minps / maxps), round half to even by qat_round_even_small.
 */
#ifndef QAT_LIB_MATH_QUANT_MATH_H
#define QAT_LIB_MATH_QUANT_MATH_H

#include <math.h>
#include <stdint.h>

#include "math/float_math.h"

/* Ternary weights with scale g: y = clamp(round(w / g), -1, 1) * g, written
 * as round(clamp(w / g, -1, 1)) * g (the same values). */
static inline void qat_bitnet_weight_row(const float *w, int64_t n, float g, float *y)
{
    for (int64_t j = 0; j < n; j++) {
        float v = w[j] / g;
        v = 1.0f < v ? 1.0f : v;
        v = -1.0f > v ? -1.0f : v;
        y[j] = qat_round_even_small(v) * g;
    }
}

/* Per-token absmax activations: m = max(max |x|, 1e-5) (a NaN is skipped,
 * as `|x| > m ? |x| : m` does), y = clamp(round(x * qp / m), lo, qp) * m / qp. */
static inline void qat_bitnet_act_row(const float *x, int64_t n, float qp, float lo, float *y)
{
    float m = 0.0f;
    for (int64_t j = 0; j < n; j++)
        m = fabsf(x[j]) > m ? fabsf(x[j]) : m;
    m = m > 1e-5f ? m : 1e-5f;
    for (int64_t j = 0; j < n; j++) {
        float v = x[j] * qp / m;
        v = qp < v ? qp : v;
        v = lo > v ? lo : v;
        y[j] = qat_round_even_small(v) * m / qp;
    }
}

#endif
