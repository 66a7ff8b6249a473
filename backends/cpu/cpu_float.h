/* The cpu backend's vectorised float kernels (bias + GELU, GELU's
 * derivative, softmax and LayerNorm rows forward and backward, BitNet's
 * quantizer rows, double-lane sums, column gradients, AdamW, dropout), their
 * ISA, and the backend state that carries it. Every path gives the bits of
 * the ref backend's code (lib/math's scalar definitions, or ref's loop). */
#ifndef QAT_CPU_FLOAT_H
#define QAT_CPU_FLOAT_H

#include <stdint.h>

#include "backend/kernels.h"
#include "host/host_memory.h"

typedef enum qat_cpu_float_isa {
    QAT_CPU_FLOAT_SCALAR = 0, /* lib/math's scalar code, as ref */
    QAT_CPU_FLOAT_AVX2,
    QAT_CPU_FLOAT_AVX512,
    QAT_CPU_FLOAT_NEON /* AArch64 builds only */
} qat_cpu_float_isa;

/* The cpu backend's state: a host state first (the ref kernels it falls
 * back to read that), then the float kernels' ISA, chosen at creation from
 * QAT_ISA as the packed integer kernels choose theirs. */
typedef struct qat_cpu_state {
    qat_host_state host;
    qat_cpu_float_isa isa;
} qat_cpu_state;

qat_status qat_cpu_state_create(int threads, void **state);
void qat_cpu_state_destroy(void *state);

/* QAT_ISA (lib/packed/dispatch.c) mapped to the float kernels. On x86-64:
 * scalar and avx2 as named, avx512vnni to AVX-512, and auto, onednn to the
 * widest this CPU runs. On AArch64: scalar as named, every other value
 * (auto, neon, i8mm) to NEON. Fails as the packed kernels do on a bad or
 * unavailable QAT_ISA. */
qat_status qat_cpu_float_isa_from_env(qat_cpu_float_isa *isa);
const char *qat_cpu_float_isa_name(qat_cpu_float_isa isa);

/* One row (or run of n elements) on the given ISA. The softmax row is the
 * one the attention kernels call: s = softmax(s + bias), bias may be NULL. */
void qat_cpu_softmax_row(qat_cpu_float_isa isa, float *s, const float *bias, int64_t n);
/* The same on rows rows of n floats, row r at s + r * lds (several at a time). */
void qat_cpu_softmax_rows(qat_cpu_float_isa isa, float *s, int64_t lds, int64_t rows, const float *bias, int64_t n);
void qat_cpu_layernorm_row(qat_cpu_float_isa isa, const float *x, const float *w, const float *b, float eps,
                           int64_t n, float *y, float *mean, float *rstd);
/* out[i] = a[i] + b[i] (out may be a or b). */
void qat_cpu_add_run(qat_cpu_float_isa isa, const float *a, const float *b, float *out, int64_t n);
/* x (+)= bias; y = GELU(x) when gelu (bias may be NULL). */
void qat_cpu_bias_act_row(qat_cpu_float_isa isa, float *x, const float *bias, int64_t n, int gelu, float *y);
void qat_cpu_gelu_bwd_run(qat_cpu_float_isa isa, const float *dy, const float *pre, int64_t n, float *dx);
/* The training step's rows (lib/math/row_math.h, quant_math.h): sum |x| and
 * sum x^2 in double lanes, BitNet's ternary weight and absmax activation
 * rows. AdamW over one tensor's elements is backends/ref's loop; without
 * FMA (an AVX2 CPU lacking it) the AVX2 path runs that scalar loop. */
double qat_cpu_abs_sum_row(qat_cpu_float_isa isa, const float *x, int64_t n);
double qat_cpu_square_sum_row(qat_cpu_float_isa isa, const float *x, int64_t n);
void qat_cpu_bitnet_weight_row(qat_cpu_float_isa isa, const float *w, int64_t n, float g, float *y);
void qat_cpu_bitnet_act_row(qat_cpu_float_isa isa, const float *x, int64_t n, float qp, float lo, float *y);
/* LSQ / LSQ+ rows (quant_math.h's qat_lsq_fwd_row, qat_lsq_bwd_row). */
void qat_cpu_lsq_fwd_row(qat_cpu_float_isa isa, const float *x, int64_t n, float s, float eps, const float *beta,
                         float qn, float qp, float *y);
void qat_cpu_lsq_bwd_row(qat_cpu_float_isa isa, const float *x, const float *dy, int64_t n, float div,
                         const float *beta, float qn, float qp, float *dx, double *step_sum, double *offset_sum);

