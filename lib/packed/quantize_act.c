/* Activation quantization into int8 codes, with the per-token code sums
 * the SIMD kernels need for their offset correction (computed here, in the
 * same pass, so the GEMM never re-reads the activations for it). Tokens are
 * independent: they are spread over the kernel handle's threads, and each
 * row runs on the handle's ISA (every path gives the same codes: IEEE
 * multiply, divide, min/max and round-to-nearest-even are exact
 * operations). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/thread_pool.h"
#include "packed/packed_internal.h"

void qat_packed_acts_free(qat_packed_acts *a)
{
    if (!a)
        return;
    free(a->codes);
    free(a->scale);
    free(a->row_sum);
    memset(a, 0, sizeof *a);
}

qat_status qat_packed_acts_alloc(int64_t tokens, int64_t in, qat_packed_acts *a)
{
    QAT_CHECK_ARG(a, "packed: acts alloc: NULL output");
    memset(a, 0, sizeof *a);
    QAT_CHECK_ARG(tokens > 0 && in > 0 && in <= QAT_PACKED_MAX_IN,
                  "packed: acts alloc: shape [%lld, %lld] out of range (in <= %d)",
                  (long long)tokens, (long long)in, QAT_PACKED_MAX_IN);
    a->tokens = tokens;
    a->in = in;
    a->stride = (in + QAT_PACKED_K_ALIGN - 1) / QAT_PACKED_K_ALIGN * QAT_PACKED_K_ALIGN;
    /* 64-byte aligned rows: the AVX-512 kernel's loads never split a line. */
    const int64_t rows = (tokens + QAT_PACKED_TOKEN_ALIGN - 1) / QAT_PACKED_TOKEN_ALIGN * QAT_PACKED_TOKEN_ALIGN;
    size_t bytes = (size_t)rows * (size_t)a->stride;
    a->codes = aligned_alloc(QAT_PACKED_K_ALIGN, bytes);
    a->scale = malloc((size_t)tokens * sizeof *a->scale);
    a->row_sum = malloc((size_t)tokens * sizeof *a->row_sum);
    if (!a->codes || !a->scale || !a->row_sum) {
        qat_packed_acts_free(a);
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "packed: acts alloc: out of memory for [%lld, %lld]",
                        (long long)tokens, (long long)in);
    }
    /* The padding (columns past in, rows past tokens) starts zero; the
     * columns stay zero for the life of the buffer. */
    memset(a->codes, 0, bytes);
    return QAT_OK;
}

int qat_packed_absmax_scalar(const float *x, int64_t n, float *m)
{
    int bad = 0;
    float mx = 0.0f;
    for (int64_t c = 0; c < n; c++) {
        float v = fabsf(x[c]);
        bad |= !(v <= FLT_MAX); /* NaN or infinity */
        mx = v > mx ? v : mx;
    }
    *m = mx;
    return bad;
}

int32_t qat_packed_quant_row_scalar(const float *x, int64_t n, float mul, float div, float qn, float qp,
                                    int8_t *q)
{
    int32_t sum = 0;
    for (int64_t c = 0; c < n; c++) {
        float v = x[c] * mul / div;
        v = v < qn ? qn : (v > qp ? qp : v);
        /* Clamping before rounding gives the code of rounding before
         * clamping: the bounds are integers. */
        q[c] = (int8_t)nearbyintf(v);
        sum += q[c];
    }
    return sum;
}

int32_t qat_packed_quant_row_offset_scalar(const float *x, int64_t n, float sub, float div, float qp, int shift,
                                           int8_t *q)
{
    int32_t sum = 0;
    for (int64_t c = 0; c < n; c++) {
        float v = (x[c] - sub) / div;
        v = v < 0.0f ? 0.0f : (v > qp ? qp : v);
        /* u in [0, 2^b - 1] does not fit int8 at b = 8: store u - 2^(b-1). */
        q[c] = (int8_t)((int32_t)nearbyintf(v) - shift);
        sum += q[c];
    }
    return sum;
}

