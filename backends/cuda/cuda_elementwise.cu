// Element-wise kernels: fill, copy, add, accumulate, bias + exact GELU, GELU
// backward, bias gradient (alone or with the GELU backward), dropout. Same
// arithmetic as backends/ref.
#include "cuda_common.cuh"

using namespace qatcuda;

namespace {

constexpr float kSqrt1_2 = 0.70710678118654752440f; // (float)M_SQRT1_2, as ref
constexpr float kInvSqrt2Pi = 0.3989422804014327f;

__device__ __forceinline__ float gelu(float x)
{
    return 0.5f * x * (1.0f + erff(x * kSqrt1_2));
}

__global__ void fill_kernel(float *x, int64_t n, float value)
{
    QAT_CUDA_LOOP(i, n)
    x[i] = value;
}

__global__ void add_kernel(const float *a, const float *b, float *out, int64_t n)
{
    QAT_CUDA_LOOP(i, n)
    out[i] = a[i] + b[i];
}

__global__ void accumulate_kernel(const float *x, float *y, int64_t n)
{
    QAT_CUDA_LOOP(i, n)
    y[i] += x[i];
}

// act: 0 none, 1 GELU, 2 tanh (qat_activation)
__global__ void bias_act_kernel(float *x, const float *bias, int64_t rows, int64_t cols, int act, float *y)
{
    const int64_t n = rows * cols;
    QAT_CUDA_LOOP(i, n)
    {
        float v = bias ? x[i] + bias[i % cols] : x[i];
        x[i] = v;
        if (act == 1)
            y[i] = gelu(v);
        else if (act == 2)
            y[i] = tanhf(v);
    }
}

__global__ void tanh_bwd_kernel(const float *dy, const float *y, int64_t n, float *dx)
{
    QAT_CUDA_LOOP(i, n)
    {
        dx[i] = dy[i] * (1.0f - y[i] * y[i]);
    }
}

// GELU'(x) = Phi(x) + x phi(x)
__device__ __forceinline__ float gelu_grad(float x)
{
    float cdf = 0.5f * (1.0f + erff(x * kSqrt1_2));
    float pdf = kInvSqrt2Pi * expf(-0.5f * x * x);
    return cdf + x * pdf;
}

__global__ void gelu_bwd_kernel(const float *dy, const float *pre, int64_t n, float *dx)
{
    QAT_CUDA_LOOP(i, n)
    dx[i] = dy[i] * gelu_grad(pre[i]);
}

// Element i after inverted dropout, keep_scale = 1 / (1 - p), p > 0.
__device__ __forceinline__ float dropped(float x, int64_t i, float p, uint64_t seed, float keep_scale)
{
    return qat_dropout_keep(seed, (uint64_t)i, p) ? x * keep_scale : 0.0f;
}

__global__ void dropout_kernel(float *x, int64_t n, float p, uint64_t seed, float keep_scale)
{
    QAT_CUDA_LOOP(i, n)
    x[i] = dropped(x[i], i, p, seed, keep_scale);
}

// y = residual + dropout(x), or dropout(x) alone (nothing added: a -0 stays
// -0, as ref's unfused calls leave it); p <= 0 leaves x as it is (ref's
// dropout returns early). One read of each input, one write.
__global__ void dropout_add_kernel(const float *x, const float *residual, int64_t n, float p, uint64_t seed,
                                   float keep_scale, float *y)
{
    QAT_CUDA_LOOP(i, n)
    {
        const float d = p > 0.0f ? dropped(x[i], i, p, seed, keep_scale) : x[i];
        y[i] = residual ? d + residual[i] : d;
    }
}

// Column sums in two deterministic stages. Stage 1: block (32 columns x 8
// row lanes) over one chunk of rows writes its partial per column; stage 2
// adds the chunks in order. Nothing depends on scheduling. With pre (the
// fused GELU backward, gelu_bias_bwd), each element is first dy * GELU'(pre),
// written to dx by the one thread that sums it, so dGELU and the bias
// gradient take one pass over the matrix.

__global__ void colsum_partial_kernel(const float *dy, const float *pre, float *dx, int64_t rows, int64_t cols,
                                      int64_t rows_per_chunk, double *part)
{
    __shared__ double sh[kRowLanes][kColTile];
    const int64_t chunk = blockIdx.y;
    const int64_t r0 = chunk * rows_per_chunk;
    const int64_t r1 = r0 + rows_per_chunk < rows ? r0 + rows_per_chunk : rows;
    for (int64_t c0 = (int64_t)blockIdx.x * kColTile; c0 < cols; c0 += (int64_t)gridDim.x * kColTile) {
        const int64_t c = c0 + threadIdx.x;
        double acc = 0.0;
        if (c < cols)
            for (int64_t r = r0 + threadIdx.y; r < r1; r += kRowLanes) {
                const int64_t i = r * cols + c;
                float v = dy[i];
                if (pre) {
                    v *= gelu_grad(pre[i]);
                    dx[i] = v;
                }
                acc += v;
            }
        sh[threadIdx.y][threadIdx.x] = acc;
        __syncthreads();
        if (threadIdx.y == 0 && c < cols) {
            double t = 0.0;
            for (int k = 0; k < kRowLanes; k++)
                t += sh[k][threadIdx.x];
            part[chunk * cols + c] = t;
        }
        __syncthreads();
    }
}

__global__ void colsum_final_kernel(const double *part, int64_t chunks, int64_t cols, float *db)
{
    QAT_CUDA_LOOP(c, cols)
    {
        double t = 0.0;
        for (int64_t k = 0; k < chunks; k++)
            t += part[k * cols + c];
        db[c] += (float)t;
    }
}

} // namespace

