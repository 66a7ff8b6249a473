/* What AVX2's u8 x s8 multiply can do on this CPU, per cycle: the ceiling
 * of the packed avx2 kernels (lib/packed/tile_avx2.c) and of the form ONNX
 * Runtime's AVX2 u8s8 GEMM uses, measured with the operands in registers
 * (no loads, no decoding), so a GEMM's figure can be read against it.
 *
 *   raw        vpmaddubsw alone, independent: the multiplier's throughput
 *   int16      vpmaddubsw, its result added by vpaddw into one of 8 int16
 *              sums (libqat's ternary, low-bit and 8-bit spans form: 2
 *              instructions per 32 multiply-adds)
 *   widened    vpmaddubsw, vpmaddwd by 1, vpaddd into one of 8 int32 sums
 *              (every product pair widened at once: 3 instructions and 2
 *              multiplies per 32 multiply-adds)
 *   lookup     a table lookup instead of the multiply, for ternary weights
 *              (not a kernel of the library, the form one would take):
 *              vpshufb of 16-entry tables of 2-input sums (64 multiply-adds
 *              a lookup), vpmaddubsw of those by the weights' signs (+-1),
 *              which adds the two sums of a row, and vpaddw into one of 8
 *              int16 sums: 3 instructions per 64 multiply-adds, the
 *              shuffle on other pipes than the multiply on AMD's cores
 *   panel16    the avx2 kernel's inner loop until 2026-12-07: one 16-row
 *              panel x 4 tokens, the weight codes loaded and the tokens'
 *              4 codes broadcast from L1-resident buffers, 64 quads a
 *              pass (2 multiplies a broadcast)
 *   pair32     the avx2 kernel's inner loop now (pair_maddubs): both
 *              panels of a tile, 32 rows x 2 tokens, the codes memory
 *              operands (4 multiplies a broadcast); both written with
 *              intrinsics as the library is
 *
 * Cycles come from a chain of dependent 64-bit adds (one cycle each on
 * every x86 core of the last decade), so the figures do not depend on the
 * clock; the best of 5 runs each. x86-64 with AVX2 only.
 *
 * Usage: bench_maddubs_ceiling
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

#if defined(__x86_64__)
#include <cpuid.h>

#define AVX2_TARGET __attribute__((target("avx2")))

enum { ITERS = 20000000 };

/* Seconds a cycle: ITERS x 8 dependent adds. */
static double cycle_s(void)
{
    long n = ITERS, x = 0;
    const double t0 = now_s();
    __asm__ volatile("1:\n\t"
                     "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
                     "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
                     "dec %1\n\tjnz 1b"
                     : "+r"(x), "+r"(n));
    return (now_s() - t0) / (8.0 * ITERS);
}

#define RAW(d) "vpmaddubsw %%ymm0, %%ymm1, %%ymm" #d "\n\t"
#define INT16(d, s) "vpmaddubsw %%ymm0, %%ymm1, %%ymm" #d "\n\tvpaddw %%ymm" #d ", %%ymm" #s ", %%ymm" #s "\n\t"
#define WIDENED(d, s)                                                                                       \
    "vpmaddubsw %%ymm0, %%ymm1, %%ymm" #d "\n\tvpmaddwd %%ymm2, %%ymm" #d ", %%ymm" #d "\n\t"               \
    "vpaddd %%ymm" #d ", %%ymm" #s ", %%ymm" #s "\n\t"
#define LOOKUP(d, s)                                                                                        \
    "vpshufb %%ymm0, %%ymm1, %%ymm" #d "\n\tvpmaddubsw %%ymm2, %%ymm" #d ", %%ymm" #d "\n\t"                 \
    "vpaddw %%ymm" #d ", %%ymm" #s ", %%ymm" #s "\n\t"
#define CLOBBERS "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14"

