#include "host/host_grad_norm.h"

#include <math.h>
#include <stdlib.h>

#include "core/error.h"
#include "host/host_memory.h"

typedef struct norm_args {
    const qat_segments *seg;
    const float *grad;
    qat_host_square_sum_fn square_sum;
    const void *arg;
    float *norms; /* per tensor */
} norm_args;

static int norm_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const norm_args *a = arg;
    (void)index;
    for (int64_t t = begin; t < end; t++) {
        const int64_t first = a->seg->bounds[2 * t], last = a->seg->bounds[2 * t + 1];
        /* torch stacks per-tensor float norms: rounding each to float keeps
         * its intermediate precision. */
        a->norms[t] = (float)sqrt(a->square_sum(a->arg, a->grad + first, last - first));
    }
    return 0;
}

qat_status qat_host_grad_norm(void *state, const qat_segments *seg, const float *grad, float max_norm, float *out,
                              qat_host_square_sum_fn square_sum, const void *arg)
{
    norm_args a = {seg, grad, square_sum, arg, malloc((size_t)(seg->count > 0 ? seg->count : 1) * sizeof(float))};
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
