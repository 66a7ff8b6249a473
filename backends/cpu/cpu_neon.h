/* What the NEON instantiations (cpu_float_neon.c, cpu_attention.c) need
 * beyond arm_neon.h: x86's masked loads and stores, which AArch64 lacks.
 * A mask is a uint32x4_t, all ones or all zeros in each of its 4 lanes, as
 * NEON's compares make them. The masked lanes go one by one through a
 * 4-float stack buffer, so that no byte outside the set lanes is read or
 * written: past a row's tail may lie the end of the allocation, or of the
 * page. Plain copies, no arithmetic, so the bits (NaN payloads included)
 * are those in memory. */
#ifndef QAT_CPU_NEON_H
#define QAT_CPU_NEON_H

#include <arm_neon.h>
#include <stdint.h>

/* Lanes i < n set: none when n <= 0, all when n >= 4. */
static inline uint32x4_t qat_neon_tail(int64_t n)
{
    static const int32_t lane[4] = {0, 1, 2, 3};
    return vcgtq_s32(vdupq_n_s32((int32_t)(n < 0 ? 0 : n > 4 ? 4 : n)), vld1q_s32(lane));
}

/* p's set lanes, +0.0f in the others (as vmaskmovps / AVX-512's maskz). */
static inline float32x4_t qat_neon_loadn(const float *p, uint32x4_t m)
{
    uint32_t set[4];
    float buf[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    vst1q_u32(set, m);
    for (int i = 0; i < 4; i++)
        if (set[i])
            buf[i] = p[i];
    return vld1q_f32(buf);
}

/* v's set lanes to p; the other floats at p are left untouched. */
static inline void qat_neon_storen(float *p, uint32x4_t m, float32x4_t v)
{
    uint32_t set[4];
    float buf[4];
    vst1q_u32(set, m);
    vst1q_f32(buf, v);
    for (int i = 0; i < 4; i++)
        if (set[i])
            p[i] = buf[i];
}

#endif
