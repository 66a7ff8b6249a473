// Quantizer kernels: mean |x|, LSQ forward/backward, BitNet b1.58 weights
// and per-token activations. The float arithmetic is the ref backend's, in
// its order, with explicitly rounded intrinsics (__fmul_rn, __fdiv_rn: never
// contracted into an FMA) and rintf (round half to even), so codes and
// scales are bit-identical to backends/ref whenever the statistic (mean |w|,
// max |x|, the step) is.
#include "cuda_common.cuh"

using namespace qatcuda;

namespace {

// Sum of |x| over each row in two ordered stages: blocks over chunks of a
// row write partials, then one thread per row adds them in chunk order.
__global__ void abs_sum_partial_kernel(const float *x, int64_t rows, int64_t cols, int64_t chunk_len,
                                       int64_t chunks, double *part)
{
    __shared__ double sh[32];
    for (int64_t r = blockIdx.y; r < rows; r += gridDim.y)
        for (int64_t k = blockIdx.x; k < chunks; k += gridDim.x) {
            const float *xr = x + r * cols;
            const int64_t c0 = k * chunk_len, c1 = c0 + chunk_len < cols ? c0 + chunk_len : cols;
            double acc = 0.0;
            for (int64_t c = c0 + threadIdx.x; c < c1; c += blockDim.x)
                acc += fabsf(xr[c]);
            acc = block_sum(acc, sh);
            if (threadIdx.x == 0)
                part[r * chunks + k] = acc;
        }
}

// mode 0: out[r] = mean |x| (abs_mean); mode 1: out[r] = max(mean |x|, 1e-5) (BitNet gamma).
__global__ void abs_mean_final_kernel(const double *part, int64_t rows, int64_t chunks, int64_t cols, int mode,
                                      float *out)
{
    QAT_CUDA_LOOP(r, rows)
    {
        const float m = (float)(ordered_sum(part + r * chunks, chunks) / (double)cols);
        out[r] = mode == 0 ? m : (m > 1e-5f ? m : 1e-5f);
    }
}

__global__ void lsq_fwd_kernel(const float *x, int64_t n, const float *step, float qn, float qp, float *y)
{
    const float s = step[0];
    QAT_CUDA_LOOP(i, n)
    {
        float v = __fdiv_rn(x[i], s);
        v = v < qn ? qn : (v > qp ? qp : v);
        y[i] = __fmul_rn(rintf(v), s);
    }
}

__global__ void lsq_bwd_kernel(const float *dy, const float *x, int64_t n, const float *step, float qn, float qp,
                               float *dx, double *part)
{
    __shared__ double sh[32];
    const float s = step[0];
    double acc = 0.0;
    QAT_CUDA_LOOP(i, n)
    {
        const float v = __fdiv_rn(x[i], s);
        const float g = dy[i];
        if (v < qn) {
            acc += (double)g * qn;
            dx[i] = 0.0f;
        } else if (v > qp) {
            acc += (double)g * qp;
            dx[i] = 0.0f;
        } else {
            acc += (double)g * __fsub_rn(rintf(v), v);
            dx[i] = g;
        }
    }
    acc = block_sum(acc, sh);
    if (threadIdx.x == 0)
        part[blockIdx.x] = acc;
}

__global__ void lsq_step_grad_kernel(const double *part, int64_t blocks, float grad_scale, float *dstep)
{
    if (threadIdx.x == 0 && blockIdx.x == 0)
        dstep[0] += (float)(ordered_sum(part, blocks) * grad_scale);
}

__global__ void bitnet_weight_kernel(const float *w, int64_t rows, int64_t cols, int per_row, const float *gamma,
                                     float *y)
{
    const int64_t n = rows * cols;
    QAT_CUDA_LOOP(i, n)
    {
        const float g = per_row ? gamma[i / cols] : gamma[0];
        float q = rintf(__fdiv_rn(w[i], g));
        q = q < -1.0f ? -1.0f : (q > 1.0f ? 1.0f : q);
        y[i] = __fmul_rn(q, g);
    }
}

__global__ void bitnet_act_kernel(const float *x, int64_t rows, int64_t cols, float qp, float lo, float *y)
{
    __shared__ float sh[32];
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const float *xr = x + r * cols;
        float m = 0.0f;
        for (int64_t c = threadIdx.x; c < cols; c += blockDim.x)
            m = fabsf(xr[c]) > m ? fabsf(xr[c]) : m;
        m = block_max(m, sh); // max is exact: any order gives the ref's value
        m = m > 1e-5f ? m : 1e-5f;
        float *yr = y + r * cols;
        for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
            float q = rintf(__fdiv_rn(__fmul_rn(xr[c], qp), m));
            q = q < lo ? lo : (q > qp ? qp : q);
            yr[c] = __fdiv_rn(__fmul_rn(q, m), qp);
        }
        __syncthreads(); // y may alias x
    }
}

qat_status check_bits(cuda_state *s, int bits, const char *what)
{
    if (bits < 1 || bits > 24)
        return cuda_fail(s, QAT_ERR_INVALID_ARGUMENT, "%s: bits = %d is outside [1, 24]", what, bits);
    return QAT_OK;
}

