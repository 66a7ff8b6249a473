/* Weights in the micro-kernels' layout, made once when a model is loaded
 * (packed.h, qat_packed_matrix): output rows in panels of 16, each panel a
 * sequence of k-quads; quad kb holds u[r][4 kb + j] at byte 4 r + j, so a
 * 64-byte vector is 16 rows x 4 inputs — one vpdpbusd against a broadcast
 * of 4 activation codes, or two AVX2 maddubs halves.
 * Narrow codes are stored narrow: a 64-byte chunk holds 8 / code_bits
 * consecutive quads, quad s in bits [s code_bits, (s + 1) code_bits) of
 * every byte, so the kernels unpack with one shift and one mask. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "packed/packed_internal.h"

void qat_packed_matrix_free(qat_packed_matrix *m)
{
    if (!m)
        return;
    free(m->data);
    free(m->qsum);
    free(m->scale);
    free(m->s8);
    free(m->lut);
    free(m->fix);
    free(m->fix_start);
    free(m->spans);
    memset(m, 0, sizeof *m);
}

static int code_bits_for(int umax)
{
    return umax <= 3 ? 2 : umax <= 15 ? 4 : 8;
}

/* vpmaddubsw's exact range for an input pair: its positive codes sum to
 * at most PAIR_BOUND and its negative ones to at least -PAIR_BOUND
 * (activations shifted into [0, 255]: 255 * 128 <= 32767). */
#define PAIR_BOUND 128

/* The pair cuts and spans are read by the avx2 kernel alone: an ARM64
 * build (the edge target) does not make them at load. */
#if defined(QAT_PACKED_X86)
#define AVX2_LAYOUT 1
#else
#define AVX2_LAYOUT 0
#endif

enum { LANES = 2 * QAT_PACKED_PANEL }; /* a quad's input pairs: row l / 2, inputs 2 (l % 2) and 2 (l % 2) + 1 */

/* The cut that brings the input pair (q0, q1) within that range
 * (packed.h, qat_packed_matrix.fix) by lowering the larger code of the
 * pair (*which: 0 or 1); 0 when the pair is within it already. */
static int pair_cut(int q0, int q1, int *which)
{
    *which = (q0 > 0 ? q0 : -q0) >= (q1 > 0 ? q1 : -q1) ? 0 : 1;
    const int big = *which ? q1 : q0, other = *which ? q0 : q1;
    if (q0 > 0 && q1 > 0 && q0 + q1 > PAIR_BOUND)
        return big - (PAIR_BOUND - other);
    if (q0 < 0 && q1 < 0 && q0 + q1 < -PAIR_BOUND)
        return big - (-PAIR_BOUND - other);
    return 0;
}

/* Each input pair of a quad (64 bytes of 8-bit codes u): the sums of its positive
 * codes and of its negative ones' magnitudes, as cut (a cut brings the
 * sum past the bound back to it); nonzero when some pair needs a cut.
 * Plain loops over the lanes, which the compiler vectorises: this runs
 * over every weight of an 8-bit model at load. */
static int quad_sums(const uint8_t *quad, int offset, int pos[LANES], int neg[LANES])
{
    int over = 0;
    for (int l = 0; l < LANES; l++) {
        const int q0 = quad[2 * l] - offset, q1 = quad[2 * l + 1] - offset;
        const int p = (q0 > 0 ? q0 : 0) + (q1 > 0 ? q1 : 0), n = (q0 < 0 ? -q0 : 0) + (q1 < 0 ? -q1 : 0);
        over |= (p > PAIR_BOUND) | (n > PAIR_BOUND);
        pos[l] = p < PAIR_BOUND ? p : PAIR_BOUND;
        neg[l] = n < PAIR_BOUND ? n : PAIR_BOUND;
    }
    return over;
}

