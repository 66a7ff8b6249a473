/*
 * Packed low-bit inference: the integer kernels (internal API, hidden).
 *
 * The contract (docs/packed-kernels.md): for a linear layer y = x W^T + b
 * whose weights and inputs go through the fake quantizers of docs/method.md section 4,
 *
 *     qw = weight codes (signed), sw = weight scale (per tensor or per row)
 *     qa = activation codes (signed int8), sa = activation scale (per token)
 *     acc[t,o] = sum_i qa[t,i] * qw[o,i]            (int32, exact)
 *     y[t,o]   = ((float)acc[t,o] * sa[t]) * sw[o] + b[o]
 *
 * reproduces X_hat @ W_hat^T + b (X_hat = qa*sa, W_hat = qw*sw) up to the
 * float accumulation order. Codes are identical to the fake quantizers'
 * (round half to even, nearbyintf in the default rounding mode); the integer
 * accumulators are bit-identical on every ISA path and thread count, and so
 * are the float outputs (one shared scalar epilogue).
 *
 * Weights are stored with an unsigned offset (u = q + offset) so that the
 * u8 x s8 instructions (maddubs, vpdpbusd) apply; SIMD paths subtract
 * offset * sum_i qa[t,i], the row sums being computed while quantizing.
 */
#ifndef QAT_LIB_PACKED_H
#define QAT_LIB_PACKED_H

#include <stddef.h>
#include <stdint.h>

#include "qat/core.h"

/* Largest input dimension: keeps every int32 accumulator exact
 * (255 * 128 * 65536 < 2^31 for the unsigned dot product). */
#define QAT_PACKED_MAX_IN 65536

/* Activation rows are stored with this stride granule, zero padded, so the
 * SIMD kernels never need a tail loop. */
#define QAT_PACKED_K_ALIGN 64
/* Activation buffers hold their token count rounded up to this many rows
 * (zero when allocated): the amx kernel loads whole 16-row tiles, and the
 * rows past `tokens` only feed results it drops. */
#define QAT_PACKED_TOKEN_ALIGN 16

/* ---- Weights ---------------------------------------------------------- */

typedef enum qat_packed_wformat {
    /* BitNet b1.58 ternary, u = q + 1 in 2 bits, 4 codes per byte. */
    QAT_PACKED_W_TERNARY2 = 1,
    /* BitNet b1.58 ternary, 5 trits per byte (base 3, ggml TQ1_0 style),
     * 1.6 bits per weight. */
    QAT_PACKED_W_TERNARY1P6 = 2,
    /* LSQ b-bit (b = 2..8): u = q + 2^(b-1) in b bits, bit stream per row,
     * little-endian; b = 8 stores the signed code as int8. */
    QAT_PACKED_W_LSQ = 3
} qat_packed_wformat;

typedef struct qat_packed_weights {
    qat_packed_wformat format;
    int bits;           /* LSQ: 2..8; ternary: 2 */
    int offset;         /* u = q + offset: 1 (ternary) or 2^(bits-1) */
    int qmin, qmax;     /* range of the signed codes q */
    int64_t out, in;    /* W is [out, in] */
    int per_row;        /* 1: one scale per output row, 0: one per tensor */
    float *scale;       /* per_row ? out : 1 entries (gamma or LSQ step) */
    size_t row_bytes;   /* every row starts on a byte boundary */
    uint8_t *data;      /* out * row_bytes */
} qat_packed_weights;

/* gamma = max(mean|W|, 1e-5), per tensor (gamma[0]) or per row (gamma[out]).
 * The mean is accumulated in double and rounded once to float, like the
 * ref backend's fake quantizer (so both agree bit for bit). */
qat_status qat_packed_bitnet_gamma(const float *w, int64_t out, int64_t in, int per_row,
                                   float *gamma);

