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

} // namespace qatcuda

#endif
