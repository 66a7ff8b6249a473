// Mean cross-entropy over labelled rows, written to device memory, with the
// optional logits gradient. One block per row; the row losses (double) go to
// the workspace and one block adds them in a fixed tree: deterministic.
#include "cuda_common.cuh"

using namespace qatcuda;

namespace {

__global__ void cross_entropy_rows_kernel(const float *logits, const int32_t *labels, int64_t rows, int64_t classes,
                                          float scale, double *row_loss, float *dlogits)
{
    __shared__ float shf[32];
    __shared__ double shd[32];
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const float *z = logits + r * classes;
        float *dz = dlogits ? dlogits + r * classes : nullptr;
        const int32_t label = labels[r];
        // label < 0 (-100) is ignored; a label >= classes (which the caller
        // rejects) is treated the same rather than read out of bounds.
        if (label < 0 || (int64_t)label >= classes) {
            if (dz)
                for (int64_t j = threadIdx.x; j < classes; j += blockDim.x)
                    dz[j] = 0.0f;
            if (threadIdx.x == 0)
                row_loss[r] = 0.0;
            continue;
        }
        float mx = -INFINITY;
        for (int64_t j = threadIdx.x; j < classes; j += blockDim.x)
            mx = z[j] > mx ? z[j] : mx;
        mx = block_max(mx, shf);
        double sum = 0.0;
        for (int64_t j = threadIdx.x; j < classes; j += blockDim.x)
            sum += exp((double)z[j] - mx);
        sum = block_sum(sum, shd);
        const double log_sum = log(sum) + mx;
        if (threadIdx.x == 0)
            row_loss[r] = log_sum - z[label];
        if (dz)
            for (int64_t j = threadIdx.x; j < classes; j += blockDim.x) {
                float v = scale * (float)exp((double)z[j] - log_sum);
                if (j == label)
                    v -= scale; // the ref's `dz[label] -= scale`, same float operation
                dz[j] = v;
            }
    }
}

__global__ void cross_entropy_total_kernel(const double *row_loss, int64_t rows, float scale, float *loss)
{
    __shared__ double sh[32];
    double acc = 0.0;
    for (int64_t r = threadIdx.x; r < rows; r += blockDim.x)
        acc += row_loss[r];
    acc = block_sum(acc, sh);
    if (threadIdx.x == 0)
        *loss = (float)(acc * scale);
}

} // namespace

qat_status cuda_cross_entropy(void *st, const float *logits, const int32_t *labels, int64_t rows, int64_t classes,
                              float scale, float *loss, float *dlogits)
{
    cuda_state *s = to_state(st);
    if (rows < 0 || classes < 0)
        return cuda_fail(s, QAT_ERR_INVALID_ARGUMENT, "cross_entropy: negative size");
    if (classes == 0)
        rows = 0; // nothing to normalise: every row contributes 0
    qat_status status;
    double *row_loss = nullptr;
    if (rows > 0) {
        void *ws = nullptr;
        if ((status = cuda_workspace(s, (size_t)rows * sizeof(double), &ws)) != QAT_OK)
            return status;
        row_loss = static_cast<double *>(ws);
        cross_entropy_rows_kernel<<<grid_for(rows, 1), kThreads, 0, s->stream>>>(logits, labels, rows, classes, scale,
                                                                                row_loss, dlogits);
        if ((status = cuda_launched(s, "cross_entropy (rows)")) != QAT_OK)
            return status;
    }
    // Launched for rows == 0 too: *loss is always written (0).
    cross_entropy_total_kernel<<<1, 1024, 0, s->stream>>>(row_loss, rows, scale, loss);
    return cuda_launched(s, "cross_entropy");
}
