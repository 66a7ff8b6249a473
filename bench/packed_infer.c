/* Packed integer inference vs the float fake-quant forward of libqat
 * (qat_model_forward, cpu backend = oneDNN sgemm), BERT-base shape
 * (12 layers, hidden 768, FFN 3072, token classification with 9 labels),
 * same process, same inputs. For LSQ+ activation configs a third column
 * times the packed model's float path for those linears (dequantized
 * weights, fake-quantized input, oneDNN sgemm: what packed inference ran
 * before LSQ+ had an integer path), on a second copy of the same file
 * (internal pm_use_float_linears), so integer and float LSQ+ run side by
 * side. Built by meson (tests/export/meson.build, not by default); run by
 * bench/packed_infer.sh.
 * usage: bench_packed_infer [REPS] [BATCH:SEQ ...]
 * BENCH_QUANTS=Q1,Q2 (environment) picks the configs (default: all). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "packed_model/packed_model.h"
#include "qat/qat.h"

static double best_of(int reps, qat_model *m, qat_packed_model *pm, const int32_t *ids, int64_t B, int64_t L,
                      float *logits, size_t n)
{
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = 1e3 * bench_now_s();
        qat_status st = m ? qat_model_forward(m, ids, NULL, NULL, B, L, logits, n)
                          : qat_packed_model_forward(pm, ids, NULL, NULL, B, L, logits, n);
        double t = 1e3 * bench_now_s() - t0;
        if (st != QAT_OK) {
            fprintf(stderr, "forward: %s\n", qat_last_error());
            return -1;
        }
        best = t < best ? t : best;
    }
    return best;
}

static int wanted(const char *quant)
{
    const char *list = getenv("BENCH_QUANTS");
    if (!list || !list[0])
        return 1;
    size_t n = strlen(quant);
    for (const char *p = list; p; p = strchr(p, ',')) {
        p += *p == ',';
        if (strncmp(p, quant, n) == 0 && (p[n] == ',' || p[n] == 0))
            return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 3;
    const char *shapes_default[] = {"1:128", "32:128"};
    const char **shapes = argc > 2 ? (const char **)argv + 2 : shapes_default;
    int n_shapes = argc > 2 ? argc - 2 : 2;
    const char *quants[] = {"E6W1.58A6", "E8W8A8", "E6W1.58A6(lsq+)", "E8W8A8(lsq+)"};
    printf("%-16s %-8s %-7s %12s %12s %8s %14s %8s\n", "quant", "shape", "threads", "float ms", "packed ms",
           "speedup", "pk-float ms", "int/flt");
    for (int qi = 0; qi < (int)(sizeof quants / sizeof quants[0]); qi++) {
        if (!wanted(quants[qi]))
            continue;
        const int lsq_plus = strstr(quants[qi], "(lsq+)") != NULL;
        qat_context *ctx = NULL;
        TRY(qat_context_create("cpu", &ctx));
        qat_model_options o;
        TRY(qat_model_options_init(&o, QAT_MODEL_OPTIONS_VERSION));
        o.task = QAT_TASK_TOKEN_CLASSIFICATION;
        o.num_labels = 9;
        qat_model *m = NULL;
        TRY(qat_model_create(ctx, &o, &m));
        qat_quant_config *q = NULL;
        TRY(qat_quant_config_parse(quants[qi], &q));
        TRY(qat_model_set_quant(m, q));
        qat_quant_config_free(q);
        int32_t *ids = malloc(32 * 512 * sizeof(int32_t));
        for (int i = 0; i < 32 * 512; i++)
            ids[i] = 5 + (i * 7919) % 32000;
        size_t n = 0;
        TRY(qat_model_logits_size(m, 1, 128, &n));
        float *logits = malloc(32 * 512 * 9 * sizeof(float));
        TRY(qat_model_forward(m, ids, NULL, NULL, 1, 128, logits, n)); /* calibrates LSQ steps */
        const char *path = "/tmp/bench_packed_infer.qatp";
        TRY(qat_packed_export(m, path, NULL));
        qat_packed_model *pm = NULL, *pmf = NULL;
        TRY(qat_packed_model_load(path, &pm));
        if (lsq_plus) {
            TRY(qat_packed_model_load(path, &pmf));
            TRY(pm_use_float_linears(pmf, QAT_ALGO_LSQ_PLUS));
        }
        remove(path);
        for (int s = 0; s < n_shapes; s++) {
            long long B = 1, L = 128;
            if (sscanf(shapes[s], "%lld:%lld", &B, &L) != 2 || B < 1 || B > 32 || L < 1 || L > 512)
                return 2;
            n = (size_t)(B * L * 9);
            for (int threads = 1; threads <= 2; threads++) {
                TRY(qat_context_set_int(ctx, QAT_CTX_THREADS, threads));
                TRY(qat_packed_model_set_int(pm, QAT_PACKED_THREADS, threads));
                best_of(1, NULL, pm, ids, B, L, logits, n); /* warm-up */
                double tf = best_of(reps, m, NULL, ids, B, L, logits, n);
                double tp = best_of(reps, NULL, pm, ids, B, L, logits, n);
                printf("%-16s %3lldx%-4lld %-7d %12.1f %12.1f %7.2fx", quants[qi], B, L, threads, tf, tp, tf / tp);
                if (pmf) {
                    TRY(qat_packed_model_set_int(pmf, QAT_PACKED_THREADS, threads));
                    best_of(1, NULL, pmf, ids, B, L, logits, n);
                    double tpf = best_of(reps, NULL, pmf, ids, B, L, logits, n);
                    printf(" %14.1f %7.2fx", tpf, tpf / tp);
                }
                printf("\n");
                fflush(stdout);
            }
        }
        qat_packed_model_free(pmf);
        qat_packed_model_free(pm);
        free(ids);
        free(logits);
        qat_model_free(m);
        qat_context_free(ctx);
    }
    return 0;
}