/* Packs W [out, in] (row-major, ld = in) as ternary codes
 * q = clamp(round(W / gamma), -1, 1). gamma: per_row ? out : 1 entries,
 * finite and > 0 (from qat_packed_bitnet_gamma or from the training state).
 * format: QAT_PACKED_W_TERNARY2 or QAT_PACKED_W_TERNARY1P6.
 * On success *pw owns its buffers (qat_packed_weights_free). */
qat_status qat_packed_pack_ternary(const float *w, int64_t out, int64_t in, const float *gamma,
                                   int per_row, qat_packed_wformat format,
                                   qat_packed_weights *pw);

/* Packs W [out, in] as LSQ codes q = round(clamp(W / s, Qn, Qp)),
 * Qn = -2^(bits-1), Qp = 2^(bits-1) - 1, bits = 2..8; step: per_row ? out
 * : 1 entries, finite and > 0. */
qat_status qat_packed_pack_lsq(const float *w, int64_t out, int64_t in, int bits,
                               const float *step, int per_row, qat_packed_weights *pw);

/* The same with the seed code's divisor: q = round(clamp(W / (s + step_eps))),
 * scale s (frozen LSQ steps). */
qat_status qat_packed_pack_lsq_eps(const float *w, int64_t out, int64_t in, int bits, const float *step,
                                   int per_row, float step_eps, qat_packed_weights *pw);

/* Signed codes of rows [row0, row0 + rows) into q (rows x in, ld = in). */
qat_status qat_packed_unpack_codes(const qat_packed_weights *pw, int64_t row0, int64_t rows,
                                   int8_t *q);

/* dst[c] += value_of[u_c] for c < in, u_c = q_c + offset the unsigned
 * code c of row `row` of LSQ weights (value_of: 2^bits entries): a table
 * row's unpack and dequantization in one pass, for the embedding gather. */
qat_status qat_packed_lsq_row_add(const qat_packed_weights *w, int64_t row, const float *value_of, float *dst);

/* Bytes of one packed row for a format (0 for an unknown one). */
size_t qat_packed_row_bytes(qat_packed_wformat format, int bits, int64_t in);

void qat_packed_weights_free(qat_packed_weights *pw);

/* ---- Activations ------------------------------------------------------ */

typedef struct qat_packed_acts {
    int64_t tokens, in;
    int64_t stride;     /* in rounded up to QAT_PACKED_K_ALIGN; padding is 0 */
    int bits;           /* of the last quantization */
    int8_t *codes;      /* tokens x stride, allocated for tokens rounded up to QAT_PACKED_TOKEN_ALIGN rows */
    float *scale;       /* tokens entries: m/Qp (BitNet) or the LSQ step */
    int32_t *row_sum;   /* tokens entries: sum_i codes[t, i] */
} qat_packed_acts;

/* Allocates room for X [tokens, in]. */
qat_status qat_packed_acts_alloc(int64_t tokens, int64_t in, qat_packed_acts *a);
void qat_packed_acts_free(qat_packed_acts *a);

typedef struct qat_packed_kernel qat_packed_kernel;

/* BitNet per-token absmax: m = max(max|x|, 1e-5), Qp = 2^(bits-1) - 1,
 * q = clamp(round(x * Qp / m), Qn, Qp) with Qn = -2^(bits-1), or -Qp when
 * symmetric (the seed code's profile); scale m / Qp. x: a->tokens rows of
 * a->in floats, ld = ldx. k: the ISA and threads to use (NULL: scalar, one
 * thread); every ISA gives the same codes. Non-finite inputs fail with
 * QAT_ERR_NUMERIC (and leave a unquantized). */
qat_status qat_packed_quantize_bitnet(const qat_packed_kernel *k, const float *x, int64_t ldx,
                                      int bits, int symmetric, qat_packed_acts *a);

/* LSQ per tensor: q = round(clamp(x / step, Qn, Qp)), scale step. */
qat_status qat_packed_quantize_lsq(const qat_packed_kernel *k, const float *x, int64_t ldx,
                                   int bits, float step, qat_packed_acts *a);
