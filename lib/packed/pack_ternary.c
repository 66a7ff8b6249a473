/* BitNet b1.58 ternary weights: gamma, 2-bit and 1.6-bit (5 trits per
 * byte) packing, and their unpacking to offset codes u = q + 1. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "packed/packed_internal.h"

qat_status qat_packed_bitnet_gamma(const float *w, int64_t out, int64_t in, int per_row,
                                   float *gamma)
{
    QAT_CHECK_ARG(w && gamma, "packed: bitnet gamma: NULL pointer");
    QAT_CHECK_ARG(out > 0 && in > 0, "packed: bitnet gamma: empty weight [%lld, %lld]",
                  (long long)out, (long long)in);
    /* Double accumulation rounded once: the ref backend's definition, so the
     * exported gamma equals the one training used. */
    if (per_row) {
        for (int64_t r = 0; r < out; r++) {
            double acc = 0.0;
            for (int64_t c = 0; c < in; c++)
                acc += fabsf(w[r * in + c]);
            float m = (float)(acc / (double)in);
            if (!isfinite(m))
                return qat_fail(QAT_ERR_NUMERIC, "packed: bitnet gamma: row %lld is not finite",
                                (long long)r);
            gamma[r] = m > 1e-5f ? m : 1e-5f;
        }
    } else {
        /* Row sums first, then their sum in row order, as the ref backend
         * computes it (its rows are summed in parallel). */
        double acc = 0.0;
        for (int64_t r = 0; r < out; r++) {
            double row = 0.0;
            for (int64_t c = 0; c < in; c++)
                row += fabsf(w[r * in + c]);
            acc += row;
        }
        float m = (float)(acc / (double)(out * in));
        if (!isfinite(m))
            return qat_fail(QAT_ERR_NUMERIC, "packed: bitnet gamma: weight is not finite");
        gamma[0] = m > 1e-5f ? m : 1e-5f;
    }
    return QAT_OK;
}

/* Ternary code of one weight, as the fake quantizer computes it. */
static inline uint8_t ternary_u(float w, float g)
{
    float q = nearbyintf(w / g);
    q = q < -1.0f ? -1.0f : (q > 1.0f ? 1.0f : q);
    return (uint8_t)(q + 1.0f);
}

/* Bytes of the group starting at element e0 of a row of `in` elements. */
static inline int64_t group_bytes(int64_t in, int64_t e0, int64_t group, int per_byte)
{
    int64_t n = in - e0 < group ? in - e0 : group;
    return (n + per_byte - 1) / per_byte;
}

static void pack_row_t2(const float *w, int64_t in, float g, uint8_t *dst)
{
    for (int64_t e0 = 0; e0 < in; e0 += QAT_PACKED_T2_GROUP) {
        int64_t nb = group_bytes(in, e0, QAT_PACKED_T2_GROUP, 4);
        for (int64_t j = 0; j < nb; j++) {
            unsigned byte = 0;
            for (int k = 0; k < 4; k++) {
                int64_t e = e0 + j + nb * k;
                if (e < in && e < e0 + QAT_PACKED_T2_GROUP)
                    byte |= (unsigned)ternary_u(w[e], g) << (2 * k);
            }
            *dst++ = (uint8_t)byte;
        }
    }
}

static const unsigned pow3[5] = {1, 3, 9, 27, 81};

static void pack_row_t1p6(const float *w, int64_t in, float g, uint8_t *dst)
{
    for (int64_t e0 = 0; e0 < in; e0 += QAT_PACKED_T1P6_GROUP) {
        int64_t nb = group_bytes(in, e0, QAT_PACKED_T1P6_GROUP, 5);
        for (int64_t j = 0; j < nb; j++) {
            /* v = u0 u1 u2 u3 u4 in base 3, u0 most significant; stored as
             * ceil(v * 256 / 243) so that trit k comes back as the top
             * bits of (byte * 3^k mod 256) * 3, with no division. */
            unsigned v = 0;
            for (int k = 0; k < 5; k++) {
                int64_t e = e0 + j + nb * k;
                unsigned u = (e < in && e < e0 + QAT_PACKED_T1P6_GROUP) ? ternary_u(w[e], g) : 0;
                v += u * pow3[4 - k];
            }
            *dst++ = (uint8_t)((v * 256 + 242) / 243);
        }
    }
}

