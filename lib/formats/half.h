/* IEEE half (F16) and bfloat16 (BF16) to float32, bit-exact: every F16 and
 * BF16 value, subnormals, infinities and NaN payloads included, has an exact
 * float32 representation, so loading never rounds. */
#ifndef QAT_LIB_FORMATS_HALF_H
#define QAT_LIB_FORMATS_HALF_H

#include <stdint.h>

#include "math/float_bits.h"

static inline float qat_f16_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    if (exp == 0x1f) /* inf / NaN: keep the payload */
        return qat_bits_float(sign | 0x7f800000u | (mant << 13));
    if (exp == 0) {
        if (mant == 0)
            return qat_bits_float(sign);
        /* subnormal: normalise the mantissa */
        int e = -1;
        do {
            e++;
            mant <<= 1;
        } while ((mant & 0x400u) == 0);
        return qat_bits_float(sign | ((uint32_t)(127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13));
    }
    return qat_bits_float(sign | ((exp + 127 - 15) << 23) | (mant << 13));
}

static inline float qat_bf16_to_float(uint16_t b)
{
    return qat_bits_float((uint32_t)b << 16);
}

/* Little-endian loads from possibly unaligned bytes. */
static inline uint16_t qat_load_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t qat_load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline uint64_t qat_load_le64(const uint8_t *p)
{
    return (uint64_t)qat_load_le32(p) | ((uint64_t)qat_load_le32(p + 4) << 32);
}

#endif
