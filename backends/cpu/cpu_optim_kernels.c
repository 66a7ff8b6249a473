/* The cpu backend's optimizer slots: the gradient norm (backends/host's,
 * each tensor's sum of squares on the state's ISA) and AdamW (ref's element
 * loop as a vector twin; element-wise, so any split gives ref's bits). */
#include <math.h>

#include "backend/backend.h"
#include "cpu/cpu_float.h"
#include "cpu/cpu_kernels.h"
#include "host/host_grad_norm.h"

static double square_sum(const void *isa, const float *x, int64_t n)
{
    return qat_cpu_square_sum_row(*(const qat_cpu_float_isa *)isa, x, n);
}

qat_status qat_cpu_grad_norm(void *state, const qat_segments *seg, const float *grad, float max_norm, float *out)
{
    return qat_host_grad_norm(state, seg, grad, max_norm, out, square_sum, &((qat_cpu_state *)state)->isa);
}

typedef struct adamw_args {
    qat_cpu_float_isa isa;
    const qat_adamw_desc *d;
    float decay, scale;
    int positive;
    float *param, *grad, *exp_avg, *exp_avg_sq;
} adamw_args;

static int adamw_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const adamw_args *a = arg;
    (void)index;
#ifdef QAT_CPU_TWINS
    QAT_CPU_VECTOR(a->isa, qat_cpu_adamw_run)(
        a->d, a->decay, a->positive, a->scale, a->param + begin, a->grad + begin, a->exp_avg + begin,
        a->exp_avg_sq + begin, end - begin);
#else
    (void)a, (void)begin, (void)end;
#endif
    return 0;
}

qat_status qat_cpu_adamw(void *state, const qat_adamw_desc *d, const qat_segments *seg, float *param, float *grad,
                         float *exp_avg, float *exp_avg_sq)
{
    const qat_cpu_float_isa isa = ((qat_cpu_state *)state)->isa;
#if defined(__x86_64__)
    const int vector = isa == QAT_CPU_FLOAT_AVX512 || (isa == QAT_CPU_FLOAT_AVX2 && __builtin_cpu_supports("fma"));
#elif defined(__aarch64__)
    const int vector = isa == QAT_CPU_FLOAT_NEON; /* fmla is base AArch64 */
#else
    const int vector = 0;
#endif
    if (!vector)
        return qat_backend_ref_ops.adamw(state, d, seg, param, grad, exp_avg, exp_avg_sq);
    for (int64_t i = 0; d->check && i < d->check_count; i++)
        if (!isfinite(d->check[i]))
            return QAT_OK; /* the caller reports the non-finite value */
    const float scale = d->scale ? d->scale[0] : 1.0f;
    for (int64_t t = 0; t < seg->count; t++) {
        const int64_t begin = seg->bounds[2 * t], end = seg->bounds[2 * t + 1];
        adamw_args a = {isa, d, seg->flags[t] & QAT_SEGMENT_DECAY ? d->decay : 1.0f, scale,
                        seg->flags[t] & QAT_SEGMENT_POSITIVE, param + begin, grad + begin, exp_avg + begin,
                        exp_avg_sq + begin};
        qat_host_for(state, end - begin, 16, adamw_range, &a);
    }
    return QAT_OK;
}