/* Seconds for ITERS x 8 multiplies (lookups for form 3) of each form. */
AVX2_TARGET static double run_form(int form)
{
    long n = ITERS;
    const double t0 = now_s();
    __asm__ volatile("vpxor %%ymm0, %%ymm0, %%ymm0\n\tvpxor %%ymm1, %%ymm1, %%ymm1\n\t"
                     "vpcmpeqw %%ymm2, %%ymm2, %%ymm2\n\tvpsrlw $15, %%ymm2, %%ymm2\n\t" ::: "xmm0", "xmm1", "xmm2");
    if (form == 0)
        __asm__ volatile("1:\n\t" RAW(3) RAW(4) RAW(5) RAW(6) RAW(7) RAW(8) RAW(9) RAW(10) "dec %0\n\tjnz 1b"
                         : "+r"(n) : : CLOBBERS);
    else if (form == 1)
        __asm__ volatile("1:\n\t" INT16(3, 7) INT16(4, 8) INT16(5, 9) INT16(6, 10) INT16(3, 11) INT16(4, 12)
                             INT16(5, 13) INT16(6, 14) "dec %0\n\tjnz 1b"
                         : "+r"(n) : : CLOBBERS);
    else if (form == 2)
        __asm__ volatile("1:\n\t" WIDENED(3, 7) WIDENED(4, 8) WIDENED(5, 9) WIDENED(6, 10) WIDENED(3, 11)
                             WIDENED(4, 12) WIDENED(5, 13) WIDENED(6, 14) "dec %0\n\tjnz 1b"
                         : "+r"(n) : : CLOBBERS);
    else
        __asm__ volatile("1:\n\t" LOOKUP(3, 7) LOOKUP(4, 8) LOOKUP(5, 9) LOOKUP(6, 10) LOOKUP(3, 11)
                             LOOKUP(4, 12) LOOKUP(5, 13) LOOKUP(6, 14) "dec %0\n\tjnz 1b"
                         : "+r"(n) : : CLOBBERS);
    return now_s() - t0;
}

#include <immintrin.h>

enum { PANEL_QUADS = 64, PANEL_PASSES = ITERS / PANEL_QUADS }; /* 8 ITERS multiplies, as the other forms */

static _Alignas(64) int8_t panel_q[2 * PANEL_QUADS * 64];
static _Alignas(64) uint8_t panel_act[4 * 4 * PANEL_QUADS];

static void fill_panels(void)
{
    for (size_t i = 0; i < sizeof panel_q; i++)
        panel_q[i] = (int8_t)((int)(i * 7 % 3) - 1);
    for (size_t i = 0; i < sizeof panel_act; i++)
        panel_act[i] = (uint8_t)(i % 64);
}

