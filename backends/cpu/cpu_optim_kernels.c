/* The cpu backend's optimizer slots: the gradient norm (each tensor's sum of
 * squares on the state's ISA, in lib/math's double lanes, one tensor per
 * range, the tensors combined in order, as ref) and AdamW (ref's element
 * loop as a vector twin; element-wise, so any split gives ref's bits). */
#include <math.h>
#include <stdlib.h>

#include "backend/backend.h"
#include "core/error.h"
#include "cpu/cpu_float.h"
#include "cpu/cpu_kernels.h"

typedef struct norms {
    qat_cpu_float_isa isa;
    const qat_segments *seg;
    const float *grad;
    float *norms; /* per tensor */
} norms;

static int norm_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const norms *a = arg;
    (void)index;
    for (int64_t t = begin; t < end; t++) {
        const int64_t first = a->seg->bounds[2 * t], last = a->seg->bounds[2 * t + 1];
        a->norms[t] = (float)sqrt(qat_cpu_square_sum_row(a->isa, a->grad + first, last - first));
    }
    return 0;
}

qat_status qat_cpu_grad_norm(void *state, const qat_segments *seg, const float *grad, float max_norm, float *out)
{
    norms a = {((qat_cpu_state *)state)->isa, seg, grad, malloc((size_t)(seg->count > 0 ? seg->count : 1) *
                                                                  sizeof(float))};
    if (!a.norms)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "gradient norm: out of memory");
    const int64_t total = seg->count > 0 ? seg->bounds[2 * seg->count - 1] : 0;
    qat_host_for(state, seg->count, seg->count > 0 ? total / seg->count + 1 : 1, norm_range, &a);
    double sum = 0.0;
    for (int64_t t = 0; t < seg->count; t++)
        sum += (double)a.norms[t] * (double)a.norms[t];
    free(a.norms);
    out[0] = (float)sqrt(sum);
    out[1] = max_norm > 0.0f ? qat_clip_coef(out[0], max_norm) : 1.0f;
    return QAT_OK;
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
#if defined(__x86_64__)
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
