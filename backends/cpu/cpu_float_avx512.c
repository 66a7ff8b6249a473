/* The float kernels on AVX-512 F (16 lanes): cpu_float_simd.h's twins of
 * lib/math, instantiated with AVX-512 intrinsics (tails by mask
 * registers). */
#include "cpu/cpu_float.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define W 16
#define VF __m512
#define VI __m512i
#define VM __mmask16
#define TARGET __attribute__((target("avx512f,popcnt")))
#define SUFFIX(name) name##_avx512
#define SET1(f) _mm512_set1_ps(f)
#define ADD _mm512_add_ps
#define SUB _mm512_sub_ps
#define MUL _mm512_mul_ps
#define MIN _mm512_min_ps
#define MAX _mm512_max_ps
#define CMPLT(a, b) _mm512_cmp_ps_mask((a), (b), _CMP_LT_OQ)
#define SELECT(m, a, b) _mm512_mask_blend_ps((m), (b), (a))
#define LOAD _mm512_loadu_ps
#define STORE _mm512_storeu_ps
#define STOREU _mm512_storeu_ps
#define LOADN(p, m) _mm512_maskz_loadu_ps((m), (p))
#define STOREN(p, m, v) _mm512_mask_storeu_ps((p), (m), (v))
#define TAIL(left) ((__mmask16)((left) >= W ? 0xffffu : ((1u << (left)) - 1u)))
#define ASINT _mm512_castps_si512
#define ASFLOAT _mm512_castsi512_ps
#define ISET1 _mm512_set1_epi32
#define IADD _mm512_add_epi32
#define ISUB _mm512_sub_epi32
#define IAND _mm512_and_si512
#define IANDNOT _mm512_andnot_si512
#define IOR _mm512_or_si512
#define ISRL1(v) _mm512_srli_epi32((v), 1)
#define ISLL23(v) _mm512_slli_epi32((v), 23)
#define TARGET_FMA TARGET
#define DVF __m512d
#define DZERO _mm512_setzero_pd
#define DADD _mm512_add_pd
#define DMUL _mm512_mul_pd
#define DSTOREU _mm512_storeu_pd
#define WIDEN_LO(v) _mm512_cvtps_pd(_mm512_castps512_ps256(v))
#define WIDEN_HI(v) _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)))
#define SCALEF _mm512_scalef_ps
#define MASKBITS(m) ((unsigned)(m))
#define BITSMASK(bits) ((__mmask16)(bits))
#define COMPRESS(v, bits) _mm512_maskz_compress_ps((__mmask16)(bits), (v))
#define EXPAND(v, bits) _mm512_maskz_expand_ps((__mmask16)(bits), (v))
#define DIV _mm512_div_ps
#define SWAP8(v) _mm512_shuffle_f32x4((v), (v), 0x4E) /* 256-bit halves swapped */
#define SWAP4(v) _mm512_shuffle_f32x4((v), (v), 0xB1) /* 128-bit blocks of each half */
#define SWAP2(v) _mm512_permute_ps((v), 0x4E)
#define SWAP1(v) _mm512_permute_ps((v), 0xB1)
#define FIRST _mm512_cvtss_f32
#define SQRT _mm512_sqrt_ps
#define FMADD _mm512_fmadd_ps
#define CMPGE(a, b) _mm512_cmp_ps_mask((a), (b), _CMP_GE_OQ)
#define I2F _mm512_cvtepi32_ps
#define QADD _mm512_add_epi64
#define QXOR _mm512_xor_si512
#define QSRLI _mm512_srli_epi64
#define QSLLI _mm512_slli_epi64
#define QMULU32 _mm512_mul_epu32
#define QSET1 _mm512_set1_epi64
#define QLOADU(p) _mm512_loadu_si512((const void *)(p))
#define NARROW2(a, b) _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi64_epi32(a)), _mm512_cvtepi64_epi32(b), 1)

#include "cpu/cpu_float_simd.h"

#endif
