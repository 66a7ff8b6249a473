/* Private to lib/packed: row layouts and the per-ISA panel kernels. */
#ifndef QAT_LIB_PACKED_INTERNAL_H
#define QAT_LIB_PACKED_INTERNAL_H

#include "packed/packed.h"

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
/* Dispatches on w->format (portable code). */
void qat_packed_unpack_panel(const qat_packed_weights *w, int64_t row0, int64_t rows,
                             uint8_t *panel, int64_t kpad);
typedef void (*qat_packed_unpack_fn)(const qat_packed_weights *w, int64_t row0, int64_t rows,
                                     uint8_t *panel, int64_t kpad);
/* The unpacker an ISA uses for a format (same bytes on every path). */
qat_packed_unpack_fn qat_packed_unpack_for(qat_packed_isa isa, qat_packed_wformat format);

/* One panel of weight rows against every token of the batch:
 *   acc[t * ldacc + r] = sum_i (panel[r, i] - offset) * acts[t, i]
 * for r < rows, t < tokens. panel: rows x kpad unsigned codes; acts:
 * tokens x lda signed codes (lda >= kpad, both multiples of 64, zero padded
 * beyond the true `in`); row_sum[t] = sum_i acts[t, i]; every u <= umax. */
typedef struct qat_packed_panel_args {
    const uint8_t *panel;
    int64_t rows, kpad;
    int offset, umax;
    const int8_t *acts;
    int64_t lda, tokens;
    const int32_t *row_sum;
    int32_t *acc;
    int64_t ldacc;
} qat_packed_panel_args;

typedef void (*qat_packed_panel_fn)(const qat_packed_panel_args *p);

/* The reference: signed products, no offset trick (so comparing it with the
 * SIMD paths checks their correction term). */
void qat_packed_panel_scalar(const qat_packed_panel_args *p);
/* QAT_PACKED_NO_SIMD builds the portable code only (as on non-x86 CPUs). */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(QAT_PACKED_NO_SIMD)
#  define QAT_PACKED_X86 1
void qat_packed_panel_avx2(const qat_packed_panel_args *p);
void qat_packed_panel_avx512vnni(const qat_packed_panel_args *p);
void qat_packed_unpack_ternary2_avx2(const qat_packed_weights *w, int64_t row0, int64_t rows,
                                     uint8_t *panel, int64_t kpad);
void qat_packed_unpack_ternary1p6_avx2(const qat_packed_weights *w, int64_t row0, int64_t rows,
                                       uint8_t *panel, int64_t kpad);
#endif

/* Activation rows: absmax returns 1 when a value is NaN or infinite (and
 * sets *m = max|x| otherwise); quant_row writes
 * q = round(clamp(x * mul / div, qn, qp)) and returns sum(q). */
int qat_packed_absmax_scalar(const float *x, int64_t n, float *m);
int32_t qat_packed_quant_row_scalar(const float *x, int64_t n, float mul, float div, float qn, float qp,
                                    int8_t *q);
/* LSQ+ rows: c = round(clamp((x - sub) / div, 0, qp)) - shift; returns sum(c). */
int32_t qat_packed_quant_row_offset_scalar(const float *x, int64_t n, float sub, float div, float qp, int shift,
                                           int8_t *q);
#if defined(QAT_PACKED_X86)
int32_t qat_packed_quant_row_offset_avx2(const float *x, int64_t n, float sub, float div, float qp, int shift,
                                         int8_t *q);
int qat_packed_absmax_avx2(const float *x, int64_t n, float *m);
int32_t qat_packed_quant_row_avx2(const float *x, int64_t n, float mul, float div, float qn, float qp,
                                  int8_t *q);
#endif

/* The kernel of an ISA (never NULL for a kernel that qat_packed_kernel_init
 * accepted). */
qat_packed_panel_fn qat_packed_panel_for(qat_packed_isa isa);

#endif
