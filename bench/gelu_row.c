/* The cpu backend's GELU row (qat_cpu_bias_act_row) on each float path
 * this CPU has, on inputs whose share in erf's small branch
 * (|x / sqrt 2| < 0.875) differs: the kernel packs the lanes of the large
 * branch and runs them apart, so its speed depends on that share. Rows of
 * 3072 (BERT-base's intermediate width), 128 of them, in place and without
 * bias, as the packed forward calls it; each figure is CPU time per
 * element, the fastest of the repetitions (the least disturbed by other
 * load). Every output is checked against qat_gelu first.
 *
 * Usage: bench_gelu_row [reps]   (default 30)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/rng.h"
#include "cpu/cpu_float.h"
#include "math/float_math.h"
#include "packed/packed.h"

enum { ROWS = 128, COLS = 3072 };

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct input {
    const char *name;
    float mean, sd, away; /* x = mean + sd N(0, 1), pushed `away` from 0 */
} input;

static const input inputs[] = {
    {"N(0, 0.45): the random-weight bench model's (99 % small)", 0.0f, 0.45f, 0.0f},
    {"N(-0.6, 1.4) (58 % small)", -0.6f, 1.4f, 0.0f},
    {"N(0, 4) (24 % small)", 0.0f, 4.0f, 0.0f},
    {"|x| >= 2.5 + |N(0, 1)| (0 % small)", 0.0f, 1.0f, 2.5f},
};

int main(int argc, char **argv)
{
    const int reps = argc > 1 ? atoi(argv[1]) : 30;
    static const struct {
        qat_packed_isa need;
        qat_cpu_float_isa isa;
    } paths[] = {{QAT_PACKED_ISA_AVX2, QAT_CPU_FLOAT_AVX2}, {QAT_PACKED_ISA_AVX512VNNI, QAT_CPU_FLOAT_AVX512}};
    float *x0 = malloc(sizeof(float) * ROWS * COLS), *x = malloc(sizeof(float) * ROWS * COLS);
    if (!x0 || !x || reps < 1)
        return 1;
    for (size_t in = 0; in < sizeof inputs / sizeof inputs[0]; in++) {
        const input *d = &inputs[in];
        qat_rng rng;
        qat_rng_seed(&rng, 7);
        for (int64_t i = 0; i < ROWS * COLS; i++) {
            const float g = d->mean + d->sd * qat_rng_normal(&rng);
            x0[i] = d->away > 0.0f ? (g < 0.0f ? g - d->away : g + d->away) : g;
        }
        printf("%s\n", d->name);
        for (size_t p = 0; p < sizeof paths / sizeof paths[0]; p++) {
            if (!qat_packed_isa_available(paths[p].need))
                continue;
            double best = 1e30;
            for (int r = 0; r < reps; r++) {
                memcpy(x, x0, sizeof(float) * ROWS * COLS);
                const double t0 = thread_cpu_s();
                for (int64_t row = 0; row < ROWS; row++)
                    qat_cpu_bias_act_row(paths[p].isa, x + row * COLS, NULL, COLS, 1, x + row * COLS);
                const double t = thread_cpu_s() - t0;
                best = t < best ? t : best;
            }
            for (int64_t i = 0; i < ROWS * COLS; i++) {
                const float want = qat_gelu(x0[i]);
                if (memcmp(&want, x + i, sizeof want) != 0) {
                    fprintf(stderr, "%s: element %lld is %a, qat_gelu %a\n", qat_cpu_float_isa_name(paths[p].isa),
                            (long long)i, (double)x[i], (double)want);
                    return 1;
                }
            }
            printf("  %-7s %.3f ns per element\n", qat_cpu_float_isa_name(paths[p].isa), best * 1e9 / (ROWS * COLS));
        }
    }
    free(x0);
    free(x);
    return 0;
}
