/* The cpu backend's state (a host state plus the float kernels' ISA) and
 * the per-ISA choice of row function. */
#include "cpu/cpu_float.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "math/quant_math.h"
#include "math/row_math.h"
#include "packed/packed.h"

qat_status qat_cpu_float_isa_from_env(qat_cpu_float_isa *isa)
{
    qat_packed_isa packed = QAT_PACKED_ISA_AUTO;
    QAT_TRY(qat_packed_isa_choose(&packed));
#if defined(__aarch64__)
    /* Advanced SIMD is in every AArch64 CPU, so NEON needs no detection:
     * it runs unless QAT_ISA names scalar, also where auto resolved the
     * packed kernels to scalar (a CPU without the dot product, such as the
     * Cortex-A53), hence QAT_ISA itself rather than `packed` (which
     * qat_packed_isa_choose has validated). */
    const char *env = getenv("QAT_ISA");
    *isa = env && strcmp(env, "scalar") == 0 ? QAT_CPU_FLOAT_SCALAR : QAT_CPU_FLOAT_NEON;
    return QAT_OK;
#else
    switch (packed) {
    case QAT_PACKED_ISA_SCALAR:
        *isa = QAT_CPU_FLOAT_SCALAR;
        return QAT_OK;
    case QAT_PACKED_ISA_AVX2:
        *isa = QAT_CPU_FLOAT_AVX2;
        return QAT_OK;
    default:
        /* avx512vnni, and the widest for auto / onednn. AVX-512 is taken
         * where the VNNI level is (F and BW checked with it): one
         * detection, lib/packed/dispatch.c's. */
        *isa = qat_packed_isa_available(QAT_PACKED_ISA_AVX512VNNI) ? QAT_CPU_FLOAT_AVX512
             : qat_packed_isa_available(QAT_PACKED_ISA_AVX2)       ? QAT_CPU_FLOAT_AVX2
                                                                   : QAT_CPU_FLOAT_SCALAR;
        return QAT_OK;
    }
#endif
}

const char *qat_cpu_float_isa_name(qat_cpu_float_isa isa)
{
    return isa == QAT_CPU_FLOAT_AVX512 ? "avx512"
         : isa == QAT_CPU_FLOAT_AVX2   ? "avx2"
         : isa == QAT_CPU_FLOAT_NEON   ? "neon"
                                       : "scalar";
}

qat_status qat_cpu_state_create(int threads, void **state)
{
    qat_cpu_float_isa isa;
    QAT_TRY(qat_cpu_float_isa_from_env(&isa));
    qat_cpu_state *s = calloc(1, sizeof *s);
    if (!s)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "cpu backend: out of memory");
    s->host.threads = threads;
    s->isa = isa;
    qat_status st = qat_pool_create(threads, &s->host.pool);
    if (st != QAT_OK) {
        free(s);
        return st;
    }
    *state = s;
    return QAT_OK;
}

void qat_cpu_state_destroy(void *state)
{
    qat_cpu_state *s = state;
    qat_pool_free(s->host.pool);
    free(s);
}

