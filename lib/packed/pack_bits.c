/* LSQ b-bit weights (b = 2..8): codes q = round(clamp(W / s, Qn, Qp)),
 * stored as u = q + 2^(b-1) in a little-endian bit stream per row (b < 8)
 * or as the signed int8 code itself (b = 8). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "packed/packed_internal.h"

size_t qat_packed_row_bytes(qat_packed_wformat format, int bits, int64_t in)
{
    if (in <= 0)
        return 0;
    switch (format) {
    case QAT_PACKED_W_TERNARY2:
        return (size_t)((in + 3) / 4);
    case QAT_PACKED_W_TERNARY1P6:
        return (size_t)((in + 4) / 5);
    case QAT_PACKED_W_LSQ:
        if (bits < 2 || bits > 8)
            return 0;
        return (size_t)((in * bits + 7) / 8);
    }
    return 0;
}

void qat_packed_weights_free(qat_packed_weights *pw)
{
    if (!pw)
        return;
    free(pw->scale);
    free(pw->data);
    memset(pw, 0, sizeof *pw);
}

/* The code of one weight, as the LSQ fake quantizer computes it. */
static inline int lsq_q(float w, float s, float qn, float qp)
{
    float v = w / s;
    v = v < qn ? qn : (v > qp ? qp : v);
    return (int)nearbyintf(v);
}

qat_status qat_packed_pack_lsq(const float *w, int64_t out, int64_t in, int bits,
                               const float *step, int per_row, qat_packed_weights *pw)
{
    return qat_packed_pack_lsq_eps(w, out, in, bits, step, per_row, 0.0f, pw);
}

qat_status qat_packed_pack_lsq_eps(const float *w, int64_t out, int64_t in, int bits, const float *step,
                                   int per_row, float step_eps, qat_packed_weights *pw)
{
    QAT_CHECK_ARG(pw, "packed: pack lsq: NULL output");
    memset(pw, 0, sizeof *pw);
    QAT_CHECK_ARG(w && step, "packed: pack lsq: NULL weight or step");
    QAT_CHECK_ARG(bits >= 2 && bits <= 8, "packed: pack lsq: bits = %d, expected 2..8", bits);
    QAT_CHECK_ARG(out > 0 && in > 0 && in <= QAT_PACKED_MAX_IN,
                  "packed: pack lsq: shape [%lld, %lld] out of range (in <= %d)", (long long)out,
                  (long long)in, QAT_PACKED_MAX_IN);
    int64_t ns = per_row ? out : 1;
    for (int64_t r = 0; r < ns; r++)
        QAT_CHECK_ARG(isfinite(step[r]) && step[r] > 0.0f,
                      "packed: pack lsq: step[%lld] = %g must be finite and > 0", (long long)r,
                      (double)step[r]);
    for (int64_t i = 0; i < out * in; i++)
        if (!isfinite(w[i]))
            return qat_fail(QAT_ERR_NUMERIC, "packed: pack lsq: weight [%lld, %lld] is not finite",
                            (long long)(i / in), (long long)(i % in));

    const int half = 1 << (bits - 1);
    pw->format = QAT_PACKED_W_LSQ;
    pw->bits = bits;
    pw->offset = half;
    pw->qmin = -half;
    pw->qmax = half - 1;
    pw->out = out;
    pw->in = in;
    pw->per_row = per_row ? 1 : 0;
    pw->row_bytes = qat_packed_row_bytes(QAT_PACKED_W_LSQ, bits, in);
    pw->scale = malloc((size_t)ns * sizeof *pw->scale);
    pw->data = calloc((size_t)out, pw->row_bytes);
    if (!pw->scale || !pw->data) {
        qat_packed_weights_free(pw);
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "packed: pack lsq: out of memory for [%lld, %lld]",
                        (long long)out, (long long)in);
    }
    memcpy(pw->scale, step, (size_t)ns * sizeof *pw->scale);
    const float qn = (float)pw->qmin, qp = (float)pw->qmax;
    for (int64_t r = 0; r < out; r++) {
        float s = step[per_row ? r : 0] + step_eps; /* the divisor; the scale stays step */
        const float *wr = w + r * in;
        uint8_t *dst = pw->data + (size_t)r * pw->row_bytes;
        if (bits == 8) {
            for (int64_t c = 0; c < in; c++)
                dst[c] = (uint8_t)(int8_t)lsq_q(wr[c], s, qn, qp);
            continue;
        }
        for (int64_t c = 0; c < in; c++) {
            unsigned u = (unsigned)(lsq_q(wr[c], s, qn, qp) + half);
            int64_t bit = c * bits;
            /* A field spans at most two bytes (bits <= 7). */
            unsigned v = u << (bit & 7);
            dst[bit >> 3] |= (uint8_t)v;
            if ((bit & 7) + bits > 8)
                dst[(bit >> 3) + 1] |= (uint8_t)(v >> 8);
        }
    }
    return QAT_OK;
}

/* Eight bytes at p as a little-endian word (one load where the compiler
 * sees the pattern). */