/* The same dividing by (step + step_eps) (frozen LSQ steps), scale step. */
qat_status qat_packed_quantize_lsq_eps(const qat_packed_kernel *k, const float *x, int64_t ldx, int bits,
                                       float step, float step_eps, qat_packed_acts *a);

/* LSQ+ per tensor (unsigned range with an offset, docs/quantizers.md):
 * u = round(clamp((x - offset) / (step + step_eps), 0, 2^bits - 1)), stored
 * shifted to signed int8 as c = u - 2^(bits-1) (u reaches 255 at 8 bits),
 * so X_hat = c * step + (offset + 2^(bits-1) * step): the GEMM computes the
 * c * step part and the constant term folds into a per-output bias
 * (lib/export's loader). scale = step; row_sum = sum of the stored c. */
qat_status qat_packed_quantize_lsq_plus(const qat_packed_kernel *k, const float *x, int64_t ldx, int bits,
                                        float step, float offset, float step_eps, qat_packed_acts *a);

/* One of the three quantizers above, resolved once (its parameters, range
 * and the handle's row functions), for a caller that quantizes tokens as
 * its own loop produces them (the packed forward fuses it into the row pass
 * of the float op before the linear): the same codes, row sums and scales
 * as the whole-tensor calls. The fields are the quantizer's own. */
typedef struct qat_packed_act_quantizer {
    int kind, bits;
    float qn, qp, div, step, offset;
    int shift;
    int (*absmax)(const float *x, int64_t n, float *m);
    int32_t (*quant)(const float *x, int64_t n, float mul, float div, float qn, float qp, int8_t *q);
    int32_t (*quant_offset)(const float *x, int64_t n, float sub, float div, float qp, int shift, int8_t *q);
} qat_packed_act_quantizer;

qat_status qat_packed_act_quantizer_bitnet(const qat_packed_kernel *k, int bits, int symmetric,
                                           qat_packed_act_quantizer *q);
qat_status qat_packed_act_quantizer_lsq(const qat_packed_kernel *k, int bits, float step, float step_eps,
                                        qat_packed_act_quantizer *q);
qat_status qat_packed_act_quantizer_lsq_plus(const qat_packed_kernel *k, int bits, float step, float offset,
                                             float step_eps, qat_packed_act_quantizer *q);
/* Every token of x through q: codes, row sums and scale per token, on the
 * handle's pool when it has one, else an OpenMP team (what the three calls
 * above run). A non-finite input fails (naming it) and leaves a
 * unquantized. */
qat_status qat_packed_quantize(const qat_packed_kernel *k, const qat_packed_act_quantizer *q, const float *x,
                               int64_t ldx, qat_packed_acts *a);
/* Tokens [begin, end) of x (token t at x + t * ldx, ldx >= a->in) into a,
 * on the calling thread; nonzero when one of them is not finite (that
 * token left as it was). Any threads may quantize disjoint ranges. */
int qat_packed_quantize_range(const qat_packed_act_quantizer *q, const float *x, int64_t ldx, int64_t begin,
                              int64_t end, qat_packed_acts *a);
/* After every token's range: marks a quantized (a->bits), or, when a range
 * failed, fails with QAT_ERR_NUMERIC naming the first non-finite input and
 * leaves a unquantized. */
qat_status qat_packed_quantize_finish(const qat_packed_act_quantizer *q, const float *x, int64_t ldx, int failed,
                                      qat_packed_acts *a);
/* For a caller whose failed rows are gone by the time it reports (rows
 * reused block after block): the first non-finite input of x's tokens
 * [0, tokens) as the flat index t * in + c, or -1 when every one is
 * finite; and the QAT_ERR_NUMERIC error that names input [token, column]. */
int64_t qat_packed_first_not_finite(const qat_packed_act_quantizer *q, const float *x, int64_t ldx, int64_t in,
                                    int64_t tokens);
qat_status qat_packed_not_finite_at(const qat_packed_act_quantizer *q, int64_t token, int64_t column);

