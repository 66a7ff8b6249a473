/* Shared by the packed suites: an independent fake-quant reference written
 * straight from docs/method.md section 4 (not calling lib/packed), input generators
 * with adversarial values, and the ISA list. Header-only (static). */
#ifndef QAT_PACKED_TEST_UTIL_H
#define QAT_PACKED_TEST_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "packed/packed.h"
#include "test_main.h" /* test_under_valgrind */

static const qat_packed_isa all_isas[] = {QAT_PACKED_ISA_SCALAR, QAT_PACKED_ISA_AVX2, QAT_PACKED_ISA_AVX512VNNI,
                                          QAT_PACKED_ISA_ONEDNN, QAT_PACKED_ISA_NEON, QAT_PACKED_ISA_AMX,
                                          QAT_PACKED_ISA_AVX512VBMI};
#define N_ISAS 7

/* Says once per process and ISA why a path is skipped. */
static inline int isa_runs(qat_packed_isa isa)
{
    static int said[QAT_PACKED_ISA_COUNT];
    const char *memcheck = test_valgrind_skips(isa);
    if (qat_packed_isa_available(isa) && !memcheck)
        return 1;
    if (!said[isa]) {
        fprintf(stderr, "SKIP: ISA path %s not tested: %s\n", qat_packed_isa_name(isa),
                memcheck ? memcheck : qat_packed_isa_missing(isa));
        said[isa] = 1;
    }
    return 0;
}

static inline float ref_clampf(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

/* gamma = max(mean|W|, 1e-5), mean in double (per tensor or per row). */
static inline void ref_bitnet_gamma(const float *w, int64_t out, int64_t in, int per_row, float *gamma)
{
    for (int64_t r = 0; r < (per_row ? out : 1); r++) {
        int64_t n = per_row ? in : out * in;
        const float *p = per_row ? w + r * in : w;
        double acc = 0.0;
        for (int64_t i = 0; i < n; i++)
            acc += fabsf(p[i]);
        float m = (float)(acc / (double)n);
        gamma[r] = m > 1e-5f ? m : 1e-5f;
    }
}

static inline void ref_bitnet_w(const float *w, int64_t out, int64_t in, int per_row, const float *gamma,
                         int8_t *q)
{
    for (int64_t r = 0; r < out; r++)
        for (int64_t c = 0; c < in; c++)
            q[r * in + c] = (int8_t)ref_clampf(nearbyintf(w[r * in + c] / gamma[per_row ? r : 0]), -1, 1);
}

static inline void ref_lsq(const float *x, int64_t rows, int64_t cols, int bits, const float *step, int per_row,
                    int8_t *q)
{
    float qn = -(float)(1 << (bits - 1)), qp = (float)((1 << (bits - 1)) - 1);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++)
            q[r * cols + c] = (int8_t)nearbyintf(ref_clampf(x[r * cols + c] / step[per_row ? r : 0], qn, qp));
}

static inline void ref_bitnet_act(const float *x, int64_t rows, int64_t cols, int bits, int symmetric, int8_t *q,
                           float *scale)
{
    float qp = (float)((1 << (bits - 1)) - 1), qn = symmetric ? -qp : -(float)(1 << (bits - 1));
    for (int64_t r = 0; r < rows; r++) {
        float m = 0.0f;
        for (int64_t c = 0; c < cols; c++)
            m = fmaxf(m, fabsf(x[r * cols + c]));
        m = fmaxf(m, 1e-5f);
        for (int64_t c = 0; c < cols; c++)
            q[r * cols + c] = (int8_t)ref_clampf(nearbyintf(x[r * cols + c] * qp / m), qn, qp);
        scale[r] = m / qp;
    }
}

/* LSQ+ (docs/quantizers.md): u = round(clamp((x - beta) / (s + eps), 0, 2^b - 1)),
 * stored as the signed code u - 2^(b-1). */
static inline void ref_lsq_plus(const float *x, int64_t rows, int64_t cols, int bits, float step, float beta,
                                float eps, int8_t *q)
{
    const float qp = (float)((1 << bits) - 1);
    for (int64_t i = 0; i < rows * cols; i++)
        q[i] = (int8_t)((int)nearbyintf(ref_clampf((x[i] - beta) / (step + eps), 0.0f, qp)) - (1 << (bits - 1)));
}

/* Values with a wide spread of magnitudes, exact .5 ties relative to
 * `tie_step` and some zero rows. */
static inline void fill_adversarial(float *x, int64_t rows, int64_t cols, qat_rng *rng, float tie_step)
{
    for (int64_t r = 0; r < rows; r++) {
        int kind = (int)qat_rng_below(rng, 6);
        for (int64_t c = 0; c < cols; c++) {
            float v = qat_rng_normal(rng);
            switch (kind) {
            case 0: /* exact ties k + 0.5 in units of tie_step */
                v = ((float)((int)qat_rng_below(rng, 21) - 10) + 0.5f) * tie_step;
                break;
            case 1:
                v = (rows > 1 && r == rows - 1) ? 0.0f : v * 1e-7f; /* floor of m */
                break;
            case 2:
                v *= 1e12f; /* squares stay finite in float */
                break;
            case 3: /* one outlier per row */
                if (c == cols / 2)
                    v *= 1000.0f;
                break;
            default:
                break;
            }
            x[r * cols + c] = v;
        }
    }
}

#endif
