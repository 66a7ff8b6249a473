// Row-wise kernels: LayerNorm forward/backward, masked softmax
// forward/backward, embedding gather/scatter, padding rows. One block owns a
// row (grid bounded, rows looped); reductions are block trees in double, as
// the ref backend sums in double, so results match it to float rounding and
// are reproducible run to run.
#include <cub/device/device_radix_sort.cuh>

#include "cuda_common.cuh"

using namespace qatcuda;

namespace {

// The mean and 1 / sqrt(biased variance + eps) of row r of x, in double
// block trees, returned to every thread; thread 0 stores them.
__device__ void layernorm_moments(const float *xr, int64_t cols, float eps, double *sh, int64_t r, float *mean,
                                  float *rstd, float *m, float *rs)
{
    double sum = 0.0;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x)
        sum += xr[c];
    const double mu = block_sum(sum, sh) / (double)cols;
    double var = 0.0;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
        double d = (double)xr[c] - mu;
        var += d * d;
    }
    var = block_sum(var, sh) / (double)cols;
    *m = (float)mu;
    *rs = (float)(1.0 / sqrt(var + (double)eps));
    if (threadIdx.x == 0) {
        mean[r] = *m;
        rstd[r] = *rs;
    }
}

__device__ __forceinline__ float layernorm_value(float x, float m, float rs, float w, float b)
{
    return (x - m) * rs * w + b;
}

__global__ void layernorm_fwd_kernel(const float *x, const float *w, const float *b, float eps, int64_t rows,
                                     int64_t cols, float *y, float *mean, float *rstd)
{
    __shared__ double sh[32];
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const float *xr = x + r * cols;
        float m, rs;
        layernorm_moments(xr, cols, eps, sh, r, mean, rstd, &m, &rs);
        float *yr = y + r * cols;
        for (int64_t c = threadIdx.x; c < cols; c += blockDim.x)
            yr[c] = layernorm_value(xr[c], m, rs, w[c], b[c]);
        __syncthreads(); // y may alias x: finish the row before the next
    }
}

// LayerNorm, then BitNet's per-token fake-quant of its output, one block
// per row: the moments, then y written with the row's max |y| taken in the
// same pass, then yq from the y each thread wrote itself (its own writes,
// read back from L1/L2; no other thread's). y and yq are layernorm_fwd's and
// bitnet_act_fwd(y)'s values bit for bit (the same device functions).
__global__ void layernorm_bitnet_act_kernel(const float *x, const float *w, const float *b, float eps, int64_t rows,
                                            int64_t cols, bitnet_range range, float *y, float *yq, float *mean,
                                            float *rstd)
{
    __shared__ double sh[32];
    __shared__ float shf[32];
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const float *xr = x + r * cols;
        float m, rs;
        layernorm_moments(xr, cols, eps, sh, r, mean, rstd, &m, &rs);
        float *yr = y + r * cols, *yqr = yq + r * cols;
        float amax = 0.0f;
        for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
            const float v = layernorm_value(xr[c], m, rs, w[c], b[c]);
            yr[c] = v;
            amax = fabsf(v) > amax ? fabsf(v) : amax;
        }
        const float scale = bitnet_row_scale(amax, shf); // also orders y in place before x's next read
        for (int64_t c = threadIdx.x; c < cols; c += blockDim.x)
            yqr[c] = bitnet_act_value(yr[c], range, scale);
    }
}

// dw, db stage 1: block of kColTile columns x kRowLanes row lanes over a
// chunk of rows (plan_column_sums).

__global__ void layernorm_param_partial_kernel(const float *dy, const float *x, const float *mean,
                                               const float *rstd, int64_t rows, int64_t cols,
                                               int64_t rows_per_chunk, double *part_w, double *part_b)
{
    __shared__ double sw[kRowLanes][kColTile], sb[kRowLanes][kColTile];
    const int64_t chunk = blockIdx.y;
    const int64_t r0 = chunk * rows_per_chunk;
    const int64_t r1 = r0 + rows_per_chunk < rows ? r0 + rows_per_chunk : rows;
    for (int64_t c0 = (int64_t)blockIdx.x * kColTile; c0 < cols; c0 += (int64_t)gridDim.x * kColTile) {
        const int64_t c = c0 + threadIdx.x;
        double gw = 0.0, gb = 0.0;
        if (c < cols)
            for (int64_t r = r0 + threadIdx.y; r < r1; r += kRowLanes) {
                float xhat = (x[r * cols + c] - mean[r]) * rstd[r];
                float g = dy[r * cols + c];
                gw += (double)g * xhat;
                gb += g;
            }
        sw[threadIdx.y][threadIdx.x] = gw;
        sb[threadIdx.y][threadIdx.x] = gb;
        __syncthreads();
        if (threadIdx.y == 0 && c < cols) {
            double tw = 0.0, tb = 0.0;
            for (int k = 0; k < kRowLanes; k++) {
                tw += sw[k][threadIdx.x];
                tb += sb[k][threadIdx.x];
            }
            part_w[chunk * cols + c] = tw;
            part_b[chunk * cols + c] = tb;
        }
        __syncthreads();
    }
}

