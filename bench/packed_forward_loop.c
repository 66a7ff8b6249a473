/* A loop of packed forwards over the public API, to profile (perf record)
 * or time one .qatp file at one shape: load once, one warm-up forward, then
 * FORWARDS forwards of BATCH x SEQ fixed random ids (no padding); prints
 * the best and median ms per forward, wall clock and the process's CPU
 * time (which, at one thread, a busy machine's waits do not inflate), and
 * on stderr the milliseconds from the start to the first timed forward
 * (for perf record -D, so that a profile leaves out the load and the
 * warm-up). QAT_ISA picks the path. BENCH_FLUSH_MB=N: before each forward
 * (untimed), write and read N MiB, so that the weights come from memory as
 * in bench/vs_onnxruntime.py's round-robin (there each engine's forward
 * follows the others'); unset, the forwards run warm, back to back.
 * usage: bench_packed_forward_loop FILE.qatp BATCH SEQ THREADS FORWARDS */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "qat/qat.h"

/* Evicts the caches' contents: writes then sums `bytes` of buf. */
static void flush_caches(unsigned char *buf, size_t bytes, int round)
{
    memset(buf, round, bytes);
    volatile unsigned sum = 0;
    for (size_t i = 0; i < bytes; i += 64)
        sum += buf[i];
    (void)sum;
}

static int by_value(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s FILE.qatp BATCH SEQ THREADS FORWARDS\n", argv[0]);
        return 2;
    }
    const long long B = atoll(argv[2]), L = atoll(argv[3]), threads = atoll(argv[4]);
    const int reps = atoi(argv[5]);
    if (B < 1 || L < 1 || threads < 1 || reps < 1 || B * L > (1 << 20))
        return 2;
    const double start = bench_now_s();
    qat_packed_model *pm = NULL;
    size_t n = 0;
    int64_t vocab = 0;
    TRY(qat_packed_model_load(argv[1], &pm));
    TRY(qat_packed_model_set_int(pm, QAT_PACKED_THREADS, threads));
    TRY(qat_packed_model_logits_size(pm, B, L, &n));
    TRY(qat_packed_model_info(pm, QAT_PACKED_INFO_VOCAB_SIZE, &vocab));
    int32_t *ids = malloc((size_t)(B * L) * sizeof(int32_t));
    float *logits = malloc(n * sizeof(float));
    double *ms = malloc((size_t)reps * sizeof(double)), *cpu = malloc((size_t)reps * sizeof(double));
    const char *flush_env = getenv("BENCH_FLUSH_MB");
    const size_t flush_bytes = flush_env ? (size_t)atoll(flush_env) << 20 : 0;
    unsigned char *flush = flush_bytes ? malloc(flush_bytes) : NULL;
    if (!ids || !logits || !ms || !cpu || (flush_bytes && !flush))
        return 1;
    for (long long i = 0; i < B * L; i++)
        ids[i] = (int32_t)(5 + (i * 7919) % (vocab - 5));
    for (int r = -1; r < reps; r++) {
        if (flush)
            flush_caches(flush, flush_bytes, r);
        const double t0 = bench_now_s(), c0 = bench_cpu_s();
        TRY(qat_packed_model_forward(pm, ids, NULL, NULL, B, L, logits, n));
        if (r >= 0) {
            ms[r] = (bench_now_s() - t0) * 1e3;
            cpu[r] = (bench_cpu_s() - c0) * 1e3;
        } else {
            fprintf(stderr, "timed forwards from %.0f ms\n", (bench_now_s() - start) * 1e3);
        }
    }
    qsort(ms, (size_t)reps, sizeof ms[0], by_value);
    qsort(cpu, (size_t)reps, sizeof cpu[0], by_value);
    printf("%s %lldx%lld threads %lld: best %.2f ms, median %.2f ms; CPU time best %.2f ms, median %.2f ms (%d forwards%s)\n",
           argv[1], B, L, threads, ms[0], ms[reps / 2], cpu[0], cpu[reps / 2], reps,
           flush ? ", caches flushed before each" : "");
    free(flush);
    free(cpu);
    free(ms);
    free(logits);
    free(ids);
    qat_packed_model_free(pm);
    return 0;
}
