/* Runtime CPU dispatch. The choice lives in the kernel handle, made when
 * the handle is initialised (reading QAT_ISA then, never caching it in a
 * global), so tests can run every path in one process. */
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__linux__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "core/error.h"
#include "packed/packed_internal.h"

#if defined(QAT_PACKED_ARM64) && defined(__linux__)
#include <sys/auxv.h>
#endif

const char *qat_packed_isa_name(qat_packed_isa isa)
{
    switch (isa) {
    case QAT_PACKED_ISA_AUTO:
        return "auto";
    case QAT_PACKED_ISA_SCALAR:
        return "scalar";
    case QAT_PACKED_ISA_AVX2:
        return "avx2";
    case QAT_PACKED_ISA_AVX512VNNI:
        return "avx512vnni";
    case QAT_PACKED_ISA_ONEDNN:
        return "onednn";
    case QAT_PACKED_ISA_NEON:
        return "neon";
    case QAT_PACKED_ISA_AMX:
        return "amx";
    case QAT_PACKED_ISA_I8MM:
        return "i8mm";
    case QAT_PACKED_ISA_AVX512VBMI:
        return "avx512vbmi";
    }
    return "unknown";
}

const char *qat_packed_isa_missing(qat_packed_isa isa)
{
    switch (isa) {
    case QAT_PACKED_ISA_AUTO:
    case QAT_PACKED_ISA_SCALAR:
        return "";
#if defined(QAT_PACKED_X86)
    /* __builtin_cpu_supports also checks that the OS saves the wider
     * registers (XGETBV), so a listed feature is a usable one. */
    case QAT_PACKED_ISA_AVX2:
        return __builtin_cpu_supports("avx2") ? "" : "this CPU lacks AVX2";
    case QAT_PACKED_ISA_AVX512VNNI:
        if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw"))
            return "this CPU lacks AVX-512 F/BW";
        return __builtin_cpu_supports("avx512vnni") ? "" : "this CPU lacks AVX-512 VNNI";
    case QAT_PACKED_ISA_AVX512VBMI:
        /* What it does not look up runs as avx512vnni. */
        if (!qat_packed_isa_available(QAT_PACKED_ISA_AVX512VNNI))
            return qat_packed_isa_missing(QAT_PACKED_ISA_AVX512VNNI);
        return __builtin_cpu_supports("avx512vbmi") ? "" : "this CPU lacks AVX-512 VBMI";
#else
    case QAT_PACKED_ISA_AVX2:
    case QAT_PACKED_ISA_AVX512VNNI:
    case QAT_PACKED_ISA_AVX512VBMI:
        return "this build has no x86-64 SIMD code";
#endif
    case QAT_PACKED_ISA_ONEDNN:
#if defined(QAT_HAVE_ONEDNN)
        /* Without VNNI or AMX, oneDNN's int8 kernels sum u8 x s8 pairs with
         * vpmaddubsw, which saturates int16 for 8-bit codes: not exact. */
        if (!qat_packed_isa_available(QAT_PACKED_ISA_AVX512VNNI) && !qat_packed_cpu_has_amx())
            return "oneDNN's int8 kernels are exact only with AVX-512 VNNI or AMX, which this CPU lacks";
        return "";
#else
        return "this build has no oneDNN (-Donednn)";
#endif
    case QAT_PACKED_ISA_NEON:
    case QAT_PACKED_ISA_I8MM:
#if defined(QAT_PACKED_ARM64) && defined(__linux__)
        /* HWCAP_ASIMDDP (bit 20 of AT_HWCAP): the Armv8.2 dot product;
         * HWCAP2_I8MM (bit 13 of AT_HWCAP2): the Armv8.6 int8 matrix multiply. */
        if (isa == QAT_PACKED_ISA_NEON)
            return (getauxval(AT_HWCAP) & (1ul << 20)) ? "" : "this CPU lacks the Armv8.2 dot product (asimddp)";
        return (getauxval(AT_HWCAP2) & (1ul << 13)) ? "" : "this CPU lacks the int8 matrix multiply (i8mm)";
#else
        return "this build is not for ARM64 Linux with GCC";
#endif
    case QAT_PACKED_ISA_AMX:
#if defined(QAT_PACKED_X86)
        /* Its epilogue is AVX-512 code (epilogue.c). */
        if (!qat_packed_cpu_has_amx())
            return qat_packed_amx_missing();
        if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw"))
            return "this CPU lacks AVX-512 F/BW, which the amx path's epilogue uses";
        return "";
#else
        return "this build has no x86-64 SIMD code";
#endif
    }
    return "unknown ISA";
}

int qat_packed_isa_available(qat_packed_isa isa)
{
    return qat_packed_isa_missing(isa)[0] == '\0';
}