__global__ void layernorm_param_final_kernel(const double *part_w, const double *part_b, int64_t chunks,
                                             int64_t cols, float *dw, float *db)
{
    QAT_CUDA_LOOP(c, cols)
    {
        double tw = 0.0, tb = 0.0;
        for (int64_t k = 0; k < chunks; k++) {
            tw += part_w[k * cols + c];
            tb += part_b[k * cols + c];
        }
        dw[c] += (float)tw;
        db[c] += (float)tb;
    }
}

__global__ void layernorm_dx_kernel(const float *dy, const float *x, const float *w, const float *mean,
                                    const float *rstd, int64_t rows, int64_t cols, float *dx)
{
    __shared__ double sh[32];
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const float *dyr = dy + r * cols, *xr = x + r * cols;
        const float mr = mean[r], rs = rstd[r];
        double sum_g = 0.0, sum_gx = 0.0;
        for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
            float xhat = (xr[c] - mr) * rs;
            float g = dyr[c] * w[c];
            sum_g += g;
            sum_gx += (double)g * xhat;
        }
        sum_g = block_sum(sum_g, sh);
        sum_gx = block_sum(sum_gx, sh);
        const float mg = (float)(sum_g / (double)cols), mgx = (float)(sum_gx / (double)cols);
        float *dxr = dx + r * cols;
        for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
            float xhat = (xr[c] - mr) * rs;
            dxr[c] = rs * (dyr[c] * w[c] - mg - xhat * mgx);
        }
        __syncthreads(); // dx may alias dy
    }
}

__global__ void softmax_fwd_kernel(float *scores, const float *key_bias, int64_t rows, int64_t per_batch,
                                   int64_t lk)
{
    __shared__ float shf[32];
    __shared__ double shd[32];
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        float *sr = scores + r * lk;
        const float *kb = key_bias ? key_bias + (r / per_batch) * lk : nullptr;
        float mx = -INFINITY;
        for (int64_t j = threadIdx.x; j < lk; j += blockDim.x) {
            float v = kb ? sr[j] + kb[j] : sr[j];
            sr[j] = v;
            mx = v > mx ? v : mx;
        }
        mx = block_max(mx, shf);
        double sum = 0.0;
        for (int64_t j = threadIdx.x; j < lk; j += blockDim.x) {
            float e = expf(sr[j] - mx);
            sr[j] = e;
            sum += e;
        }
        sum = block_sum(sum, shd);
        const float inv = (float)(1.0 / sum);
        for (int64_t j = threadIdx.x; j < lk; j += blockDim.x)
            sr[j] *= inv;
        __syncthreads();
    }
}

__global__ void softmax_bwd_kernel(const float *dp, const float *p, int64_t rows, int64_t cols, float *ds)
{
    __shared__ double sh[32];
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const float *dpr = dp + r * cols, *pr = p + r * cols;
        double dot = 0.0;
        for (int64_t j = threadIdx.x; j < cols; j += blockDim.x)
            dot += (double)dpr[j] * pr[j];
        const float d = (float)block_sum(dot, sh);
        float *dsr = ds + r * cols;
        for (int64_t j = threadIdx.x; j < cols; j += blockDim.x)
            dsr[j] = pr[j] * (dpr[j] - d);
        __syncthreads(); // ds may alias dp
    }
}

__global__ void embedding_fwd_kernel(const float *table, const int32_t *ids, int64_t n, int64_t dim, float *out,
                                     int accumulate)
{
    const int64_t total = n * dim;
    QAT_CUDA_LOOP(i, total)
    {
        const int64_t t = i / dim, c = i % dim;
        const float v = table[(int64_t)ids[t] * dim + c];
        out[i] = accumulate ? out[i] + v : v;
    }
}

