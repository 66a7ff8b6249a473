/* The packed model's weight layout for its ISA path is made at load, for
 * the path chosen then (internal: it reads the loaded model's matrices). */
#include <unistd.h>

#include "export_test_util.h"
#include "packed/packed_internal.h"
#include "packed_model/packed_model.h"
#include "test_main.h"

/* The path chosen at load has its weight layout made there (amx: the B
 * tiles), so the first forward pays no more for it than the next ones. */
START_TEST(test_amx_weights_laid_out_at_load)
{
    if (qat_packed_amx_missing()[0]) {
        fprintf(stderr, "SKIP: amx not tested (%s)\n", qat_packed_amx_missing());
        return;
    }
    qat_context *ctx = NULL;
    QAT_ASSERT_OK(qat_context_create("ref", &ctx));
    qat_model *m = NULL;
    QAT_ASSERT_OK(tiny_model(ctx, QAT_ARCH_BERT, QAT_TASK_TOKEN_CLASSIFICATION, "E6W1.58A6", &m));
    int32_t ids[TINY_B * TINY_L], mask[TINY_B * TINY_L], types[TINY_B * TINY_L];
    tiny_batch(QAT_ARCH_BERT, ids, mask, types);
    size_t n = 0;
    QAT_ASSERT_OK(qat_model_logits_size(m, TINY_B, TINY_L, &n));
    float *out = malloc(n * sizeof(float));
    QAT_ASSERT_OK(qat_model_forward(m, ids, mask, types, TINY_B, TINY_L, out, n)); /* calibrates */
    char path[256];
    const char *d = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/qat-prep-XXXXXX", d && d[0] ? d : "/tmp");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    qat_export_options eo;
    QAT_ASSERT_OK(qat_export_options_init(&eo, QAT_EXPORT_OPTIONS_VERSION));
    QAT_ASSERT_OK(qat_packed_export(m, path, &eo));
    for (int forced = 0; forced <= 1; forced++) { /* QAT_ISA=amx, then avx2 (no tiles made) */
        setenv("QAT_ISA", forced ? "avx2" : "amx", 1);
        qat_packed_model *pm = NULL;
        QAT_ASSERT_OK(qat_packed_model_load(path, &pm));
        int integer = 0;
        for (int64_t i = 0; i < pm->dims.num_layers; i++)
            for (int j = 0; j < QATP_LINEARS; j++)
                if (pm->layers[i].lin[j].integer) {
                    integer++;
                    ck_assert_msg(qat_packed_amx_ready(&pm->layers[i].lin[j].mat) == !forced,
                                  "QAT_ISA=%s: layer %lld linear %d %s the amx layout after load",
                                  forced ? "avx2" : "amx", (long long)i, j, forced ? "has" : "lacks");
                }
        ck_assert_int_gt(integer, 0);
        qat_packed_model_free(pm);
    }
    unsetenv("QAT_ISA");
    unlink(path);
    free(out);
    qat_model_free(m);
    qat_context_free(ctx);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("export_prepare");
    TCase *tc = tcase_create("prepare");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_amx_weights_laid_out_at_load);
    suite_add_tcase(s, tc);
    return s;
}