#if defined(QAT_PACKED_X86)
/* The avx512vnni, avx512vbmi and amx paths run the AVX-512 rows where the CPU has
 * AVX-512 DQ too (quantize_avx512.c), else the AVX2 ones. The onednn path
 * quantizes here too, with the AVX-512 rows where the CPU has AVX-512 F
 * and DQ, else with AVX2 where it has it; amx CPUs all have AVX2
 * (AVX-512 is checked with AMX). */
static int avx512_rows(const qat_packed_kernel *k)
{
    return k &&
           (k->isa == QAT_PACKED_ISA_AVX512VNNI || k->isa == QAT_PACKED_ISA_AVX512VBMI || k->isa == QAT_PACKED_ISA_AMX ||
            (k->isa == QAT_PACKED_ISA_ONEDNN && __builtin_cpu_supports("avx512f"))) &&
           __builtin_cpu_supports("avx512dq");
}

static int avx2_rows(const qat_packed_kernel *k)
{
    return k && (k->isa == QAT_PACKED_ISA_AVX2 || k->isa == QAT_PACKED_ISA_AVX512VNNI ||
                 k->isa == QAT_PACKED_ISA_AVX512VBMI || k->isa == QAT_PACKED_ISA_AMX ||
                 (k->isa == QAT_PACKED_ISA_ONEDNN && qat_packed_isa_available(QAT_PACKED_ISA_AVX2)));
}
#endif

/* How each token's codes are made (the three quantizers differ only here). */
typedef enum { ACT_BITNET, ACT_LSQ, ACT_LSQ_PLUS } act_kind;

static qat_status quantizer_init(const qat_packed_kernel *k, int bits, act_kind kind, const char *who,
                                 qat_packed_act_quantizer *q)
{
    QAT_CHECK_ARG(q, "packed: %s: NULL quantizer", who);
    QAT_CHECK_ARG(!k || (k->threads >= 1 && k->isa != QAT_PACKED_ISA_AUTO),
                  "packed: %s: kernel handle not initialised", who);
    QAT_CHECK_ARG(bits >= 2 && bits <= 8, "packed: %s: bits = %d, expected 2..8", who, bits);
    *q = (qat_packed_act_quantizer){.kind = kind, .bits = bits, .absmax = qat_packed_absmax_scalar,
                                    .quant = qat_packed_quant_row_scalar,
                                    .quant_offset = qat_packed_quant_row_offset_scalar};
#if defined(QAT_PACKED_X86)
    if (avx512_rows(k)) {
        q->absmax = qat_packed_absmax_avx512;
        q->quant = qat_packed_quant_row_avx512;
        q->quant_offset = qat_packed_quant_row_offset_avx512;
    } else if (avx2_rows(k)) {
        q->absmax = qat_packed_absmax_avx2;
        q->quant = qat_packed_quant_row_avx2;
        q->quant_offset = qat_packed_quant_row_offset_avx2;
    }
#else
    (void)k;
#endif
    return QAT_OK;
}

qat_status qat_packed_act_quantizer_bitnet(const qat_packed_kernel *k, int bits, int symmetric,
                                           qat_packed_act_quantizer *q)
{
    QAT_TRY(quantizer_init(k, bits, ACT_BITNET, "quantize bitnet", q));
    q->qp = (float)((1 << (bits - 1)) - 1);
    q->qn = symmetric ? -q->qp : -(float)(1 << (bits - 1));
    return QAT_OK;
}

qat_status qat_packed_act_quantizer_lsq(const qat_packed_kernel *k, int bits, float step, float step_eps,
                                        qat_packed_act_quantizer *q)
{
    QAT_CHECK_ARG(isfinite(step) && step > 0.0f, "packed: quantize lsq: step = %g must be finite and > 0",
                  (double)step);
    QAT_TRY(quantizer_init(k, bits, ACT_LSQ, "quantize lsq", q));
    q->qn = -(float)(1 << (bits - 1));
    q->qp = (float)((1 << (bits - 1)) - 1);
    q->div = step + step_eps;
    q->step = step;
    return QAT_OK;
}

