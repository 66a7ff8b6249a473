// The fused linear forward (kernels.h linear_fwd) on cuBLASLt: one
// cublasLtMatmul computes x W^T + b, the bias added in the matmul's epilogue
// (CUBLASLT_EPILOGUE_BIAS) with fp32 output, so the product needs no second
// pass for its bias. For GELU, the product is the aux output `pre` the
// backward reads, and the exact-erf GELU kernel (bias_act_fwd's) writes y.
//
// Why not CUBLASLT_EPILOGUE_GELU_AUX_BIAS: cuBLASLt's GELU is the tanh
// approximation (torch._addmm_activation's GELU on CUDA is
// gelu(approximate='tanh') for that reason), up to ~4e-4 away from the exact
// erf GELU of BERT-class models and of every other backend here; its
// DGELU_BGRAD derivative likewise. The backward's dGELU + bias gradient is
// therefore this module's own one-pass kernel (gelu_bias_bwd,
// cuda_elementwise.cu). docs/cuda.md has the details.
//
// Precision, the gemm slot's policy (cuda_gemm.cu): fp32 operands with
// CUBLAS_COMPUTE_32F; tf32 with CUBLAS_COMPUTE_32F_FAST_TF32; bf16: x and W
// rounded to bf16 into the workspace, CUBLAS_COMPUTE_32F accumulation, fp32
// output. Where cuBLASLt refuses a shape (no algorithm from its heuristic,
// an empty reduction, sizes past int), the unfused path runs instead:
// cuda_gemm, then bias_act_fwd with the bias.
#include <climits>
#include <cuda_bf16.h>

#include "cuda_common.cuh"

extern "C" {
#include "backend/linear_check.h"
}

using namespace qatcuda;

