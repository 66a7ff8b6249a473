// Fused inference attention (kernels.h attention_fwd): one block per query
// row (sequence, head, row), its scores in shared memory, never
// [batch, heads, lq, lk]. Orders as kernels.h fixes them (each score one
// thread summing over d ascending; each context element one thread summing
// over keys ascending; one fmaf per step, fused whatever --fmad says), the
// row softmax as softmax_fwd_kernel computes it.
// A plain kernel for correctness; the batched attention of the training
// path is cuda_gemm's.
#include <cmath>

#include "cuda_common.cuh"

using namespace qatcuda;

namespace {

constexpr int kAttentionThreads = 128;
constexpr int64_t kMaxKeys = 12288; // 48 KiB of shared scores

__global__ void attention_fwd_kernel(qat_attention_desc d)
{
    extern __shared__ float s[];
    __shared__ float shf[32];
    __shared__ double shd[32];
    const int64_t rows = d.batch * d.heads * d.lq, dh = d.head_dim;
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const int64_t i = r % d.lq, bh = r / d.lq, b = bh / d.heads, h = bh % d.heads;
        const float *q = d.q + (b * d.lq + i) * d.ldq + h * dh;
        const float *kb = d.key_bias ? d.key_bias + b * d.lk : nullptr;
        float mx = -INFINITY;
        for (int64_t j = threadIdx.x; j < d.lk; j += blockDim.x) {
            const float *k = d.k + (b * d.lk + j) * d.ldk + h * dh;
            float dot = 0.0f;
            for (int64_t c = 0; c < dh; c++)
                dot = fmaf(q[c], k[c], dot);
            float v = dot * d.scale;
            if (kb)
                v += kb[j];
            s[j] = v;
            mx = v > mx ? v : mx;
        }
        mx = block_max(mx, shf);
        double sum = 0.0;
        for (int64_t j = threadIdx.x; j < d.lk; j += blockDim.x) {
            const float e = expf(s[j] - mx);
            s[j] = e;
            sum += e;
        }
        sum = block_sum(sum, shd);
        const float inv = (float)(1.0 / sum);
        for (int64_t j = threadIdx.x; j < d.lk; j += blockDim.x)
            s[j] *= inv;
        __syncthreads();
        float *o = d.out + (b * d.lq + i) * d.ldo + h * dh;
        for (int64_t c = threadIdx.x; c < dh; c += blockDim.x) {
            float acc = 0.0f;
            for (int64_t j = 0; j < d.lk; j++)
                acc = fmaf(s[j], d.v[(b * d.lk + j) * d.ldv + h * dh + c], acc);
            o[c] = acc;
        }
        __syncthreads();
    }
}

} // namespace

qat_status cuda_attention_fwd(void *st, const qat_attention_desc *desc)
{
    cuda_state *s = to_state(st);
    const qat_attention_desc d = *desc;
    const int64_t rows = d.batch * d.heads * d.lq;
    if (rows <= 0 || d.head_dim <= 0)
        return QAT_OK;
    if (d.lk <= 0 || d.lk > kMaxKeys)
        return cuda_fail(s, QAT_ERR_UNSUPPORTED, "attention_fwd: %lld keys (the cuda kernel holds 1..%lld)",
                         (long long)d.lk, (long long)kMaxKeys);
    attention_fwd_kernel<<<grid_for(rows, 1), kAttentionThreads, (size_t)d.lk * sizeof(float), s->stream>>>(d);
    return cuda_launched(s, "attention_fwd");
}