qat_status qat_packed_act_quantizer_lsq_plus(const qat_packed_kernel *k, int bits, float step, float offset,
                                             float step_eps, qat_packed_act_quantizer *q)
{
    QAT_CHECK_ARG(isfinite(step) && step > 0.0f, "packed: quantize lsq+: step = %g must be finite and > 0",
                  (double)step);
    QAT_CHECK_ARG(isfinite(offset), "packed: quantize lsq+: offset = %g must be finite", (double)offset);
    QAT_CHECK_ARG(isfinite(step_eps) && step_eps >= 0.0f,
                  "packed: quantize lsq+: step_eps = %g must be finite and >= 0", (double)step_eps);
    QAT_TRY(quantizer_init(k, bits, ACT_LSQ_PLUS, "quantize lsq+", q));
    q->qp = (float)((1 << bits) - 1);
    /* The divisor as the fake quantizer forms it: one float addition. */
    q->div = step + step_eps;
    q->step = step;
    q->offset = offset;
    q->shift = 1 << (bits - 1);
    return QAT_OK;
}

static const char *quantizer_name(const qat_packed_act_quantizer *q)
{
    return q->kind == ACT_BITNET ? "quantize bitnet" : q->kind == ACT_LSQ ? "quantize lsq" : "quantize lsq+";
}

static qat_status check_input(const qat_packed_act_quantizer *q, const float *x, int64_t ldx,
                              const qat_packed_acts *a)
{
    const char *who = quantizer_name(q);
    QAT_CHECK_ARG(a && a->codes, "packed: %s: activations not allocated", who);
    QAT_CHECK_ARG(x, "packed: %s: NULL input", who);
    QAT_CHECK_ARG(ldx >= a->in, "packed: %s: ldx = %lld < in = %lld", who, (long long)ldx, (long long)a->in);
    return QAT_OK;
}

/* Threads for a call: no more than tokens, and one per 16 Ki elements at
 * least (a fork-join costs more than quantizing a small batch). */
static int threads_of(const qat_packed_kernel *k, int64_t tokens, int64_t in)
{
    int64_t nt = k ? k->threads : 1, by_work = tokens * in / 16384;
    nt = tokens < nt ? tokens : nt;
    nt = by_work < nt ? by_work : nt;
    return nt < 1 ? 1 : (int)nt;
}

/* Token t through q; nonzero (and a left as it was for t) when its input
 * is not finite. */
static int quantize_token(const qat_packed_act_quantizer *q, const float *x, int64_t ldx, int64_t t,
                          qat_packed_acts *a)
{
    const float *xr = x + t * ldx;
    int8_t *codes = a->codes + t * a->stride;
    float m;
    /* LSQ and LSQ+ use only its finiteness check: no per-token range. */
    if (q->absmax(xr, a->in, &m))
        return 1;
    switch ((act_kind)q->kind) {
    case ACT_BITNET:
        m = m > 1e-5f ? m : 1e-5f;
        /* x * Qp / m in this order, as docs/method.md section 4 and the fake
         * quantizer write it (not x * (Qp / m), which rounds apart). */
        a->row_sum[t] = q->quant(xr, a->in, q->qp, m, q->qn, q->qp, codes);
        a->scale[t] = m / q->qp;
        break;
    case ACT_LSQ:
        /* x * 1 is exact: v = x / (step + eps) as the fake quantizer computes it. */
        a->row_sum[t] = q->quant(xr, a->in, 1.0f, q->div, q->qn, q->qp, codes);
        a->scale[t] = q->step;
        break;
    case ACT_LSQ_PLUS:
        a->row_sum[t] = q->quant_offset(xr, a->in, q->offset, q->div, q->qp, q->shift, codes);
        a->scale[t] = q->step;
        break;
    }
    return 0;
}

int qat_packed_quantize_range(const qat_packed_act_quantizer *q, const float *x, int64_t ldx, int64_t begin,
                              int64_t end, qat_packed_acts *a)
{
    int bad = 0;
    for (int64_t t = begin; t < end; t++)
        bad |= quantize_token(q, x, ldx, t, a);
    return bad;
}

int64_t qat_packed_first_not_finite(const qat_packed_act_quantizer *q, const float *x, int64_t ldx, int64_t in,
                                    int64_t tokens)
{
    float m;
    for (int64_t t = 0; t < tokens; t++) {
        if (!q->absmax(x + t * ldx, in, &m)) /* nonzero: not finite */
            continue;
        int64_t c = 0;
        while (c < in - 1 && isfinite(x[t * ldx + c]))
            c++;
        return t * in + c;
    }
    return -1;
}