/* The backward's vector twins (cpu_backward_kernels.c) have no scalar
 * wrapper: on the scalar path their slots run ref's kernels themselves.
 * QAT_CPU_VECTOR(isa, name) is the twin of a vector isa. A column block of
 * qat_cpu_column_grads is QAT_CPU_COLUMN_VECTORS vectors wide. */
#define QAT_CPU_COLUMN_VECTORS 4

/* QAT_CPU_TWINS: this build has vector twins (x86-64: AVX2 and AVX-512;
 * AArch64: NEON). QAT_CPU_VECTOR_LANES(isa) is a vector isa's width in
 * floats. */
#if defined(__x86_64__)
#define QAT_CPU_TWINS 1
#define QAT_CPU_VECTOR(isa, name) ((isa) == QAT_CPU_FLOAT_AVX512 ? name##_avx512 : name##_avx2)
#define QAT_CPU_VECTOR_LANES(isa) ((isa) == QAT_CPU_FLOAT_AVX512 ? 16 : 8)
#elif defined(__aarch64__)
#define QAT_CPU_TWINS 1
#define QAT_CPU_VECTOR(isa, name) ((void)(isa), name##_neon)
#define QAT_CPU_VECTOR_LANES(isa) ((void)(isa), 4)
#endif

#ifdef QAT_CPU_TWINS
#define QAT_CPU_FLOAT_TWINS(SFX)                                                                            \
    void qat_cpu_softmax_row_##SFX(float *s, const float *bias, int64_t n);                                 \
    void qat_cpu_softmax_rows_##SFX(float *s, int64_t lds, int64_t rows, const float *bias, int64_t n);    \
    void qat_cpu_layernorm_row_##SFX(const float *x, const float *w, const float *b, float eps, int64_t n, \
                                     float *y, float *mean, float *rstd);                                   \
    void qat_cpu_add_run_##SFX(const float *a, const float *b, float *out, int64_t n);                       \
    void qat_cpu_bias_act_row_##SFX(float *x, const float *bias, int64_t n, int gelu, float *y);           \
    void qat_cpu_gelu_bwd_##SFX(const float *dy, const float *pre, int64_t n, float *dx);                  \
    double qat_cpu_abs_sum_row_##SFX(const float *x, int64_t n);                                            \
    double qat_cpu_square_sum_row_##SFX(const float *x, int64_t n);                                         \
    void qat_cpu_bitnet_weight_row_##SFX(const float *w, int64_t n, float g, float *y);                     \
    void qat_cpu_bitnet_act_row_##SFX(const float *x, int64_t n, float qp, float lo, float *y);            \
    void qat_cpu_adamw_run_##SFX(const qat_adamw_desc *d, float decay, int positive, float scale, float *param, \
                                 float *grad, float *exp_avg, float *exp_avg_sq, int64_t n);               \
    void qat_cpu_layernorm_bwd_row_##SFX(const float *dy, const float *x, const float *w, float mean,      \
                                         float rstd, int64_t n, float *dx);                                 \
    void qat_cpu_softmax_bwd_row_##SFX(const float *dp, const float *p, int64_t n, float *ds);            \
    void qat_cpu_column_grads_##SFX(const float *dy, const float *x, const float *mean, const float *rstd,  \
                                    int64_t rows, int64_t cols, int64_t c0, float *dw, float *db);          \
    void qat_cpu_dropout_run_##SFX(float *x, int64_t begin, int64_t n, float p, float keep_scale, uint64_t seed); \
    void qat_cpu_lsq_fwd_row_##SFX(const float *x, int64_t n, float s, float eps, const float *beta, float qn,  \
                                   float qp, float *y);                                                         \
    void qat_cpu_lsq_bwd_row_##SFX(const float *x, const float *dy, int64_t n, float div, const float *beta,    \
                                   float qn, float qp, float *dx, double *step_sum, double *offset_sum); \
    void qat_cpu_gemm_skinny_nb_##SFX(int trans_a, int64_t m, int64_t n, int64_t k, float alpha, const float *a, \
                                      int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc);
#if defined(__x86_64__)
QAT_CPU_FLOAT_TWINS(avx2)
QAT_CPU_FLOAT_TWINS(avx512)
#else
QAT_CPU_FLOAT_TWINS(neon)
#endif
#undef QAT_CPU_FLOAT_TWINS
#endif

#endif