__global__ void zero_rows_kernel(float *x, const int32_t *ids, int64_t n, int64_t dim, int32_t id)
{
    const int64_t total = n * dim;
    QAT_CUDA_LOOP(i, total)
    if (ids[i / dim] == id)
        x[i] = 0.0f;
}

__global__ void iota_kernel(int32_t *v, int64_t n)
{
    QAT_CUDA_LOOP(i, n)
    v[i] = (int32_t)i;
}

// Embedding backward after a stable sort of (id, token) pairs, as a
// segmented reduction. The sorted positions are cut in tiles of kEmbedTile;
// a run of equal ids that contains a tile boundary strictly inside it (a
// "long" run: the one-row token-type table, the padding id, frequent tokens)
// is summed in parallel, one block per tile, and the tiles' partial sums are
// then added in tile order; every other run fits in one tile and is summed by
// one block. Which run takes which path, and every order of additions, is a
// function of the sorted ids only: deterministic, no atomics.
constexpr int64_t kEmbedTile = 128;

// Does the run of the id at tile boundary t * kEmbedTile belong to a long run?
// Yes when the boundary is inside its run, or when the run starts there and
// also contains the next boundary.
__device__ bool embed_tile_in_long_run(const int32_t *sorted_ids, int64_t n, int64_t t)
{
    const int64_t p = t * kEmbedTile, next = p + kEmbedTile;
    const int32_t row = sorted_ids[p];
    return (p > 0 && sorted_ids[p - 1] == row) || (next < n && sorted_ids[next] == row);
}

// Stage 1: the partial sum (double) of each tile's first segment, [t * tile,
// min((t + 1) * tile, end of its run)), where that segment belongs to a long run.
__global__ void embedding_bwd_tile_kernel(const float *dy, const int32_t *sorted_ids, const int32_t *tokens,
                                          int64_t n, int64_t dim, int64_t vocab, double *partial)
{
    const int64_t tiles = (n + kEmbedTile - 1) / kEmbedTile;
    for (int64_t t = blockIdx.x; t < tiles; t += gridDim.x) {
        const int64_t p = t * kEmbedTile;
        const int32_t row = sorted_ids[p];
        if (row < 0 || (int64_t)row >= vocab || !embed_tile_in_long_run(sorted_ids, n, t))
            continue;
        int64_t end = p + 1;
        while (end < n && end < p + kEmbedTile && sorted_ids[end] == row)
            end++;
        for (int64_t c = threadIdx.x; c < dim; c += blockDim.x) {
            double acc = 0.0;
            for (int64_t q = p; q < end; q++)
                acc += (double)dy[(int64_t)tokens[q] * dim + c];
            partial[t * dim + c] = acc;
        }
    }
}

// Stage 2: the block at the first position of each run owns that table row.
// A run inside one tile adds its gradients in token order, a float running
// sum from the table's value: exactly the ref backend's order, bit-identical.
// A long run adds, in double, the table's value, its head (the positions
// before its first tile boundary, at most a tile) in token order, then the
// partials of its tiles in tile order, and rounds once.
__global__ void embedding_bwd_kernel(const float *dy, const int32_t *sorted_ids, const int32_t *tokens, int64_t n,
                                     int64_t dim, int64_t vocab, const double *partial, float *dtable)
{
    for (int64_t p = blockIdx.x; p < n; p += gridDim.x) {
        const int32_t row = sorted_ids[p];
        if ((p > 0 && sorted_ids[p - 1] == row) || row < 0 || (int64_t)row >= vocab)
            continue; // not the start of a run (or an id the caller should have rejected)
        float *out = dtable + (int64_t)row * dim;
        const int64_t first_boundary = (p + kEmbedTile - 1) / kEmbedTile * kEmbedTile; // >= p
        const int64_t next_boundary = (p / kEmbedTile + 1) * kEmbedTile;                // > p
        const bool long_run = next_boundary < n && sorted_ids[next_boundary] == row;
        if (!long_run) {
            int64_t end = p + 1;
            while (end < n && sorted_ids[end] == row)
                end++;
            for (int64_t c = threadIdx.x; c < dim; c += blockDim.x) {
                float acc = out[c];
#pragma unroll 4
                for (int64_t q = p; q < end; q++)
                    acc += dy[(int64_t)tokens[q] * dim + c];
                out[c] = acc;
            }
            continue;
        }
        for (int64_t c = threadIdx.x; c < dim; c += blockDim.x) {
            double acc = (double)out[c];
            for (int64_t q = p; q < first_boundary; q++)
                acc += (double)dy[(int64_t)tokens[q] * dim + c];
            for (int64_t t = first_boundary / kEmbedTile; t * kEmbedTile < n && sorted_ids[t * kEmbedTile] == row; t++)
                acc += partial[t * dim + c];
            out[c] = (float)acc;
        }
    }
}

} // namespace

