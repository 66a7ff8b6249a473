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

// LSQ / LSQ+ (qat_lsq_desc): the step of element i is step[i / cols] per
// row, step[0] per tensor; no offset means no "+ 0" either (signed zeros).
__device__ inline float lsq_v(const qat_lsq_desc &d, const float *x, int64_t i, float s)
{
    const float num = d.offset ? __fsub_rn(x[i], d.offset[0]) : x[i];
    return __fdiv_rn(num, __fadd_rn(s, d.step_eps));
}

__global__ void lsq_fwd_kernel(qat_lsq_desc d, const float *x, float *y)
{
    const int64_t n = d.rows * d.cols;
    QAT_CUDA_LOOP(i, n)
    {
        const float s = d.per_row ? d.step[i / d.cols] : d.step[0];
        float v = lsq_v(d, x, i, s);
        v = v < d.qn ? d.qn : (v > d.qp ? d.qp : v);
        const float q = __fmul_rn(rintf(v), s);
        y[i] = d.offset ? __fadd_rn(q, d.offset[0]) : q;
    }
}

// One element's backward: writes dx[i], adds to the step and offset sums.
__device__ inline void lsq_bwd_one(const qat_lsq_desc &d, const float *dy, const float *x, int64_t i, float s,
                                   float *dx, double &acc, double &acc_offset)
{
    const float v = lsq_v(d, x, i, s);
    const float g = dy[i];
    if (v < d.qn) {
        acc += (double)g * d.qn;
        acc_offset += g;
        dx[i] = 0.0f;
    } else if (v > d.qp) {
        acc += (double)g * d.qp;
        acc_offset += g;
        dx[i] = 0.0f;
    } else {
        acc += (double)g * __fsub_rn(rintf(v), v);
        dx[i] = g;
    }
}

// Per tensor: block partials of both sums, reduced in block order after.
__global__ void lsq_bwd_kernel(qat_lsq_desc d, const float *dy, const float *x, float *dx, double *part,
                               double *part_offset)
{
    __shared__ double sh[32];
    const float s = d.step[0];
    const int64_t n = d.rows * d.cols;
    double acc = 0.0, acc_offset = 0.0;
    QAT_CUDA_LOOP(i, n)
    lsq_bwd_one(d, dy, x, i, s, dx, acc, acc_offset);
    acc = block_sum(acc, sh);
    acc_offset = block_sum(acc_offset, sh);
    if (threadIdx.x == 0) {
        part[blockIdx.x] = acc;
        part_offset[blockIdx.x] = acc_offset;
    }
}

// Per row: one block per row owns its step's gradient (no atomics: the
// sum's order is fixed). Per-row steps have no offset (weights).
__global__ void lsq_bwd_rows_kernel(qat_lsq_desc d, const float *dy, const float *x, float grad_scale, float *dx,
                                    float *dstep)
{
    __shared__ double sh[32];
    for (int64_t r = blockIdx.x; r < d.rows; r += gridDim.x) {
        const float s = d.step[r];
        double acc = 0.0, unused = 0.0;
        for (int64_t c = threadIdx.x; c < d.cols; c += blockDim.x)
            lsq_bwd_one(d, dy, x, r * d.cols + c, s, dx, acc, unused);
        acc = block_sum(acc, sh);
        if (threadIdx.x == 0)
            dstep[r] += (float)(acc * grad_scale);
        __syncthreads();
    }
}

__global__ void lsq_step_grad_kernel(const double *part, const double *part_offset, int64_t blocks,
                                     float grad_scale, float *dstep, float *doffset)
{
    if (threadIdx.x == 0 && blockIdx.x == 0) {
        dstep[0] += (float)(ordered_sum(part, blocks) * grad_scale);
        if (doffset)
            doffset[0] += (float)(ordered_sum(part_offset, blocks) * grad_scale);
    }
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

__global__ void bitnet_act_kernel(const float *x, int64_t rows, int64_t cols, bitnet_range range, float *y)
{
    __shared__ float sh[32];
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const float *xr = x + r * cols;
        float m = 0.0f;
        for (int64_t c = threadIdx.x; c < cols; c += blockDim.x)
            m = fabsf(xr[c]) > m ? fabsf(xr[c]) : m;
        m = bitnet_row_scale(m, sh);
        float *yr = y + r * cols;
        for (int64_t c = threadIdx.x; c < cols; c += blockDim.x)
            yr[c] = bitnet_act_value(xr[c], range, m);
        __syncthreads(); // y may alias x
    }
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

static qat_status check_lsq(cuda_state *s, const qat_lsq_desc *d, const char *what)
{
    if (!d || d->rows < 0 || d->cols < 0 || !d->step || !(d->qn < d->qp))
        return cuda_fail(s, QAT_ERR_INVALID_ARGUMENT, "%s: bad LSQ descriptor", what);
    if (d->per_row && d->offset)
        return cuda_fail(s, QAT_ERR_INVALID_ARGUMENT, "%s: per-row steps take no offset", what);
    return QAT_OK;
}

qat_status cuda_lsq_fwd(void *st, const qat_lsq_desc *d, const float *x, float *y)
{
    cuda_state *s = to_state(st);
    qat_status status = check_lsq(s, d, "lsq_fwd");
    const int64_t n = status == QAT_OK ? d->rows * d->cols : 0;
    if (status != QAT_OK || n <= 0)
        return status;
    lsq_fwd_kernel<<<grid_for(n), kThreads, 0, s->stream>>>(*d, x, y);
    return cuda_launched(s, "lsq_fwd");
}

qat_status cuda_lsq_bwd(void *st, const qat_lsq_desc *d, const float *dy, const float *x, float grad_scale,
                        float *dx, float *dstep, float *doffset)
{
    cuda_state *s = to_state(st);
    qat_status status = check_lsq(s, d, "lsq_bwd");
    const int64_t n = status == QAT_OK ? d->rows * d->cols : 0;
    if (status != QAT_OK || n <= 0)
        return status; // n == 0: dstep += 0
    if (d->per_row) {
        const unsigned blocks = d->rows < 4096 ? (unsigned)d->rows : 4096u;
        lsq_bwd_rows_kernel<<<blocks, kThreads, 0, s->stream>>>(*d, dy, x, grad_scale, dx, dstep);
        return cuda_launched(s, "lsq_bwd (per row)");
    }
    // The block count depends on n only, so the reduction tree does too.
    const unsigned blocks = grid_for(n, (int64_t)kThreads * 8) < 1024 ? grid_for(n, (int64_t)kThreads * 8) : 1024;
    void *ws = nullptr;
    if ((status = cuda_workspace(s, 2 * blocks * sizeof(double), &ws)) != QAT_OK)
        return status;
    double *part = static_cast<double *>(ws);
    lsq_bwd_kernel<<<blocks, kThreads, 0, s->stream>>>(*d, dy, x, dx, part, part + blocks);
    if ((status = cuda_launched(s, "lsq_bwd")) != QAT_OK)
        return status;
    lsq_step_grad_kernel<<<1, 32, 0, s->stream>>>(part, part + blocks, blocks, grad_scale, dstep,
                                                  d->offset ? doffset : nullptr);
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
    bitnet_range range;
    qat_status status = bitnet_act_range(s, bits, symmetric, &range, "bitnet_act_fwd");
    if (status != QAT_OK || rows <= 0 || cols <= 0)
        return status;
    bitnet_act_kernel<<<grid_for(rows, 1), kThreads, 0, s->stream>>>(x, rows, cols, range, y);
    return cuda_launched(s, "bitnet_act_fwd");
}
