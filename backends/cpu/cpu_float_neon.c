/* The float kernels on NEON (AArch64 Advanced SIMD, 4 lanes): cpu_float_simd.h's
 * twins of lib/math, instantiated with NEON intrinsics. Built on AArch64
 * only (backends/meson.build), where Advanced SIMD is part of the base
 * architecture, so TARGET is empty and nothing needs detecting.
 *
 * Bits: each macro below is the operation its AVX2 twin does, lane by
 * lane. No fused multiply-add where the scalar code rounds twice: MUL and
 * ADD are vmulq_f32 and vaddq_f32 (GCC writes those as plain * and +, so
 * lib/meson.build's -ffp-contract=off is what keeps them apart); FMADD,
 * which AdamW alone uses as its scalar code calls fmaf, is vfmaq_f32.
 * vminq_f32 / vmaxq_f32 return NaN when either input is one and order the
 * zeros, where minps / maxps return the second operand, so MIN and MAX are
 * a compare and a select. Compares are ordered (false on NaN), as
 * _CMP_LT_OQ / _CMP_GE_OQ. The double sums widen lanes 0-1 and 2-3 into
 * float64x2_t pairs, row_math.h's lanes in its order. */
#include "cpu/cpu_float.h"

#include <arm_neon.h>

#include "cpu/cpu_neon.h"

/* a < b ? a : b and a > b ? a : b, lane by lane (minps, maxps). */
static inline float32x4_t neon_min(float32x4_t a, float32x4_t b)
{
    return vbslq_f32(vcltq_f32(a, b), a, b);
}

static inline float32x4_t neon_max(float32x4_t a, float32x4_t b)
{
    return vbslq_f32(vcgtq_f32(a, b), a, b);
}

/* Lane i's mask as bit i (movmskps), and back. */
static inline unsigned neon_maskbits(uint32x4_t m)
{
    static const uint32_t bit[4] = {1, 2, 4, 8};
    return vaddvq_u32(vandq_u32(m, vld1q_u32(bit)));
}

static inline uint32x4_t neon_bitsmask(unsigned bits)
{
    static const uint32_t bit[4] = {1, 2, 4, 8};
    return vtstq_u32(vdupq_n_u32(bits), vld1q_u32(bit));
}

/* v's lanes in the order lane[0..3] (a lane index each), by a byte table
 * lookup: lane l is bytes 4l..4l+3. */
static inline float32x4_t neon_permute(float32x4_t v, const uint32_t lane[4])
{
    const uint32x4_t bytes = vaddq_u32(vmulq_n_u32(vld1q_u32(lane), 0x04040404u), vdupq_n_u32(0x03020100u));
    return vreinterpretq_f32_u8(vqtbl1q_u8(vreinterpretq_u8_f32(v), vreinterpretq_u8_u32(bytes)));
}

/* COMPRESS: compress_lane[m][p] is the lane of m's p-th set bit; EXPAND:
 * expand_lane[m][i], for lane i set in m, is the number of m's set bits
 * below i. The lanes cpu_float_simd.h leaves free ("anything") read lane 0.
 * All 16 masks are written out (float_neon_check.c's GELU rows meet every
 * one of them). */
static const uint32_t compress_lane[16][4] = {
    {0, 0, 0, 0}, {0, 0, 0, 0}, {1, 0, 0, 0}, {0, 1, 0, 0}, {2, 0, 0, 0}, {0, 2, 0, 0}, {1, 2, 0, 0}, {0, 1, 2, 0},
    {3, 0, 0, 0}, {0, 3, 0, 0}, {1, 3, 0, 0}, {0, 1, 3, 0}, {2, 3, 0, 0}, {0, 2, 3, 0}, {1, 2, 3, 0}, {0, 1, 2, 3}};
