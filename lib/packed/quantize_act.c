/* Activation quantization into int8 codes, with the per-token code sums
 * the SIMD kernels need for their offset correction (computed here, in the
 * same pass, so the GEMM never re-reads the activations for it). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "packed/packed.h"

void qat_packed_acts_free(qat_packed_acts *a)
{
    if (!a)
        return;
    free(a->codes);
    free(a->scale);
    free(a->row_sum);
    memset(a, 0, sizeof *a);
}

qat_status qat_packed_acts_alloc(int64_t tokens, int64_t in, qat_packed_acts *a)
{
    QAT_CHECK_ARG(a, "packed: acts alloc: NULL output");
    memset(a, 0, sizeof *a);
    QAT_CHECK_ARG(tokens > 0 && in > 0 && in <= QAT_PACKED_MAX_IN,
                  "packed: acts alloc: shape [%lld, %lld] out of range (in <= %d)",
                  (long long)tokens, (long long)in, QAT_PACKED_MAX_IN);
    a->tokens = tokens;
    a->in = in;
    a->stride = (in + QAT_PACKED_K_ALIGN - 1) / QAT_PACKED_K_ALIGN * QAT_PACKED_K_ALIGN;
    /* 64-byte aligned rows: the AVX-512 kernel's loads never split a line. */
    size_t bytes = (size_t)tokens * (size_t)a->stride;
    a->codes = aligned_alloc(QAT_PACKED_K_ALIGN, bytes);
    a->scale = malloc((size_t)tokens * sizeof *a->scale);
    a->row_sum = malloc((size_t)tokens * sizeof *a->row_sum);
    if (!a->codes || !a->scale || !a->row_sum) {
        qat_packed_acts_free(a);
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "packed: acts alloc: out of memory for [%lld, %lld]",
                        (long long)tokens, (long long)in);
    }
    /* The padding stays zero for the life of the buffer. */
    memset(a->codes, 0, bytes);
    return QAT_OK;
}

/* Round half to even of a value already clamped to [-128, 127]. Adding
 * 1.5 * 2^23 leaves no fraction bits, so the addition itself rounds in the
 * default mode (half to even), exactly as nearbyintf; unlike a libm call
 * it vectorises. Clamping before rounding gives the same code as rounding
 * before clamping because the bounds are integers. Needs float arithmetic
 * without excess precision (FLT_EVAL_METHOD 0, true of SSE and NEON). */
static inline float round_clamped(float v)
{
#if FLT_EVAL_METHOD == 0
    const float magic = 12582912.0f;
    return (v + magic) - magic;
#else
    return nearbyintf(v);
#endif
}

/* 1 when x holds a NaN or an infinity (branch-free, vectorisable). */
static int any_non_finite(const float *x, int64_t n, int64_t *where)
{
    int bad = 0;
    for (int64_t c = 0; c < n; c++)
        bad |= !(fabsf(x[c]) <= FLT_MAX);
    if (bad)
        for (int64_t c = 0; c < n; c++)
            if (!isfinite(x[c])) {
                *where = c;
                break;
            }
    return bad;
}

static qat_status check_common(const float *x, int64_t ldx, int bits, const qat_packed_acts *a,
                               const char *who)
{
    QAT_CHECK_ARG(a && a->codes, "packed: %s: activations not allocated", who);
    QAT_CHECK_ARG(x, "packed: %s: NULL input", who);
    QAT_CHECK_ARG(ldx >= a->in, "packed: %s: ldx = %lld < in = %lld", who, (long long)ldx,
                  (long long)a->in);
    QAT_CHECK_ARG(bits >= 2 && bits <= 8, "packed: %s: bits = %d, expected 2..8", who, bits);
    return QAT_OK;
}

static qat_status not_finite(const char *who, int64_t t, int64_t c)
{
    return qat_fail(QAT_ERR_NUMERIC, "packed: %s: input [%lld, %lld] is not finite", who,
                    (long long)t, (long long)c);
}

qat_status qat_packed_quantize_bitnet(const float *x, int64_t ldx, int bits, int symmetric,
                                      qat_packed_acts *a)
{
    QAT_TRY(check_common(x, ldx, bits, a, "quantize bitnet"));
    const float qp = (float)((1 << (bits - 1)) - 1);
    const float qn = symmetric ? -qp : -(float)(1 << (bits - 1));
    for (int64_t t = 0; t < a->tokens; t++) {
        const float *xr = x + t * ldx;
        int64_t bad = 0;
        if (any_non_finite(xr, a->in, &bad))
            return not_finite("quantize bitnet", t, bad);
        float m = 0.0f;
        for (int64_t c = 0; c < a->in; c++) {
            float v = fabsf(xr[c]);
            m = v > m ? v : m;
        }
        m = m > 1e-5f ? m : 1e-5f;
        int8_t *q = a->codes + t * a->stride;
        int32_t sum = 0;
        for (int64_t c = 0; c < a->in; c++) {
            /* x * Qp / m in this order, as SPEC section 4 and the fake
             * quantizer write it (not x * (Qp / m), which rounds apart). */
            float v = xr[c] * qp / m;
            v = v < qn ? qn : (v > qp ? qp : v);
            q[c] = (int8_t)round_clamped(v);
            sum += q[c];
        }
        a->scale[t] = m / qp;
        a->row_sum[t] = sum;
    }
    a->bits = bits;
    return QAT_OK;
}

qat_status qat_packed_quantize_lsq(const float *x, int64_t ldx, int bits, float step,
                                   qat_packed_acts *a)
{
    QAT_TRY(check_common(x, ldx, bits, a, "quantize lsq"));
    QAT_CHECK_ARG(isfinite(step) && step > 0.0f, "packed: quantize lsq: step = %g must be finite and > 0",
                  (double)step);
    const float qn = -(float)(1 << (bits - 1)), qp = (float)((1 << (bits - 1)) - 1);
    for (int64_t t = 0; t < a->tokens; t++) {
        const float *xr = x + t * ldx;
        int8_t *q = a->codes + t * a->stride;
        int32_t sum = 0;
        int64_t bad = 0;
        if (any_non_finite(xr, a->in, &bad))
            return not_finite("quantize lsq", t, bad);
        for (int64_t c = 0; c < a->in; c++) {
            float v = xr[c] / step;
            v = v < qn ? qn : (v > qp ? qp : v);
            q[c] = (int8_t)round_clamped(v);
            sum += q[c];
        }
        a->scale[t] = step;
        a->row_sum[t] = sum;
    }
    a->bits = bits;
    return QAT_OK;
}
