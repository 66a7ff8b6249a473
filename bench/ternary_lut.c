/* A route past the vpdpbusd ceiling for ternary weights and 6-bit
 * activations, measured against the packed avx512vnni GEMM on the same
 * codes (issue #20: on Zen 4 that GEMM runs at the core's 64 multiply-adds
 * a cycle, as ONNX Runtime's int8 GEMM does, which caps E6W1.58A6 at 1x128).
 *
 * The lookup form (not in the library yet): a row's ternary weights go in
 * threes, each triple a code c in 0..26 (base 3); one table per token and
 * 12 inputs holds, for each of the 4 triples (a slot), the 27 sums
 * sum_j d_j a_j over the triple's activations: 4 x 32 bytes, exact in int8
 * while |a| <= 42 (6-bit codes: |a| <= 32). One vpermi2b looks up 64 bytes,
 * 16 rows x 4 slots (byte 4 r + s holds s << 5 | c), and one vpdpbusd with
 * ones adds each row's 4 bytes into its int32 sum: 192 multiply-adds in two
 * instructions, where vpdpbusd alone does 64 in one.
 *
 * Each shape: tokens x out x in, 1 thread, best of --reps; the packed
 * avx512vnni GEMM (qat_packed_gemm_i32 on the model loader's layout, no
 * epilogue), the lookup tables' build (once per token and input, shared by
 * every row), the lookup kernel with two tile shapes (16-row panels x
 * tokens in registers). Every lookup result is checked equal to the
 * packed GEMM's int32 sums. x86-64 with AVX-512 VBMI and VNNI only.
 *
 * Usage: bench_ternary_lut [--reps N]
 */
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/rng.h"
#include "packed/packed.h"

#define LUT_TARGET __attribute__((target("avx512f,avx512bw,avx512vnni,avx512vbmi")))
#define INLINE inline __attribute__((always_inline))

enum { PANEL = 16, GROUP_K = 12, TABLE_BYTES = 128, ACT_MAX = 31 };

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The lookup layout of q [out][in] (signed ternary codes): per panel of 16
 * rows and group of 12 inputs, 64 bytes, byte 4 r + s = s << 5 | c with c
 * the triple's base-3 code of q + 1; inputs past `in` are q = 0. */
static void lookup_indices(const int8_t *q, int64_t out, int64_t in, int64_t groups, uint8_t *idx)
{
    for (int64_t p = 0; p < out / PANEL; p++)
        for (int64_t g = 0; g < groups; g++)
            for (int r = 0; r < PANEL; r++)
                for (int s = 0; s < 4; s++) {
                    int c = 0;
                    for (int j = 2; j >= 0; j--) {
                        const int64_t k = g * GROUP_K + 3 * s + j;
                        c = 3 * c + (k < in ? q[(p * PANEL + r) * in + k] : 0) + 1;
                    }
                    idx[(p * groups + g) * 64 + 4 * r + s] = (uint8_t)(s << 5 | c);
                }
}

/* Digit j (-1, 0, 1) of code c. */
static int digit(int c, int j)
{
    for (int i = 0; i < j; i++)
        c /= 3;
    return c % 3 - 1;
}

/* The constant operands of the table build: which activation byte each of
 * a half-table's 64 positions takes for digit j, and where that digit is
 * +1 or -1 (the same masks for both halves: position p is code p % 32). */
typedef struct table_consts {
    __m512i pick[2][3];
    __mmask64 plus[3], minus[3];
} table_consts;

LUT_TARGET static void table_consts_init(table_consts *tc)
{
    for (int j = 0; j < 3; j++) {
        tc->plus[j] = tc->minus[j] = 0;
        for (int p = 0; p < 64; p++) {
            const int c = p % 32;
            if (c < 27 && digit(c, j) > 0)
                tc->plus[j] |= 1ull << p;
            if (c < 27 && digit(c, j) < 0)
                tc->minus[j] |= 1ull << p;
        }
        for (int h = 0; h < 2; h++) {
            _Alignas(64) int8_t pick[64];
            for (int p = 0; p < 64; p++)
                pick[p] = (int8_t)(3 * (2 * h + p / 32) + j);
            tc->pick[h][j] = _mm512_load_si512((const void *)pick);
        }
    }
}

/* The tables of `tokens` tokens over `groups` groups of 12 inputs (acts:
 * rows of lda bytes, zero past in, readable 16 bytes past each group). */