qat_status qat_packed_pack_ternary(const float *w, int64_t out, int64_t in, const float *gamma,
                                   int per_row, qat_packed_wformat format,
                                   qat_packed_weights *pw)
{
    QAT_CHECK_ARG(pw, "packed: pack ternary: NULL output");
    memset(pw, 0, sizeof *pw);
    QAT_CHECK_ARG(w && gamma, "packed: pack ternary: NULL weight or gamma");
    QAT_CHECK_ARG(format == QAT_PACKED_W_TERNARY2 || format == QAT_PACKED_W_TERNARY1P6,
                  "packed: pack ternary: format %d is not TERNARY2 or TERNARY1P6", (int)format);
    QAT_CHECK_ARG(out > 0 && in > 0 && in <= QAT_PACKED_MAX_IN,
                  "packed: pack ternary: shape [%lld, %lld] out of range (in <= %d)",
                  (long long)out, (long long)in, QAT_PACKED_MAX_IN);
    int64_t ns = per_row ? out : 1;
    for (int64_t r = 0; r < ns; r++)
        QAT_CHECK_ARG(isfinite(gamma[r]) && gamma[r] > 0.0f,
                      "packed: pack ternary: gamma[%lld] = %g must be finite and > 0",
                      (long long)r, (double)gamma[r]);
    for (int64_t i = 0; i < out * in; i++)
        if (!isfinite(w[i]))
            return qat_fail(QAT_ERR_NUMERIC, "packed: pack ternary: weight [%lld, %lld] is not finite",
                            (long long)(i / in), (long long)(i % in));

    pw->format = format;
    pw->bits = 2;
    pw->offset = 1;
    pw->qmin = -1;
    pw->qmax = 1;
    pw->out = out;
    pw->in = in;
    pw->per_row = per_row ? 1 : 0;
    pw->row_bytes = qat_packed_row_bytes(format, 2, in);
    pw->scale = malloc((size_t)ns * sizeof *pw->scale);
    pw->data = malloc((size_t)out * pw->row_bytes);
    if (!pw->scale || !pw->data) {
        qat_packed_weights_free(pw);
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "packed: pack ternary: out of memory for [%lld, %lld]",
                        (long long)out, (long long)in);
    }
    memcpy(pw->scale, gamma, (size_t)ns * sizeof *pw->scale);
    for (int64_t r = 0; r < out; r++) {
        float g = gamma[per_row ? r : 0];
        uint8_t *dst = pw->data + (size_t)r * pw->row_bytes;
        if (format == QAT_PACKED_W_TERNARY2)
            pack_row_t2(w + r * in, in, g, dst);
        else
            pack_row_t1p6(w + r * in, in, g, dst);
    }
    return QAT_OK;
}

/* Trit k (0 = most significant) of a 1.6-bit byte. */
static inline uint8_t trit(uint8_t byte, int k)
{
    uint8_t t = (uint8_t)(byte * pow3[k]);
    return (uint8_t)(((unsigned)t * 3) >> 8);
}

/* Code k of a byte holding per_byte codes: 2-bit fields (4) or trits (5). */
static inline uint8_t code_of(uint8_t byte, int k, const int per_byte)
{
    return per_byte == 4 ? (uint8_t)((byte >> (2 * k)) & 3) : trit(byte, k);
}

/* Rows [row0, row0 + rows) of either ternary packing as unsigned codes,
 * row r at panel + r * kpad, zero past `in`; per_byte is a constant at
 * each call, so each packing gets its own loops. */
static inline __attribute__((always_inline)) void unpack_ternary(const qat_packed_weights *w, int64_t row0,
                                                                 int64_t rows, uint8_t *panel, int64_t kpad,
                                                                 const int per_byte)
{
    const int64_t in = w->in, group = 32 * per_byte;
    for (int64_t r = 0; r < rows; r++) {
        const uint8_t *src = w->data + (size_t)(row0 + r) * w->row_bytes;
        uint8_t *dst = panel + r * kpad;
        int64_t e0 = 0;
        /* Full groups: fixed trip counts the compiler vectorises. */
        for (; e0 + group <= in; e0 += group, src += 32)
            for (int k = 0; k < per_byte; k++)
                for (int j = 0; j < 32; j++)
                    dst[e0 + 32 * k + j] = code_of(src[j], k, per_byte);
        if (e0 < in) {
            int64_t n = in - e0, nb = (n + per_byte - 1) / per_byte;
            for (int k = 0; k < per_byte; k++)
                for (int64_t j = 0; j < nb && j + nb * k < n; j++)
                    dst[e0 + j + nb * k] = code_of(src[j], k, per_byte);
        }
        memset(dst + in, 0, (size_t)(kpad - in));
    }
}

void qat_packed_unpack_ternary2(const qat_packed_weights *w, int64_t row0, int64_t rows,
                                uint8_t *panel, int64_t kpad)
{
    _Static_assert(QAT_PACKED_T2_GROUP == 32 * 4, "2-bit groups: 32 bytes of 4 codes");
    unpack_ternary(w, row0, rows, panel, kpad, 4);
}

void qat_packed_unpack_ternary1p6(const qat_packed_weights *w, int64_t row0, int64_t rows,
                                  uint8_t *panel, int64_t kpad)
{
    _Static_assert(QAT_PACKED_T1P6_GROUP == 32 * 5, "1.6-bit groups: 32 bytes of 5 trits");
    unpack_ternary(w, row0, rows, panel, kpad, 5);
}