qat_status cuda_fill(void *st, float *x, int64_t n, float value)
{
    cuda_state *s = to_state(st);
    if (n <= 0)
        return QAT_OK;
    fill_kernel<<<grid_for(n), kThreads, 0, s->stream>>>(x, n, value);
    return cuda_launched(s, "fill");
}

// Device to device on the stream, no host sync (unlike upload/download).
qat_status cuda_copy(void *st, const float *src, float *dst, int64_t n)
{
    cuda_state *s = to_state(st);
    if (n <= 0)
        return QAT_OK;
    return cuda_check(s, cudaMemcpyAsync(dst, src, (size_t)n * sizeof *dst, cudaMemcpyDeviceToDevice, s->stream),
                      "copy: cudaMemcpyAsync");
}

qat_status cuda_add(void *st, const float *a, const float *b, float *out, int64_t n)
{
    cuda_state *s = to_state(st);
    if (n <= 0)
        return QAT_OK;
    add_kernel<<<grid_for(n), kThreads, 0, s->stream>>>(a, b, out, n);
    return cuda_launched(s, "add");
}

qat_status cuda_accumulate(void *st, const float *x, float *y, int64_t n)
{
    cuda_state *s = to_state(st);
    if (n <= 0)
        return QAT_OK;
    accumulate_kernel<<<grid_for(n), kThreads, 0, s->stream>>>(x, y, n);
    return cuda_launched(s, "accumulate");
}

qat_status cuda_bias_act_fwd(void *st, float *x, const float *bias, int64_t rows, int64_t cols,
                             qat_activation act, float *y)
{
    cuda_state *s = to_state(st);
    if (rows <= 0 || cols <= 0)
        return QAT_OK;
    if (act != QAT_ACTIVATION_NONE && act != QAT_ACTIVATION_GELU && act != QAT_ACTIVATION_TANH)
        return cuda_fail(s, QAT_ERR_INVALID_ARGUMENT, "bias_act_fwd: unknown activation %d", (int)act);
    if (act == QAT_ACTIVATION_NONE && !bias)
        return QAT_OK;
    bias_act_kernel<<<grid_for(rows * cols), kThreads, 0, s->stream>>>(x, bias, rows, cols,
                                                                     (int)act, y);
    return cuda_launched(s, "bias_act_fwd");
}

