/* The ARM64 kernels, sdot (neon) and smmla (i8mm), against the scalar
 * reference and a brute-force sum over the layout's codes, bit for bit:
 * every LSQ width 2..8 and ternary, activations of 2, 5 and 8 bits, odd
 * shapes (several panel pairs and token tiles, short ones, odd token
 * counts), and worst-case codes at in = 4099. Built for aarch64 and run
 * under qemu-user by neon_qemu.sh (this file links only lib/packed and
 * lib/core/error.c, no test framework) on CPUs with both, with the dot
 * product only, and with neither: a path the CPU lacks must be refused
 * with a reason, and auto must pick the best one it has (i8mm, then neon,
 * then scalar). Also the float GEMM's neon block, bit for bit against its
 * documented order. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "packed/packed_internal.h"

static uint32_t seed = 12345;
static uint32_t rnd(void)
{
    seed = seed * 1664525u + 1013904223u;
    return seed >> 8;
}

/* All tiles of a T x out GEMM with one kernel, accumulators into out. */
static void tiles(qat_packed_tile_fn f, const qat_packed_matrix *m, const int8_t *a, int64_t lda, int T,
                  const int32_t *rsum, int amax, int32_t *out)
{
    int32_t acc[QAT_PACKED_TILE_TOKENS * QAT_PACKED_TILE_ROWS];
    for (int64_t p = 0; p < m->panels; p += 2)
        for (int t0 = 0; t0 < T; t0 += QAT_PACKED_TILE_TOKENS) {
            qat_packed_tile t = {.m = m, .panel = p, .acts = a + t0 * lda, .lda = lda,
                                 .tokens = T - t0 < QAT_PACKED_TILE_TOKENS ? T - t0 : QAT_PACKED_TILE_TOKENS,
                                 .row_sum = rsum + t0, .amax = amax, .acc = acc};
            f(&t);
            for (int j = 0; j < t.tokens; j++)
                for (int r = 0; r < QAT_PACKED_TILE_ROWS; r++)
                    if (p * QAT_PACKED_PANEL + r < m->out)
                        out[(t0 + j) * m->out + p * QAT_PACKED_PANEL + r] = acc[j * QAT_PACKED_TILE_ROWS + r];
        }
}

/* Every case of path `isa` against scalar and the brute-force sum; the
 * number of mismatches. */
static int check_path(qat_packed_isa isa, int *cases)
{
    int bad = 0;
    const int64_t shapes[][3] = {{50, 200, 13}, {33, 64, 9}, {70, 100, 19}, {5, 4099, 3}, {1, 1, 1}, {21, 130, 6}}; /* out, in, T */
    for (int s = 0; s < (int)(sizeof shapes / sizeof shapes[0]); s++)
        for (int bits = 2; bits <= 8; bits++)
            for (int tern = 0; tern < 2 && !(tern && bits != 2); tern++)
                for (int abits = 2; abits <= 8; abits += 3) {
                    const int64_t O = shapes[s][0], I = shapes[s][1];
                    const int T = (int)shapes[s][2], extreme = s == 3, amax = 1 << (abits - 1);
                    float *w = malloc(sizeof(float) * (size_t)(O * I));
                    for (int64_t i = 0; i < O * I; i++)
                        w[i] = extreme ? ((i % 3) ? 1e9f : -1e9f) : (float)((int)(rnd() % 2001) - 1000) / 100.0f;
                    qat_packed_weights pw;
                    float gamma = 0.3f, step = 1.0f / (float)(1 << (bits - 1));
                    qat_status st = tern ? qat_packed_pack_ternary(w, O, I, &gamma, 0, QAT_PACKED_W_TERNARY1P6, &pw)
                                         : qat_packed_pack_lsq(w, O, I, bits, &step, 0, &pw);
                    qat_packed_matrix m;
                    if (st == QAT_OK)
                        st = qat_packed_matrix_from(&pw, &m);
                    if (st != QAT_OK) {
                        printf("setup failed: %s\n", qat_last_error());
                        return 1;
                    }
                    const int64_t lda = m.kpad;
                    int8_t *a = calloc((size_t)(T * lda), 1);
                    int32_t *rsum = calloc((size_t)T, sizeof *rsum);
                    int32_t *ref = malloc(sizeof *ref * (size_t)(T * O)), *got = malloc(sizeof *got * (size_t)(T * O));
                    for (int t = 0; t < T; t++)
                        for (int64_t i = 0; i < I; i++) {
                            int v = (int)(rnd() % (uint32_t)(2 * amax)) - amax;
                            if (extreme)
                                v = t == 0 ? -amax : t == 1 ? amax - 1 : (i & 1) ? amax - 1 : -amax;
                            a[t * lda + i] = (int8_t)v;
                            rsum[t] += v;
                        }
                    tiles(qat_packed_tile_scalar, &m, a, lda, T, rsum, amax, ref);
                    for (int t = 0; t < T; t++)
                        for (int64_t o = 0; o < O; o++) {
                            int64_t x = 0;
                            for (int64_t i = 0; i < I; i++)
                                x += ((int)qat_packed_matrix_code(&m, o, i) - m.offset) * a[t * lda + i];
                            bad += x != ref[t * O + o];
                        }
                    tiles(qat_packed_path_for(isa).tile, &m, a, lda, T, rsum, amax, got);
                    if (memcmp(ref, got, sizeof *ref * (size_t)(T * O)) != 0) {
                        bad++;
                        printf("DIFF %s: [%lld x %lld] T=%d W%d%s A%d\n", qat_packed_isa_name(isa), (long long)O,
                               (long long)I, T, bits, tern ? " ternary" : "", abits);
                    }
                    (*cases)++;
                    free(w), free(a), free(rsum), free(ref), free(got);
                    qat_packed_matrix_free(&m);
                    qat_packed_weights_free(&pw);
                }
    return bad;
}

