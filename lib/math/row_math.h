/*
 * The row kernels' scalar definitions (softmax, LayerNorm), with their sums
 * in ONE fixed order that the cpu backend's AVX2 / AVX-512 twins repeat:
 * QAT_ROW_LANES float lanes, element j added into lane j % 16 in column
 * order, then the lanes folded by halves (lane i += lane i + 8, then + 4,
 * + 2, + 1). 16 lanes are one AVX-512 register or two AVX2 ones, so every
 * path adds the same floats in the same order.
 *
 * Float, not double: at BERT's widths (128..4096 per row) a lane sums at
 * most a few hundred terms, and LayerNorm's variance is two-pass (centred
 * first), so the float sums stay well inside the torch parity tolerances
 * (torch's own CPU kernels accumulate in float too); a double vector path
 * would halve the width for no visible gain.
 */
#ifndef QAT_LIB_MATH_ROW_MATH_H
#define QAT_LIB_MATH_ROW_MATH_H

#include <math.h>
#include <stdint.h>

#include "math/float_math.h"

#define QAT_ROW_LANES 16

static inline float qat_lanes_fold(float lane[QAT_ROW_LANES])
{
    for (int half = QAT_ROW_LANES / 2; half >= 1; half /= 2)
        for (int i = 0; i < half; i++)
            lane[i] = lane[i] + lane[i + half];
    return lane[0];
}

/* Whole-row sums that stay in double (the quantizers' absmean, the gradient
 * norm's sum of squares): the same 16 lanes, each a double, folded by halves.
 * One fixed order again, so the vector twins widen 16 floats at a time into
 * the same lanes; double keeps these sums as exact as the sequential double
 * sums they replace (a float lane of 24M squares would not be). */
static inline double qat_lanes_fold_double(double lane[QAT_ROW_LANES])
{
    for (int half = QAT_ROW_LANES / 2; half >= 1; half /= 2)
        for (int i = 0; i < half; i++)
            lane[i] = lane[i] + lane[i + half];
    return lane[0];
}

/* sum |x[j]| */
static inline double qat_abs_sum_row(const float *x, int64_t n)
{
    double lane[QAT_ROW_LANES] = {0};
    for (int64_t j = 0; j < n; j++)
        lane[j % QAT_ROW_LANES] += fabsf(x[j]);
    return qat_lanes_fold_double(lane);
}

/* sum x[j]^2, each square in double */
static inline double qat_square_sum_row(const float *x, int64_t n)
{
    double lane[QAT_ROW_LANES] = {0};
    for (int64_t j = 0; j < n; j++)
        lane[j % QAT_ROW_LANES] += (double)x[j] * (double)x[j];
    return qat_lanes_fold_double(lane);
}

/* s = softmax(s + bias) over n columns, in place; bias may be NULL. The max
 * skips NaN (as `s > max ? s : max` does); which zero it keeps does not
 * matter, since exp(s - (+0)) == exp(s - (-0)). */
static inline void qat_softmax_row(float *s, const float *bias, int64_t n)
{
    float mx = -INFINITY;
    for (int64_t j = 0; j < n; j++) {
        if (bias)
            s[j] = s[j] + bias[j];
        mx = s[j] > mx ? s[j] : mx;
    }
    float lane[QAT_ROW_LANES] = {0};
    for (int64_t j = 0; j < n; j++) {
        s[j] = qat_expf(s[j] - mx);
        lane[j % QAT_ROW_LANES] += s[j];
    }
    const float inv = 1.0f / qat_lanes_fold(lane);
    for (int64_t j = 0; j < n; j++)
        s[j] = s[j] * inv;
}

/* The mean and 1 / sqrt(biased variance + eps) of one row, as torch. */
static inline void qat_layernorm_moments(const float *x, int64_t n, float eps, float *mean, float *rstd)
{
    float lane[QAT_ROW_LANES] = {0};
    for (int64_t j = 0; j < n; j++)
        lane[j % QAT_ROW_LANES] += x[j];
    const float mu = qat_lanes_fold(lane) / (float)n;
    float sq[QAT_ROW_LANES] = {0};
    for (int64_t j = 0; j < n; j++) {
        const float d = x[j] - mu;
        sq[j % QAT_ROW_LANES] += d * d;
    }
    const float var = qat_lanes_fold(sq) / (float)n;
    *mean = mu;
    *rstd = 1.0f / sqrtf(var + eps);
}

/* y = (x - mean) * rstd * w + b, evaluated left to right. */
static inline void qat_layernorm_row(const float *x, const float *w, const float *b, float eps, int64_t n,
                                     float *y, float *mean, float *rstd)
{
    qat_layernorm_moments(x, n, eps, mean, rstd);
    const float mu = *mean, rs = *rstd;
    for (int64_t j = 0; j < n; j++)
        y[j] = (x[j] - mu) * rs * w[j] + b[j];
}

/* LayerNorm's input gradient of one row, as torch: g = dy * w, xhat =
 * (x - mean) * rstd, mg and mgx the means of g and of g * xhat (each
 * product in double, summed in the double lanes), then
 * dx = rstd * (g - mg - xhat * mgx). dx may alias dy. */
static inline void qat_layernorm_bwd_row(const float *dy, const float *x, const float *w, float mean, float rstd,
                                         int64_t n, float *dx)
{
    double lg[QAT_ROW_LANES] = {0}, lgx[QAT_ROW_LANES] = {0};
    for (int64_t j = 0; j < n; j++) {
        const float xhat = (x[j] - mean) * rstd, g = dy[j] * w[j];
        lg[j % QAT_ROW_LANES] += g;
        lgx[j % QAT_ROW_LANES] += (double)g * xhat;
    }
    const float mg = (float)(qat_lanes_fold_double(lg) / (double)n);
    const float mgx = (float)(qat_lanes_fold_double(lgx) / (double)n);
    for (int64_t j = 0; j < n; j++) {
        const float xhat = (x[j] - mean) * rstd;
        dx[j] = rstd * (dy[j] * w[j] - mg - xhat * mgx);
    }
}

/* The softmax's input gradient of one row: d = sum dp * p (each product in
 * double, summed in the double lanes), ds = p * (dp - d). ds may alias dp. */
static inline void qat_softmax_bwd_row(const float *dp, const float *p, int64_t n, float *ds)
{
    double lane[QAT_ROW_LANES] = {0};
    for (int64_t j = 0; j < n; j++)
        lane[j % QAT_ROW_LANES] += (double)dp[j] * p[j];
    const float d = (float)qat_lanes_fold_double(lane);
    for (int64_t j = 0; j < n; j++)
        ds[j] = p[j] * (dp[j] - d);
}

#endif