qat_status cuda_gelu_bwd(void *st, const float *dy, const float *pre, int64_t n, float *dx)
{
    cuda_state *s = to_state(st);
    if (n <= 0)
        return QAT_OK;
    gelu_bwd_kernel<<<grid_for(n), kThreads, 0, s->stream>>>(dy, pre, n, dx);
    return cuda_launched(s, "gelu_bwd");
}

qat_status cuda_tanh_bwd(void *st, const float *dy, const float *y, int64_t n, float *dx)
{
    cuda_state *s = to_state(st);
    if (n <= 0)
        return QAT_OK;
    tanh_bwd_kernel<<<grid_for(n), kThreads, 0, s->stream>>>(dy, y, n, dx);
    return cuda_launched(s, "tanh_bwd");
}

// db += the column sums of dy, or (pre set) of dx = dy * GELU'(pre).
static qat_status column_sums(cuda_state *s, const float *dy, const float *pre, float *dx, int64_t rows,
                              int64_t cols, float *db, const char *what)
{
    if (rows <= 0 || cols <= 0)
        return QAT_OK;
    const column_plan p = plan_column_sums(s, rows, cols);
    void *ws = nullptr;
    qat_status status = cuda_workspace(s, (size_t)(p.chunks * cols) * sizeof(double), &ws);
    if (status != QAT_OK)
        return status;
    double *part = static_cast<double *>(ws);
    colsum_partial_kernel<<<p.grid, p.block, 0, s->stream>>>(dy, pre, dx, rows, cols, p.rows_per_chunk, part);
    if ((status = cuda_launched(s, what)) != QAT_OK)
        return status;
    colsum_final_kernel<<<grid_for(cols), kThreads, 0, s->stream>>>(part, p.chunks, cols, db);
    return cuda_launched(s, what);
}

qat_status cuda_bias_grad(void *st, const float *dy, int64_t rows, int64_t cols, float *db)
{
    return column_sums(to_state(st), dy, nullptr, nullptr, rows, cols, db, "bias_grad");
}

qat_status cuda_gelu_bias_bwd(void *st, const float *dy, const float *pre, int64_t rows, int64_t cols, float *dx,
                              float *db)
{
    cuda_state *s = to_state(st);
    if (rows < 0 || cols < 0)
        return cuda_fail(s, QAT_ERR_INVALID_ARGUMENT, "gelu_bias_bwd: negative size (rows %lld, cols %lld)",
                         (long long)rows, (long long)cols);
    if (rows > 0 && cols > 0 && (!dy || !pre || !dx || !db))
        return cuda_fail(s, QAT_ERR_INVALID_ARGUMENT, "gelu_bias_bwd: NULL dy, pre, dx or db");
    return column_sums(s, dy, pre, dx, rows, cols, db, "gelu_bias_bwd");
}

qat_status cuda_dropout_add(void *st, const float *x, const float *residual, int64_t n, float p, uint64_t seed,
                            float *y)
{
    cuda_state *s = to_state(st);
    if (n <= 0)
        return QAT_OK;
    if (residual == y)
        return cuda_fail(s, QAT_ERR_INVALID_ARGUMENT, "dropout_add: the residual may not alias y");
    const float keep_scale = p > 0.0f ? 1.0f / (1.0f - p) : 1.0f;
    dropout_add_kernel<<<grid_for(n), kThreads, 0, s->stream>>>(x, residual, n, p, seed, keep_scale, y);
    return cuda_launched(s, "dropout_add");
}

qat_status cuda_dropout(void *st, float *x, int64_t n, float p, uint64_t seed)
{
    cuda_state *s = to_state(st);
    if (n <= 0 || p <= 0.0f)
        return QAT_OK;
    const float keep_scale = 1.0f / (1.0f - p);
    dropout_kernel<<<grid_for(n), kThreads, 0, s->stream>>>(x, n, p, seed, keep_scale);
    return cuda_launched(s, "dropout");
}
