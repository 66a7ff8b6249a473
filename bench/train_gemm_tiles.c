/* The cpu backend's GEMM (its gemm slot: the product cut into tiles of C,
 * each one single-threaded dnnl_sgemm call on the backend's pool, so that
 * results do not depend on the thread count) against one whole dnnl_sgemm
 * call on oneDNN's own OpenMP threads, on the linears' GEMMs of a BERT-base
 * training step (tokens = BATCH x SEQ): y = x W^T, dW = dy^T x and
 * dx = dy W for the 768 x 768, 3072 x 768 and 768 x 3072 weights. Prints
 * GFLOP/s of both and their ratio per shape, best of REPS calls each, the
 * two alternated. Built by meson (tests/model/meson.build, not by default).
 * usage: bench_train_gemm_tiles [REPS] [TOKENS] [THREADS]   (defaults 5 1024 2) */
#include <dnnl.h>
#include <stdio.h>
#include <stdlib.h>

#include "backend/dispatch.h"
#include "bench_util.h"
#include "core/context.h"
#include "qat/qat.h"

#ifdef _OPENMP
#include <omp.h>
#endif

typedef struct shape {
    const char *what;
    int trans_a, trans_b;
    int64_t m, n, k;
} shape;

/* One call of the product through the slot (whole = 0) or as one
 * dnnl_sgemm call on oneDNN's threads (whole = 1). */
typedef struct call {
    qat_context *ctx;
    const qat_gemm_desc *d;
    int whole;
} call;

static qat_status run_call(const call *c)
{
    const qat_gemm_desc *d = c->d;
    if (!c->whole)
        return c->ctx->backend.ops->gemm(c->ctx->backend_state, d);
    return dnnl_sgemm(d->trans_a ? 'T' : 'N', d->trans_b ? 'T' : 'N', d->m, d->n, d->k, d->alpha, d->a, d->lda,
                      d->b, d->ldb, d->beta, d->c, d->ldc) == dnnl_success
               ? QAT_OK
               : QAT_ERR_BACKEND;
}

/* Best of reps timed calls after one that warms up. */
static double best_of(const call *c, int reps, qat_status *st)
{
    double best = 1e30;
    for (int r = 0; r <= reps && *st == QAT_OK; r++) {
        const double t0 = bench_now_s();
        *st = run_call(c);
        const double t = bench_now_s() - t0;
        if (r && t < best)
            best = t;
    }
    return best;
}

int main(int argc, char **argv)
{
    const int reps = argc > 1 ? atoi(argv[1]) : 5;
    const int64_t T = argc > 2 ? atoll(argv[2]) : 1024;
    const int threads = argc > 3 ? atoi(argv[3]) : 2;
    if (reps < 1 || T < 1 || threads < 1) {
        fprintf(stderr, "usage: %s [REPS >= 1] [TOKENS >= 1] [THREADS >= 1]\n", argv[0]);
        return 2;
    }
    const int64_t H = 768, I = 3072;
    const shape shapes[] = {
        {"y = x W^T, W 768x768", 0, 1, T, H, H},   {"y = x W^T, W 3072x768", 0, 1, T, I, H},
        {"y = x W^T, W 768x3072", 0, 1, T, H, I},  {"dW = dy^T x, W 768x768", 1, 0, H, H, T},
        {"dW = dy^T x, W 3072x768", 1, 0, I, H, T}, {"dW = dy^T x, W 768x3072", 1, 0, H, I, T},
        {"dx = dy W, W 768x768", 0, 0, T, H, H},   {"dx = dy W, W 3072x768", 0, 0, T, H, I},
        {"dx = dy W, W 768x3072", 0, 0, T, I, H},
    };
    qat_context *ctx = NULL;
    TRY(qat_context_create("cpu", &ctx));
    TRY(qat_context_set_int(ctx, QAT_CTX_THREADS, threads));
    printf("cpu backend gemm slot (tiles on %d pool threads) vs one dnnl_sgemm call (%d OpenMP threads), "
           "%lld tokens, best of %d\n",
           threads, threads, (long long)T, reps);
    printf("%-26s %6s %6s %6s  %9s %9s %6s\n", "GEMM", "m", "n", "k", "slot", "whole", "ratio");
    int failed = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0] && !failed; s++) {
        const shape *p = &shapes[s];
        const int64_t rows_a = p->trans_a ? p->k : p->m, cols_a = p->trans_a ? p->m : p->k;
        const int64_t rows_b = p->trans_b ? p->n : p->k, cols_b = p->trans_b ? p->k : p->n;
        float *a = malloc((size_t)(rows_a * cols_a) * sizeof *a), *b = malloc((size_t)(rows_b * cols_b) * sizeof *b);
        float *c = malloc((size_t)(p->m * p->n) * sizeof *c);
        if (!a || !b || !c) {
            fprintf(stderr, "out of memory\n");
            failed = 1;
        }
        for (int64_t i = 0; !failed && i < rows_a * cols_a; i++)
            a[i] = (float)(i % 7) * 0.1f;
        for (int64_t i = 0; !failed && i < rows_b * cols_b; i++)
            b[i] = (float)(i % 5) * 0.1f;
        const qat_gemm_desc d = {.trans_a = p->trans_a, .trans_b = p->trans_b, .m = p->m, .n = p->n, .k = p->k,
                                 .alpha = 1.0f, .beta = 0.0f, .a = a, .lda = cols_a, .b = b, .ldb = cols_b,
                                 .c = c, .ldc = p->n, .batch = 1};
        qat_status st = QAT_OK;
        double slot = 1e30, whole = 1e30;
        const call slot_call = {ctx, &d, 0}, whole_call = {ctx, &d, 1};
#ifdef _OPENMP
        omp_set_num_threads(threads); /* the whole call's; the slot sets its own */
#endif
        for (int round = 0; !failed && round < 2 && st == QAT_OK; round++) { /* alternated: A B A B */
            const double t1 = best_of(&slot_call, reps, &st), t2 = best_of(&whole_call, reps, &st);
            slot = t1 < slot ? t1 : slot;
            whole = t2 < whole ? t2 : whole;
        }
        if (st != QAT_OK) {
            fprintf(stderr, "gemm: %s\n", qat_last_error());
            failed = 1;
        }
        if (!failed) {
            const double flops = 2.0 * (double)p->m * (double)p->n * (double)p->k;
            printf("%-26s %6lld %6lld %6lld  %9.1f %9.1f %6.2f\n", p->what, (long long)p->m, (long long)p->n,
                   (long long)p->k, flops / slot * 1e-9, flops / whole * 1e-9, whole / slot);
        }
        free(a);
        free(b);
        free(c);
    }
    printf("(GFLOP/s; ratio = whole's time / slot's, < 1: the slot is slower)\n");
    qat_context_free(ctx);
    return failed;
}
