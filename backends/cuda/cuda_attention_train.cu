// Fused training attention (kernels.h qat_attention_train_desc): the forward
// and the backward of softmax(q k^T * scale + key_bias) with dropout on the
// probabilities, flash-attention style: tiles of 16 query rows and 16 keys
// in shared memory, an online softmax in fp32, never a [batch, heads, lq,
// lk] tensor in global memory. Plain fp32 CUDA-core arithmetic (no tensor
// cores), no atomics: every sum has one order fixed by the sizes, so a run
// repeats the previous one bit for bit.
//
// Forward: one block per (query tile, head, sequence) walks the key tiles in
//   ascending order with each row's running max m and sum l of exp(x - m)
//   (x = s + key_bias); the weights of v are exp(x - m) * keep * keep_scale;
//   out = acc / l.
// Backward, three kernels:
//   1. row_terms: per query row, m and 1 / l again (the forward's own
//      online softmax, so the same bits) and D = dout . out, into the
//      workspace;
//   2. dk, dv: one block per key tile walks every query tile in ascending
//      order;
//   3. dq: one block per query tile walks every key tile in ascending order.
//   2 and 3 get each (row, key) pair's p' and ds from one function.
// Why 1 recomputes m and l instead of the forward keeping a log-sum-exp per
// row (the usual flash backward): lse cannot hold 1 / l of a row whose keys
// are all masked. With the model's mask (-FLT_MAX) every x of such a row is
// -FLT_MAX, so the row's p is 1 / lk, but lse = -FLT_MAX + log(lk) rounds
// to -FLT_MAX and exp(x - lse) gives 1 (lk times too much); with a -1e4
// mask such a row's lse is rounded by up to 2^-11, and so is every p of it.
// Recomputing costs one q k^T pass and gives the backward the forward's p
// for every row (keeping m and l, two floats a row, would save that pass).
#include <cmath>

#include "backend/attention_check.h"
#include "cuda_common.cuh"

using namespace qatcuda;

