/*
 * The LSQ and BitNet b1.58 quantizers' rows (docs/method.md section 4), as scalar
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
#include "math/row_math.h"

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

/* LSQ / LSQ+ fake-quant of one row with step s (backend/kernels.h,
 * qat_lsq_desc): v = (x - *beta) / (s + eps), or x / (s + eps) when beta is
 * NULL, clamped to [qn, qp]; y = round(v) * s (+ *beta). y may alias x. */
static inline void qat_lsq_fwd_row(const float *x, int64_t n, float s, float eps, const float *beta, float qn,
                                   float qp, float *y)
{
    const float div = s + eps;
    for (int64_t j = 0; j < n; j++) {
        float v = (beta ? x[j] - *beta : x[j]) / div;
        v = qp < v ? qp : v;
        v = qn > v ? qn : v;
        const float q = qat_round_even_small(v) * s;
        y[j] = beta ? q + *beta : q;
    }
}

/* LSQ's backward over one row (v as above, div = s + eps): dx = dy where
 * qn <= v <= qp, else 0 (dx may alias dy); *step_sum = sum of dy * qn (v < qn),
 * dy * qp (v > qp) or dy * (round(v) - v), each product in double, and
 * *offset_sum = sum of dy where v is outside, both in the double lanes. */
static inline void qat_lsq_bwd_row(const float *x, const float *dy, int64_t n, float div, const float *beta,
                                   float qn, float qp, float *dx, double *step_sum, double *offset_sum)
{
    double ls[QAT_ROW_LANES] = {0}, lo[QAT_ROW_LANES] = {0};
    for (int64_t j = 0; j < n; j++) {
        const float v = (beta ? x[j] - *beta : x[j]) / div, g = dy[j];
        if (v < qn || v > qp) {
            ls[j % QAT_ROW_LANES] += (double)g * (v < qn ? qn : qp);
            lo[j % QAT_ROW_LANES] += g;
            dx[j] = 0.0f;
        } else {
            ls[j % QAT_ROW_LANES] += (double)g * (qat_round_even_small(v) - v);
            dx[j] = g;
        }
    }
    *step_sum = qat_lanes_fold_double(ls);
    *offset_sum = qat_lanes_fold_double(lo);
}

#endif