/* Builds m->fix (8-bit codes only): one pass to count, one to fill. */
static qat_status make_pair_fixes(qat_packed_matrix *m)
{
    const int64_t pairs = m->panels * QAT_PACKED_PANEL * (m->kpad / 2);
    int64_t n = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int64_t p = 0; p < m->panels; p++) {
            if (pass)
                m->fix_start[p] = n;
            const uint8_t *panel = m->data + (size_t)p * m->panel_bytes;
            for (int64_t kb = 0; kb < m->kpad / 4; kb++) {
                int pos[LANES], neg[LANES];
                if (!quad_sums(panel + kb * 64, m->offset, pos, neg))
                    continue;
                for (int l = 0; l < LANES; l++) {
                    const uint8_t *u = panel + kb * 64 + 2 * l;
                    int which;
                    const int cut = pair_cut(u[0] - m->offset, u[1] - m->offset, &which);
                    if (!cut)
                        continue;
                    if (pass)
                        m->fix[n] = (struct qat_packed_pair_fix){(int32_t)(4 * kb + 2 * (l % 2) + which),
                                                                 (int16_t)(l / 2), (int16_t)cut};
                    n++;
                }
            }
        }
        if (pass) {
            m->fix_start[m->panels] = n;
            return QAT_OK;
        }
        if (n > pairs / 16)
            return QAT_OK;
        m->fix = malloc((size_t)(n > 0 ? n : 1) * sizeof *m->fix);
        m->fix_start = malloc((size_t)(m->panels + 1) * sizeof *m->fix_start);
        if (!m->fix || !m->fix_start)
            return QAT_ERR_OUT_OF_MEMORY;
        n = 0;
    }
    return QAT_OK;
}

/* Builds m->spans (packed.h) from the cut codes of m->fix's pairs: a
 * span ends before the quad that would take a lane's sum of codes of one
 * sign past the budget. */
static qat_status make_spans(qat_packed_matrix *m)
{
    _Static_assert(QAT_PACKED_SPAN_BUDGET >= PAIR_BOUND, "a cut pair fits a span alone");
    const int64_t quads = m->kpad / 4;
    m->span_words = (quads + QAT_PACKED_SPAN_QUADS - 1) / QAT_PACKED_SPAN_QUADS;
    m->spans = calloc((size_t)(m->panels * m->span_words), sizeof *m->spans);
    if (!m->spans)
        return QAT_ERR_OUT_OF_MEMORY;
    for (int64_t p = 0; p < m->panels; p++) {
        const uint8_t *panel = m->data + (size_t)p * m->panel_bytes;
        int sum_pos[LANES] = {0}, sum_neg[LANES] = {0};
        for (int64_t kb = 0; kb < quads; kb++) {
            int pos[LANES], neg[LANES], start = kb % QAT_PACKED_SPAN_QUADS == 0;
            quad_sums(panel + kb * 64, m->offset, pos, neg);
            for (int l = 0; l < LANES; l++)
                start |= (sum_pos[l] + pos[l] > QAT_PACKED_SPAN_BUDGET) | (sum_neg[l] + neg[l] > QAT_PACKED_SPAN_BUDGET);
            if (start) {
                m->spans[p * m->span_words + kb / QAT_PACKED_SPAN_QUADS] |= 1ull << (kb % QAT_PACKED_SPAN_QUADS);
                memset(sum_pos, 0, sizeof sum_pos);
                memset(sum_neg, 0, sizeof sum_neg);
            }
            for (int l = 0; l < LANES; l++) {
                sum_pos[l] += pos[l];
                sum_neg[l] += neg[l];
            }
        }
    }
    return QAT_OK;
}