/* ---- Weights in the kernels' layout ------------------------------------ */

/* Output rows per panel of the layout (and of a micro-kernel's tile). */
#define QAT_PACKED_PANEL 16

/* A weight matrix prepared once for the GEMMs (matrix.c): panels of 16
 * output rows (their count rounded up to even: the kernels take two at a
 * time), each a run of k-quads of unsigned codes u = q + offset, 64 bytes
 * (16 rows x 4 inputs) per quad, stored in code_bits bits: 2 for ternary
 * and LSQ 2-bit codes, 4 for 3- and 4-bit, 8 above. Every path reads this
 * one layout. */
typedef struct qat_packed_matrix {
    int64_t out, in, kpad;    /* kpad: in rounded up to QAT_PACKED_K_ALIGN */
    int64_t panels;           /* even */
    int code_bits;            /* 2, 4 or 8 */
    int offset, umax;         /* u = q + offset <= umax */
    int per_row;
    float *scale;             /* per_row ? out : 1 entries */
    size_t panel_bytes;       /* kpad * 16 * code_bits / 8 */
    uint8_t *data;            /* panels * panel_bytes, 64-byte aligned */
    int32_t *qsum;            /* per row of the panels: sum over kpad of q = u - offset (avx2's
                                 correction for its unsigned activations) */
    int8_t *s8;               /* the onednn path's signed codes [out][kpad] (qat_packed_matrix_prepare) */
    uint8_t *lut;             /* ternary only, the avx512vbmi path's lookup layout (gemm_lut.c):
                                 [panels][ceil(in / 12)][64] (qat_packed_matrix_prepare) */
    /* 8-bit codes on avx2 (tile_avx2.c): vpmaddubsw adds the products of
     * an input pair into int16 with saturation, exactly when the pair's
     * positive codes sum to at most 128 and its negative ones to at least
     * -128 (activations shifted into [0, 255]). A pair over that runs with
     * one code cut back to the bound, and fix holds what was cut, added back
     * per token: fix[fix_start[p] .. fix_start[p + 1]) for panel p, in input
     * order. NULL for narrower codes, or when more than 1/16 of the pairs
     * need one (then avx2 takes vpmaddwd). */
    struct qat_packed_pair_fix {
        int32_t col;
        int16_t row;          /* in the panel */
        int16_t cut;          /* q = q_kernel + cut */
    } *fix;
    int64_t *fix_start;       /* panels + 1 entries */
    /* With fix: where avx2's int16 sums of those codes must be widened.
     * A lane (a row's input pair) gains (a + amax) q0 + (a' + amax) q1 <=
     * 255 (q0 + q1) a quad, so its int16 sum is exact over any run of quads
     * whose positive codes (as cut) sum to at most QAT_PACKED_SPAN_BUDGET
     * and negative ones to at least -QAT_PACKED_SPAN_BUDGET, whatever the
     * activations. Bit b of spans[p * span_words + c] set: such a run
     * (a span) of panel p starts at quad QAT_PACKED_SPAN_QUADS * c + b;
     * one starts at every QAT_PACKED_SPAN_QUADS-th quad. Made greedily,
     * each span as long as the codes allow. */
    uint64_t *spans;
    int64_t span_words;       /* per panel: quads / QAT_PACKED_SPAN_QUADS, rounded up */
} qat_packed_matrix;

/* The quads of a spans word (a bit each), and the bound on a lane's sum
 * of codes of one sign over a span: 255 * 128 <= 32767. */
#define QAT_PACKED_SPAN_QUADS 64
#define QAT_PACKED_SPAN_BUDGET (32767 / 255)

/* Lays out w for the kernels (w is not needed afterwards). */
qat_status qat_packed_matrix_from(const qat_packed_weights *w, qat_packed_matrix *m);
void qat_packed_matrix_free(qat_packed_matrix *m);
/* The unsigned code u of [row, col] (tests and the reference). */
uint8_t qat_packed_matrix_code(const qat_packed_matrix *m, int64_t row, int64_t col);

