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
 *
 * Cycles come from a chain of dependent 64-bit adds (one cycle each on
 * every x86 core of the last decade), so the figures do not depend on the
 * clock; the best of 5 runs each. x86-64 with AVX2 only.
 *
 * Usage: bench_maddubs_ceiling
 */
#include <stdio.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

#if defined(__x86_64__)
#include <cpuid.h>

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
#define CLOBBERS "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14"

/* Seconds for ITERS x 8 multiplies of each form. */
__attribute__((target("avx2"))) static double run_form(int form)
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
    else
        __asm__ volatile("1:\n\t" WIDENED(3, 7) WIDENED(4, 8) WIDENED(5, 9) WIDENED(6, 10) WIDENED(3, 11)
                             WIDENED(4, 12) WIDENED(5, 13) WIDENED(6, 14) "dec %0\n\tjnz 1b"
                         : "+r"(n) : : CLOBBERS);
    return now_s() - t0;
}

int main(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & (1u << 5))) {
        printf("SKIP: this CPU lacks AVX2 (CPUID.7.0:EBX bit 5)\n");
        return 0;
    }
    static const char *names[] = {"raw", "int16", "widened"};
    double best_cycle = 1e9, best[3] = {1e9, 1e9, 1e9};
    for (int rep = 0; rep < 5; rep++) {
        const double c1 = cycle_s();
        best_cycle = c1 < best_cycle ? c1 : best_cycle;
        for (int f = 0; f < 3; f++) {
            const double t = run_form(f);
            best[f] = t < best[f] ? t : best[f];
        }
    }
    printf("clock %.2f GHz (dependent adds)\n", 1e-9 / best_cycle);
    for (int f = 0; f < 3; f++) {
        const double per_cycle = 8.0 * ITERS / (best[f] / best_cycle);
        printf("%-8s %.2f vpmaddubsw a cycle, %5.1f multiply-adds a cycle\n", names[f], per_cycle, 32 * per_cycle);
    }
    printf("int16 / widened: %.2fx\n", best[2] / best[1]);
    return 0;
}
#else
int main(void)
{
    printf("SKIP: x86-64 only\n");
    return 0;
}
#endif