const char *qat_packed_amx_missing(void)
{
#if defined(__x86_64__) && defined(__linux__)
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx))
        return "this CPU lacks AMX-TILE (no CPUID leaf 7)";
    if (!(edx & (1u << 24)))
        return "this CPU lacks AMX-TILE (CPUID.7.0:EDX bit 24)";
    if (!(edx & (1u << 25)))
        return "this CPU lacks AMX-INT8 (CPUID.7.0:EDX bit 25)";
    /* The OS must save the tile configuration and data (XCR0 bits 17 and
     * 18), which XGETBV reads once the OS has enabled it (OSXSAVE). */
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & (1u << 27)))
        return "the OS does not enable XSAVE (CPUID.1:ECX.OSXSAVE), so no AMX tile state";
    unsigned xcr0_lo, xcr0_hi;
    __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    (void)xcr0_hi;
    const unsigned tilecfg = 1u << 17, tiledata = 1u << 18;
    if ((xcr0_lo & (tilecfg | tiledata)) != (tilecfg | tiledata))
        return "the OS does not enable the AMX tile state (XCR0 bits 17, 18)";
    /* Linux hands out the 8 KiB tile data state only on request (the first
     * tile instruction faults otherwise); the grant is per process and
     * idempotent, and oneDNN asks again itself. */
    const long arch_req_xcomp_perm = 0x1023, xfeature_xtiledata = 18;
    if (syscall(SYS_arch_prctl, arch_req_xcomp_perm, xfeature_xtiledata) != 0)
        return "the kernel refused the AMX tile state (arch_prctl(ARCH_REQ_XCOMP_PERM))";
    return "";
#else
    return "this build is not for x86-64 Linux, where AMX is detected";
#endif
}

int qat_packed_cpu_has_amx(void)
{
    return qat_packed_amx_missing()[0] == '\0';
}

void qat_packed_cpu_probe(qat_packed_cpu *cpu)
{
    cpu->available = 0;
    for (int i = QAT_PACKED_ISA_SCALAR; i < QAT_PACKED_ISA_COUNT; i++)
        if (qat_packed_isa_available((qat_packed_isa)i))
            cpu->available |= 1u << i;
}

static int offers(const qat_packed_cpu *cpu, qat_packed_isa isa)
{
    return (cpu->available >> isa) & 1u;
}

/* On an AMX machine amx is the fastest path, or tied, at every shape, code
 * width and token count bench/packed_gemm measures: 2.6-3.6x avx512vnni
 * and 1.16-1.49x onednn, whose wrapper builds oneDNN's objects per call and
 * runs on oneDNN's threads (docs/benchmarks.md, "Packed GEMM on AMX-INT8"). Elsewhere vpdpbusd does a 4-term
 * u8 x s8 dot product per lane in one instruction where AVX2 needs
 * maddubs + madd (or two madds for 8-bit codes) on half as many lanes;
 * bench/packed_gemm measures avx512vnni ahead of avx2 on every shape and
 * width (docs/benchmarks.md, "Packed GEMM micro-kernels"). avx512vbmi is
 * avx512vnni but for ternary weights against codes of at most 6 bits,
 * which it looks up (gemm_lut.c), 1.17-1.25x faster for a BERT-base
 * E6W1.58A6 forward on Zen 4 (docs/benchmarks.md); so never slower, at the
 * cost of a second weight layout (a byte per 3 ternary weights). onednn is never
 * picked: without AMX it runs at the VNNI kernel's speed. On ARM64, i8mm
 * before neon by the instructions' work, not by a measurement (no ARM64
 * machine has run these kernels outside qemu, which says nothing of
 * speed): one smmla does 32 multiply-adds where sdot does 16, on the same
 * 128-bit registers. docs/packed-kernels.md says so too. */
static qat_packed_isa best_on(const qat_packed_cpu *cpu)
{
    static const qat_packed_isa fastest_first[] = {QAT_PACKED_ISA_AMX,        QAT_PACKED_ISA_I8MM,
                                                   QAT_PACKED_ISA_NEON,       QAT_PACKED_ISA_AVX512VBMI,
                                                   QAT_PACKED_ISA_AVX512VNNI, QAT_PACKED_ISA_AVX2};
    for (size_t i = 0; i < sizeof fastest_first / sizeof fastest_first[0]; i++)
        if (offers(cpu, fastest_first[i]))
            return fastest_first[i];
    return QAT_PACKED_ISA_SCALAR;
}

qat_packed_isa qat_packed_isa_best(void)
{
    qat_packed_cpu cpu;
    qat_packed_cpu_probe(&cpu);
    return best_on(&cpu);
}

static void list_available(const qat_packed_cpu *cpu, char *buf, size_t cap)
{
    buf[0] = '\0';
    for (int i = QAT_PACKED_ISA_SCALAR; i < QAT_PACKED_ISA_COUNT; i++) {
        if (!offers(cpu, (qat_packed_isa)i))
            continue;
        size_t n = strlen(buf);
        if (n + 16 < cap)
            strcat(strcat(buf, n ? ", " : ""), qat_packed_isa_name((qat_packed_isa)i));
    }
}