AVX2_TARGET static inline __m256i broadcast4(const uint8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

/* PANEL_PASSES passes of 64 quads, 8 vpmaddubsw a quad: one 16-row panel
 * x 4 tokens; returns seconds. */
AVX2_TARGET static double run_panel16(void)
{
    __m256i out = _mm256_setzero_si256();
    const double t0 = now_s();
    for (long pass = 0; pass < PANEL_PASSES; pass++) {
        __m256i s[4][2];
        for (int j = 0; j < 4; j++)
            s[j][0] = s[j][1] = _mm256_setzero_si256();
        for (int k = 0; k < PANEL_QUADS; k++) {
            const __m256i w0 = _mm256_load_si256((const __m256i *)(panel_q + 64 * k));
            const __m256i w1 = _mm256_load_si256((const __m256i *)(panel_q + 64 * k + 32));
            for (int j = 0; j < 4; j++) {
                const __m256i bc = broadcast4(panel_act + j * 4 * PANEL_QUADS + 4 * k);
                s[j][0] = _mm256_add_epi16(s[j][0], _mm256_maddubs_epi16(bc, w0));
                s[j][1] = _mm256_add_epi16(s[j][1], _mm256_maddubs_epi16(bc, w1));
            }
            __asm__("" : "+x"(s[0][0]), "+x"(s[0][1]), "+x"(s[1][0]), "+x"(s[1][1]), "+x"(s[2][0]), "+x"(s[2][1]),
                    "+x"(s[3][0]), "+x"(s[3][1]));
        }
        for (int j = 0; j < 4; j++)
            out = _mm256_xor_si256(out, _mm256_xor_si256(s[j][0], s[j][1]));
    }
    const double t = now_s() - t0;
    __asm__ volatile("" ::"x"(out));
    return t;
}

/* The same multiplies as 32 rows (two panels) x 2 tokens a pass. */
AVX2_TARGET static double run_pair32(void)
{
    __m256i out = _mm256_setzero_si256();
    const double t0 = now_s();
    for (long pass = 0; pass < PANEL_PASSES; pass++) {
        __m256i s[2][4];
        for (int j = 0; j < 2; j++)
            s[j][0] = s[j][1] = s[j][2] = s[j][3] = _mm256_setzero_si256();
        for (int k = 0; k < PANEL_QUADS; k++) {
            const __m256i *w0 = (const __m256i *)(panel_q + 64 * k);
            const __m256i *w1 = (const __m256i *)(panel_q + PANEL_QUADS * 64 + 64 * k);
            for (int j = 0; j < 2; j++) {
                const __m256i bc = broadcast4(panel_act + j * 4 * PANEL_QUADS + 4 * k);
                s[j][0] = _mm256_add_epi16(s[j][0], _mm256_maddubs_epi16(bc, _mm256_load_si256(w0)));
                s[j][1] = _mm256_add_epi16(s[j][1], _mm256_maddubs_epi16(bc, _mm256_load_si256(w0 + 1)));
                s[j][2] = _mm256_add_epi16(s[j][2], _mm256_maddubs_epi16(bc, _mm256_load_si256(w1)));
                s[j][3] = _mm256_add_epi16(s[j][3], _mm256_maddubs_epi16(bc, _mm256_load_si256(w1 + 1)));
            }
            __asm__("" : "+x"(s[0][0]), "+x"(s[0][1]), "+x"(s[0][2]), "+x"(s[0][3]), "+x"(s[1][0]), "+x"(s[1][1]),
                    "+x"(s[1][2]), "+x"(s[1][3]));
        }
        for (int j = 0; j < 2; j++)
            out = _mm256_xor_si256(out, _mm256_xor_si256(_mm256_xor_si256(s[j][0], s[j][1]),
                                                         _mm256_xor_si256(s[j][2], s[j][3])));
    }
    const double t = now_s() - t0;
    __asm__ volatile("" ::"x"(out));
    return t;
}

int main(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & (1u << 5))) {
        printf("SKIP: this CPU lacks AVX2 (CPUID.7.0:EBX bit 5)\n");
        return 0;
    }
    static const char *names[] = {"raw", "int16", "widened", "lookup", "panel16", "pair32"};
    enum { FORMS = 6, LOOKUP_FORM = 3 };
    fill_panels();
    double best_cycle = 1e9, best[FORMS] = {1e9, 1e9, 1e9, 1e9, 1e9, 1e9};
    for (int rep = 0; rep < 5; rep++) {
        const double c1 = cycle_s();
        best_cycle = c1 < best_cycle ? c1 : best_cycle;
        for (int f = 0; f < FORMS; f++) {
            const double t = f < 4 ? run_form(f) : f == 4 ? run_panel16() : run_pair32();
            best[f] = t < best[f] ? t : best[f];
        }
    }
    printf("clock %.2f GHz (dependent adds)\n", 1e-9 / best_cycle);
    for (int f = 0; f < FORMS; f++) {
        const double per_cycle = 8.0 * ITERS / (best[f] / best_cycle);
        if (f == LOOKUP_FORM)
            printf("%-8s %.2f lookups a cycle,    %5.1f multiply-adds a cycle\n", names[f], per_cycle,
                   64 * per_cycle);
        else
            printf("%-8s %.2f vpmaddubsw a cycle, %5.1f multiply-adds a cycle\n", names[f], per_cycle,
                   32 * per_cycle);
    }
    printf("int16 / widened: %.2fx; lookup / int16: %.2fx\n", best[2] / best[1],
           (64.0 / best[LOOKUP_FORM]) / (32.0 / best[1]));
    return 0;
}
#else
int main(void)
{
    printf("SKIP: x86-64 only\n");
    return 0;
}
#endif