/* The float GEMM's neon block (float_gemm_neon.c) against the documented
 * order (float_gemm.c), bit for bit, written out here: odd lengths (short
 * and partial vectors), partial register blocks, row strides wider than
 * the row, values over six decades. The number of mismatches. */
static int check_float_gemm(int *cases)
{
    int bad = 0;
    const int64_t shapes[][3] = {{1, 1, 1}, {2, 7, 3}, {3, 8, 4}, {4, 9, 5}, {7, 31, 9}, {13, 64, 33}, {10, 769, 6}};
    for (int s = 0; s < (int)(sizeof shapes / sizeof shapes[0]); s++) {
        const int64_t R = shapes[s][0], K = shapes[s][1], O = shapes[s][2], ldx = K + 3, ldw = K + 1;
        float *x = malloc(sizeof(float) * (size_t)(R * ldx)), *w = malloc(sizeof(float) * (size_t)(O * ldw));
        float *y = malloc(sizeof(float) * (size_t)(R * O));
        for (int64_t i = 0; i < R * ldx; i++)
            x[i] = (float)((int)(rnd() % 20001) - 10000) / (rnd() % 2 ? 7.0f : 7000.0f);
        for (int64_t i = 0; i < O * ldw; i++)
            w[i] = (float)((int)(rnd() % 20001) - 10000) / (rnd() % 2 ? 3.0f : 3000.0f);
        const qat_packed_fgemm g = {.x = x, .ldx = ldx, .rows = R, .w = w, .ldw = ldw, .out = O, .in = K, .y = y,
                                    .ldy = O};
        qat_packed_fdot_block_neon(&g, 0, R, 0, O);
        for (int64_t r = 0; r < R; r++)
            for (int64_t o = 0; o < O; o++) {
                float p[8] = {0};
                for (int64_t i = 0; i < K; i++)
                    p[i % 8] = fmaf(x[r * ldx + i], w[o * ldw + i], p[i % 8]);
                const float want = ((p[0] + p[4]) + (p[2] + p[6])) + ((p[1] + p[5]) + (p[3] + p[7]));
                if (memcmp(&want, &y[r * O + o], sizeof want) != 0) {
                    bad++;
                    printf("DIFF float gemm [%lld x %lld] x [%lld]^T: y[%lld, %lld] = %.9g, want %.9g\n",
                           (long long)R, (long long)K, (long long)O, (long long)r, (long long)o, (double)y[r * O + o],
                           (double)want);
                }
            }
        (*cases)++;
        free(x), free(w), free(y);
    }
    return bad;
}

int main(void)
{
    const qat_packed_isa arm[] = {QAT_PACKED_ISA_I8MM, QAT_PACKED_ISA_NEON}; /* auto's order */
    qat_packed_isa want_best = QAT_PACKED_ISA_SCALAR;
    int failed = 0;
    for (int i = 1; i >= 0; i--) {
        const qat_packed_isa isa = arm[i];
        if (!qat_packed_isa_available(isa)) {
            const char *why = qat_packed_isa_missing(isa);
            printf("%s unavailable (%s)\n", qat_packed_isa_name(isa), why);
            failed |= why[0] == '\0' || strstr(why, "lacks") == NULL;
            continue;
        }
        int cases = 0;
        const int bad = check_path(isa, &cases);
        printf("%s vs scalar: %d cases, %d mismatches\n", qat_packed_isa_name(isa), cases, bad);
        failed |= bad != 0 || cases == 0;
        want_best = isa;
    }
    int fcases = 0;
    const int fbad = check_float_gemm(&fcases);
    printf("float gemm neon vs the documented order: %d shapes, %d mismatches\n", fcases, fbad);
    failed |= fbad != 0;
    printf("auto picks %s\n", qat_packed_isa_name(qat_packed_isa_best()));
    return failed || qat_packed_isa_best() != want_best;
}
