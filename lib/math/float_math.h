/*
 * The library's own expf and erff, and the exact-erf GELU built on them:
 * ONE scalar definition of each, which the ref backend runs and the cpu
 * backend's AVX2 / AVX-512 twins (backends/cpu/cpu_vmath_*.h) repeat
 * operation for operation, so every ISA path gives these bits.
 *
 * Why not libm: erff and expf differ between libms and versions and have no
 * vector form to match bit for bit, so neither the packed forward (which
 * must keep the fake-quant forward's activation codes) nor a SIMD path
 * could reproduce them.
 *
 * The rules that make a vector twin exact: only +, -, *, / and comparisons
 * with IEEE rounding, each written as one operation in the order below
 * (no fused multiply-add: the build passes -ffp-contract=off, and a
 * baseline x86-64 scalar fmaf would be a slow libm call); selects written
 * as `a OP b ? a : b`, which is what minps/maxps/blend compute, NaN
 * included; integer work on the bits in uint32_t (wrapping, as the vector
 * epi32 operations do).
 *
 * Accuracy (tests/c/test_float_math.c sweeps every 64th float against
 * double libm): qat_expf within 1 ulp, qat_erff within 1.25 ulp. The
 * coefficients are weighted least-squares fits iterated towards minimax in
 * double (numpy), rounded to float, kept where the float evaluation below
 * measured best.
 */
#ifndef QAT_LIB_MATH_FLOAT_MATH_H
#define QAT_LIB_MATH_FLOAT_MATH_H

#include <stdint.h>

#include "math/float_bits.h"


/* expf. Inputs clamp to [-104, 89] (beyond which float's exp is 0 or inf
 * anyway; NaN passes through the clamps); x = n ln2 + r with n the nearest
 * integer to x log2(e) (1.5 * 2^23 added and subtracted rounds to it), ln2
 * in two parts (Cody-Waite: n * QAT_EXP_LN2_HI is exact for |n| < 2^15),
 * e^r = 1 + r + r^2 P(r) on |r| <= ln2/2, then times 2^n as two powers of
 * two (2^floor(n/2) * 2^(n - floor(n/2)), each a normal float for every n
 * in [-150, 128]), so results round once into the subnormals and
 * overflow to inf. */
#define QAT_EXP_HI 89.0f
#define QAT_EXP_LO -104.0f
#define QAT_EXP_LOG2E 1.44269502e+00f
#define QAT_EXP_LN2_HI 6.93359375e-01f
#define QAT_EXP_LN2_LO -2.12194440e-04f
#define QAT_ROUND_MAGIC 12582912.0f /* 1.5 * 2^23 */
#define QAT_EXP_P0 4.999999404e-01f
#define QAT_EXP_P1 1.666652113e-01f
#define QAT_EXP_P2 4.166838899e-02f
#define QAT_EXP_P3 8.368710056e-03f
#define QAT_EXP_P4 1.381461043e-03f

static inline float qat_expf(float x)
{
    x = QAT_EXP_HI < x ? QAT_EXP_HI : x;
    x = QAT_EXP_LO > x ? QAT_EXP_LO : x;
    const float t = x * QAT_EXP_LOG2E + QAT_ROUND_MAGIC;
    const float n = t - QAT_ROUND_MAGIC;
    float r = x - n * QAT_EXP_LN2_HI;
    r = r - n * QAT_EXP_LN2_LO;
    float p = QAT_EXP_P4;
    p = p * r + QAT_EXP_P3;
    p = p * r + QAT_EXP_P2;
    p = p * r + QAT_EXP_P1;
    p = p * r + QAT_EXP_P0;
    p = p * r;
    p = p * r;
    p = p + r;
    p = p + 1.0f;
    /* n as an integer: the low bits of t (wrapping arithmetic; n in [-150, 128]). */
    const uint32_t ni = qat_float_bits(t) - qat_float_bits(QAT_ROUND_MAGIC);
    const uint32_t n1 = ((ni + 256u) >> 1) - 128u, n2 = ni - n1;
    p = p * qat_bits_float((n1 + 127u) << 23);
    return p * qat_bits_float((n2 + 127u) << 23);
}

