/* The packed model's weight layout for its ISA path is made at load, for
 * the path chosen then (internal: it reads the loaded model's matrices). */
#include "export_test_util.h"
#include "packed/packed_internal.h"
#include "packed_model/packed_model.h"
#include "test_main.h"

/* The path chosen at load has its weight layout made there (onednn: its
 * row-major signed codes), so the first forward pays no more for it than
 * the next ones. */
START_TEST(test_onednn_weights_laid_out_at_load)
{
    if (!qat_packed_isa_available(QAT_PACKED_ISA_ONEDNN)) {
        fprintf(stderr, "SKIP: onednn not tested (%s)\n", qat_packed_isa_missing(QAT_PACKED_ISA_ONEDNN));
        return;
    }
    qat_context *ctx = NULL;
    QAT_ASSERT_OK(qat_context_create("ref", &ctx));
    qat_model *m = NULL;
    QAT_ASSERT_OK(tiny_model(ctx, QAT_ARCH_BERT, QAT_TASK_TOKEN_CLASSIFICATION, "E6W1.58A6", &m));
    char path[256];
    QAT_ASSERT_OK(tiny_export(m, QAT_ARCH_BERT, path, sizeof path));
    for (int forced = 0; forced <= 1; forced++) { /* QAT_ISA=onednn, then scalar (no copy made) */
        setenv("QAT_ISA", forced ? "scalar" : "onednn", 1);
        qat_packed_model *pm = NULL;
        QAT_ASSERT_OK(qat_packed_model_load(path, &pm));
        int integer = 0;
        for (int64_t i = 0; i < pm->dims.num_layers; i++)
            for (int j = 0; j < QATP_LINEARS; j++)
                if (pm->layers[i].lin[j].integer) {
                    integer++;
                    ck_assert_msg((pm->layers[i].lin[j].mat.s8 != NULL) == !forced,
                                  "QAT_ISA=%s: layer %lld linear %d %s the onednn layout after load",
                                  forced ? "scalar" : "onednn", (long long)i, j, forced ? "has" : "lacks");
                }
        ck_assert_int_gt(integer, 0);
        qat_packed_model_free(pm);
    }
    unsetenv("QAT_ISA");
    unlink(path);
    qat_model_free(m);
    qat_context_free(ctx);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("export_prepare");
    TCase *tc = tcase_create("prepare");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_onednn_weights_laid_out_at_load);
    suite_add_tcase(s, tc);
    return s;
}