#if defined(__x86_64__)
#define PICK(isa, name, ...)                                                    \
    ((isa) == QAT_CPU_FLOAT_AVX512 ? name##_avx512(__VA_ARGS__)                 \
     : (isa) == QAT_CPU_FLOAT_AVX2 ? name##_avx2(__VA_ARGS__) : scalar_##name(__VA_ARGS__))
#elif defined(__aarch64__)
#define PICK(isa, name, ...) ((isa) == QAT_CPU_FLOAT_NEON ? name##_neon(__VA_ARGS__) : scalar_##name(__VA_ARGS__))
#else
#define PICK(isa, name, ...) ((void)(isa), scalar_##name(__VA_ARGS__))
#endif

static void scalar_qat_cpu_softmax_row(float *s, const float *bias, int64_t n)
{
    qat_softmax_row(s, bias, n);
}

static void scalar_qat_cpu_layernorm_row(const float *x, const float *w, const float *b, float eps, int64_t n,
                                         float *y, float *mean, float *rstd)
{
    qat_layernorm_row(x, w, b, eps, n, y, mean, rstd);
}

static void scalar_qat_cpu_bias_act_row(float *x, const float *bias, int64_t n, int gelu, float *y)
{
    for (int64_t j = 0; j < n; j++) {
        if (bias)
            x[j] = x[j] + bias[j];
        if (gelu)
            y[j] = qat_gelu(x[j]);
    }
}

static void scalar_qat_cpu_gelu_bwd(const float *dy, const float *pre, int64_t n, float *dx)
{
    for (int64_t j = 0; j < n; j++)
        dx[j] = dy[j] * qat_gelu_grad(pre[j]);
}

void qat_cpu_softmax_row(qat_cpu_float_isa isa, float *s, const float *bias, int64_t n)
{
    PICK(isa, qat_cpu_softmax_row, s, bias, n);
}

static void scalar_qat_cpu_softmax_rows(float *s, int64_t lds, int64_t rows, const float *bias, int64_t n)
{
    for (int64_t r = 0; r < rows; r++)
        qat_softmax_row(s + r * lds, bias, n);
}

void qat_cpu_softmax_rows(qat_cpu_float_isa isa, float *s, int64_t lds, int64_t rows, const float *bias, int64_t n)
{
    PICK(isa, qat_cpu_softmax_rows, s, lds, rows, bias, n);
}

/* ref's add loop */
static void scalar_qat_cpu_add_run(const float *a, const float *b, float *out, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        out[i] = a[i] + b[i];
}

void qat_cpu_add_run(qat_cpu_float_isa isa, const float *a, const float *b, float *out, int64_t n)
{
    PICK(isa, qat_cpu_add_run, a, b, out, n);
}

void qat_cpu_layernorm_row(qat_cpu_float_isa isa, const float *x, const float *w, const float *b, float eps,
                           int64_t n, float *y, float *mean, float *rstd)
{
    PICK(isa, qat_cpu_layernorm_row, x, w, b, eps, n, y, mean, rstd);
}

void qat_cpu_bias_act_row(qat_cpu_float_isa isa, float *x, const float *bias, int64_t n, int gelu, float *y)
{
    PICK(isa, qat_cpu_bias_act_row, x, bias, n, gelu, y);
}

void qat_cpu_gelu_bwd_run(qat_cpu_float_isa isa, const float *dy, const float *pre, int64_t n, float *dx)
{
    PICK(isa, qat_cpu_gelu_bwd, dy, pre, n, dx);
}

static double scalar_qat_cpu_abs_sum_row(const float *x, int64_t n)
{
    return qat_abs_sum_row(x, n);
}

static double scalar_qat_cpu_square_sum_row(const float *x, int64_t n)
{
    return qat_square_sum_row(x, n);
}

static void scalar_qat_cpu_bitnet_weight_row(const float *w, int64_t n, float g, float *y)
{
    qat_bitnet_weight_row(w, n, g, y);
}

static void scalar_qat_cpu_bitnet_act_row(const float *x, int64_t n, float qp, float lo, float *y)
{
    qat_bitnet_act_row(x, n, qp, lo, y);
}

double qat_cpu_abs_sum_row(qat_cpu_float_isa isa, const float *x, int64_t n)
{
    return PICK(isa, qat_cpu_abs_sum_row, x, n);
}

double qat_cpu_square_sum_row(qat_cpu_float_isa isa, const float *x, int64_t n)
{
    return PICK(isa, qat_cpu_square_sum_row, x, n);
}

void qat_cpu_bitnet_weight_row(qat_cpu_float_isa isa, const float *w, int64_t n, float g, float *y)
{
    PICK(isa, qat_cpu_bitnet_weight_row, w, n, g, y);
}

void qat_cpu_bitnet_act_row(qat_cpu_float_isa isa, const float *x, int64_t n, float qp, float lo, float *y)
{
    PICK(isa, qat_cpu_bitnet_act_row, x, n, qp, lo, y);
}

static void scalar_qat_cpu_lsq_fwd_row(const float *x, int64_t n, float s, float eps, const float *beta, float qn,
                                       float qp, float *y)
{
    qat_lsq_fwd_row(x, n, s, eps, beta, qn, qp, y);
}

static void scalar_qat_cpu_lsq_bwd_row(const float *x, const float *dy, int64_t n, float div, const float *beta,
                                       float qn, float qp, float *dx, double *step_sum, double *offset_sum)
{
    qat_lsq_bwd_row(x, dy, n, div, beta, qn, qp, dx, step_sum, offset_sum);
}

void qat_cpu_lsq_fwd_row(qat_cpu_float_isa isa, const float *x, int64_t n, float s, float eps, const float *beta,
                         float qn, float qp, float *y)
{
    PICK(isa, qat_cpu_lsq_fwd_row, x, n, s, eps, beta, qn, qp, y);
}

void qat_cpu_lsq_bwd_row(qat_cpu_float_isa isa, const float *x, const float *dy, int64_t n, float div,
                         const float *beta, float qn, float qp, float *dx, double *step_sum, double *offset_sum)
{
    PICK(isa, qat_cpu_lsq_bwd_row, x, dy, n, div, beta, qn, qp, dx, step_sum, offset_sum);
}