qat_status qat_packed_not_finite_at(const qat_packed_act_quantizer *q, int64_t token, int64_t column)
{
    return qat_fail(QAT_ERR_NUMERIC, "packed: %s: input [%lld, %lld] is not finite", quantizer_name(q),
                    (long long)token, (long long)column);
}

qat_status qat_packed_quantize_finish(const qat_packed_act_quantizer *q, const float *x, int64_t ldx, int failed,
                                      qat_packed_acts *a)
{
    if (failed) {
        a->bits = 0;
        const int64_t at = qat_packed_first_not_finite(q, x, ldx, a->in, a->tokens);
        /* Every input finite: the range failed in a kernel run before the
         * quantizer (a row pass's LayerNorm or GELU), not on a value. */
        if (at < 0)
            return qat_fail(QAT_ERR_INTERNAL, "packed: %s: a range failed with every input finite",
                            quantizer_name(q));
        return qat_packed_not_finite_at(q, at / a->in, at % a->in);
    }
    a->bits = q->bits;
    return QAT_OK;
}

/* One whole-tensor call's pool ranges. */
typedef struct quant_job {
    const qat_packed_act_quantizer *q;
    const float *x;
    int64_t ldx;
    qat_packed_acts *a;
} quant_job;

static int quantize_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const quant_job *j = arg;
    (void)index;
    return qat_packed_quantize_range(j->q, j->x, j->ldx, begin, end, j->a);
}

qat_status qat_packed_quantize(const qat_packed_kernel *k, const qat_packed_act_quantizer *q, const float *x,
                              int64_t ldx, qat_packed_acts *a)
{
    QAT_TRY(check_input(q, x, ldx, a));
    int failed = 0;
    if (k && k->pool) {
        /* Ranges of at least 16 Ki elements, as threads_of. */
        const int64_t grain = a->in >= 16384 ? 1 : 16384 / a->in;
        quant_job j = {.q = q, .x = x, .ldx = ldx, .a = a};
        failed = qat_pool_for(k->pool, a->tokens, grain, quantize_range, &j);
    } else {
#pragma omp parallel for num_threads(threads_of(k, a->tokens, a->in)) schedule(static) reduction(| : failed)
        for (int64_t t = 0; t < a->tokens; t++)
            failed |= quantize_token(q, x, ldx, t, a);
    }
    return qat_packed_quantize_finish(q, x, ldx, failed, a);
}

qat_status qat_packed_quantize_bitnet(const qat_packed_kernel *k, const float *x, int64_t ldx, int bits,
                                      int symmetric, qat_packed_acts *a)
{
    qat_packed_act_quantizer q;
    QAT_TRY(qat_packed_act_quantizer_bitnet(k, bits, symmetric, &q));
    return qat_packed_quantize(k, &q, x, ldx, a);
}

qat_status qat_packed_quantize_lsq(const qat_packed_kernel *k, const float *x, int64_t ldx, int bits,
                                   float step, qat_packed_acts *a)
{
    return qat_packed_quantize_lsq_eps(k, x, ldx, bits, step, 0.0f, a);
}

qat_status qat_packed_quantize_lsq_eps(const qat_packed_kernel *k, const float *x, int64_t ldx, int bits,
                                       float step, float step_eps, qat_packed_acts *a)
{
    qat_packed_act_quantizer q;
    QAT_TRY(qat_packed_act_quantizer_lsq(k, bits, step, step_eps, &q));
    return qat_packed_quantize(k, &q, x, ldx, a);
}

qat_status qat_packed_quantize_lsq_plus(const qat_packed_kernel *k, const float *x, int64_t ldx, int bits,
                                        float step, float offset, float step_eps, qat_packed_acts *a)
{
    qat_packed_act_quantizer q;
    QAT_TRY(qat_packed_act_quantizer_lsq_plus(k, bits, step, offset, step_eps, &q));
    return qat_packed_quantize(k, &q, x, ldx, a);
}