/* ---- Kernels ---------------------------------------------------------- */

typedef enum qat_packed_isa {
    QAT_PACKED_ISA_AUTO = 0,      /* QAT_ISA from the environment, else qat_packed_isa_best */
    QAT_PACKED_ISA_SCALAR = 1,
    QAT_PACKED_ISA_AVX2 = 2,      /* maddubs: int16 sums where exact; 8-bit codes over spans (fix, spans) */
    QAT_PACKED_ISA_AVX512VNNI = 3,/* vpdpbusd */
    QAT_PACKED_ISA_ONEDNN = 4,    /* oneDNN's s8s8s32 matmul: AMX-INT8 tiles where the CPU has them */
    QAT_PACKED_ISA_NEON = 5,      /* ARM64 sdot (Armv8.2 dot product) */
    QAT_PACKED_ISA_AMX = 6,       /* AMX-INT8 tdpbsud on the panels, narrow ones decoded in the kernel (tile_amx.c) */
    QAT_PACKED_ISA_I8MM = 7,      /* ARM64 smmla (Armv8.6 int8 matrix multiply, tile_i8mm.c) */
    QAT_PACKED_ISA_AVX512VBMI = 8 /* ternary weights x activations of <= 6 bits by vpermi2b table
                                     lookups (gemm_lut.c); everything else as avx512vnni */
} qat_packed_isa;
#define QAT_PACKED_ISA_COUNT 9

/* A kernel handle: the resolved ISA and the thread count. Plain data, no
 * global state; a handle may be shared by threads (it is read-only).
 * pool: NULL (what qat_packed_kernel_init sets), or a thread pool of its
 * owner's to run the GEMM and the quantizers on instead of an OpenMP team:
 * the packed model sets its context's, so its integer and float parts
 * share one set of threads, which sleep between loops (core/thread_pool.h;
 * libgomp's workers spun through every float part). The results are the
 * same either way. */
struct qat_packed_kernel {
    qat_packed_isa isa;
    int threads;
    struct qat_pool *pool;
};

/* Resolves isa (AUTO reads the environment variable QAT_ISA = scalar |
 * avx2 | avx512vnni | onednn | neon | amx | i8mm | avx512vbmi | auto now,
 * at this call; unset or auto: qat_packed_isa_best) and checks the CPU can
 * run it: QAT_ERR_UNSUPPORTED names what it lacks, QAT_ERR_INVALID_ARGUMENT
 * an unknown QAT_ISA value. threads: 1..1024, the OpenMP team of each
 * call. pool: NULL. */
qat_status qat_packed_kernel_init(qat_packed_kernel *k, qat_packed_isa isa, int threads);

/* The paths this build, CPU and OS can run (bit isa set when
 * qat_packed_isa_available(isa)), probed once. Probing runs CPUID and, for
 * AMX, a system call (CPUID exits to the hypervisor in a VM: 1.3 % of a
 * 16-token MiniLM forward when the packed model probed per forward), so a
 * caller that resolves often (the packed model: QAT_ISA at every forward)
 * keeps one from its start and resolves on it. */
typedef struct qat_packed_cpu {
    uint32_t available;
} qat_packed_cpu;
void qat_packed_cpu_probe(qat_packed_cpu *cpu);
/* qat_packed_kernel_init on what cpu says, without probing again. */
qat_status qat_packed_kernel_init_on(qat_packed_kernel *k, const qat_packed_cpu *cpu, qat_packed_isa isa,
                                     int threads);
/* The resolution alone, in place (the cpu backend's float kernels take
 * their ISA from the same QAT_ISA through it). */
qat_status qat_packed_isa_choose(qat_packed_isa *isa);