LUT_TARGET static void build_tables(const table_consts *tc, const int8_t *acts, int64_t lda, int64_t tokens,
                                    int64_t groups, int8_t *tables)
{
    for (int64_t t = 0; t < tokens; t++)
        for (int64_t g = 0; g < groups; g++) {
            const __m512i a = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(acts + t * lda + g * GROUP_K)));
            int8_t *dst = tables + (t * groups + g) * TABLE_BYTES;
            for (int h = 0; h < 2; h++) {
                __m512i v = _mm512_setzero_si512();
                for (int j = 0; j < 3; j++) {
                    const __m512i aj = _mm512_permutexvar_epi8(tc->pick[h][j], a);
                    v = _mm512_mask_add_epi8(v, tc->plus[j], v, aj);
                    v = _mm512_mask_sub_epi8(v, tc->minus[j], v, aj);
                }
                _mm512_store_si512((void *)(dst + 64 * h), v);
            }
        }
}

/* NB panels x NT tokens: acc[t][out] for tokens [t0, t0 + NT) and panels
 * [p0, p0 + NB), over every group. */
LUT_TARGET static INLINE void lookup_tile(const uint8_t *idx, const int8_t *tables, int64_t groups, int64_t t0,
                                          int64_t p0, int32_t *acc, int64_t ldacc, const int NB, const int NT)
{
    const __m512i ones = _mm512_set1_epi8(1);
    __m512i sum[8][4];
    for (int t = 0; t < NT; t++)
        for (int b = 0; b < NB; b++)
            sum[t][b] = _mm512_setzero_si512();
    for (int64_t g = 0; g < groups; g++)
        for (int t = 0; t < NT; t++) {
            const int8_t *tab = tables + ((t0 + t) * groups + g) * TABLE_BYTES;
            const __m512i lo = _mm512_load_si512((const void *)tab), hi = _mm512_load_si512((const void *)(tab + 64));
            for (int b = 0; b < NB; b++) {
                const __m512i i = _mm512_load_si512((const void *)(idx + ((p0 + b) * groups + g) * 64));
                sum[t][b] = _mm512_dpbusd_epi32(sum[t][b], ones, _mm512_permutex2var_epi8(lo, i, hi));
            }
        }
    for (int t = 0; t < NT; t++)
        for (int b = 0; b < NB; b++)
            _mm512_storeu_si512((void *)(acc + (t0 + t) * ldacc + (p0 + b) * PANEL), sum[t][b]);
}

/* The whole product with NB x NT tiles (out a multiple of 16 NB, tokens of NT). */
LUT_TARGET static void lookup_gemm(const uint8_t *idx, const int8_t *tables, int64_t groups, int64_t tokens,
                                   int64_t out, int32_t *acc, const int shape)
{
    const int NB = shape == 0 ? 2 : 4, NT = shape == 0 ? 8 : 6;
    for (int64_t p0 = 0; p0 < out / PANEL; p0 += NB)
        for (int64_t t0 = 0; t0 + NT <= tokens; t0 += NT) {
            if (shape == 0)
                lookup_tile(idx, tables, groups, t0, p0, acc, out, 2, 8);
            else
                lookup_tile(idx, tables, groups, t0, p0, acc, out, 4, 6);
        }
    (void)NB;
}

