/* Packed integer GEMM against oneDNN, side by side in one process.
 *
 * BERT-base linear layers (out x in: 768x768 attention, 3072x768
 * intermediate, 768x3072 output) at 128 tokens (batch 1 x seq 128) and
 * 4096 tokens (batch 32 x seq 128), 1 and 2 threads:
 *   fp32      dnnl_sgemm, Y = X W^T                       (the baseline)
 *   fp32 dot  libqat's float GEMM (lib/packed/float_gemm.c: the packed
 *             model's heads and float linears), on a pool of the row's
 *             threads, the first --isa's path
 *   u8s8s32   oneDNN int8 matmul, weights reordered once (second baseline)
 *   W1.58A8   libqat packed ternary (BitNet acts, 8-bit)  (quantize X + GEMM)
 *   W4A8      libqat packed LSQ 4-bit weights, 8-bit acts (quantize X + GEMM)
 *   W8A8      libqat packed LSQ 8-bit weights and acts    (quantize X + GEMM)
 * each libqat row on every ISA path this CPU has (the figures that back
 * `auto`, qat_packed_isa_best), weights laid out once into the kernels'
 * panels (qat_packed_matrix_from) as the packed model loader does. Each
 * figure is the fastest of several repetitions after a warm-up (the
 * minimum is the least disturbed by other load on the machine).
 *
 * Usage: bench_packed_gemm [--quick] [--reps N] [--isa NAME] [--cpu-time] [--gemm-only]
 *   --quick: 128 tokens only.  --isa: that packed path only, and any other
 *   --isa given (default: avx2, avx512vnni, onednn and amx where available;
 *   scalar only when named).
 *   --cpu-time: 1 thread only, timed by the process's CPU time instead of
 *   the wall clock: on a machine shared with other jobs a run of more than
 *   a time slice is almost always preempted, and wall time then counts the
 *   neighbours' slices (every method alike, but not reproducibly).
 *   --gemm-only: the packed rows leave out the activation quantization (done
 *   once before timing), like the oneDNN row.
 *   --pool: the packed rows run on a qat_pool of the row's threads, as the
 *   packed model runs them, instead of an OpenMP team.
 */
#include <dnnl.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/rng.h"
#include "core/thread_pool.h"
#include "packed/packed.h"

static clockid_t bench_clock = CLOCK_MONOTONIC;
/* --gemm-only: the packed rows time the GEMM + epilogue alone (the
 * activations quantized once, in the warm-up), as oneDNN's row does. */
static int gemm_only;
/* --pool: the packed rows run on a libqat thread pool (the packed model's
 * way: workers that sleep between loops) instead of an OpenMP team. */
static int use_pool;