namespace {

// cuBLASLt's scratch: what NVIDIA suggests for Hopper's kernels.
constexpr size_t kLtWorkspace = 32u << 20;

// The largest power of two (at most 256) dividing a pointer: cuBLASLt's
// heuristic assumes 256-byte aligned operands unless told otherwise, and the
// model's activations sit at any float offset of its buffers.
uint32_t alignment_of(const void *p)
{
    const uintptr_t a = reinterpret_cast<uintptr_t>(p);
    uint32_t align = 256;
    while (align > 4 && a % align != 0)
        align >>= 1;
    return align;
}

// The descriptors of one matmul, destroyed with it.
struct lt_plan {
    cublasLtMatmulDesc_t op = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
    cublasLtMatmulPreference_t pref = nullptr;
    ~lt_plan()
    {
        if (pref)
            cublasLtMatmulPreferenceDestroy(pref);
        if (d)
            cublasLtMatrixLayoutDestroy(d);
        if (b)
            cublasLtMatrixLayoutDestroy(b);
        if (a)
            cublasLtMatrixLayoutDestroy(a);
        if (op)
            cublasLtMatmulDescDestroy(op);
    }
};

// Row-major y[rows, out] = x[rows, in] W^T is column-major
// Y^T[out, rows] = W^T[out, in] X^T[in, rows]: A = W stored in x out (ld in)
// transposed, B = x stored in x rows (ld in), D = out x rows (ld out).
// Sets *done when cuBLASLt ran it (with the bias when fused_bias); leaves it
// false, with no error, when cuBLASLt has no algorithm for it.
qat_status lt_matmul(cuda_state *s, const qat_linear_desc *d, bool fused_bias, float *product, bool *done)
{
    *done = false;
    const bool bf16 = s->precision == CUDA_PRECISION_BF16;
    const cudaDataType_t in_type = bf16 ? CUDA_R_16BF : CUDA_R_32F;
    const cublasComputeType_t compute =
        s->precision == CUDA_PRECISION_TF32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    const int64_t nx = d->rows * d->in, nw = d->out * d->in;
    const size_t x_bytes = bf16 ? (size_t)(nx + 127) / 128 * 128 * sizeof(__nv_bfloat16) : 0; // keeps W 256-aligned
    const size_t w_bytes = bf16 ? (size_t)(nw + 127) / 128 * 128 * sizeof(__nv_bfloat16) : 0;
    void *ws = nullptr;
    QAT_TRY_CUDA(cuda_workspace(s, x_bytes + w_bytes + kLtWorkspace, &ws));
    char *base = static_cast<char *>(ws);
    const void *x = d->x, *w = d->w;
    void *lt_ws = base + x_bytes + w_bytes;
    if (bf16) {
        QAT_TRY_CUDA(cuda_round_to_bf16(s, d->x, nx, base, "linear_fwd (bf16 conversion of x)"));
        QAT_TRY_CUDA(cuda_round_to_bf16(s, d->w, nw, base + x_bytes, "linear_fwd (bf16 conversion of W)"));
        x = base, w = base + x_bytes;
    }

    lt_plan p;
    const cublasOperation_t trans_a = CUBLAS_OP_T, trans_b = CUBLAS_OP_N;
    const cublasLtEpilogue_t epilogue = fused_bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
    const uint32_t align_a = alignment_of(w), align_b = alignment_of(x), align_d = alignment_of(product);
    const size_t lt_ws_bytes = kLtWorkspace;
    QAT_TRY_CUDA(cublas_check(s, cublasLtMatmulDescCreate(&p.op, compute, CUDA_R_32F), "cublasLtMatmulDescCreate"));
    QAT_TRY_CUDA(cublas_check(
        s, cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSA, &trans_a, sizeof trans_a),
        "cublasLtMatmulDescSetAttribute (transa)"));
    QAT_TRY_CUDA(cublas_check(
        s, cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSB, &trans_b, sizeof trans_b),
        "cublasLtMatmulDescSetAttribute (transb)"));
    QAT_TRY_CUDA(cublas_check(
        s, cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof epilogue),
        "cublasLtMatmulDescSetAttribute (epilogue)"));
    if (fused_bias)
        QAT_TRY_CUDA(cublas_check(s,
                                  cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &d->bias,
                                                                 sizeof d->bias),
                                  "cublasLtMatmulDescSetAttribute (bias)"));
    QAT_TRY_CUDA(cublas_check(s, cublasLtMatrixLayoutCreate(&p.a, in_type, (uint64_t)d->in, (uint64_t)d->out, d->in),
                              "cublasLtMatrixLayoutCreate (W)"));
    QAT_TRY_CUDA(cublas_check(s,
                              cublasLtMatrixLayoutCreate(&p.b, in_type, (uint64_t)d->in, (uint64_t)d->rows, d->in),
                              "cublasLtMatrixLayoutCreate (x)"));
    QAT_TRY_CUDA(cublas_check(
        s, cublasLtMatrixLayoutCreate(&p.d, CUDA_R_32F, (uint64_t)d->out, (uint64_t)d->rows, d->out),
        "cublasLtMatrixLayoutCreate (y)"));
    QAT_TRY_CUDA(cublas_check(s, cublasLtMatmulPreferenceCreate(&p.pref), "cublasLtMatmulPreferenceCreate"));
    const struct {
        cublasLtMatmulPreferenceAttributes_t attr;
        const void *value;
        size_t bytes;
    } prefs[] = {{CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &lt_ws_bytes, sizeof lt_ws_bytes},
                 {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &align_a, sizeof align_a},
                 {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &align_b, sizeof align_b},
                 {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &align_d, sizeof align_d},
                 {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &align_d, sizeof align_d}};
    for (const auto &pr : prefs)
        QAT_TRY_CUDA(cublas_check(s, cublasLtMatmulPreferenceSetAttribute(p.pref, pr.attr, pr.value, pr.bytes),
                                  "cublasLtMatmulPreferenceSetAttribute"));

    cublasLtMatmulHeuristicResult_t heuristic = {};
    int found = 0;
    const cublasStatus_t hs =
        cublasLtMatmulAlgoGetHeuristic(s->lt, p.op, p.a, p.b, p.d, p.d, p.pref, 1, &heuristic, &found);
    if (hs == CUBLAS_STATUS_NOT_SUPPORTED || (hs == CUBLAS_STATUS_SUCCESS && found == 0))
        return QAT_OK; // no algorithm for this shape: the caller runs the unfused path
    QAT_TRY_CUDA(cublas_check(s, hs, "cublasLtMatmulAlgoGetHeuristic"));
    const float alpha = 1.0f, beta = 0.0f;
    QAT_TRY_CUDA(cublas_check(s,
                              cublasLtMatmul(s->lt, p.op, &alpha, w, p.a, x, p.b, &beta, product, p.d, product, p.d,
                                             &heuristic.algo, lt_ws, lt_ws_bytes, s->stream),
                              "cublasLtMatmul"));
    *done = true;
    return QAT_OK;
}

} // namespace

qat_status cuda_linear_fwd(void *st, const qat_linear_desc *d)
{
    cuda_state *s = to_state(st);
    char why[256];
    if (qat_linear_desc_problem(d, why, sizeof why))
        return cuda_fail(s, QAT_ERR_INVALID_ARGUMENT, "%s", why);
    if (d->rows == 0 || d->out == 0)
        return QAT_OK;
    float *product = d->act == QAT_ACTIVATION_GELU ? d->pre : d->y;
    // The bias in the matmul's epilogue when cuBLASLt can read it there
    // (16-byte aligned: the vector loads of its epilogue); else with the GELU.
    const bool fused_bias = d->bias && alignment_of(d->bias) >= 16;
    bool done = false;
    if (d->in > 0 && d->rows <= INT_MAX && d->in <= INT_MAX && d->out <= INT_MAX)
        QAT_TRY_CUDA(lt_matmul(s, d, fused_bias, product, &done));
    if (!done) {
        const int64_t ld = d->in > 1 ? d->in : 1;
        const qat_gemm_desc g = {0, 1, d->rows, d->out, d->in, 1.0f, 0.0f, d->x, ld, 0, d->w, ld, 0,
                                 product, d->out, 0, 1};
        QAT_TRY_CUDA(cuda_gemm(st, &g));
    }
    const float *epilogue_bias = done && fused_bias ? nullptr : d->bias;
    return cuda_bias_act_fwd(st, product, epilogue_bias, d->rows, d->out, d->act, d->y);
}
