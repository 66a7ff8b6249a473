/* The packed GEMM of ternary weights against 6-bit activation codes on the
 * avx512vbmi path (table lookups, lib/packed/gemm_lut.c) against the
 * avx512vnni path (vpdpbusd, the core's 64 multiply-adds a cycle, as ONNX
 * Runtime's int8 GEMM), side by side on the same codes: qat_packed_gemm_i32,
 * no epilogue, weights laid out once as the packed model loader does
 * (qat_packed_matrix_from, then qat_packed_matrix_prepare for the path).
 * Each row: tokens x out x in, 1 thread, best of --reps, and the int32 sums
 * of both paths checked equal. x86-64 with AVX-512 VBMI and VNNI only.
 *
 * First it times the lookup's two instructions alone in registers (8
 * independent vpermi2b, vpdpbusd and pairs of them, no loads): a pair is
 * 192 multiply-adds, so its time is the ceiling of the lookup tiles on
 * this core, which the rows' GMAC/s are then given against (one core's
 * timing times --threads; on Zen 4 one instruction alone issues about once
 * a cycle, but a pair takes about 1.7 cycles).
 *
 * Usage: bench_ternary_lut [--reps N] [--threads N]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/rng.h"
#include "packed/packed.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

#define TRY(x)                                                                                                \
    do {                                                                                                      \
        if ((x) != QAT_OK) {                                                                                  \
            fprintf(stderr, "%s failed: %s\n", #x, qat_last_error());                                         \
            return 1;                                                                                         \
        }                                                                                                     \
    } while (0)

/* Nanoseconds per instruction (or per pair) of 8 independent chains
 * of `what` (0: vpermi2b, 1: vpdpbusd, 2: both, the lookup's pair),
 * best of 5 runs of 2^24 rounds. */