static double now(void)
{
    struct timespec ts;
    clock_gettime(bench_clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define DNNL_OK(call)                                                                                \
    do {                                                                                             \
        dnnl_status_t s_ = (call);                                                                   \
        if (s_ != dnnl_success) {                                                                    \
            fprintf(stderr, "%s failed: %d\n", #call, (int)s_);                                     \
            return -1;                                                                               \
        }                                                                                            \
    } while (0)

typedef struct int8_matmul {
    dnnl_engine_t eng;
    dnnl_stream_t stream;
    dnnl_primitive_t prim;
    dnnl_memory_t src, wei, dst;
    void *wei_buf;
} int8_matmul;

/* oneDNN u8 x s8 -> s32 matmul: src [T, K] u8, weights [K, O] s8 given as
 * W [O, K] row-major and reordered once into oneDNN's preferred layout. */
static int int8_matmul_init(int8_matmul *m, int64_t T, int64_t K, int64_t O, uint8_t *src, int8_t *w,
                            int32_t *dst)
{
    memset(m, 0, sizeof *m);
    DNNL_OK(dnnl_engine_create(&m->eng, dnnl_cpu, 0));
    DNNL_OK(dnnl_stream_create(&m->stream, m->eng, dnnl_stream_default_flags));
    dnnl_memory_desc_t src_md, wei_any, wei_plain, dst_md;
    dnnl_dims_t sd = {T, K}, wd = {K, O}, dd = {T, O};
    DNNL_OK(dnnl_memory_desc_init_by_tag(&src_md, 2, sd, dnnl_u8, dnnl_ab));
    DNNL_OK(dnnl_memory_desc_init_by_tag(&wei_any, 2, wd, dnnl_s8, dnnl_format_tag_any));
    DNNL_OK(dnnl_memory_desc_init_by_tag(&wei_plain, 2, wd, dnnl_s8, dnnl_ba));
    DNNL_OK(dnnl_memory_desc_init_by_tag(&dst_md, 2, dd, dnnl_s32, dnnl_ab));
    dnnl_matmul_desc_t md;
    DNNL_OK(dnnl_matmul_desc_init(&md, &src_md, &wei_any, NULL, &dst_md));
    dnnl_primitive_desc_t pd;
    DNNL_OK(dnnl_primitive_desc_create(&pd, &md, NULL, m->eng, NULL));
    const dnnl_memory_desc_t *wei_opt = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    DNNL_OK(dnnl_primitive_create(&m->prim, pd));
    DNNL_OK(dnnl_memory_create(&m->src, &src_md, m->eng, src));
    DNNL_OK(dnnl_memory_create(&m->dst, &dst_md, m->eng, dst));
    DNNL_OK(dnnl_memory_create(&m->wei, wei_opt, m->eng, DNNL_MEMORY_ALLOCATE));
    dnnl_memory_t plain;
    DNNL_OK(dnnl_memory_create(&plain, &wei_plain, m->eng, w));
    dnnl_primitive_desc_t rpd;
    DNNL_OK(dnnl_reorder_primitive_desc_create(&rpd, &wei_plain, m->eng, wei_opt, m->eng, NULL));
    dnnl_primitive_t reorder;
    DNNL_OK(dnnl_primitive_create(&reorder, rpd));
    dnnl_exec_arg_t rargs[2] = {{DNNL_ARG_FROM, plain}, {DNNL_ARG_TO, m->wei}};
    DNNL_OK(dnnl_primitive_execute(reorder, m->stream, 2, rargs));
    DNNL_OK(dnnl_stream_wait(m->stream));
    dnnl_primitive_destroy(reorder);
    dnnl_primitive_desc_destroy(rpd);
    dnnl_memory_destroy(plain);
    dnnl_primitive_desc_destroy(pd);
    return 0;
}

static int int8_matmul_run(int8_matmul *m)
{
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, m->src}, {DNNL_ARG_WEIGHTS, m->wei}, {DNNL_ARG_DST, m->dst}};
    DNNL_OK(dnnl_primitive_execute(m->prim, m->stream, 3, args));
    DNNL_OK(dnnl_stream_wait(m->stream));
    return 0;
}

static void int8_matmul_free(int8_matmul *m)
{
    dnnl_memory_destroy(m->src);
    dnnl_memory_destroy(m->wei);
    dnnl_memory_destroy(m->dst);
    dnnl_primitive_destroy(m->prim);
    dnnl_stream_destroy(m->stream);
    dnnl_engine_destroy(m->eng);
}

typedef struct bench_ctx {
    int64_t T, K, O;
    const float *x, *w, *bias;
    float *y;
    qat_packed_kernel kern;
    qat_packed_acts acts;
    const qat_packed_matrix *mat;
    int act_lsq, quantized;
    int8_matmul mm;
} bench_ctx;

enum { M_SGEMM, M_FDOT, M_INT8, M_T2, M_W4, M_W8, N_METHODS };
static const char *method_name[N_METHODS] = {"fp32 sgemm", "fp32 dot", "onednn u8s8s32", "W1.58A8", "W4A8 LSQ",
                                             "W8A8 LSQ"};

static int run_once(bench_ctx *b, int method)
{
    switch (method) {
    case M_SGEMM:
        return dnnl_sgemm('N', 'T', b->T, b->O, b->K, 1.0f, b->x, b->K, b->w, b->K, 0.0f, b->y, b->O) ==
                       dnnl_success ? 0 : -1;
    case M_FDOT: {
        const qat_packed_fgemm g = {.x = b->x, .ldx = b->K, .rows = b->T, .w = b->w, .ldw = b->K, .out = b->O,
                                    .in = b->K, .y = b->y, .ldy = b->O};
        return qat_packed_float_gemm(&b->kern, &g) == QAT_OK ? 0 : -1;
    }
    case M_INT8:
        return int8_matmul_run(&b->mm);
    default:
        /* The whole packed layer: activation quantization is part of it. */
        if ((!gemm_only || !b->quantized) &&
            (b->act_lsq ? qat_packed_quantize_lsq(&b->kern, b->x, b->K, 8, 0.05f, &b->acts)
                        : qat_packed_quantize_bitnet(&b->kern, b->x, b->K, 8, 0, &b->acts)) != QAT_OK)
            return -1;
        b->quantized = 1;
        return qat_packed_gemm(&b->kern, &b->acts, b->mat, b->bias, b->y, b->O) == QAT_OK ? 0 : -1;
    }
}

static double time_method(bench_ctx *b, int method, int reps)
{
    if (run_once(b, method) != 0) /* warm-up */
        return NAN;
    double best = INFINITY;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        if (run_once(b, method) != 0)
            return NAN;
        double dt = now() - t0;
        best = dt < best ? dt : best;
    }
    return best;
}

