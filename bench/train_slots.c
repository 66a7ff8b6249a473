/* Where a CPU training step's time goes, per backend kernel slot: the
 * context's ops table is replaced by a copy whose every slot times the
 * original (or the ref fallback a host backend would run), and one trainer
 * step (forward, backward, gradient norm, AdamW) of a token-classification
 * encoder is run REPS times. Prints ms per step and share for each slot, and
 * the step time the slots do not cover (the model's own host code).
 * Built by meson (tests/model/meson.build, not by default).
 * usage: bench_train_slots [REPS] [BATCH] [SEQ] [LAYERS] [QUANT] [THREADS]
 *        (defaults 3 8 128 4 E6W1.58A6 1; BERT-base widths) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/dispatch.h"
#include "bench_util.h"
#include "qat/qat.h"

/* One benchmark process, one context: the original table and the time per
 * slot live here (a bench, not the library). */
static const struct qat_backend_ops *inner;
enum {
#define INDEX(name, params, args) SLOT_##name,
    QAT_BACKEND_KERNELS(INDEX)
#undef INDEX
    SLOTS
};
static const char *slot_name[SLOTS] = {
#define NAME(name, params, args) #name,
    QAT_BACKEND_KERNELS(NAME)
#undef NAME
};
static double slot_time[SLOTS];
static long slot_calls[SLOTS];
static int slot_ref[SLOTS]; /* the backend leaves it to ref */

#define TIMED(name, params, args)                                                                         \
    static qat_status timed_##name QAT_KERNEL_PARAMS params                                             \
    {                                                                                                   \
        const double t0 = bench_now_s();                                                                \
        const qat_status status_ = inner->name ? inner->name QAT_KERNEL_ARGS(state, args)                     \
                                         : qat_backend_ref_ops.name QAT_KERNEL_ARGS(state, args);       \
        slot_time[SLOT_##name] += bench_now_s() - t0;                                                   \
        slot_calls[SLOT_##name]++;                                                                      \
        return status_;                                                                                 \
    }
QAT_BACKEND_KERNELS(TIMED)
#undef TIMED

int main(int argc, char **argv)
{
    const int reps = argc > 1 ? atoi(argv[1]) : 3;
    const int64_t B = argc > 2 ? atoll(argv[2]) : 8, L = argc > 3 ? atoll(argv[3]) : 128;
    const int64_t layers = argc > 4 ? atoll(argv[4]) : 4;
    const char *quant = argc > 5 ? argv[5] : "E6W1.58A6";
    const int threads = argc > 6 ? atoi(argv[6]) : 1;

    qat_context *ctx;
    TRY(qat_context_create("cpu", &ctx));
    TRY(qat_context_set_int(ctx, QAT_CTX_THREADS, threads));
    static struct qat_backend_ops timed;
    inner = ctx->backend.ops;
    timed = *inner;
#define FILL(name, params, args) timed.name = timed_##name, slot_ref[SLOT_##name] = !inner->name;
    QAT_BACKEND_KERNELS(FILL)
#undef FILL
    ctx->backend.ops = &timed;

    qat_model_options mo;
    TRY(qat_model_options_init(&mo, QAT_MODEL_OPTIONS_VERSION));
    mo.task = QAT_TASK_TOKEN_CLASSIFICATION;
    mo.num_labels = 9;
    mo.num_layers = layers;
    qat_model *model;
    TRY(qat_model_create(ctx, &mo, &model));
    if (strcmp(quant, "FP32") != 0) {
        qat_quant_config *cfg;
        TRY(qat_quant_config_parse(quant, &cfg));
        TRY(qat_model_set_quant(model, cfg));
        qat_quant_config_free(cfg);
    }
    qat_train_options to;
    TRY(qat_train_options_init(&to, QAT_TRAIN_OPTIONS_VERSION));
    to.batch_size = B;
    qat_trainer *trainer;
    TRY(qat_trainer_create(model, &to, reps + 1, &trainer));

    int32_t *ids = malloc((size_t)(B * L) * sizeof *ids), *labels = malloc((size_t)(B * L) * sizeof *labels);
    if (!ids || !labels)
        return 1;
    srand(1);
    for (int64_t i = 0; i < B * L; i++) {
        ids[i] = 5 + rand() % 32000;
        labels[i] = rand() % 9;
    }
    float loss;
    TRY(qat_trainer_step(trainer, ids, NULL, labels, B, L, &loss)); /* warm-up, LSQ initialisation */
    memset(slot_time, 0, sizeof slot_time);
    memset(slot_calls, 0, sizeof slot_calls);
    const double t0 = bench_now_s();
    for (int r = 0; r < reps; r++)
        TRY(qat_trainer_step(trainer, ids, NULL, labels, B, L, &loss));
    const double step = (bench_now_s() - t0) / reps;

    printf("%s, %lld layers, %lldx%lld, %d thread(s), QAT_ISA=%s: %.1f ms per step (mean of %d)\n", quant,
           (long long)layers, (long long)B, (long long)L, threads, getenv("QAT_ISA") ? getenv("QAT_ISA") : "auto",
           step * 1e3, reps);
    double covered = 0.0;
    for (;;) { /* slots by time, largest first */
        int best = -1;
        for (int s = 0; s < SLOTS; s++)
            if (slot_calls[s] && (best < 0 || slot_time[s] > slot_time[best]))
                best = s;
        if (best < 0)
            break;
        const double ms = slot_time[best] / reps * 1e3;
        covered += ms;
        printf("  %-18s %9.1f ms %5.1f %%  %6ld calls%s\n", slot_name[best], ms, 100.0 * ms / (step * 1e3),
               slot_calls[best] / reps, slot_ref[best] ? "  (ref)" : "");
        slot_calls[best] = 0;
    }
    printf("  %-18s %9.1f ms %5.1f %%\n", "(outside slots)", step * 1e3 - covered,
           100.0 * (step * 1e3 - covered) / (step * 1e3));
    qat_trainer_free(trainer);
    qat_model_free(model);
    ctx->backend.ops = inner;
    qat_context_free(ctx);
    free(ids);
    free(labels);
    return 0;
}
