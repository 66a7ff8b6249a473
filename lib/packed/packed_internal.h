/* Private to lib/packed: row layouts and the per-ISA panel kernels. */
#ifndef QAT_LIB_PACKED_INTERNAL_H
#define QAT_LIB_PACKED_INTERNAL_H

#include "packed/packed.h"

/* QAT_PACKED_NO_SIMD builds the portable code only. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(QAT_PACKED_NO_SIMD)
#  define QAT_PACKED_X86 1
#endif
#if defined(__aarch64__) && defined(__GNUC__) && !defined(__clang__) && !defined(QAT_PACKED_NO_SIMD)
#  define QAT_PACKED_ARM64 1
#endif

/* Inlined whatever the optimiser's budget: the kernels' small helpers,
 * whose loops must unroll into their caller's registers. */
#define QAT_PACKED_INLINE inline __attribute__((always_inline))

/* Ternary rows are cut into groups of G elements (G = 128 for 2-bit, 160
 * for 1.6-bit) stored in nb = 32 bytes; the last, shorter group of n
 * elements uses nb = ceil(n / per_byte) bytes. Byte j of a group holds the
 * elements j, j + nb, j + 2 nb, ... of that group, so decoding one 32-byte
 * vector gives 4 (or 5) vectors of consecutive codes (the TQ2_0 / TQ1_0
 * interleave), and a row takes exactly ceil(in / per_byte) bytes. */
#define QAT_PACKED_T2_GROUP 128
#define QAT_PACKED_T1P6_GROUP 160

/* Unpacks packed rows [row0, row0 + rows) to unsigned codes u = q + offset,
 * one row per kpad bytes, zero beyond `in` (kpad >= in). */
void qat_packed_unpack_ternary2(const qat_packed_weights *w, int64_t row0, int64_t rows,
                                uint8_t *panel, int64_t kpad);
void qat_packed_unpack_ternary1p6(const qat_packed_weights *w, int64_t row0, int64_t rows,
                                  uint8_t *panel, int64_t kpad);
void qat_packed_unpack_lsq(const qat_packed_weights *w, int64_t row0, int64_t rows,
                           uint8_t *panel, int64_t kpad);
/* Dispatches on w->format. */
void qat_packed_unpack_panel(const qat_packed_weights *w, int64_t row0, int64_t rows,
                             uint8_t *panel, int64_t kpad);

/* Most tokens one micro-kernel call takes: 8 on scalar, neon and i8mm,
 * 128 on amx and avx2 (which decode narrow panels once per call) and
 * avx512vnni (which writes each group of 8 tokens' outputs as it goes). */
#define QAT_PACKED_TILE_TOKENS 8
#define QAT_PACKED_TILE_TOKENS_MAX 128
/* Rows of one tile: a pair of panels. */
#define QAT_PACKED_TILE_ROWS (2 * QAT_PACKED_PANEL)

/* One micro-kernel call: panels [panel, panel + 2) of m against `tokens`
 * tokens of activation codes (rows of lda bytes, kpad of them used, zero
 * padded), over the whole input:
 *   acc[t * QAT_PACKED_TILE_ROWS + r] = sum_i (u[r, i] - offset) * acts[t, i]
 * row_sum[t] = sum_i acts[t, i]; |acts| <= amax. acc is 64-byte aligned
 * and holds QAT_PACKED_TILE_TOKENS_MAX tokens' rows: avx2 fills whole groups
 * of 4 tokens, the rows past `tokens` with values nobody reads. */
typedef struct qat_packed_tile {
    const qat_packed_matrix *m;
    int64_t panel;
    const int8_t *acts;
    int64_t lda;
    int tokens;
    const int32_t *row_sum;
    int amax;
    int32_t *acc;
    /* NULL, or the epilogue of tokens [j, j + n) of the tile, which a
     * path with `finishes` calls once for every token as soon as its
     * accumulators are final, so its outputs are written while the
     * tile's lines are in L1 (otherwise the driver runs it after the
     * call; ctx is the driver's). */
    void (*finish)(const struct qat_packed_tile *t, int j, int n);
    const void *finish_ctx;
} qat_packed_tile;

typedef void (*qat_packed_tile_fn)(const qat_packed_tile *t);

/* The shared epilogue over tokens [t0, t0 + tokens) x outputs [o0, o0 +
 * rows): y[t, o] = ((float)acc * sa[t]) * sw[o] + bias[o] (bias may be
 * NULL); acc relative to (t0, o0), y absolute. Every variant gives the
 * scalar one's bits (no contraction: lib/meson.build's -ffp-contract=off). */
typedef void (*qat_packed_epilogue_fn)(const qat_packed_acts *a, const qat_packed_matrix *m, int64_t t0,
                                       int64_t tokens, int64_t o0, int64_t rows, const int32_t *acc, int64_t ldacc,
                                       const float *bias, float *y, int64_t ldy);
void qat_packed_epilogue_scalar(const qat_packed_acts *a, const qat_packed_matrix *m, int64_t t0, int64_t tokens,
                                int64_t o0, int64_t rows, const int32_t *acc, int64_t ldacc, const float *bias,
                                float *y, int64_t ldy);

/* How the GEMM driver (gemm.c) runs an ISA: its micro-kernel, the tokens
 * of one call, the epilogue, whether the micro-kernel calls a tile's
 * finish itself, and what a thread does before its first tile and after
 * its last of a loop (amx: load the tile configuration, which is per
 * thread, and release the tiles; NULL for the others). */