static uint64_t load_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int b = 0; b < 8; b++)
        v |= (uint64_t)p[b] << (8 * b);
    return v;
}

/* Row r's unsigned codes u (q + offset) of LSQ weights w, each passed to
 * `code` as code(c, u, out, value_of): inlined into both callers below
 * with their own `code`, so that neither pays for a call per field. */
typedef void (*lsq_code_fn)(int64_t c, unsigned u, void *out, const float *value_of);

static QAT_PACKED_INLINE void lsq_row_codes(const qat_packed_weights *w, int64_t r, lsq_code_fn code, void *out,
                                            const float *value_of)
{
    const int64_t in = w->in;
    const int bits = w->bits;
    const unsigned mask = (1u << bits) - 1u;
    const uint8_t *src = w->data + (size_t)r * w->row_bytes;
    if (bits == 8) {
        /* q + 128 is q with its sign bit flipped. */
        for (int64_t c = 0; c < in; c++)
            code(c, src[c] ^ 0x80u, out, value_of);
        return;
    }
    /* Eight codes are `bits` whole bytes, read as one little-endian word
     * (8 bytes, while they lie inside the table; no field straddles it),
     * each field shifted down; the rest field by field. */
    const size_t end = (size_t)w->out * w->row_bytes - (size_t)r * w->row_bytes;
    int64_t c = 0;
    for (; c + 8 <= in && (size_t)(c / 8 * bits) + 8 <= end; c += 8) {
        const uint64_t v = load_le64(src + c / 8 * bits);
        for (int j = 0; j < 8; j++)
            code(c + j, (unsigned)(v >> (j * bits)) & mask, out, value_of);
    }
    for (; c < in; c++) {
        int64_t bit = c * bits;
        unsigned v = src[bit >> 3];
        if ((bit & 7) + bits > 8)
            v |= (unsigned)src[(bit >> 3) + 1] << 8;
        code(c, (v >> (bit & 7)) & mask, out, value_of);
    }
}

static inline void store_code(int64_t c, unsigned u, void *out, const float *value_of)
{
    (void)value_of;
    ((uint8_t *)out)[c] = (uint8_t)u;
}

static inline void add_value(int64_t c, unsigned u, void *out, const float *value_of)
{
    ((float *)out)[c] += value_of[u];
}

void qat_packed_unpack_lsq(const qat_packed_weights *w, int64_t row0, int64_t rows,
                           uint8_t *panel, int64_t kpad)
{
    for (int64_t r = 0; r < rows; r++) {
        uint8_t *dst = panel + r * kpad;
        lsq_row_codes(w, row0 + r, store_code, dst, NULL);
        memset(dst + w->in, 0, (size_t)(kpad - w->in));
    }
}

qat_status qat_packed_lsq_row_add(const qat_packed_weights *w, int64_t row, const float *value_of, float *dst)
{
    QAT_CHECK_ARG(w && w->data && value_of && dst, "packed: LSQ row add: NULL argument");
    QAT_CHECK_ARG(w->format == QAT_PACKED_W_LSQ, "packed: LSQ row add: the weights are not LSQ codes");
    QAT_CHECK_ARG(row >= 0 && row < w->out, "packed: LSQ row add: row %lld outside [0, %lld)", (long long)row,
                  (long long)w->out);
    lsq_row_codes(w, row, add_value, dst, value_of);
    return QAT_OK;
}

void qat_packed_unpack_panel(const qat_packed_weights *w, int64_t row0, int64_t rows,
                             uint8_t *panel, int64_t kpad)
{
    switch (w->format) {
    case QAT_PACKED_W_TERNARY2:
        qat_packed_unpack_ternary2(w, row0, rows, panel, kpad);
        break;
    case QAT_PACKED_W_TERNARY1P6:
        qat_packed_unpack_ternary1p6(w, row0, rows, panel, kpad);
        break;
    case QAT_PACKED_W_LSQ:
        qat_packed_unpack_lsq(w, row0, rows, panel, kpad);
        break;
    }
}

qat_status qat_packed_unpack_codes(const qat_packed_weights *pw, int64_t row0, int64_t rows,
                                   int8_t *q)
{
    QAT_CHECK_ARG(pw && pw->data && q, "packed: unpack codes: NULL weights or output");
    QAT_CHECK_ARG(row0 >= 0 && rows >= 0 && row0 + rows <= pw->out,
                  "packed: unpack codes: rows [%lld, %lld) outside [0, %lld)", (long long)row0,
                  (long long)(row0 + rows), (long long)pw->out);
    /* Unsigned codes straight into q (kpad = in: no padding), then shifted
     * to signed in place; no buffer, so a per-token gather allocates nothing. */
    uint8_t *u = (uint8_t *)q;
    qat_packed_unpack_panel(pw, row0, rows, u, pw->in);
    for (int64_t i = 0; i < rows * pw->in; i++)
        q[i] = (int8_t)((int)u[i] - pw->offset);
    return QAT_OK;
}
