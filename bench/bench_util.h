/* What the C benchmarks over the public API share: a monotonic clock, the
 * process's CPU time (which a busy machine's waits leave out), and
 * a TRY that reports a failed call (its text, the library's last error)
 * and makes the caller return 1. */
#ifndef QAT_BENCH_UTIL_H
#define QAT_BENCH_UTIL_H

#include <stdio.h>
#include <time.h>

#include "qat/qat.h"

static inline double bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static inline double bench_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

#define TRY(x)                                                                                    \
    do {                                                                                          \
        qat_status s_ = (x);                                                                      \
        if (s_ != QAT_OK) {                                                                       \
            fprintf(stderr, "%s: %s (%s)\n", #x, qat_last_error(), qat_status_string(s_));        \
            return 1;                                                                             \
        }                                                                                         \
    } while (0)

#endif
