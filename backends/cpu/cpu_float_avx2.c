/* The float kernels on AVX2 (8 lanes): cpu_float_simd.h's twins of
 * lib/math, instantiated with AVX2 intrinsics. Only "avx2" (and popcnt) is enabled (no
 * FMA), so nothing can fuse what the scalar definition rounds twice; AdamW
 * alone adds FMA (TARGET_FMA), as its scalar code calls fmaf. */
#include "cpu/cpu_float.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define W 8
#define VF __m256
#define VI __m256i
#define VM __m256i
#define TARGET __attribute__((target("avx2,popcnt")))
#define SUFFIX(name) name##_avx2
#define SET1(f) _mm256_set1_ps(f)
#define ADD _mm256_add_ps
#define SUB _mm256_sub_ps
#define MUL _mm256_mul_ps
#define MIN _mm256_min_ps
#define MAX _mm256_max_ps
#define CMPLT(a, b) _mm256_castps_si256(_mm256_cmp_ps((a), (b), _CMP_LT_OQ))
#define SELECT(m, a, b) _mm256_blendv_ps((b), (a), _mm256_castsi256_ps(m))
#define LOAD _mm256_loadu_ps
#define STORE _mm256_storeu_ps
#define STOREU _mm256_storeu_ps
#define LOADN(p, m) _mm256_maskload_ps((p), (m))
#define STOREN(p, m, v) _mm256_maskstore_ps((p), (m), (v))
#define TAIL(left) _mm256_cmpgt_epi32(_mm256_set1_epi32((int)((left) < W ? (left) : W)), \
                                      _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define ASINT _mm256_castps_si256
#define ASFLOAT _mm256_castsi256_ps
#define ISET1 _mm256_set1_epi32
#define IADD _mm256_add_epi32
#define ISUB _mm256_sub_epi32
#define IAND _mm256_and_si256
#define IANDNOT _mm256_andnot_si256
#define IOR _mm256_or_si256
#define ISRL1(v) _mm256_srli_epi32((v), 1)
#define ISLL23(v) _mm256_slli_epi32((v), 23)
#define TARGET_FMA __attribute__((target("avx2,fma,popcnt")))
#define DVF __m256d
#define DZERO _mm256_setzero_pd
#define DADD _mm256_add_pd
#define DMUL _mm256_mul_pd
#define DSTOREU _mm256_storeu_pd
#define WIDEN_LO(v) _mm256_cvtps_pd(_mm256_castps256_ps128(v))
#define WIDEN_HI(v) _mm256_cvtps_pd(_mm256_extractf128_ps((v), 1))
#define DIV _mm256_div_ps
#define SWAP4(v) _mm256_permute2f128_ps((v), (v), 0x01) /* 128-bit halves swapped */
#define SWAP2(v) _mm256_permute_ps((v), 0x4E)
#define SWAP1(v) _mm256_permute_ps((v), 0xB1)
#define FIRST _mm256_cvtss_f32
#define SQRT _mm256_sqrt_ps
#define FMADD _mm256_fmadd_ps
#define CMPGE(a, b) _mm256_castps_si256(_mm256_cmp_ps((a), (b), _CMP_GE_OQ))
#define I2F _mm256_cvtepi32_ps
#define QADD _mm256_add_epi64
#define QXOR _mm256_xor_si256
#define QSRLI _mm256_srli_epi64
#define QSLLI _mm256_slli_epi64
#define QMULU32 _mm256_mul_epu32
#define QSET1 _mm256_set1_epi64x
#define QLOADU(p) _mm256_loadu_si256((const __m256i *)(p))
/* the low dwords: [a0 a1 b0 b1 | a2 a3 b2 b3] as quads 0 2 1 3 -> a0..a3 b0..b3 */
#define NARROW2(a, b)                                                                                 \
    _mm256_permute4x64_epi64(_mm256_castps_si256(_mm256_shuffle_ps(_mm256_castsi256_ps(a),             \
                                                                   _mm256_castsi256_ps(b), 0x88)), 0xd8)

/* COMPRESS and EXPAND by vpermps, its lane indices looked up by the 8-bit
 * lane mask, packed 4 bits per index: compress_index[m] holds at position p
 * the lane of m's p-th set bit; expand_index[m] holds at lane i, when set,
 * the number of m's set bits below i. Both tables are made here by the
 * preprocessor from those definitions. */
#define BIT_(m, i) (((m) >> (i)) & 1u)
#define RANK_(m, i)                                                                                            \
    (((i) > 0 ? BIT_(m, 0) : 0u) + ((i) > 1 ? BIT_(m, 1) : 0u) + ((i) > 2 ? BIT_(m, 2) : 0u) +                 \
     ((i) > 3 ? BIT_(m, 3) : 0u) + ((i) > 4 ? BIT_(m, 4) : 0u) + ((i) > 5 ? BIT_(m, 5) : 0u) +                 \
     ((i) > 6 ? BIT_(m, 6) : 0u))
#define COMPRESS_LANE_(m, i) (BIT_(m, i) ? (uint32_t)(i) << (4 * RANK_(m, i)) : 0u)
#define EXPAND_LANE_(m, i) (BIT_(m, i) ? (uint32_t)RANK_(m, i) << (4 * (i)) : 0u)
#define LANES8_(L, m) (L(m, 0) | L(m, 1) | L(m, 2) | L(m, 3) | L(m, 4) | L(m, 5) | L(m, 6) | L(m, 7))
#define COMPRESS_ENTRY_(m) LANES8_(COMPRESS_LANE_, m)
#define EXPAND_ENTRY_(m) LANES8_(EXPAND_LANE_, m)
#define T4_(E, m) E(m), E((m) + 1u), E((m) + 2u), E((m) + 3u)
#define T16_(E, m) T4_(E, m), T4_(E, (m) + 4u), T4_(E, (m) + 8u), T4_(E, (m) + 12u)
#define T64_(E, m) T16_(E, m), T16_(E, (m) + 16u), T16_(E, (m) + 32u), T16_(E, (m) + 48u)
#define T256_(E) T64_(E, 0u), T64_(E, 64u), T64_(E, 128u), T64_(E, 192u)
static const uint32_t compress_index[256] = {T256_(COMPRESS_ENTRY_)};
static const uint32_t expand_index[256] = {T256_(EXPAND_ENTRY_)};
#define NIBBLES(e) _mm256_srlv_epi32(_mm256_set1_epi32((int)(e)), _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28))
#define MASKBITS(m) ((unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(m)))
#define BITSMASK(bits)                                                                                         \
    _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)(bits)), _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128)), \
                       _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128))
#define COMPRESS(v, bits) _mm256_permutevar8x32_ps((v), NIBBLES(compress_index[bits]))
#define EXPAND(v, bits) _mm256_permutevar8x32_ps((v), NIBBLES(expand_index[bits]))

#include "cpu/cpu_float_simd.h"

#endif