#define TRY(x)                                                                                                \
    do {                                                                                                      \
        if ((x) != QAT_OK) {                                                                                  \
            fprintf(stderr, "%s failed: %s\n", #x, qat_last_error());                                         \
            return 1;                                                                                         \
        }                                                                                                     \
    } while (0)

static int run_shape(int64_t tokens, int64_t out, int64_t in, int reps, const table_consts *tc)
{
    qat_rng rng;
    qat_rng_seed(&rng, (uint64_t)(out * 31 + in));
    float *w = malloc((size_t)(out * in) * sizeof *w);
    int8_t *q = malloc((size_t)(out * in));
    const int64_t groups = (in + GROUP_K - 1) / GROUP_K, lda = groups * GROUP_K + 16;
    int8_t *acts = calloc((size_t)(tokens * lda), 1);
    uint8_t *idx = aligned_alloc(64, (size_t)(out / PANEL * groups * 64));
    int8_t *tables = aligned_alloc(64, (size_t)(tokens * groups * TABLE_BYTES));
    int32_t *ref = malloc((size_t)(tokens * out) * sizeof *ref), *got = malloc((size_t)(tokens * out) * sizeof *got);
    if (!w || !q || !acts || !idx || !tables || !ref || !got)
        return 1;
    for (int64_t i = 0; i < out * in; i++)
        w[i] = (float)((int)qat_rng_below(&rng, 3) - 1);
    const float gamma = 1.0f;
    qat_packed_weights pw;
    qat_packed_matrix m;
    qat_packed_acts a;
    qat_packed_kernel k;
    TRY(qat_packed_pack_ternary(w, out, in, &gamma, 0, QAT_PACKED_W_TERNARY2, &pw));
    TRY(qat_packed_unpack_codes(&pw, 0, out, q));
    TRY(qat_packed_matrix_from(&pw, &m));
    TRY(qat_packed_acts_alloc(tokens, in, &a));
    a.bits = 6;
    for (int64_t t = 0; t < tokens; t++) {
        a.row_sum[t] = 0;
        for (int64_t i = 0; i < in; i++) {
            const int8_t v = (int8_t)((int)qat_rng_below(&rng, 2 * ACT_MAX + 1) - ACT_MAX);
            a.codes[t * a.stride + i] = v;
            acts[t * lda + i] = v;
            a.row_sum[t] += v;
        }
    }
    TRY(qat_packed_kernel_init(&k, QAT_PACKED_ISA_AVX512VNNI, 1));
    lookup_indices(q, out, in, groups, idx);

    double best_vnni = 1e30, best_build = 1e30, best_lut[2] = {1e30, 1e30};
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        TRY(qat_packed_gemm_i32(&k, &a, &m, ref, out));
        const double t1 = now_s();
        build_tables(tc, acts, lda, tokens, groups, tables);
        const double t2 = now_s();
        best_vnni = t1 - t0 < best_vnni ? t1 - t0 : best_vnni;
        best_build = t2 - t1 < best_build ? t2 - t1 : best_build;
        for (int s = 0; s < 2; s++) {
            memset(got, 0, (size_t)(tokens * out) * sizeof *got);
            t0 = now_s();
            lookup_gemm(idx, tables, groups, tokens, out, got, s);
            const double dt = now_s() - t0;
            best_lut[s] = dt < best_lut[s] ? dt : best_lut[s];
            if (memcmp(got, ref, (size_t)(tokens * out) * sizeof *got) != 0) {
                fprintf(stderr, "lookup tile %d: sums differ from the packed GEMM's at %lldx%lldx%lld\n", s,
                        (long long)tokens, (long long)out, (long long)in);
                return 1;
            }
        }
    }
    const double macs = (double)tokens * (double)out * (double)in;
    printf("%5lld x %4lld x %4lld | %8.3f ms (%3.0f GMAC/s) | %7.3f ms | ", (long long)tokens, (long long)out,
           (long long)in, best_vnni * 1e3, macs / best_vnni * 1e-9, best_build * 1e3);
    for (int s = 0; s < 2; s++)
        printf("%8.3f ms (%3.0f GMAC/s) %.2fx | ", best_lut[s] * 1e3, macs / best_lut[s] * 1e-9,
               best_vnni / (best_lut[s] + best_build));
    printf("\n");
    qat_packed_acts_free(&a);
    qat_packed_matrix_free(&m);
    qat_packed_weights_free(&pw);
    free(w), free(q), free(acts), free(idx), free(tables), free(ref), free(got);
    return 0;
}

int main(int argc, char **argv)
{
    int reps = 10;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            reps = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--reps N]\n", argv[0]);
            return 2;
        }
    }
    if (!__builtin_cpu_supports("avx512vbmi") || !__builtin_cpu_supports("avx512vnni")) {
        printf("skipped: this CPU lacks AVX-512 VBMI or VNNI\n");
        return 0;
    }
    table_consts tc;
    table_consts_init(&tc);
    printf("1 thread, best of %d; x: the packed GEMM's time over (tables + lookup)\n", reps);
    printf("tokens x  out x   in | packed avx512vnni GEMM  | tables    | lookup 32 rows x 8 tokens         | "
           "lookup 64 rows x 6 tokens\n");
    static const int64_t shapes[][3] = {{120, 768, 768}, {120, 3072, 768}, {120, 768, 3072}, {1008, 768, 768}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        if (run_shape(shapes[s][0], shapes[s][1], shapes[s][2], reps, &tc))
            return 1;
    return 0;
}