static const uint32_t expand_lane[16][4] = {
    {0, 0, 0, 0}, {0, 0, 0, 0}, {0, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 0, 0}, {0, 0, 1, 0}, {0, 0, 1, 0}, {0, 1, 2, 0},
    {0, 0, 0, 0}, {0, 0, 0, 1}, {0, 0, 0, 1}, {0, 1, 0, 2}, {0, 0, 0, 1}, {0, 0, 1, 2}, {0, 0, 1, 2}, {0, 1, 2, 3}};

#define W 4
#define VF float32x4_t
#define VI uint32x4_t
#define VM uint32x4_t
#define TARGET
#define TARGET_FMA
#define SUFFIX(name) name##_neon
#define SET1(f) vdupq_n_f32(f)
#define ADD vaddq_f32
#define SUB vsubq_f32
#define MUL vmulq_f32
#define MIN neon_min
#define MAX neon_max
#define CMPLT vcltq_f32
#define SELECT vbslq_f32
#define LOAD vld1q_f32
#define STORE vst1q_f32
#define STOREU vst1q_f32
#define LOADN qat_neon_loadn
#define STOREN qat_neon_storen
#define TAIL qat_neon_tail
#define ASINT vreinterpretq_u32_f32
#define ASFLOAT vreinterpretq_f32_u32
#define ISET1(i) vdupq_n_u32((uint32_t)(i))
#define IADD vaddq_u32
#define ISUB vsubq_u32
#define IAND vandq_u32
#define IANDNOT(a, b) vbicq_u32((b), (a)) /* ~a & b, as andnot; vbic is its first & ~its second */
#define IOR vorrq_u32
#define ISRL1(v) vshrq_n_u32((v), 1) /* logical, as srli */
#define ISLL23(v) vshlq_n_u32((v), 23)
#define DVF float64x2_t
#define DZERO() vdupq_n_f64(0.0)
#define DADD vaddq_f64
#define DMUL vmulq_f64
#define DSTOREU vst1q_f64
#define WIDEN_LO(v) vcvt_f64_f32(vget_low_f32(v))
#define WIDEN_HI(v) vcvt_high_f64_f32(v)
#define DIV vdivq_f32
#define SWAP2(v) vextq_f32((v), (v), 2)
#define SWAP1(v) vrev64q_f32(v)
#define FIRST(v) vgetq_lane_f32((v), 0)
#define SQRT vsqrtq_f32
#define FMADD(a, b, c) vfmaq_f32((c), (a), (b)) /* a * b + c, rounded once */
#define CMPGE vcgeq_f32
#define I2F(v) vcvtq_f32_s32(vreinterpretq_s32_u32(v)) /* signed, as cvtdq2ps */
/* VI as two 64-bit lanes. */
#define Q64(v) vreinterpretq_u64_u32(v)
#define QVI(v) vreinterpretq_u32_u64(v)
#define QADD(a, b) QVI(vaddq_u64(Q64(a), Q64(b)))
#define QXOR veorq_u32
#define QSRLI(v, n) QVI(vshrq_n_u64(Q64(v), (n)))
#define QSLLI(v, n) QVI(vshlq_n_u64(Q64(v), (n)))
/* the low 32 bits of each 64-bit lane, multiplied into 64 bits (pmuludq) */
#define QMULU32(a, b) QVI(vmull_u32(vmovn_u64(Q64(a)), vmovn_u64(Q64(b))))
#define QSET1(x) QVI(vdupq_n_u64((uint64_t)(x)))
#define QLOADU(p) QVI(vld1q_u64((const uint64_t *)(p)))
#define NARROW2(a, b) vcombine_u32(vmovn_u64(Q64(a)), vmovn_u64(Q64(b)))
#define MASKBITS neon_maskbits
#define BITSMASK neon_bitsmask
#define COMPRESS(v, bits) neon_permute((v), compress_lane[(bits)])
#define EXPAND(v, bits) neon_permute((v), expand_lane[(bits)])

#include "cpu/cpu_float_simd.h"
