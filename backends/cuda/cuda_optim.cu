// The optimizer step's kernels (scale, grad_norm, adamw), so a training step
// keeps parameters, gradients and moments on the device and never waits on
// the host: the clip coefficient and the "skip when not finite" decision are
// computed and read on the device. Same arithmetic as backends/ref/ref_optim.c;
// the norm sums in a different (fixed) order, so it matches ref to rounding,
// and the update is then element for element ref's (explicit fmaf, IEEE
// sqrt and division; the module is built with --fmad=false).
#include "cuda_common.cuh"

using namespace qatcuda;

namespace {

// Blocks per tensor of the two-stage norm: enough to fill the GPU on the
// large tensors, a fixed count so the summation order never depends on
// scheduling.
constexpr int kNormChunks = 64;

__global__ void scale_kernel(const float *x, int64_t n, float s, float *out)
{
    QAT_CUDA_LOOP(i, n)
    out[i] = x[i] * s;
}

// Stage 1: block (chunk, tensor) sums the squares of its share of the
// tensor (in double) into part[tensor * kNormChunks + chunk].
__global__ void sq_partial_kernel(const int64_t *bounds, const float *grad, double *part)
{
    __shared__ double sh[32];
    const int64_t t = blockIdx.y;
    const int64_t begin = bounds[2 * t], end = bounds[2 * t + 1];
    double acc = 0.0;
    for (int64_t i = begin + (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < end;
         i += (int64_t)gridDim.x * blockDim.x) {
        const double g = grad[i];
        acc += g * g;
    }
    acc = block_sum(acc, sh);
    if (threadIdx.x == 0)
        part[t * kNormChunks + blockIdx.x] = acc;
}

// Stage 2 (one thread): each tensor's norm rounded to float, as torch stacks
// them, then the norm of the norms, and clip_grad_norm_'s coefficient
// (qat_clip_coef in backend/kernels.h: the same two lines).
__global__ void norm_final_kernel(const double *part, int64_t count, float max_norm, float *out)
{
    if (blockIdx.x != 0 || threadIdx.x != 0)
        return;
    double total = 0.0;
    for (int64_t t = 0; t < count; t++) {
        const float norm = (float)sqrt(ordered_sum(part + t * kNormChunks, kNormChunks));
        total += (double)norm * (double)norm;
    }
    const float norm = (float)sqrt(total);
    out[0] = norm;
    float coef = 1.0f;
    if (max_norm > 0.0f) {
        coef = __fmul_rn(__fdiv_rn(1.0f, __fadd_rn(norm, 1e-6f)), max_norm);
        coef = coef < 1.0f || coef != coef ? coef : 1.0f;
    }
    out[1] = coef;
}

// Block (chunk, tensor) updates its share of the tensor. The check values
// and the scale are read on the device: nothing waits on the host.
__global__ void adamw_kernel(qat_adamw_desc d, const int64_t *bounds, const uint8_t *flags, float *param,
                             float *grad, float *exp_avg, float *exp_avg_sq)
{
    for (int64_t c = 0; d.check && c < d.check_count; c++)
        if (!isfinite(d.check[c]))
            return;
    const int64_t t = blockIdx.y;
    const int64_t begin = bounds[2 * t], end = bounds[2 * t + 1];
    const float scale = d.scale ? d.scale[0] : 1.0f;
    const float dec = (flags[t] & QAT_SEGMENT_DECAY) ? d.decay : 1.0f;
    const bool positive = (flags[t] & QAT_SEGMENT_POSITIVE) != 0;
    for (int64_t i = begin + (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < end;
         i += (int64_t)gridDim.x * blockDim.x) {
        float g = grad[i];
        if (scale != 1.0f) {
            g = __fmul_rn(g, scale);
            grad[i] = g;
        }
        const float p = __fmul_rn(param[i], dec);
        const float m = fmaf(g, d.one_minus_b1, __fmul_rn(exp_avg[i], d.b1));
        const float v = fmaf(__fmul_rn(d.one_minus_b2, g), g, __fmul_rn(exp_avg_sq[i], d.b2));
        const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(v), d.bc2_sqrt), d.eps);
        const float updated = __fadd_rn(p, __fdiv_rn(__fmul_rn(d.neg_step_size, m), denom));
        param[i] = positive && updated < QAT_STEP_FLOOR ? QAT_STEP_FLOOR : updated;
        exp_avg[i] = m;
        exp_avg_sq[i] = v;
    }
}

// Blocks per tensor for the update: the largest tensor's share of the GPU.
unsigned update_chunks(const cuda_state *s)
{
    int64_t b = (int64_t)s->sm_count * 4;
    return (unsigned)(b < 1 ? 1 : (b > kMaxGrid ? kMaxGrid : b));
}

} // namespace

qat_status cuda_scale(void *st, const float *x, int64_t n, float s_, float *out)
{
    cuda_state *s = to_state(st);
    if (n <= 0)
        return QAT_OK;
    scale_kernel<<<grid_for(n), kThreads, 0, s->stream>>>(x, n, s_, out);
    return cuda_launched(s, "scale");
}

qat_status cuda_grad_norm(void *st, const qat_segments *seg, const float *grad, float max_norm, float *out)
{
    cuda_state *s = to_state(st);
    if (!seg || seg->count < 0 || seg->count > kMaxGrid || (seg->count > 0 && (!seg->bounds || !grad)) || !out)
        return cuda_fail(s, QAT_ERR_INVALID_ARGUMENT, "grad_norm: bad segments (%lld tensors)",
                         seg ? (long long)seg->count : -1ll);
    const int64_t count = seg->count;
    void *ws = nullptr;
    qat_status status = cuda_workspace(s, (size_t)(count > 0 ? count : 1) * kNormChunks * sizeof(double), &ws);
    if (status != QAT_OK)
        return status;
    double *part = static_cast<double *>(ws);
    if (count > 0) {
        sq_partial_kernel<<<dim3(kNormChunks, (unsigned)count), kThreads, 0, s->stream>>>(seg->bounds, grad, part);
        if ((status = cuda_launched(s, "grad_norm")) != QAT_OK)
            return status;
    }
    norm_final_kernel<<<1, 32, 0, s->stream>>>(part, count, max_norm, out);
    return cuda_launched(s, "grad_norm");
}

qat_status cuda_adamw(void *st, const qat_adamw_desc *desc, const qat_segments *seg, float *param, float *grad,
                      float *exp_avg, float *exp_avg_sq)
{
    cuda_state *s = to_state(st);
    if (!desc || !seg || seg->count < 0 || seg->count > kMaxGrid || desc->check_count < 0 ||
        (desc->check_count > 0 && !desc->check))
        return cuda_fail(s, QAT_ERR_INVALID_ARGUMENT, "adamw: bad descriptor or segments");
    if (seg->count == 0)
        return QAT_OK;
    adamw_kernel<<<dim3(update_chunks(s), (unsigned)seg->count), kThreads, 0, s->stream>>>(
        *desc, seg->bounds, seg->flags, param, grad, exp_avg, exp_avg_sq);
    return cuda_launched(s, "adamw");
}
