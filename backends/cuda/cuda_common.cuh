// Device helpers shared by the kernel families: bounded launch geometry,
// deterministic block reductions, launch checking.
#ifndef QAT_CUDA_COMMON_CUH
#define QAT_CUDA_COMMON_CUH

#include <cstdint>

#include "cuda_state.h"

namespace qatcuda {

constexpr int kThreads = 256;      // threads of 1-D and row kernels (a multiple of 32)
constexpr int64_t kMaxGrid = 65535; // every grid dimension is bounded; kernels loop

// Blocks for n items at `per_block` items per block, at least 1, at most kMaxGrid.
inline unsigned grid_for(int64_t n, int64_t per_block = kThreads)
{
    int64_t b = (n + per_block - 1) / per_block;
    if (b < 1)
        b = 1;
    if (b > kMaxGrid)
        b = kMaxGrid;
    return (unsigned)b;
}

inline cuda_state *to_state(void *st)
{
    return static_cast<cuda_state *>(st);
}

// Grid-stride loop over [0, n) with 64-bit indices.
#define QAT_CUDA_LOOP(i, n)                                                                       \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                   \
         i += (int64_t)blockDim.x * gridDim.x)

template <typename T> __device__ __forceinline__ T warp_sum(T v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_down_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_down_sync(0xffffffffu, v, o));
    return v;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024), returned to
// every thread. The tree is fixed by blockDim, so results are reproducible.
// `shared` holds 32 T; the function may be called repeatedly with it.
template <typename T> __device__ T block_sum(T v, T *shared)
{
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    v = warp_sum(v);
    __syncthreads(); // a previous call may still read shared[0]
    if (lane == 0)
        shared[warp] = v;
    __syncthreads();
    if (warp == 0) {
        T t = threadIdx.x < (blockDim.x >> 5) ? shared[lane] : T(0);
        t = warp_sum(t);
        if (lane == 0)
            shared[0] = t;
    }
    __syncthreads();
    return shared[0];
}

// Max over the block, same contract as block_sum (NaN is ignored, as the
// ref backend's `a > m ? a : m` does).
__device__ inline float block_max(float v, float *shared)
{
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0)
        shared[warp] = v;
    __syncthreads();
    if (warp == 0) {
        float t = threadIdx.x < (blockDim.x >> 5) ? shared[lane] : -INFINITY;
        t = warp_max(t);
        if (lane == 0)
            shared[0] = t;
    }
    __syncthreads();
    return shared[0];
}

// Sums `count` doubles in index order (one thread): the final stage of the
// two-stage reductions, cheap because count is at most a few thousand.
__device__ inline double ordered_sum(const double *v, int64_t count)
{
    double acc = 0.0;
    for (int64_t i = 0; i < count; i++)
        acc += v[i];
    return acc;
}

// Column sums over rows in two ordered stages (bias_grad, gelu_bias_bwd,
// LayerNorm's dw and db): blocks of kColTile columns x kRowLanes row lanes,
// each over one chunk of rows, write partials; a second kernel adds the
// chunks' partials in chunk order. The plan depends on the sizes and the
// device only, so the order of additions is fixed.
constexpr int kColTile = 32, kRowLanes = 8;

struct column_plan {
    int64_t chunks, rows_per_chunk;
    dim3 grid, block;
};

// Enough chunks of rows to fill the GPU (4 blocks per SM), each at least 32
// rows long, at most 256 (rows, cols > 0).
inline column_plan plan_column_sums(const cuda_state *s, int64_t rows, int64_t cols)
{
    int64_t col_tiles = (cols + kColTile - 1) / kColTile;
    int64_t want = (int64_t)(s->sm_count > 0 ? s->sm_count : 80) * 4 / (col_tiles < 1 ? 1 : col_tiles);
    int64_t chunks = want < 1 ? 1 : (want > 256 ? 256 : want);
    if (chunks > (rows + 31) / 32)
        chunks = (rows + 31) / 32;
    const int64_t rows_per_chunk = (rows + chunks - 1) / chunks;
    chunks = (rows + rows_per_chunk - 1) / rows_per_chunk;
    return column_plan{chunks, rows_per_chunk, dim3(grid_for(cols, kColTile), (unsigned)chunks),
                       dim3(kColTile, kRowLanes)};
}

// BitNet's per-token activation integer range for `bits`: qp = 2^(bits-1) - 1
// and lo = -qp when symmetric, else -2^(bits-1) (ref's). bits outside [1, 24]
// fail with the slot's name.
struct bitnet_range {
    float qp, lo;
};

inline qat_status bitnet_act_range(cuda_state *s, int bits, int symmetric, bitnet_range *r, const char *what)
{
    if (bits < 1 || bits > 24)
        return cuda_fail(s, QAT_ERR_INVALID_ARGUMENT, "%s: bits = %d is outside [1, 24]", what, bits);
    r->qp = (float)((1 << (bits - 1)) - 1);
    r->lo = symmetric ? -r->qp : -(float)(1 << (bits - 1));
    return QAT_OK;
}

// A row's BitNet activation scale m = max(max|x|, 1e-5) from each thread's
// max of |x| over its columns (the max is exact: any order gives ref's).
__device__ inline float bitnet_row_scale(float thread_max, float *shared)
{
    const float m = block_max(thread_max, shared);
    return m > 1e-5f ? m : 1e-5f;
}

// One value of BitNet's per-token fake-quant, m = max(max|row|, 1e-5):
// clamp(round(x * Qp / m), lo, Qp) * m / Qp in ref's roundings (explicitly
// rounded products and quotients, never an FMA; rintf rounds half to even).
__device__ __forceinline__ float bitnet_act_value(float x, bitnet_range r, float m)
{
    float q = rintf(__fdiv_rn(__fmul_rn(x, r.qp), m));
    q = q < r.lo ? r.lo : (q > r.qp ? r.qp : q);
    return __fdiv_rn(__fmul_rn(q, m), r.qp);
}

} // namespace qatcuda

#endif