typedef struct qat_packed_path {
    qat_packed_tile_fn tile;
    int tile_tokens;
    qat_packed_epilogue_fn epilogue;
    int finishes;
    void (*begin)(void);
    void (*end)(void);
} qat_packed_path;

/* The path of an ISA (scalar's for one the build lacks). */
qat_packed_path qat_packed_path_for(qat_packed_isa isa);

/* The reference: signed products (u - offset) * a, no offset trick, so
 * comparing it with the SIMD paths checks their correction term. */
void qat_packed_tile_scalar(const qat_packed_tile *t);

/* The onednn path (onednn.c): the signed codes, and acc = acts x W^T as
 * int32 through oneDNN's matmul (ld = ldacc). */
qat_status qat_packed_onednn_prepare(qat_packed_matrix *m);
qat_status qat_packed_onednn_gemm(const qat_packed_kernel *k, const qat_packed_acts *a, const qat_packed_matrix *m,
                                  int32_t *acc, int64_t ldacc);

/* The avx512vbmi path's table lookups (gemm_lut.c). prepare makes m->lut
 * for a ternary matrix (nothing for others); usable: m has it and a's
 * codes are of at most 6 bits; gemm: as the driver's run (y NULL: the
 * accumulators into acc_out), allocating nothing. */
qat_status qat_packed_lut_prepare(qat_packed_matrix *m);
int qat_packed_lut_usable(const qat_packed_acts *a, const qat_packed_matrix *m);
void qat_packed_lut_gemm(const qat_packed_kernel *k, const qat_packed_acts *a, const qat_packed_matrix *m,
                         int32_t *acc_out, int64_t ldacc_out, const float *bias, float *y, int64_t ldy);
/* qat_packed_gemm_many's lookups: every m usable with a, the same in. */
void qat_packed_lut_gemm_many(const qat_packed_kernel *k, const qat_packed_acts *a, int n,
                              const qat_packed_matrix *const *m, const float *const *bias, float *const *y,
                              const int64_t *ldy);

/* Activation rows: absmax returns 1 when a value is NaN or infinite (and
 * sets *m = max|x| otherwise); quant_row writes
 * q = round(clamp(x * mul / div, qn, qp)) and returns sum(q). */
int qat_packed_absmax_scalar(const float *x, int64_t n, float *m);
int32_t qat_packed_quant_row_scalar(const float *x, int64_t n, float mul, float div, float qn, float qp,
                                    int8_t *q);
/* LSQ+ rows: c = round(clamp((x - sub) / div, 0, qp)) - shift; returns sum(c). */
int32_t qat_packed_quant_row_offset_scalar(const float *x, int64_t n, float sub, float div, float qp, int shift,
                                           int8_t *q);
/* float_gemm.c: the 8 lane sums of one output into its value, and a block
 * of rows [r0, r0 + rows) x outputs [o0, o0 + outs) on a SIMD path. */
float qat_packed_fdot_reduce(const float p[8]);
#if defined(QAT_PACKED_ARM64)
void qat_packed_fdot_block_neon(const qat_packed_fgemm *g, int64_t r0, int64_t rows, int64_t o0, int64_t outs);
#endif
#if defined(QAT_PACKED_X86)
int qat_packed_fdot_avx2_ok(void);
void qat_packed_fdot_block_avx2(const qat_packed_fgemm *g, int64_t r0, int64_t rows, int64_t o0, int64_t outs);
#endif
#if defined(QAT_PACKED_ARM64)
void qat_packed_tile_neon(const qat_packed_tile *t);
void qat_packed_tile_i8mm(const qat_packed_tile *t);
#endif
#if defined(QAT_PACKED_X86)
void qat_packed_tile_avx2(const qat_packed_tile *t);
void qat_packed_tile_avx512vnni(const qat_packed_tile *t);
void qat_packed_epilogue_avx2(const qat_packed_acts *a, const qat_packed_matrix *m, int64_t t0, int64_t tokens,
                              int64_t o0, int64_t rows, const int32_t *acc, int64_t ldacc, const float *bias,
                              float *y, int64_t ldy);
void qat_packed_epilogue_avx512(const qat_packed_acts *a, const qat_packed_matrix *m, int64_t t0, int64_t tokens,
                                int64_t o0, int64_t rows, const int32_t *acc, int64_t ldacc, const float *bias,
                                float *y, int64_t ldy);
/* amx (tile_amx.c): up to 128 tokens x 32 rows per call with tdpbsud on
 * the panels (narrow ones decoded per call), then the offset term; between
 * amx_begin and amx_end on the calling thread. */
void qat_packed_tile_amx(const qat_packed_tile *t);
void qat_packed_amx_begin(void);
void qat_packed_amx_end(void);
int32_t qat_packed_quant_row_offset_avx2(const float *x, int64_t n, float sub, float div, float qp, int shift,
                                         int8_t *q);
int qat_packed_absmax_avx2(const float *x, int64_t n, float *m);
int32_t qat_packed_quant_row_avx2(const float *x, int64_t n, float mul, float div, float qn, float qp,
                                  int8_t *q);
int qat_packed_absmax_avx512(const float *x, int64_t n, float *m);
int32_t qat_packed_quant_row_avx512(const float *x, int64_t n, float mul, float div, float qn, float qp,
                                    int8_t *q);
int32_t qat_packed_quant_row_offset_avx512(const float *x, int64_t n, float sub, float div, float qp, int shift,
                                           int8_t *q);
#endif

#endif