/* erff, on |x|, then x's sign: below 0.875, erf(x) = x + x P(x^2) (the
 * 1 of erf(x)/x = 2/sqrt(pi) (1 + ...) kept outside the polynomial, which
 * then carries the small correction to full precision); from 0.875,
 * erf(x) = 1 - exp(Q(x)) with Q fitted to log(erfc(x)) on [0.875, 4]
 * (beyond 4, erf rounds to 1 and x clamps to 4). */
#define QAT_ERF_SPLIT 0.875f
#define QAT_ERF_HI 4.0f
#define QAT_ERF_A0 1.283791512e-01f
#define QAT_ERF_A1 -3.761255145e-01f
#define QAT_ERF_A2 1.128245518e-01f
#define QAT_ERF_A3 -2.679146267e-02f
#define QAT_ERF_A4 5.032180808e-03f
#define QAT_ERF_A5 -6.203252706e-04f
#define QAT_ERF_B0 1.387897064e-04f
#define QAT_ERF_B1 -1.129317641e+00f
#define QAT_ERF_B2 -6.338124871e-01f
#define QAT_ERF_B3 -1.076641455e-01f
#define QAT_ERF_B4 2.462012321e-02f
#define QAT_ERF_B5 -3.917227965e-03f
#define QAT_ERF_B6 3.554650466e-04f
#define QAT_ERF_B7 -7.339197964e-06f
#define QAT_ERF_B8 -1.025848633e-06f
#define QAT_SIGN_BIT 0x80000000u

/* The two branches, as the vector twins compute both and select. */
static inline float qat_erff_small(float ax)
{
    const float s = ax * ax;
    float p = QAT_ERF_A5;
    p = p * s + QAT_ERF_A4;
    p = p * s + QAT_ERF_A3;
    p = p * s + QAT_ERF_A2;
    p = p * s + QAT_ERF_A1;
    p = p * s + QAT_ERF_A0;
    return ax + ax * p;
}

static inline float qat_erff_large(float ax)
{
    const float c = QAT_ERF_HI < ax ? QAT_ERF_HI : ax;
    float q = QAT_ERF_B8;
    q = q * c + QAT_ERF_B7;
    q = q * c + QAT_ERF_B6;
    q = q * c + QAT_ERF_B5;
    q = q * c + QAT_ERF_B4;
    q = q * c + QAT_ERF_B3;
    q = q * c + QAT_ERF_B2;
    q = q * c + QAT_ERF_B1;
    q = q * c + QAT_ERF_B0;
    return 1.0f - qat_expf(q);
}

static inline float qat_erff(float x)
{
    const uint32_t bits = qat_float_bits(x);
    const float ax = qat_bits_float(bits & ~QAT_SIGN_BIT);
    const float r = ax < QAT_ERF_SPLIT ? qat_erff_small(ax) : qat_erff_large(ax); /* NaN: large */
    return qat_bits_float(qat_float_bits(r) | (bits & QAT_SIGN_BIT));
}

/* Round half to even of a float already clamped to |v| < 2^22 (every
 * quantizer clamps to at most [-128, 127] first): adding and subtracting
 * 1.5 * 2^23 rounds in the default mode exactly as nearbyintf does, but
 * inline and vectorisable (x86-64's baseline has no roundps). A negative
 * value that rounds to zero gives +0 (nearbyintf: -0); equal as numbers. */
static inline float qat_round_even_small(float v)
{
    return (v + QAT_ROUND_MAGIC) - QAT_ROUND_MAGIC;
}

/* The same for a double with |v| < 2^51, by 1.5 * 2^52: nearbyint without
 * the libm call (the LSQ+ search rounds a million values per quantizer). */
static inline double qat_round_even_small_d(double v)
{
    const double magic = 0x1.8p52;
    return (v + magic) - magic;
}

/* The exact-erf GELU, x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)), as torch
 * writes it; and its derivative Phi(x) + x phi(x). */
#define QAT_SQRT1_2F 7.07106769e-01f
#define QAT_INV_SQRT_2PIF 3.98942292e-01f

static inline float qat_gelu(float x)
{
    return 0.5f * x * (1.0f + qat_erff(x * QAT_SQRT1_2F));
}

static inline float qat_gelu_grad(float x)
{
    const float cdf = 0.5f * (1.0f + qat_erff(x * QAT_SQRT1_2F));
    const float pdf = QAT_INV_SQRT_2PIF * qat_expf(-0.5f * x * x);
    return cdf + x * pdf;
}

#endif