namespace {

constexpr int kTile = 16;                           // query rows, and keys, per tile
constexpr int kGroup = 8;                           // threads sharing one row (or key) of a tile
constexpr int kTileThreads = kTile * kGroup;        // threads per block
constexpr int kPairsPerThread = kTile / kGroup;     // (row, key) pairs of a tile per thread
constexpr int64_t kMaxHeadDim = 128;                // four head_dim-wide tiles stay under 48 KiB of shared memory
constexpr int kColsPerThread = (int)kMaxHeadDim / kGroup; // columns of d a thread accumulates
constexpr int kPairStride = kTile + 1;              // a [kTile][kTile] tile of pair values, rows padded

static_assert(32 % kGroup == 0 && kTileThreads % 32 == 0, "a group of threads lies inside one warp");
static_assert(kTile % kGroup == 0, "a group covers a tile's row in whole steps");

struct train_params {
    qat_attention_train_desc d;
    float keep_scale;     // 1 / (1 - dropout), 1 without dropout
    int64_t q_tiles, k_tiles;
    // The backward's workspace, [batch * heads * lq] each: the rows' max,
    // 1 / sum, and D = dout . out.
    float *row_max, *row_inv_sum, *row_dot;
};

// Shared tiles hold kTile rows of head_dim floats at stride head_dim + 1:
// odd, so the different rows a warp reads at one column fall in different banks.
__device__ __forceinline__ int tile_floats(int head_dim)
{
    return kTile * (head_dim + 1);
}

// Rows first .. first + kTile - 1 of one head into a shared tile: row r is
// at rows + r * ld (rows points at the sequence's row 0, the head's column
// 0). Rows at or past count are zero, so the products that read them stay
// finite (their pairs are then set to 0).
__device__ void load_tile(float *tile, const float *rows, int64_t ld, int64_t first, int64_t count, int head_dim)
{
    const int stride = head_dim + 1;
    for (int e = threadIdx.x; e < kTile * head_dim; e += blockDim.x) {
        const int r = e / head_dim, c = e % head_dim;
        tile[r * stride + c] = first + r < count ? rows[(first + r) * ld + c] : 0.0f;
    }
}

// Reductions over the kGroup lanes of a group, by xor butterfly: each step
// combines the same two operands on both partners (commutative), so every
// lane of the group gets the same bits. Every lane of the warp must call.
__device__ __forceinline__ float group_sum(float v)
{
    for (int o = 1; o < kGroup; o <<= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// fmaxf drops a NaN operand, as the host row's `s > max ? s : max` does.
__device__ __forceinline__ float group_max(float v)
{
    for (int o = 1; o < kGroup; o <<= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

__device__ __forceinline__ float dot(const float *x, const float *y, int n)
{
    float acc = 0.0f;
    for (int c = 0; c < n; c++)
        acc = fmaf(x[c], y[c], acc);
    return acc;
}

// x = s + key_bias[j] in the host's roundings: the dot by fmaf over d
// ascending from 0, times scale, plus the bias (no FMA contraction under
// --fmad=false), so x is ref's bit for bit.
__device__ __forceinline__ float biased_score(const float *q, const float *k, int head_dim, float scale,
                                              const float *bias_row, int64_t j)
{
    const float s = dot(q, k, head_dim) * scale;
    return bias_row ? s + bias_row[j] : s;
}

// Whether dropout keeps probability (bh = b * heads + h, i, j): the dropout
// slot's mask over the unfused [batch, heads, lq, lk] probabilities.
__device__ __forceinline__ bool kept(const qat_attention_train_desc &d, int64_t bh, int64_t i, int64_t j)
{
    return d.dropout <= 0.0f || qat_dropout_keep(d.seed, (uint64_t)((bh * d.a.lq + i) * d.a.lk + j), d.dropout);
}

// A query row's online softmax: the max of the keys seen and the sum of
// exp(x - max) over them. Every thread of the row's group holds the same bits.
struct online_row {
    float max = -INFINITY, sum = 0.0f;
};

// Takes one key tile into the row: x[n] is the tile's key g + kGroup * n,
// present[n] false past lk. Writes e[n] = exp(x[n] - new max) (0 for an
// absent key) and returns exp(old max - new max), the factor that rescales
// what was summed before.
__device__ float online_step(online_row &row, const float x[kPairsPerThread], const bool present[kPairsPerThread],
                             float e[kPairsPerThread])
{
    float tile_max = -INFINITY;
    for (int n = 0; n < kPairsPerThread; n++)
        if (present[n])
            tile_max = fmaxf(tile_max, x[n]);
    const float new_max = fmaxf(row.max, group_max(tile_max));
    // While every key so far is -inf there is no max to subtract: exp(x - 0)
    // is exp(-inf) = 0 for those keys, where -inf - (-inf) would be NaN.
    const float shift = new_max == -INFINITY ? 0.0f : new_max;
    const float rescale = expf(row.max - shift);
    float tile_sum = 0.0f;
    for (int n = 0; n < kPairsPerThread; n++) {
        e[n] = present[n] ? expf(x[n] - shift) : 0.0f;
        tile_sum += e[n];
    }
    row.sum = row.sum * rescale + group_sum(tile_sum);
    row.max = new_max;
    return rescale;
}

// The sum of a finished row. A row whose every key is -inf has no max; the
// host row (qat_softmax_row) computes exp(-inf - (-inf)) = NaN there, so
// its probabilities and out are NaN, and so are these.
__device__ __forceinline__ float finished_sum(const online_row &row)
{
    return row.max == -INFINITY ? NAN : row.sum;
}

// Block t of a grid over (sequence, head, tile) triples: tile t % tiles of
// the pair bh = t / tiles = b * heads + h.
struct tile_of {
    int64_t bh, b, h, first;
    __device__ tile_of(int64_t t, int64_t tiles, int64_t heads)
        : bh(t / tiles), b(t / tiles / heads), h(t / tiles % heads), first(t % tiles * kTile)
    {
    }
};

// Row 0 of the tile's sequence in q, k, v and dout, at its head's column 0.
__device__ __forceinline__ const float *q_rows(const qat_attention_desc &a, const tile_of &t)
{
    return a.q + t.b * a.lq * a.ldq + t.h * a.head_dim;
}

__device__ __forceinline__ const float *k_rows(const qat_attention_desc &a, const tile_of &t)
{
    return a.k + t.b * a.lk * a.ldk + t.h * a.head_dim;
}

__device__ __forceinline__ const float *v_rows(const qat_attention_desc &a, const tile_of &t)
{
    return a.v + t.b * a.lk * a.ldv + t.h * a.head_dim;
}

__device__ __forceinline__ const float *dout_rows(const qat_attention_train_desc &d, const tile_of &t)
{
    return d.dout + t.b * d.a.lq * d.lddo + t.h * d.a.head_dim;
}

// The scores of one query row (q, in a shared tile) against the key tile
// starting at k0: x[n] for the tile's key g + kGroup * n, present[n] false
// (and x[n] 0) past lk.
__device__ __forceinline__ void tile_scores(const qat_attention_desc &a, const float *q, const float *k_tile,
                                            const float *bias, int64_t k0, int g, float x[kPairsPerThread],
                                            bool present[kPairsPerThread])
{
    const int dh = (int)a.head_dim, stride = dh + 1;
    for (int n = 0; n < kPairsPerThread; n++) {
        const int key = g + kGroup * n;
        present[n] = k0 + key < a.lk;
        x[n] = present[n] ? biased_score(q, k_tile + key * stride, dh, a.scale, bias, k0 + key) : 0.0f;
    }
}

// A row's columns g + kGroup * u (u < kColsPerThread, those under
// head_dim), this thread's share, from vals[u] times factor.
__device__ __forceinline__ void store_cols(float *row, const float vals[kColsPerThread], float factor, int g,
                                           int head_dim)
{
#pragma unroll
    for (int u = 0; u < kColsPerThread; u++) {
        const int c = g + kGroup * u;
        if (c < head_dim)
            row[c] = vals[u] * factor;
    }
}

// Dynamic shared memory: 3 tiles (q, k, v) and the tile's weights.
__global__ void __launch_bounds__(kTileThreads) attention_train_fwd_kernel(train_params p)
{
    extern __shared__ float smem[];
    const qat_attention_desc &a = p.d.a;
    const int dh = (int)a.head_dim, stride = dh + 1;
    float *q_tile = smem, *k_tile = q_tile + tile_floats(dh), *v_tile = k_tile + tile_floats(dh);
    float *weights = v_tile + tile_floats(dh); // [kTile][kPairStride]: exp(x - m) * keep * keep_scale
    const int row = threadIdx.x / kGroup, g = threadIdx.x % kGroup;
    for (int64_t t = blockIdx.x; t < a.batch * a.heads * p.q_tiles; t += gridDim.x) {
        const tile_of tile(t, p.q_tiles, a.heads);
        const int64_t i = tile.first + row;
        const float *bias = a.key_bias ? a.key_bias + tile.b * a.lk : nullptr;
        __syncthreads(); // the previous tile's threads are done with the shared tiles
        load_tile(q_tile, q_rows(a, tile), a.ldq, tile.first, a.lq, dh);
        online_row state;
        float acc[kColsPerThread] = {};
        for (int64_t k0 = 0; k0 < a.lk; k0 += kTile) {
            __syncthreads(); // the previous key tile's reads are over
            load_tile(k_tile, k_rows(a, tile), a.ldk, k0, a.lk, dh);
            load_tile(v_tile, v_rows(a, tile), a.ldv, k0, a.lk, dh);
            __syncthreads();
            float x[kPairsPerThread], e[kPairsPerThread];
            bool present[kPairsPerThread];
            tile_scores(a, q_tile + row * stride, k_tile, bias, k0, g, x, present);
            const float rescale = online_step(state, x, present, e);
            for (int n = 0; n < kPairsPerThread; n++) {
                const int key = g + kGroup * n;
                weights[row * kPairStride + key] =
                    present[n] && kept(p.d, tile.bh, i, k0 + key) ? e[n] * p.keep_scale : 0.0f;
            }
            __syncthreads();
            // Absent keys have weight 0 and zero v rows: adding them changes nothing.
#pragma unroll
            for (int u = 0; u < kColsPerThread; u++) {
                const int c = g + kGroup * u;
                if (c < dh) {
                    float sum = acc[u] * rescale;
                    for (int key = 0; key < kTile; key++)
                        sum = fmaf(weights[row * kPairStride + key], v_tile[key * stride + c], sum);
                    acc[u] = sum;
                }
            }
        }
        if (i < a.lq)
            store_cols(a.out + (tile.b * a.lq + i) * a.ldo + tile.h * dh, acc, 1.0f / finished_sum(state), g, dh);
    }
}

// Backward pass 1 (dynamic shared memory: q and k tiles): each row's max
// and 1 / sum by the forward's online softmax over the same tiles, and
// D = dout . out.
__global__ void __launch_bounds__(kTileThreads) row_terms_kernel(train_params p)
{
    extern __shared__ float smem[];
    const qat_attention_desc &a = p.d.a;
    const int dh = (int)a.head_dim, stride = dh + 1;
    float *q_tile = smem, *k_tile = q_tile + tile_floats(dh);
    const int row = threadIdx.x / kGroup, g = threadIdx.x % kGroup;
    for (int64_t t = blockIdx.x; t < a.batch * a.heads * p.q_tiles; t += gridDim.x) {
        const tile_of tile(t, p.q_tiles, a.heads);
        const int64_t i = tile.first + row;
        const float *bias = a.key_bias ? a.key_bias + tile.b * a.lk : nullptr;
        __syncthreads(); // the previous tile's threads are done with the shared tiles
        load_tile(q_tile, q_rows(a, tile), a.ldq, tile.first, a.lq, dh);
        online_row state;
        for (int64_t k0 = 0; k0 < a.lk; k0 += kTile) {
            __syncthreads(); // the previous key tile's reads are over
            load_tile(k_tile, k_rows(a, tile), a.ldk, k0, a.lk, dh);
            __syncthreads();
            float x[kPairsPerThread], e[kPairsPerThread];
            bool present[kPairsPerThread];
            tile_scores(a, q_tile + row * stride, k_tile, bias, k0, g, x, present);
            online_step(state, x, present, e);
        }
        float part = 0.0f;
        if (i < a.lq) {
            const float *dout = p.d.dout + (tile.b * a.lq + i) * p.d.lddo + tile.h * dh;
            const float *out = a.out + (tile.b * a.lq + i) * a.ldo + tile.h * dh;
            for (int c = g; c < dh; c += kGroup)
                part = fmaf(dout[c], out[c], part);
        }
        const float row_dot = group_sum(part); // outside the branch: the whole warp takes part
        if (i < a.lq && g == 0) {
            const int64_t r = tile.bh * a.lq + i;
            p.row_max[r] = state.max;
            p.row_inv_sum[r] = 1.0f / finished_sum(state);
            p.row_dot[r] = row_dot;
        }
    }
}

// What pair (query row i, key j) adds to the gradients: p' = p * keep *
// keep_scale (dv's weight of dout[i]) and ds * scale (dq's weight of k[j],
// dk's of q[i]), with p = exp(x - max) / sum (the forward's), dp = keep ?
// (dout[i] . v[j]) * keep_scale : 0 and ds = p * (dp - D): the host's
// roundings, step for step, from the row terms of pass 1.
struct pair_grad {
    float dropped_p, ds_scaled;
};

__device__ pair_grad pair_gradient(const train_params &p, const float *q, const float *dout, const float *k,
                                   const float *v, const float *bias_row, int64_t bh, int64_t i, int64_t j)
{
    const qat_attention_desc &a = p.d.a;
    const int dh = (int)a.head_dim;
    const int64_t r = bh * a.lq + i;
    const float prob = expf(biased_score(q, k, dh, a.scale, bias_row, j) - p.row_max[r]) * p.row_inv_sum[r];
    const bool keep = kept(p.d, bh, i, j);
    const float dp = keep ? dot(dout, v, dh) * p.keep_scale : 0.0f;
    const float ds = prob * (dp - p.row_dot[r]);
    return {keep ? prob * p.keep_scale : 0.0f, ds * a.scale};
}

// Backward pass 2 (dynamic shared memory: k, v, q, dout tiles and two pair
// tiles): dk and dv of one key tile, summed over the query rows in
// ascending order (the host's order).
__global__ void __launch_bounds__(kTileThreads) attention_dk_dv_kernel(train_params p)
{
    extern __shared__ float smem[];
    const qat_attention_desc &a = p.d.a;
    const int dh = (int)a.head_dim, stride = dh + 1;
    float *k_tile = smem, *v_tile = k_tile + tile_floats(dh), *q_tile = v_tile + tile_floats(dh);
    float *dout_tile = q_tile + tile_floats(dh);
    float *dropped_p = dout_tile + tile_floats(dh), *ds_scaled = dropped_p + kTile * kPairStride; // [query][key]
    const int key = threadIdx.x / kGroup, g = threadIdx.x % kGroup;
    for (int64_t t = blockIdx.x; t < a.batch * a.heads * p.k_tiles; t += gridDim.x) {
        const tile_of tile(t, p.k_tiles, a.heads);
        const int64_t j = tile.first + key;
        const float *bias = a.key_bias ? a.key_bias + tile.b * a.lk : nullptr;
        __syncthreads(); // the previous tile's threads are done with the shared tiles
        load_tile(k_tile, k_rows(a, tile), a.ldk, tile.first, a.lk, dh);
        load_tile(v_tile, v_rows(a, tile), a.ldv, tile.first, a.lk, dh);
        float dk[kColsPerThread] = {}, dv[kColsPerThread] = {};
        for (int64_t q0 = 0; q0 < a.lq; q0 += kTile) {
            __syncthreads(); // the previous query tile's reads are over
            load_tile(q_tile, q_rows(a, tile), a.ldq, q0, a.lq, dh);
            load_tile(dout_tile, dout_rows(p.d, tile), p.d.lddo, q0, a.lq, dh);
            __syncthreads();
            for (int n = 0; n < kPairsPerThread; n++) {
                const int qrow = g + kGroup * n;
                const int64_t i = q0 + qrow;
                pair_grad pg = {0.0f, 0.0f};
                if (i < a.lq && j < a.lk)
                    pg = pair_gradient(p, q_tile + qrow * stride, dout_tile + qrow * stride, k_tile + key * stride,
                                       v_tile + key * stride, bias, tile.bh, i, j);
                dropped_p[qrow * kPairStride + key] = pg.dropped_p;
                ds_scaled[qrow * kPairStride + key] = pg.ds_scaled;
            }
            __syncthreads();
            // Absent rows have zero pairs and zero q, dout rows: adding them changes nothing.
#pragma unroll
            for (int u = 0; u < kColsPerThread; u++) {
                const int c = g + kGroup * u;
                if (c < dh) {
                    float sum_k = dk[u], sum_v = dv[u];
                    for (int qrow = 0; qrow < kTile; qrow++) {
                        sum_k = fmaf(ds_scaled[qrow * kPairStride + key], q_tile[qrow * stride + c], sum_k);
                        sum_v = fmaf(dropped_p[qrow * kPairStride + key], dout_tile[qrow * stride + c], sum_v);
                    }
                    dk[u] = sum_k;
                    dv[u] = sum_v;
                }
            }
        }
        if (j < a.lk) {
            store_cols(p.d.dk + (tile.b * a.lk + j) * p.d.ldg + tile.h * dh, dk, 1.0f, g, dh);
            store_cols(p.d.dv + (tile.b * a.lk + j) * p.d.ldg + tile.h * dh, dv, 1.0f, g, dh);
        }
    }
}

// Backward pass 3 (dynamic shared memory: q, dout, k, v tiles and one pair
// tile): dq of one query tile, summed over the keys in ascending order (the
// host's order).
__global__ void __launch_bounds__(kTileThreads) attention_dq_kernel(train_params p)
{
    extern __shared__ float smem[];
    const qat_attention_desc &a = p.d.a;
    const int dh = (int)a.head_dim, stride = dh + 1;
    float *q_tile = smem, *dout_tile = q_tile + tile_floats(dh), *k_tile = dout_tile + tile_floats(dh);
    float *v_tile = k_tile + tile_floats(dh), *ds_scaled = v_tile + tile_floats(dh); // [query][key]
    const int row = threadIdx.x / kGroup, g = threadIdx.x % kGroup;
    for (int64_t t = blockIdx.x; t < a.batch * a.heads * p.q_tiles; t += gridDim.x) {
        const tile_of tile(t, p.q_tiles, a.heads);
        const int64_t i = tile.first + row;
        const float *bias = a.key_bias ? a.key_bias + tile.b * a.lk : nullptr;
        __syncthreads(); // the previous tile's threads are done with the shared tiles
        load_tile(q_tile, q_rows(a, tile), a.ldq, tile.first, a.lq, dh);
        load_tile(dout_tile, dout_rows(p.d, tile), p.d.lddo, tile.first, a.lq, dh);
        float dq[kColsPerThread] = {};
        for (int64_t k0 = 0; k0 < a.lk; k0 += kTile) {
            __syncthreads(); // the previous key tile's reads are over
            load_tile(k_tile, k_rows(a, tile), a.ldk, k0, a.lk, dh);
            load_tile(v_tile, v_rows(a, tile), a.ldv, k0, a.lk, dh);
            __syncthreads();
            for (int n = 0; n < kPairsPerThread; n++) {
                const int key = g + kGroup * n;
                const int64_t j = k0 + key;
                ds_scaled[row * kPairStride + key] =
                    i < a.lq && j < a.lk ? pair_gradient(p, q_tile + row * stride, dout_tile + row * stride,
                                                         k_tile + key * stride, v_tile + key * stride, bias,
                                                         tile.bh, i, j)
                                               .ds_scaled
                                         : 0.0f;
            }
            __syncthreads();
            // Absent keys have ds 0 and zero k rows: adding them changes nothing.
#pragma unroll
            for (int u = 0; u < kColsPerThread; u++) {
                const int c = g + kGroup * u;
                if (c < dh) {
                    float sum = dq[u];
                    for (int key = 0; key < kTile; key++)
                        sum = fmaf(ds_scaled[row * kPairStride + key], k_tile[key * stride + c], sum);
                    dq[u] = sum;
                }
            }
        }
        if (i < a.lq)
            store_cols(p.d.dq + (tile.b * a.lq + i) * p.d.ldg + tile.h * dh, dq, 1.0f, g, dh);
    }
}

size_t shared_bytes(int64_t head_dim, int tiles, int pair_tiles)
{
    return ((size_t)tiles * kTile * (size_t)(head_dim + 1) + (size_t)pair_tiles * kTile * kPairStride) *
           sizeof(float);
}

// attention_check.h's checks (the core's, whose error functions a module
// cannot call), then head_dim <= kMaxHeadDim. *empty: nothing to compute.
qat_status check_desc(cuda_state *s, const qat_attention_train_desc *d, bool backward, bool *empty)
{
    char why[256];
    int nothing = 0;
    if (qat_attention_train_desc_problem(d, backward ? 1 : 0, why, sizeof why, &nothing))
        return cuda_fail(s, QAT_ERR_INVALID_ARGUMENT, "%s", why);
    *empty = nothing != 0;
    if (!*empty && d->a.head_dim > kMaxHeadDim)
        return cuda_fail(s, QAT_ERR_UNSUPPORTED, "%s: head_dim %lld (the cuda kernels hold 1..%lld)",
                         backward ? "attention_bwd" : "attention_train_fwd", (long long)d->a.head_dim,
                         (long long)kMaxHeadDim);
    return QAT_OK;
}

train_params make_params(const qat_attention_train_desc *d)
{
    train_params p = {};
    p.d = *d;
    p.keep_scale = d->dropout > 0.0f ? 1.0f / (1.0f - d->dropout) : 1.0f;
    p.q_tiles = (d->a.lq + kTile - 1) / kTile;
    p.k_tiles = (d->a.lk + kTile - 1) / kTile;
    return p;
}

} // namespace

qat_status cuda_attention_train_fwd(void *st, const qat_attention_train_desc *desc)
{
    cuda_state *s = to_state(st);
    bool empty = false;
    QAT_TRY_CUDA(check_desc(s, desc, false, &empty));
    if (empty)
        return QAT_OK;
    const train_params p = make_params(desc);
    const qat_attention_desc &a = desc->a;
    attention_train_fwd_kernel<<<grid_for(a.batch * a.heads * p.q_tiles, 1), kTileThreads,
                                 shared_bytes(a.head_dim, 3, 1), s->stream>>>(p);
    return cuda_launched(s, "attention_train_fwd");
}

qat_status cuda_attention_bwd(void *st, const qat_attention_train_desc *desc)
{
    cuda_state *s = to_state(st);
    bool empty = false;
    QAT_TRY_CUDA(check_desc(s, desc, true, &empty));
    if (empty)
        return QAT_OK;
    train_params p = make_params(desc);
    const qat_attention_desc &a = desc->a;
    const int64_t rows = a.batch * a.heads * a.lq;
    if (rows > 0) {
        void *ws = nullptr;
        QAT_TRY_CUDA(cuda_workspace(s, (size_t)(3 * rows) * sizeof(float), &ws));
        p.row_max = static_cast<float *>(ws);
        p.row_inv_sum = p.row_max + rows;
        p.row_dot = p.row_inv_sum + rows;
        row_terms_kernel<<<grid_for(a.batch * a.heads * p.q_tiles, 1), kTileThreads, shared_bytes(a.head_dim, 2, 0),
                           s->stream>>>(p);
        QAT_TRY_CUDA(cuda_launched(s, "attention_bwd (row terms)"));
        attention_dq_kernel<<<grid_for(a.batch * a.heads * p.q_tiles, 1), kTileThreads,
                              shared_bytes(a.head_dim, 4, 1), s->stream>>>(p);
        QAT_TRY_CUDA(cuda_launched(s, "attention_bwd (dq)"));
    }
    attention_dk_dv_kernel<<<grid_for(a.batch * a.heads * p.k_tiles, 1), kTileThreads,
                             shared_bytes(a.head_dim, 4, 2), s->stream>>>(p);
    return cuda_launched(s, "attention_bwd (dk, dv)");
}
