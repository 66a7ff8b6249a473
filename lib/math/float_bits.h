/* A float's IEEE-754 bits and back, without aliasing: the one bit cast of
 * the library (the float math's rounding tricks, half and bfloat16 loads). */
#ifndef QAT_LIB_MATH_FLOAT_BITS_H
#define QAT_LIB_MATH_FLOAT_BITS_H

#include <stdint.h>
#include <string.h>

static inline uint32_t qat_float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float qat_bits_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

#endif