// Writes f(sum_c |x[r,c]|) for r < rows into out (device), f per `mode`.
qat_status abs_mean_rows(cuda_state *s, const float *x, int64_t rows, int64_t cols, int mode, float *out,
                         const char *what)
{
    // Chunks of at least 8 elements per thread, at most 1024 per row (none
    // when cols == 0: the mean is then 0 / 0, NaN, as in ref).
    int64_t chunk_len = (int64_t)kThreads * 8;
    if ((cols + chunk_len - 1) / chunk_len > 1024)
        chunk_len = (cols + 1023) / 1024;
    const int64_t chunks = (cols + chunk_len - 1) / chunk_len;
    void *ws = nullptr;
    qat_status status = cuda_workspace(s, (size_t)(rows * chunks) * sizeof(double), &ws);
    if (status != QAT_OK)
        return status;
    double *part = static_cast<double *>(ws);
    dim3 grid(grid_for(chunks, 1), grid_for(rows, 1));
    abs_sum_partial_kernel<<<grid, kThreads, 0, s->stream>>>(x, rows, cols, chunk_len, chunks, part);
    if ((status = cuda_launched(s, what)) != QAT_OK)
        return status;
    abs_mean_final_kernel<<<grid_for(rows), kThreads, 0, s->stream>>>(part, rows, chunks, cols, mode, out);
    return cuda_launched(s, what);
}

} // namespace

qat_status cuda_abs_mean(void *st, const float *x, int64_t rows, int64_t cols, float *out)
{
    cuda_state *s = to_state(st);
    if (rows <= 0)
        return QAT_OK;
    return abs_mean_rows(s, x, rows, cols, 0, out, "abs_mean");
}

qat_status cuda_lsq_fwd(void *st, const float *x, int64_t n, const float *step, int bits, float *y)
{
    cuda_state *s = to_state(st);
    qat_status status = check_bits(s, bits, "lsq_fwd");
    if (status != QAT_OK || n <= 0)
        return status;
    const float qn = -(float)(1 << (bits - 1)), qp = (float)((1 << (bits - 1)) - 1);
    lsq_fwd_kernel<<<grid_for(n), kThreads, 0, s->stream>>>(x, n, step, qn, qp, y);
    return cuda_launched(s, "lsq_fwd");
}

qat_status cuda_lsq_bwd(void *st, const float *dy, const float *x, int64_t n, const float *step, int bits,
                        float grad_scale, float *dx, float *dstep)
{
    cuda_state *s = to_state(st);
    qat_status status = check_bits(s, bits, "lsq_bwd");
    if (status != QAT_OK || n <= 0)
        return status; // n == 0: dstep += 0
    const float qn = -(float)(1 << (bits - 1)), qp = (float)((1 << (bits - 1)) - 1);
    // The block count depends on n only, so the reduction tree does too.
    const unsigned blocks = grid_for(n, (int64_t)kThreads * 8) < 1024 ? grid_for(n, (int64_t)kThreads * 8) : 1024;
    void *ws = nullptr;
    if ((status = cuda_workspace(s, blocks * sizeof(double), &ws)) != QAT_OK)
        return status;
    double *part = static_cast<double *>(ws);
    lsq_bwd_kernel<<<blocks, kThreads, 0, s->stream>>>(dy, x, n, step, qn, qp, dx, part);
    if ((status = cuda_launched(s, "lsq_bwd")) != QAT_OK)
        return status;
    lsq_step_grad_kernel<<<1, 32, 0, s->stream>>>(part, blocks, grad_scale, dstep);
    return cuda_launched(s, "lsq_bwd (step gradient)");
}

qat_status cuda_bitnet_weight_fwd(void *st, const float *w, int64_t rows, int64_t cols, int per_row, float *gamma,
                                  float *y)
{
    cuda_state *s = to_state(st);
    if (rows < 0 || cols < 0)
        return cuda_fail(s, QAT_ERR_INVALID_ARGUMENT, "bitnet_weight_fwd: negative size");
    if (per_row && rows == 0)
        return QAT_OK;
    // As ref: an empty tensor still gets gamma = 1e-5 (0 / 0 fails the max).
    qat_status status = per_row ? abs_mean_rows(s, w, rows, cols, 1, gamma, "bitnet_weight_fwd (gamma)")
                                : abs_mean_rows(s, w, 1, rows * cols, 1, gamma, "bitnet_weight_fwd (gamma)");
    if (status != QAT_OK || rows * cols == 0)
        return status;
    bitnet_weight_kernel<<<grid_for(rows * cols), kThreads, 0, s->stream>>>(w, rows, cols, per_row, gamma, y);
    return cuda_launched(s, "bitnet_weight_fwd");
}

qat_status cuda_bitnet_act_fwd(void *st, const float *x, int64_t rows, int64_t cols, int bits, int symmetric,
                               float *y)
{
    cuda_state *s = to_state(st);
    qat_status status = check_bits(s, bits, "bitnet_act_fwd");
    if (status != QAT_OK || rows <= 0 || cols <= 0)
        return status;
    const float qp = (float)((1 << (bits - 1)) - 1);
    const float lo = symmetric ? -qp : -(float)(1 << (bits - 1));
    bitnet_act_kernel<<<grid_for(rows, 1), kThreads, 0, s->stream>>>(x, rows, cols, qp, lo, y);
    return cuda_launched(s, "bitnet_act_fwd");
}