qat_status qat_packed_matrix_from(const qat_packed_weights *w, qat_packed_matrix *m)
{
    QAT_CHECK_ARG(m, "packed: matrix: NULL output");
    memset(m, 0, sizeof *m);
    QAT_CHECK_ARG(w && w->data && w->scale, "packed: matrix: weights not packed");
    QAT_CHECK_ARG(w->out > 0 && w->in > 0 && w->in <= QAT_PACKED_MAX_IN, "packed: matrix: shape [%lld, %lld]",
                  (long long)w->out, (long long)w->in);
    m->out = w->out;
    m->in = w->in;
    m->kpad = (w->in + QAT_PACKED_K_ALIGN - 1) / QAT_PACKED_K_ALIGN * QAT_PACKED_K_ALIGN;
    m->panels = (w->out + QAT_PACKED_PANEL - 1) / QAT_PACKED_PANEL;
    m->panels += m->panels & 1; /* the kernels take panels in pairs */
    m->offset = w->offset;
    m->umax = w->qmax + w->offset;
    m->code_bits = code_bits_for(m->umax);
    m->per_row = w->per_row;
    m->panel_bytes = (size_t)m->kpad * QAT_PACKED_PANEL * (size_t)m->code_bits / 8;
    const size_t n_scale = w->per_row ? (size_t)w->out : 1;
    m->data = aligned_alloc(64, m->panel_bytes * (size_t)m->panels);
    m->scale = malloc(n_scale * sizeof *m->scale);
    m->qsum = calloc((size_t)m->panels * QAT_PACKED_PANEL, sizeof *m->qsum);
    /* One panel of unsigned codes, row-major (16 x kpad), at a time. */
    uint8_t *rows = calloc((size_t)QAT_PACKED_PANEL * (size_t)m->kpad, 1);
    if (!m->data || !m->scale || !m->qsum || !rows) {
        free(rows);
        qat_packed_matrix_free(m);
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "packed: matrix: out of memory for [%lld, %lld]", (long long)w->out,
                        (long long)w->in);
    }
    memcpy(m->scale, w->scale, n_scale * sizeof *m->scale);
    const int per_chunk = 8 / m->code_bits; /* quads per 64-byte chunk: 4, 2 or 1 */
    const int lg_per_chunk = per_chunk == 4 ? 2 : per_chunk == 2 ? 1 : 0;
    const int bits = m->code_bits, offset = m->offset; /* locals: the stores below may alias m */
    const int64_t kpad = m->kpad;
    for (int64_t p = 0; p < m->panels; p++) {
        const int64_t r0 = p * QAT_PACKED_PANEL;
        const int64_t left = w->out - r0 > 0 ? w->out - r0 : 0;
        const int64_t n = left < QAT_PACKED_PANEL ? left : QAT_PACKED_PANEL;
        if (n > 0)
            qat_packed_unpack_panel(w, r0, n, rows, kpad);
        /* Rows past `out` hold q = 0 (their results are never stored). */
        for (int64_t r = n; r < QAT_PACKED_PANEL; r++)
            memset(rows + r * kpad, offset, (size_t)kpad);
        /* Padding inputs (c >= in) hold q = 0 (u = offset): their
         * activations are 0, and no pair of avx2's needs a fix for them. */
        for (int64_t r = 0; r < n; r++)
            memset(rows + r * kpad + w->in, offset, (size_t)(kpad - w->in));
        uint8_t *dst = m->data + (size_t)p * m->panel_bytes;
        memset(dst, 0, m->panel_bytes);
        /* Row by row, reading each row in order: quad kb's 4 codes go to
         * chunk kb / per_chunk at bits (kb % per_chunk) code_bits of 4 bytes
         * at once (u < 2^code_bits, so no code crosses into the next byte). */
        for (int r = 0; r < QAT_PACKED_PANEL; r++) {
            const uint8_t *src = rows + r * kpad;
            for (int64_t kb = 0; kb < kpad / 4; kb++) {
                uint32_t v, d;
                uint8_t *at = dst + (kb >> lg_per_chunk) * 64 + 4 * r;
                memcpy(&v, src + 4 * kb, 4);
                memcpy(&d, at, 4);
                d |= v << ((kb & (per_chunk - 1)) * bits);
                memcpy(at, &d, 4);
            }
            int32_t usum = 0;
            for (int64_t c = 0; c < kpad; c++)
                usum += src[c];
            m->qsum[r0 + r] = usum - offset * (int32_t)kpad;
        }
    }
    free(rows);
    if (AVX2_LAYOUT && m->code_bits == 8 &&
        (make_pair_fixes(m) != QAT_OK || (m->fix && make_spans(m) != QAT_OK))) {
        qat_packed_matrix_free(m);
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "packed: matrix: out of memory for [%lld, %lld]", (long long)w->out,
                        (long long)w->in);
    }
    return QAT_OK;
}

uint8_t qat_packed_matrix_code(const qat_packed_matrix *m, int64_t row, int64_t col)
{
    const int per_chunk = 8 / m->code_bits;
    const int64_t kb = col / 4;
    const uint8_t *chunk = m->data + (size_t)(row / QAT_PACKED_PANEL) * m->panel_bytes + (kb / per_chunk) * 64;
    const unsigned v = chunk[4 * (row % QAT_PACKED_PANEL) + col % 4];
    return (uint8_t)((v >> ((kb % per_chunk) * m->code_bits)) & ((1u << m->code_bits) - 1u));
}

qat_status qat_packed_matrix_prepare(qat_packed_matrix *m, qat_packed_isa isa)
{
    QAT_CHECK_ARG(m && m->data, "packed: matrix prepare: weights not laid out");
    switch (isa) {
    case QAT_PACKED_ISA_ONEDNN:
        return qat_packed_onednn_prepare(m);
    case QAT_PACKED_ISA_AVX512VBMI:
        return qat_packed_lut_prepare(m);
    default:
        return QAT_OK;
    }
}