int main(int argc, char **argv)
{
    int quick = 0, reps = 5;
    qat_packed_isa isas[QAT_PACKED_ISA_COUNT];
    int n_isas = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strcmp(argv[i], "--gemm-only") == 0)
            gemm_only = 1;
        else if (strcmp(argv[i], "--pool") == 0)
            use_pool = 1;
        else if (strcmp(argv[i], "--cpu-time") == 0)
            bench_clock = CLOCK_PROCESS_CPUTIME_ID;
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--isa") == 0 && i + 1 < argc && n_isas < QAT_PACKED_ISA_COUNT) {
            const char *n = argv[++i];
            qat_packed_isa only = QAT_PACKED_ISA_AUTO;
            for (int k = QAT_PACKED_ISA_SCALAR; k < QAT_PACKED_ISA_COUNT; k++)
                if (strcmp(n, qat_packed_isa_name((qat_packed_isa)k)) == 0)
                    only = (qat_packed_isa)k;
            if (only == QAT_PACKED_ISA_AUTO || !qat_packed_isa_available(only)) {
                fprintf(stderr, "--isa %s: unknown or unavailable here (%s)\n", n,
                        only == QAT_PACKED_ISA_AUTO ? "unknown" : qat_packed_isa_missing(only));
                return 2;
            }
            isas[n_isas++] = only;
        } else {
            fprintf(stderr, "usage: %s [--quick] [--reps N] [--isa scalar|avx2|avx512vnni|onednn|amx] [--cpu-time] [--gemm-only] [--pool]\n", argv[0]);
            return 2;
        }
    }
    const qat_packed_isa listed[] = {QAT_PACKED_ISA_AVX2, QAT_PACKED_ISA_AVX512VNNI, QAT_PACKED_ISA_ONEDNN,
                                     QAT_PACKED_ISA_AMX};
    if (n_isas == 0)
        for (size_t k = 0; k < sizeof listed / sizeof listed[0]; k++)
            if (qat_packed_isa_available(listed[k]))
                isas[n_isas++] = listed[k];
    if (n_isas == 0)
        isas[n_isas++] = QAT_PACKED_ISA_SCALAR;
    printf("# auto picks %s; times: %s\n", qat_packed_isa_name(qat_packed_isa_best()),
           bench_clock == CLOCK_MONOTONIC ? "wall clock" : "process CPU time, 1 thread");
    const int64_t shapes[3][2] = {{768, 768}, {3072, 768}, {768, 3072}}; /* out, in */
    const int64_t token_counts[2] = {128, 4096};
    qat_rng rng;
    qat_rng_seed(&rng, 7);

    printf("%-10s %5s %2s  %-26s %10s %8s %9s\n", "out x in", "tok", "th", "method", "ms", "GOPS",
           "vs fp32");
    for (int ti = 0; ti < (quick ? 1 : 2); ti++)
        for (int si = 0; si < 3; si++) {
            bench_ctx b;
            memset(&b, 0, sizeof b);
            b.T = token_counts[ti];
            b.O = shapes[si][0];
            b.K = shapes[si][1];
            float *x = malloc((size_t)(b.T * b.K) * sizeof *x), *w = malloc((size_t)(b.O * b.K) * sizeof *w);
            float *bias = calloc((size_t)b.O, sizeof *bias), *y = malloc((size_t)(b.T * b.O) * sizeof *y);
            uint8_t *xu8 = malloc((size_t)(b.T * b.K));
            int8_t *w8 = malloc((size_t)(b.O * b.K));
            int32_t *y32 = malloc((size_t)(b.T * b.O) * sizeof *y32);
            for (int64_t i = 0; i < b.T * b.K; i++) {
                x[i] = qat_rng_normal(&rng);
                xu8[i] = (uint8_t)qat_rng_below(&rng, 256);
            }
            for (int64_t i = 0; i < b.O * b.K; i++) {
                w[i] = 0.02f * qat_rng_normal(&rng);
                w8[i] = (int8_t)((int)qat_rng_below(&rng, 256) - 128);
            }
            b.x = x;
            b.w = w;
            b.bias = bias;
            b.y = y;
            if (int8_matmul_init(&b.mm, b.T, b.K, b.O, xu8, w8, y32) != 0)
                return 1;
            qat_packed_weights pw;
            qat_packed_matrix mats[3];
            memset(mats, 0, sizeof mats);
            float gamma, step8 = 0.004f, step4 = 0.01f;
            if (qat_packed_acts_alloc(b.T, b.K, &b.acts) != QAT_OK ||
                qat_packed_bitnet_gamma(w, b.O, b.K, 0, &gamma) != QAT_OK) {
                fprintf(stderr, "setup failed: %s\n", qat_last_error());
                return 1;
            }
            for (int p = 0; p < 3; p++) {
                qat_status st = p == 0 ? qat_packed_pack_ternary(w, b.O, b.K, &gamma, 0, QAT_PACKED_W_TERNARY2, &pw)
                              : qat_packed_pack_lsq(w, b.O, b.K, p == 1 ? 4 : 8, p == 1 ? &step4 : &step8, 0, &pw);
                if (st == QAT_OK)
                    st = qat_packed_matrix_from(&pw, &mats[p]);
                qat_packed_weights_free(&pw);
                if (st != QAT_OK) {
                    fprintf(stderr, "packing failed: %s\n", qat_last_error());
                    return 1;
                }
            }
            for (int th = 1; th <= (bench_clock == CLOCK_MONOTONIC ? 2 : 1); th++) {
                omp_set_num_threads(th); /* oneDNN's OpenMP runtime */
                qat_pool *pool = NULL;
                if (use_pool && qat_pool_create(th, &pool) != QAT_OK) {
                    fprintf(stderr, "%s\n", qat_last_error());
                    return 1;
                }
                qat_pool *fpool = NULL; /* the float GEMM's threads come from a pool only */
                if (th > 1 && qat_pool_create(th, &fpool) != QAT_OK) {
                    fprintf(stderr, "%s\n", qat_last_error());
                    return 1;
                }
                double base = 0.0;
                for (int m = 0; m < N_METHODS; m++)
                    for (int ki = 0; ki < (m >= M_T2 ? n_isas : 1); ki++) {
                        char name[64];
                        snprintf(name, sizeof name, "%s", method_name[m]);
                        if (m == M_FDOT) {
                            if (qat_packed_kernel_init(&b.kern, isas[0], th) != QAT_OK) {
                                fprintf(stderr, "%s\n", qat_last_error());
                                return 1;
                            }
                            b.kern.pool = fpool;
                            snprintf(name, sizeof name, "%s %s", method_name[m], qat_packed_isa_name(isas[0]));
                        }
                        if (m >= M_T2) {
                            if (qat_packed_kernel_init(&b.kern, isas[ki], th) != QAT_OK) {
                                fprintf(stderr, "%s\n", qat_last_error());
                                return 1;
                            }
                            b.kern.pool = pool;
                            if (qat_packed_matrix_prepare(&mats[m - M_T2], isas[ki]) != QAT_OK) {
                                fprintf(stderr, "%s\n", qat_last_error());
                                return 1;
                            }
                            b.mat = &mats[m - M_T2];
                            b.act_lsq = m != M_T2;
                            b.quantized = 0;
                            snprintf(name, sizeof name, "%s %s", method_name[m], qat_packed_isa_name(isas[ki]));
                        }
                        int r = b.T * b.O * b.K > 1000000000LL ? (reps + 1) / 2 : reps;
                        double t = time_method(&b, m, r);
                        if (m == M_SGEMM)
                            base = t;
                        printf("%4lldx%-5lld %5lld %2d  %-26s %10.3f %8.1f %8.2fx\n", (long long)b.O,
                               (long long)b.K, (long long)b.T, th, name, t * 1e3,
                               2.0 * (double)(b.T * b.O * b.K) / t * 1e-9, base / t);
                        fflush(stdout);
                    }
                qat_pool_free(pool);
                qat_pool_free(fpool);
            }
            for (int p = 0; p < 3; p++)
                qat_packed_matrix_free(&mats[p]);
            qat_packed_acts_free(&b.acts);
            int8_matmul_free(&b.mm);
            free(x); free(w); free(bias); free(y); free(xu8); free(w8); free(y32);
        }
    return 0;
}
