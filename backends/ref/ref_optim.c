/* The optimizer step's kernels: the gradient norm of clip_grad_norm_ and
 * AdamW, in torch 1.13's roundings (see qat_adamw_desc). The update is
 * element-wise, so any split over threads gives the same bits; the norm
 * (backends/host/host_grad_norm.c) sums each tensor in lib/math's 16 double
 * lanes (qat_square_sum_row), one tensor per range, and combines the
 * tensors' norms in tensor order, so it too is the same with any thread
 * count. */
#include <math.h>

#include "host/host_grad_norm.h"
#include "math/row_math.h"
#include "ref/ref_backend.h"
#include "ref/ref_kernels.h"

typedef struct scale_args {
    const float *x;
    float *out;
    float s;
} scale_args;

static int scale_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const scale_args *a = arg;
    (void)index;
    for (int64_t i = begin; i < end; i++)
        a->out[i] = a->x[i] * a->s;
    return 0;
}

qat_status qat_ref_scale(void *st, const float *x, int64_t n, float s, float *out)
{
    scale_args a = {x, out, s};
    qat_host_for(st, n, 1, scale_range, &a);
    return QAT_OK;
}

static double square_sum(const void *arg, const float *x, int64_t n)
{
    (void)arg;
    return qat_square_sum_row(x, n);
}

qat_status qat_ref_grad_norm(void *st, const qat_segments *seg, const float *grad, float max_norm, float *out)
{
    return qat_host_grad_norm(st, seg, grad, max_norm, out, square_sum, NULL);
}

typedef struct adamw_args {
    const qat_adamw_desc *d;
    float decay; /* this tensor's: d->decay or 1 */
    int positive; /* a quantizer step: floored at QAT_STEP_FLOOR */
    float scale;
    float *param, *grad, *exp_avg, *exp_avg_sq;
} adamw_args;

static int adamw_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const adamw_args *a = arg;
    const qat_adamw_desc *d = a->d;
    (void)index;
    for (int64_t i = begin; i < end; i++) {
        float g = a->grad[i];
        if (a->scale != 1.0f) {
            g *= a->scale;
            a->grad[i] = g;
        }
        float p = a->param[i] * a->decay;
        /* The cpu backend's AVX2 / AVX-512 twin (cpu_float_simd.h) repeats
         * this loop operation for operation.
         * ATen's AVX2 kernels contract these into fused multiply-adds
         * (add: fmadd(grad, alpha, self); addcmul: fma(value * t1, t2, self));
         * fmaf() reproduces them bit for bit (glibc picks the FMA instruction
         * where the CPU has one). */
        float m = fmaf(g, d->one_minus_b1, a->exp_avg[i] * d->b1);
        float v = fmaf(d->one_minus_b2 * g, g, a->exp_avg_sq[i] * d->b2);
        float denom = sqrtf(v) / d->bc2_sqrt + d->eps;
        p += d->neg_step_size * m / denom;
        a->param[i] = a->positive && p < QAT_STEP_FLOOR ? QAT_STEP_FLOOR : p;
        a->exp_avg[i] = m;
        a->exp_avg_sq[i] = v;
    }
    return 0;
}

qat_status qat_ref_adamw(void *st, const qat_adamw_desc *d, const qat_segments *seg, float *param, float *grad,
                         float *exp_avg, float *exp_avg_sq)
{
    for (int64_t i = 0; d->check && i < d->check_count; i++)
        if (!isfinite(d->check[i]))
            return QAT_OK; /* the caller reports the non-finite value */
    const float scale = d->scale ? d->scale[0] : 1.0f;
    for (int64_t t = 0; t < seg->count; t++) {
        const int64_t begin = seg->bounds[2 * t], end = seg->bounds[2 * t + 1];
        adamw_args a = {d, seg->flags[t] & QAT_SEGMENT_DECAY ? d->decay : 1.0f, seg->flags[t] & QAT_SEGMENT_POSITIVE, scale, param + begin, grad + begin, exp_avg + begin,
                        exp_avg_sq + begin};
        qat_host_for(st, end - begin, 16, adamw_range, &a);
    }
    return QAT_OK;
}