static qat_status choose_on(const qat_packed_cpu *cpu, qat_packed_isa *isa)
{
    QAT_CHECK_ARG(isa && *isa >= QAT_PACKED_ISA_AUTO && *isa < QAT_PACKED_ISA_COUNT, "packed: unknown isa %d",
                  isa ? (int)*isa : -1);
    const char *from = "requested ISA ";
    qat_packed_isa chosen = *isa;
    if (chosen == QAT_PACKED_ISA_AUTO) {
        const char *env = getenv("QAT_ISA");
        if (!env || !*env || strcmp(env, "auto") == 0) {
            chosen = best_on(cpu);
        } else {
            from = "QAT_ISA=";
            for (int i = QAT_PACKED_ISA_SCALAR; i < QAT_PACKED_ISA_COUNT; i++)
                if (strcmp(env, qat_packed_isa_name((qat_packed_isa)i)) == 0)
                    chosen = (qat_packed_isa)i;
            if (chosen == QAT_PACKED_ISA_AUTO)
                return qat_fail(QAT_ERR_INVALID_ARGUMENT,
                                "packed: QAT_ISA='%.64s' is not one of scalar, avx2, avx512vnni, onednn, neon, amx, i8mm, avx512vbmi, auto",
                                env);
        }
    }
    if (!offers(cpu, chosen)) {
        char avail[96];
        list_available(cpu, avail, sizeof avail);
        return qat_fail(QAT_ERR_UNSUPPORTED, "packed: %s%s is unavailable: %s (available: %s)", from,
                        qat_packed_isa_name(chosen), qat_packed_isa_missing(chosen), avail);
    }
    *isa = chosen;
    return QAT_OK;
}

qat_status qat_packed_isa_choose(qat_packed_isa *isa)
{
    qat_packed_cpu cpu;
    qat_packed_cpu_probe(&cpu);
    return choose_on(&cpu, isa);
}

qat_status qat_packed_kernel_init_on(qat_packed_kernel *k, const qat_packed_cpu *cpu, qat_packed_isa isa,
                                     int threads)
{
    QAT_CHECK_ARG(k && cpu, "packed: kernel init: NULL argument");
    QAT_CHECK_ARG(threads >= 1 && threads <= 1024, "packed: kernel init: threads = %d, expected 1..1024",
                  threads);
    QAT_CHECK_ARG(isa >= QAT_PACKED_ISA_AUTO && isa < QAT_PACKED_ISA_COUNT, "packed: kernel init: unknown isa %d",
                  (int)isa);
    QAT_TRY(choose_on(cpu, &isa));
    k->isa = isa;
    k->threads = threads;
    k->pool = NULL;
    return QAT_OK;
}

qat_status qat_packed_kernel_init(qat_packed_kernel *k, qat_packed_isa isa, int threads)
{
    qat_packed_cpu cpu;
    qat_packed_cpu_probe(&cpu);
    return qat_packed_kernel_init_on(k, &cpu, isa, threads);
}

qat_packed_path qat_packed_path_for(qat_packed_isa isa)
{
    qat_packed_path p = {.tile = qat_packed_tile_scalar, .tile_tokens = QAT_PACKED_TILE_TOKENS,
                         .epilogue = qat_packed_epilogue_scalar};
    switch (isa) {
#if defined(QAT_PACKED_X86)
    case QAT_PACKED_ISA_AVX2:
        p.tile = qat_packed_tile_avx2;
        p.tile_tokens = QAT_PACKED_TILE_TOKENS_MAX;
        p.epilogue = qat_packed_epilogue_avx2;
        p.finishes = 1;
        break;
    case QAT_PACKED_ISA_AVX512VNNI:
    case QAT_PACKED_ISA_AVX512VBMI: /* its lookups run apart (gemm.c); the rest as avx512vnni */
        p.tile = qat_packed_tile_avx512vnni;
        p.tile_tokens = QAT_PACKED_TILE_TOKENS_MAX;
        p.epilogue = qat_packed_epilogue_avx512;
        p.finishes = 1;
        break;
    case QAT_PACKED_ISA_AMX:
        p.tile = qat_packed_tile_amx;
        p.tile_tokens = QAT_PACKED_TILE_TOKENS_MAX;
        p.epilogue = qat_packed_epilogue_avx512;
        p.begin = qat_packed_amx_begin;
        p.end = qat_packed_amx_end;
        break;
#endif
#if defined(QAT_PACKED_ARM64)
    case QAT_PACKED_ISA_NEON:
        p.tile = qat_packed_tile_neon;
        break;
    case QAT_PACKED_ISA_I8MM:
        p.tile = qat_packed_tile_i8mm;
        break;
#endif
    default:
        break;
    }
    return p;
}