__attribute__((target("avx512f"))) static double instruction_ns(int what)
{
    enum { ROUNDS = 1 << 24 };
    double best = 1e30;
    for (int run = 0; run < 5; run++) {
        const double t0 = now_s();
        for (int i = 0; i < ROUNDS; i++) {
#define EIGHT(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define PERM(j) "vpermi2b %%zmm30, %%zmm29, %%zmm" #j "\n\t"
#define DOT(j) "vpdpbusd %%zmm30, %%zmm31, %%zmm1" #j "\n\t"
#define PAIR(j) "vpermi2b %%zmm30, %%zmm29, %%zmm" #j "\n\tvpdpbusd %%zmm" #j ", %%zmm31, %%zmm1" #j "\n\t"
            if (what == 0)
                __asm__ volatile(EIGHT(PERM)::: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7");
            else if (what == 1)
                __asm__ volatile(EIGHT(DOT)::: "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16",
                                 "xmm17");
            else
                __asm__ volatile(EIGHT(PAIR)::: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
                                 "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17");
        }
        const double dt = (now_s() - t0) * 1e9 / (8.0 * ROUNDS);
        best = dt < best ? dt : best;
    }
    return best;
}

/* Best seconds of reps calls of the GEMM on path isa, its sums in acc. */
static int time_path(qat_packed_isa isa, int threads, const qat_packed_acts *a, qat_packed_matrix *m, int reps,
                     int32_t *acc, double *best)
{
    qat_packed_kernel k;
    TRY(qat_packed_kernel_init(&k, isa, threads));
    TRY(qat_packed_matrix_prepare(m, isa));
    *best = 1e30;
    for (int r = 0; r < reps; r++) {
        const double t0 = now_s();
        TRY(qat_packed_gemm_i32(&k, a, m, acc, m->out));
        const double dt = now_s() - t0;
        *best = dt < *best ? dt : *best;
    }
    return 0;
}

static int run_shape(int64_t tokens, int64_t out, int64_t in, int reps, int threads, double ceiling_gmacs)
{
    qat_rng rng;
    qat_rng_seed(&rng, (uint64_t)(out * 31 + in));
    float *w = malloc((size_t)(out * in) * sizeof *w);
    int32_t *vnni = malloc((size_t)(tokens * out) * sizeof *vnni), *lut = malloc((size_t)(tokens * out) * sizeof *lut);
    if (!w || !vnni || !lut)
        return 1;
    for (int64_t i = 0; i < out * in; i++)
        w[i] = (float)((int)qat_rng_below(&rng, 3) - 1);
    const float gamma = 1.0f;
    qat_packed_weights pw;
    qat_packed_matrix m;
    qat_packed_acts a;
    TRY(qat_packed_pack_ternary(w, out, in, &gamma, 0, QAT_PACKED_W_TERNARY2, &pw));
    TRY(qat_packed_matrix_from(&pw, &m));
    TRY(qat_packed_acts_alloc(tokens, in, &a));
    a.bits = 6; /* BitNet 6-bit codes: -32..31 */
    for (int64_t t = 0; t < tokens; t++) {
        a.row_sum[t] = 0;
        a.scale[t] = 1.0f;
        for (int64_t i = 0; i < in; i++) {
            const int8_t v = (int8_t)((int)qat_rng_below(&rng, 64) - 32);
            a.codes[t * a.stride + i] = v;
            a.row_sum[t] += v;
        }
    }
    double t_vnni = 0, t_lut = 0;
    if (time_path(QAT_PACKED_ISA_AVX512VNNI, threads, &a, &m, reps, vnni, &t_vnni) ||
        time_path(QAT_PACKED_ISA_AVX512VBMI, threads, &a, &m, reps, lut, &t_lut))
        return 1;
    if (memcmp(vnni, lut, (size_t)(tokens * out) * sizeof *lut) != 0) {
        fprintf(stderr, "the two paths' sums differ at %lld x %lld x %lld\n", (long long)tokens, (long long)out,
                (long long)in);
        return 1;
    }
    const double macs = (double)tokens * (double)out * (double)in;
    printf("%6lld x %4lld x %4lld | %8.3f ms %4.0f GMAC/s | %8.3f ms %4.0f GMAC/s (%3.0f %%) | %.2fx\n",
           (long long)tokens, (long long)out, (long long)in, t_vnni * 1e3, macs / t_vnni * 1e-9, t_lut * 1e3,
           macs / t_lut * 1e-9, 100.0 * macs / t_lut * 1e-9 / ceiling_gmacs, t_vnni / t_lut);
    qat_packed_acts_free(&a);
    qat_packed_matrix_free(&m);
    qat_packed_weights_free(&pw);
    free(w), free(vnni), free(lut);
    return 0;
}

int main(int argc, char **argv)
{
    int reps = 10, threads = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--reps N] [--threads N]\n", argv[0]);
            return 2;
        }
    }
    if (!qat_packed_isa_available(QAT_PACKED_ISA_AVX512VBMI)) {
        printf("skipped: %s\n", qat_packed_isa_missing(QAT_PACKED_ISA_AVX512VBMI));
        return 0;
    }
    const double perm = instruction_ns(0), dot = instruction_ns(1), pair = instruction_ns(2);
    const double ceiling = 192.0 / pair * threads;
    printf("in registers, ns per instruction: vpermi2b %.3f, vpdpbusd %.3f, the pair %.3f: a ceiling of %.0f GMAC/s"
           " on %d core(s)\n",
           perm, dot, pair, ceiling, threads);
    printf("ternary weights x 6-bit codes, %d thread(s), best of %d, qat_packed_gemm_i32\n", threads, reps);
    printf("tokens x  out x   in | avx512vnni (vpdpbusd)    | avx512vbmi (lookups, of the ceiling) | speed-up\n");
    static const int64_t shapes[][3] = {{128, 768, 768}, {128, 3072, 768}, {128, 768, 3072}, {1024, 768, 768},
                                         /* MiniLM's */ {128, 384, 384}, {128, 1536, 384}, {128, 384, 1536}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        if (run_shape(shapes[s][0], shapes[s][1], shapes[s][2], reps, threads, ceiling))
            return 1;
    return 0;
}