qat_status cuda_layernorm_fwd(void *st, const float *x, const float *w, const float *b, float eps, int64_t rows,
                              int64_t cols, float *y, float *mean, float *rstd)
{
    cuda_state *s = to_state(st);
    if (rows <= 0 || cols < 0)
        return QAT_OK; // cols == 0 runs: mean and rstd become NaN, as in ref
    layernorm_fwd_kernel<<<grid_for(rows, 1), kThreads, 0, s->stream>>>(x, w, b, eps, rows, cols, y, mean, rstd);
    return cuda_launched(s, "layernorm_fwd");
}

qat_status cuda_layernorm_bitnet_act_fwd(void *st, const float *x, const float *w, const float *b, float eps,
                                         int64_t rows, int64_t cols, int bits, int symmetric, float *y, float *yq,
                                         float *mean, float *rstd)
{
    cuda_state *s = to_state(st);
    bitnet_range range;
    qat_status status = bitnet_act_range(s, bits, symmetric, &range, "layernorm_bitnet_act_fwd");
    if (status != QAT_OK || rows <= 0 || cols < 0)
        return status; // cols == 0 runs: mean and rstd become NaN, as in ref
    if (cols > 0 && (yq == x || yq == y))
        return cuda_fail(s, QAT_ERR_INVALID_ARGUMENT, "layernorm_bitnet_act_fwd: yq may not alias x or y");
    layernorm_bitnet_act_kernel<<<grid_for(rows, 1), kThreads, 0, s->stream>>>(x, w, b, eps, rows, cols, range, y,
                                                                               yq, mean, rstd);
    return cuda_launched(s, "layernorm_bitnet_act_fwd");
}

qat_status cuda_layernorm_bwd(void *st, const float *dy, const float *x, const float *w, const float *mean,
                              const float *rstd, int64_t rows, int64_t cols, float *dx, float *dw, float *db)
{
    cuda_state *s = to_state(st);
    if (rows <= 0 || cols <= 0)
        return QAT_OK;
    // Parameter gradients first (dx may alias dy), in two ordered stages.
    const column_plan p = plan_column_sums(s, rows, cols);
    void *ws = nullptr;
    qat_status status = cuda_workspace(s, (size_t)(2 * p.chunks * cols) * sizeof(double), &ws);
    if (status != QAT_OK)
        return status;
    double *part_w = static_cast<double *>(ws), *part_b = part_w + p.chunks * cols;
    layernorm_param_partial_kernel<<<p.grid, p.block, 0, s->stream>>>(dy, x, mean, rstd, rows, cols,
                                                                      p.rows_per_chunk, part_w, part_b);
    if ((status = cuda_launched(s, "layernorm_bwd (parameter partial sums)")) != QAT_OK)
        return status;
    layernorm_param_final_kernel<<<grid_for(cols), kThreads, 0, s->stream>>>(part_w, part_b, p.chunks, cols, dw,
                                                                             db);
    if ((status = cuda_launched(s, "layernorm_bwd (parameter gradients)")) != QAT_OK)
        return status;
    layernorm_dx_kernel<<<grid_for(rows, 1), kThreads, 0, s->stream>>>(dy, x, w, mean, rstd, rows, cols, dx);
    return cuda_launched(s, "layernorm_bwd");
}

qat_status cuda_softmax_fwd(void *st, float *scores, const float *key_bias, int64_t batch, int64_t heads,
                            int64_t lq, int64_t lk)
{
    cuda_state *s = to_state(st);
    const int64_t rows = batch * heads * lq;
    if (rows <= 0 || lk <= 0)
        return QAT_OK;
    // Rows of attention are short (lk = sequence length): 128 threads each.
    softmax_fwd_kernel<<<grid_for(rows, 1), 128, 0, s->stream>>>(scores, key_bias, rows, heads * lq, lk);
    return cuda_launched(s, "softmax_fwd");
}

qat_status cuda_softmax_bwd(void *st, const float *dp, const float *p, int64_t rows, int64_t cols, float *ds)
{
    cuda_state *s = to_state(st);
    if (rows <= 0 || cols <= 0)
        return QAT_OK;
    softmax_bwd_kernel<<<grid_for(rows, 1), 128, 0, s->stream>>>(dp, p, rows, cols, ds);
    return cuda_launched(s, "softmax_bwd");
}