/* 1 when this build and CPU can run isa (AUTO: always 1). */
int qat_packed_isa_available(qat_packed_isa isa);
/* Why isa is unavailable here ("" when it is available; static). */
const char *qat_packed_isa_missing(qat_packed_isa isa);
/* "scalar", "avx2", "avx512vnni", "onednn", "neon", "amx", "i8mm", "avx512vbmi", "auto" (static). */
const char *qat_packed_isa_name(qat_packed_isa isa);
/* What auto picks: amx where the CPU has AMX-INT8 and the OS grants the
 * tiles (2.6-3.6x avx512vnni and 1.16-1.49x onednn in bench/packed_gemm), else
 * avx512vbmi > avx512vnni > avx2 > scalar, the order bench/packed_gemm and
 * bench/ternary_lut measure (docs/benchmarks.md); on ARM64 i8mm > neon >
 * scalar. Probes the CPU (qat_packed_cpu_probe) at each call. */
qat_packed_isa qat_packed_isa_best(void);
/* Why AMX-INT8 tiles cannot be used here ("" when they can; static): the
 * CPU must report AMX-TILE and AMX-INT8 (CPUID.7.0:EDX bits 24, 25), the OS
 * enable the tile state in XCR0 (bits 17, 18) and Linux grant it to the
 * process (arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)). */
const char *qat_packed_amx_missing(void);
/* qat_packed_amx_missing()[0] == '\0'. */
int qat_packed_cpu_has_amx(void);

/* Makes what an ISA needs beyond the panels, once (onednn: the signed codes
 * in its plain layout; the others, amx included, run on the panels: nothing).
 * The GEMM refuses an onednn call on a matrix not prepared for it. */
qat_status qat_packed_matrix_prepare(qat_packed_matrix *m, qat_packed_isa isa);

/* acc[t, o] = sum_i qa[t, i] * qw[o, i], int32 (tokens x out, ld = ldacc).
 * a->in must equal m->in. Allocates nothing. */
qat_status qat_packed_gemm_i32(const qat_packed_kernel *k, const qat_packed_acts *a,
                               const qat_packed_matrix *m, int32_t *acc, int64_t ldacc);

/* y[t, o] = ((float)acc * sa[t]) * sw[o] + bias[o] (bias may be NULL),
 * tokens x out, ld = ldy. Allocates nothing. */
qat_status qat_packed_gemm(const qat_packed_kernel *k, const qat_packed_acts *a,
                           const qat_packed_matrix *m, const float *bias, float *y, int64_t ldy);

/* n (1..QAT_PACKED_MANY) GEMMs of the same activations, matrix i into y[i]
 * (ld ldy[i], bias[i] may be NULL): the results of n qat_packed_gemm
 * calls, but the avx512vbmi path builds its lookup tables once for all
 * (attention's q, k and v). Allocates nothing. */
#define QAT_PACKED_MANY 4
qat_status qat_packed_gemm_many(const qat_packed_kernel *k, const qat_packed_acts *a, int n,
                                const qat_packed_matrix *const *m, const float *const *bias, float *const *y,
                                const int64_t *ldy);

/* A float GEMM y = x w^T (float_gemm.c): rows x in activations x (ld
 * ldx), out x in weights w (ld ldw), y rows x out (ld ldy). */
typedef struct qat_packed_fgemm {
    const float *x;
    int64_t ldx, rows;
    const float *w;
    int64_t ldw, out, in;
    float *y;
    int64_t ldy;
} qat_packed_fgemm;

/* The packed model's float linears and heads: each output a fixed-order
 * fused multiply-add sum (float_gemm.c), the same bits on every path
 * (scalar for QAT_ISA=scalar, avx2 + FMA on x86 otherwise, neon on ARM64)
 * and thread count; threads from k->pool only. Allocates nothing. */
qat_status qat_packed_float_gemm(const qat_packed_kernel *k, const qat_packed_fgemm *g);

/* The epilogue alone, for tests and for callers holding accumulators. */
qat_status qat_packed_dequant(const qat_packed_acts *a, const qat_packed_matrix *m,
                              const int32_t *acc, int64_t ldacc, const float *bias, float *y,
                              int64_t ldy);

#endif