qat_status cuda_embedding_fwd(void *st, const float *table, const int32_t *ids, int64_t n, int64_t dim,
                              float *out, int accumulate)
{
    cuda_state *s = to_state(st);
    if (n <= 0 || dim <= 0)
        return QAT_OK;
    embedding_fwd_kernel<<<grid_for(n * dim), kThreads, 0, s->stream>>>(table, ids, n, dim, out, accumulate);
    return cuda_launched(s, "embedding_fwd");
}

qat_status cuda_zero_rows_where(void *st, float *x, const int32_t *ids, int64_t n, int64_t dim, int32_t id)
{
    cuda_state *s = to_state(st);
    if (n <= 0 || dim <= 0)
        return QAT_OK;
    zero_rows_kernel<<<grid_for(n * dim), kThreads, 0, s->stream>>>(x, ids, n, dim, id);
    return cuda_launched(s, "zero_rows_where");
}

static size_t align256(size_t v)
{
    return (v + 255) / 256 * 256;
}

qat_status cuda_embedding_bwd(void *st, const float *dy, const int32_t *ids, int64_t n, int64_t dim, int64_t vocab,
                              float *dtable)
{
    cuda_state *s = to_state(st);
    if (n <= 0 || dim <= 0 || vocab <= 0)
        return QAT_OK;
    if (n > INT32_MAX)
        return cuda_fail(s, QAT_ERR_UNSUPPORTED, "embedding_bwd: %lld rows exceed the sort's range", (long long)n);
    // All 32 bits are sorted (the sort is cheap next to the scatter): as
    // unsigned keys, a negative id (which the caller rejects) sorts after
    // every valid one and cannot split a run of valid ids.
    const int end_bit = 32;
    const unsigned *keys_in = reinterpret_cast<const unsigned *>(ids);
    size_t temp_bytes = 0;
    qat_status status = cuda_check(
        s,
        cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, keys_in, (unsigned *)nullptr, (const int32_t *)nullptr,
                                        (int32_t *)nullptr, (int)n, 0, end_bit, s->stream),
        "embedding_bwd (sort size)");
    if (status != QAT_OK)
        return status;
    const size_t idx_bytes = align256((size_t)n * sizeof(int32_t));
    const int64_t tiles = (n + kEmbedTile - 1) / kEmbedTile;
    void *ws = nullptr;
    if ((status = cuda_workspace(s, 3 * idx_bytes + align256((size_t)(tiles * dim) * sizeof(double)) +
                                        align256(temp_bytes),
                                 &ws)) != QAT_OK)
        return status;
    char *base = static_cast<char *>(ws);
    int32_t *tokens_in = reinterpret_cast<int32_t *>(base);
    unsigned *keys_out = reinterpret_cast<unsigned *>(base + idx_bytes);
    int32_t *tokens_out = reinterpret_cast<int32_t *>(base + 2 * idx_bytes);
    double *partial = reinterpret_cast<double *>(base + 3 * idx_bytes);
    void *temp = base + 3 * idx_bytes + align256((size_t)(tiles * dim) * sizeof(double));
    iota_kernel<<<grid_for(n), kThreads, 0, s->stream>>>(tokens_in, n);
    if ((status = cuda_launched(s, "embedding_bwd (token indices)")) != QAT_OK)
        return status;
    // Radix sort is stable: equal ids keep their token order.
    status = cuda_check(s,
                        cub::DeviceRadixSort::SortPairs(temp, temp_bytes, keys_in, keys_out, tokens_in, tokens_out,
                                                        (int)n, 0, end_bit, s->stream),
                        "embedding_bwd (sort)");
    if (status != QAT_OK)
        return status;
    const int32_t *sorted_ids = reinterpret_cast<const int32_t *>(keys_out);
    embedding_bwd_tile_kernel<<<grid_for(tiles, 1), kThreads, 0, s->stream>>>(dy, sorted_ids, tokens_out, n, dim,
                                                                               vocab, partial);
    if ((status = cuda_launched(s, "embedding_bwd (tile partial sums)")) != QAT_OK)
        return status;
    embedding_bwd_kernel<<<grid_for(n, 1), kThreads, 0, s->stream>>>(dy, sorted_ids, tokens_out, n, dim, vocab,
                                                                     partial, dtable);
    return cuda_launched(s, "embedding_bwd");
}
