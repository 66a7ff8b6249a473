/* Packed inference against the fake-quant forward (qat_model_forward, cpu
 * backend) for every study config, RoBERTa and BERT, MLM, token and
 * sequence classification (token type ids in the batch), on every ISA
 * path this CPU has and 1 and 2 threads. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "export_test_util.h"
#include "test_main.h"

static const char *const configs[] = {"FP32", "E8W8A8", "E4W4A4", "E2W2A2", "E6W2A6", "E6W1.58A6",
                                      "E6W1.58(row)A6", "E8W4A32", "E32W1.58A8",
                                      /* quantizer variants: the seed code's switches but its quantized MLM
                                       * head (refused below), per-channel LSQ, LSQ+ */
                                      "E6W1.58(row)A6@shared,frozen-step,symmetric", "E8W4A8@frozen-step",
                                      "E8W4(row)A8", "E8W8A8(lsq+)", "E6W1.58A4(lsq+)",
                                      /* LSQ+ with per-row weight scales, and with the frozen-step divisor */
                                      "E8W4(row)A6(lsq+)", "E6W1.58(row)A8(lsq+)@frozen-step"};
#define N_CONFIGS (sizeof configs / sizeof configs[0])

static char tmp_path[256];

static void make_tmp(void)
{
    ck_assert_int_eq(tiny_temp_file(tmp_path, sizeof tmp_path), 0);
}

static void compare(const float *got, const float *want, size_t rows, size_t classes, const char *what)
{
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < rows * classes; i++) {
        double d = (double)got[i] - want[i];
        num += d * d;
        den += (double)want[i] * want[i];
    }
    double rel = den > 0 ? sqrt(num / den) : sqrt(num);
    ck_assert_msg(rel <= 1e-4, "%s: logits rel. error %g > 1e-4", what, rel);
    for (size_t r = 0; r < rows; r++) {
        size_t ag = 0, aw = 0;
        for (size_t c = 1; c < classes; c++) {
            if (got[r * classes + c] > got[r * classes + ag])
                ag = c;
            if (want[r * classes + c] > want[r * classes + aw])
                aw = c;
        }
        ck_assert_msg(ag == aw, "%s: argmax of row %zu is %zu, fake-quant forward says %zu", what, r, ag, aw);
    }
}

/* Linears the packed model must run on the integer GEMM: all of them when
 * both the weight and the input are quantized (LSQ+ inputs included). */
static int64_t expected_integer_linears(const char *quant, int64_t layers)
{
    qat_quant_config *q = NULL;
    QAT_ASSERT_OK(qat_quant_config_parse(quant, &q));
    int wa = 0, aa = 0;
    QAT_ASSERT_OK(qat_quant_config_get(q, QAT_CLASS_WEIGHT, QAT_QP_ALGO, &wa));
    QAT_ASSERT_OK(qat_quant_config_get(q, QAT_CLASS_ACTIVATION, QAT_QP_ALGO, &aa));
    qat_quant_config_free(q);
    return wa != QAT_ALGO_NONE && aa != QAT_ALGO_NONE ? 6 * layers : 0;
}

static void run_case(const char *quant, qat_arch arch, qat_task task, int ternary_1p6)
{
    qat_context *ctx = NULL;
    QAT_ASSERT_OK(qat_context_create(qat_backend_count() > 1 ? "cpu" : "ref", &ctx));
    qat_model *m = NULL;
    QAT_ASSERT_OK(tiny_model(ctx, arch, task, quant, &m));
    int32_t ids[TINY_B * TINY_L], mask[TINY_B * TINY_L], types[TINY_B * TINY_L];
    tiny_batch(arch, ids, mask, types);
    size_t n = 0;
    QAT_ASSERT_OK(qat_model_logits_size(m, TINY_B, TINY_L, &n));
    float *want = malloc(n * sizeof(float)), *got = malloc(n * sizeof(float));
    /* The first forward calibrates the LSQ activation steps. */
    QAT_ASSERT_OK(qat_model_forward(m, ids, mask, types, TINY_B, TINY_L, want, n));
    QAT_ASSERT_OK(qat_model_forward(m, ids, mask, types, TINY_B, TINY_L, want, n));
    make_tmp();
    qat_export_options eo;
    QAT_ASSERT_OK(qat_export_options_init(&eo, QAT_EXPORT_OPTIONS_VERSION));
    eo.ternary = ternary_1p6 ? QAT_TERNARY_1P6BIT : QAT_TERNARY_2BIT;
    QAT_ASSERT_OK(qat_packed_export(m, tmp_path, &eo));
    qat_packed_model *pm = NULL;
    QAT_ASSERT_OK(qat_packed_model_load(tmp_path, &pm));
    unlink(tmp_path);
    int64_t classes = 0, packed_task = 0;
    QAT_ASSERT_OK(qat_packed_model_info(pm, QAT_PACKED_INFO_NUM_LABELS, &classes));
    QAT_ASSERT_OK(qat_packed_model_info(pm, QAT_PACKED_INFO_TASK, &packed_task));
    ck_assert_int_eq(packed_task, task);
    int64_t layers = 0, integer = 0;
    QAT_ASSERT_OK(qat_packed_model_info(pm, QAT_PACKED_INFO_NUM_LAYERS, &layers));
    QAT_ASSERT_OK(qat_packed_model_info(pm, QAT_PACKED_INFO_INTEGER_LINEARS, &integer));
    ck_assert_msg(integer == expected_integer_linears(quant, layers), "%s: %lld integer linears, expected %lld",
                  quant, (long long)integer, (long long)expected_integer_linears(quant, layers));
    /* sequence classification: one row of logits per sequence */
    const size_t rows = task == QAT_TASK_SEQUENCE_CLASSIFICATION ? TINY_B : TINY_B * TINY_L;
    ck_assert_uint_eq(n, (size_t)classes * rows);
    size_t packed_n = 0;
    QAT_ASSERT_OK(qat_packed_model_logits_size(pm, TINY_B, TINY_L, &packed_n));
    ck_assert_uint_eq(packed_n, n);
    float *first = malloc(n * sizeof(float));
    int runs = 0;
    const char *name = NULL;
    for (int isa = 1; qat_packed_isa_name_of(isa, &name) == QAT_OK; isa++) { /* every path the library has */
        static int told[16];
        const char *skip = test_valgrind_skips(isa);
        if (skip || qat_packed_model_set_int(pm, QAT_PACKED_ISA, isa) != QAT_OK) {
            ck_assert_int_lt(isa, 16);
            if (!told[isa]++)
                fprintf(stderr, "SKIP: ISA path %s not tested (%s)\n", name, skip ? skip : qat_last_error());
            continue;
        }
        /* Under valgrind, which runs threads one at a time, one thread:
         * the second thread runs the same kernels on other tiles. */
        for (int threads = 1; threads <= (test_under_valgrind() ? 1 : 2); threads++) {
            QAT_ASSERT_OK(qat_packed_model_set_int(pm, QAT_PACKED_THREADS, threads));
            memset(got, 0, n * sizeof(float));
            QAT_ASSERT_OK(qat_packed_model_forward(pm, ids, mask, types, TINY_B, TINY_L, got, n));
            char what[160];
            snprintf(what, sizeof what, "%s %s %s isa %s threads %d%s", quant,
                     arch == QAT_ARCH_BERT ? "bert" : "roberta",
                     task == QAT_TASK_MLM ? "mlm" : task == QAT_TASK_TOKEN_CLASSIFICATION ? "tokcls" : "seqcls", name,
                     threads, ternary_1p6 ? " (1.6-bit)" : "");
            compare(got, want, rows, (size_t)classes, what);
            /* Integer accumulators and one scalar epilogue: identical
             * results on every path and thread count. */
            if (runs++ == 0)
                memcpy(first, got, n * sizeof(float));
            else
                ck_assert_msg(memcmp(first, got, n * sizeof(float)) == 0, "%s: not bit-identical to the first path",
                              what);
        }
    }
    free(first);
    free(want);
    free(got);
    qat_packed_model_free(pm);
    qat_model_free(m);
    qat_context_free(ctx);
}

START_TEST(test_parity)
{
    /* _i: config x arch x task */
    size_t c = (size_t)_i / 6;
    qat_arch arch = (_i / 3) % 2 ? QAT_ARCH_BERT : QAT_ARCH_ROBERTA;
    static const qat_task tasks[3] = {QAT_TASK_MLM, QAT_TASK_TOKEN_CLASSIFICATION, QAT_TASK_SEQUENCE_CLASSIFICATION};
    qat_task task = tasks[_i % 3];
    run_case(configs[c], arch, task, 0);
}
END_TEST

START_TEST(test_parity_ternary_1p6)
{
    run_case("E6W1.58A6", QAT_ARCH_ROBERTA, QAT_TASK_TOKEN_CLASSIFICATION, 1);
    run_case("E6W1.58(row)A4", QAT_ARCH_BERT, QAT_TASK_MLM, 1);
    run_case("E6W1.58A6", QAT_ARCH_BERT, QAT_TASK_SEQUENCE_CLASSIFICATION, 1);
}
END_TEST

/* The seed code's profile exports fine-tuned (token-classification)
 * models; its quantized MLM head has no packed form and is refused. */
START_TEST(test_seed_code_profile)
{
    run_case("E6W1.58A6@seed-code", QAT_ARCH_ROBERTA, QAT_TASK_TOKEN_CLASSIFICATION, 0);
    run_case("E6W1.58A6@seed-code", QAT_ARCH_BERT, QAT_TASK_SEQUENCE_CLASSIFICATION, 0);
    qat_context *ctx = NULL;
    QAT_ASSERT_OK(qat_context_create("ref", &ctx));
    qat_model *m = NULL;
    QAT_ASSERT_OK(tiny_model(ctx, QAT_ARCH_ROBERTA, QAT_TASK_MLM, "E6W1.58A6@seed-code", &m));
    make_tmp();
    qat_export_options eo;
    QAT_ASSERT_OK(qat_export_options_init(&eo, QAT_EXPORT_OPTIONS_VERSION));
    QAT_ASSERT_FAILS(qat_packed_export(m, tmp_path, &eo), QAT_ERR_UNSUPPORTED, "head is quantized");
    unlink(tmp_path);
    qat_model_free(m);
    qat_context_free(ctx);
}
END_TEST

/* Sets pm to the next ISA path after *isa that this build, this CPU and
 * (under it) valgrind run: 1, or 0 past the last (run_case says why a path
 * is skipped). */
static int next_path(qat_packed_model *pm, int *isa, const char **name)
{
    while (qat_packed_isa_name_of(++*isa, name) == QAT_OK)
        if (!test_valgrind_skips(*isa) && qat_packed_model_set_int(pm, QAT_PACKED_ISA, *isa) == QAT_OK)
            return 1;
    return 0;
}

/* A batch longer than the packed forward's token blocks (its integer
 * linears that a row pass reads, and q, k and v, run 128 tokens at a time,
 * whole rounds of one block per thread on their own thread) gives every
 * sequence the encoder output it gets alone, bit for bit: 13 x 20 = 260
 * tokens make blocks of 128, 128 and 4, two of them starting inside a
 * sequence (on 2 threads the first two run one per thread, the last one
 * shared out); some sequences end in padding. Every path, 1 and 2
 * threads, BitNet, LSQ and LSQ+ inputs, per-row weight scales, float
 * embeddings. Mean-pooled embeddings, not the head's logits: the float
 * head is one sgemm over every row, whose blocking (so its sums' order)
 * may change with the row count; for the same reason no config has float
 * encoder linears (under valgrind's AVX2, oneDNN's sgemm of 260 rows and
 * of 20 differed). */
static const char *const long_batch_configs[] = {"E6W1.58A6", "E8W8A8", "E8W8A8(lsq+)",
                                                 "E6W1.58(row)A6@shared,frozen-step,symmetric", "E32W1.58(row)A8"};

START_TEST(test_long_batch_equals_each_sequence)
{
    enum { B = 13, L = 20 };
    const char *quant = long_batch_configs[_i];
    qat_context *ctx = NULL;
    QAT_ASSERT_OK(qat_context_create(qat_backend_count() > 1 ? "cpu" : "ref", &ctx));
    qat_model *m = NULL;
    QAT_ASSERT_OK(tiny_model(ctx, QAT_ARCH_BERT, QAT_TASK_TOKEN_CLASSIFICATION, quant, &m));
    char path[256];
    QAT_ASSERT_OK(tiny_export(m, QAT_ARCH_BERT, path, sizeof path));
    qat_packed_model *pm = NULL;
    QAT_ASSERT_OK(qat_packed_model_load(path, &pm));
    unlink(path);
    int32_t ids[B * L], mask[B * L], types[B * L];
    for (int i = 0; i < B * L; i++) {
        const int b = i / L, t = i % L, real = b % 2 == 0 || t < L - 1 - b % 5;
        ids[i] = real ? 2 + (int32_t)((i * 7 + 3) % 37) : 0;
        mask[i] = real;
        types[i] = 0;
    }
    const size_t n1 = TINY_H, n = B * n1;
    float *all = malloc(n * sizeof(float)), *one = malloc(n1 * sizeof(float));
    const char *name = NULL;
    for (int isa = 0; next_path(pm, &isa, &name);) {
        for (int threads = 1; threads <= (test_under_valgrind() ? 1 : 2); threads++) {
            QAT_ASSERT_OK(qat_packed_model_set_int(pm, QAT_PACKED_THREADS, threads));
            QAT_ASSERT_OK(qat_packed_model_embed(pm, ids, mask, types, B, L, QAT_POOLING_MEAN, 0, all, n));
            for (int b = 0; b < B; b++) {
                QAT_ASSERT_OK(qat_packed_model_embed(pm, ids + b * L, mask + b * L, types + b * L, 1, L,
                                                     QAT_POOLING_MEAN, 0, one, n1));
                ck_assert_msg(memcmp(one, all + b * n1, n1 * sizeof(float)) == 0,
                              "%s isa %s threads %d: sequence %d of the batch differs from its forward alone",
                              quant, name, threads, b);
            }
        }
    }
    free(all);
    free(one);
    qat_packed_model_free(pm);
    qat_model_free(m);
    qat_context_free(ctx);
}
END_TEST

/* Input [token, column] named by a packed forward's "not finite" error. */
static void failing_input(qat_packed_model *pm, const int32_t *ids, const int32_t *mask, int B, int L,
                          long long *token, long long *column, const char *what)
{
    size_t n = 0;
    QAT_ASSERT_OK(qat_packed_model_logits_size(pm, B, L, &n));
    float *logits = malloc(n * sizeof(float));
    ck_assert_int_eq(qat_packed_model_forward(pm, ids, mask, NULL, B, L, logits, n), QAT_ERR_NUMERIC);
    const char *at = strstr(qat_last_error(), "input [");
    ck_assert_msg(at && sscanf(at, "input [%lld, %lld]", token, column) == 2, "%s: error '%s' names no input", what,
                  qat_last_error());
    free(logits);
}

/* A value that overflows inside a block of the packed FFN is named by its
 * token in the batch, not in its block. Word 39 (in sequence 9 only) has
 * an embedding of 1e18 in column C, so its rows are ~5.6 there after each
 * LayerNorm (sqrt(H - 1)), every other token's |x| < ~3; layer 0's
 * intermediate row R reads column C alone with a weight and bias that
 * overflow past ~4.2, and the output dense ignores row R (zero column), so
 * the other tokens' huge finite values go no further. Sequence 9 alone
 * names its token t; the batch (blocks of 128 tokens) must name 9 L + t,
 * in the second block, on every path and 1 and 2 threads. */
START_TEST(test_non_finite_is_named_by_its_batch_token)
{
    enum { B = 13, L = 20, H = TINY_H, I = 80, C = 3, R = 5, WORD = 39, SEQ = 9, AT = 6 };
    qat_context *ctx = NULL;
    QAT_ASSERT_OK(qat_context_create(qat_backend_count() > 1 ? "cpu" : "ref", &ctx));
    qat_model *m = NULL;
    QAT_ASSERT_OK(tiny_model(ctx, QAT_ARCH_BERT, QAT_TASK_TOKEN_CLASSIFICATION, "E32W1.58(row)A6", &m));
    float *word = malloc(40 * H * sizeof(float)), *wi = malloc(I * H * sizeof(float)), bi[I];
    float *wo = malloc(H * I * sizeof(float));
    QAT_ASSERT_OK(qat_model_get_parameter(m, "bert.embeddings.word_embeddings.weight", word, 40 * H));
    QAT_ASSERT_OK(qat_model_get_parameter(m, "bert.encoder.layer.0.intermediate.dense.weight", wi, I * H));
    QAT_ASSERT_OK(qat_model_get_parameter(m, "bert.encoder.layer.0.intermediate.dense.bias", bi, I));
    QAT_ASSERT_OK(qat_model_get_parameter(m, "bert.encoder.layer.0.output.dense.weight", wo, H * I));
    word[WORD * H + C] = 1e18f;
    for (int c = 0; c < H; c++)
        wi[R * H + c] = c == C ? FLT_MAX : 0.0f; /* per-row scale FLT_MAX / H, code 1 */
    bi[R] = FLT_MAX * (1.0f - 4.2f / H);
    for (int o = 0; o < H; o++)
        wo[o * I + R] = 0.0f;
    QAT_ASSERT_OK(qat_model_set_parameter(m, "bert.embeddings.word_embeddings.weight", word, 40 * H));
    QAT_ASSERT_OK(qat_model_set_parameter(m, "bert.encoder.layer.0.intermediate.dense.weight", wi, I * H));
    QAT_ASSERT_OK(qat_model_set_parameter(m, "bert.encoder.layer.0.intermediate.dense.bias", bi, I));
    QAT_ASSERT_OK(qat_model_set_parameter(m, "bert.encoder.layer.0.output.dense.weight", wo, H * I));
    char path[256];
    QAT_ASSERT_OK(tiny_export(m, QAT_ARCH_BERT, path, sizeof path));
    qat_packed_model *pm = NULL;
    QAT_ASSERT_OK(qat_packed_model_load(path, &pm));
    unlink(path);
    int32_t ids[B * L], mask[B * L];
    for (int i = 0; i < B * L; i++) {
        ids[i] = 2 + (int32_t)((i * 7 + 3) % 37);
        mask[i] = 1;
    }
    ids[SEQ * L + AT] = WORD;
    size_t n1 = 0;
    QAT_ASSERT_OK(qat_packed_model_logits_size(pm, 1, L, &n1));
    float *one = malloc(n1 * sizeof(float));
    const char *name = NULL;
    for (int isa = 0; next_path(pm, &isa, &name);) {
        for (int threads = 1; threads <= (test_under_valgrind() ? 1 : 2); threads++) {
            QAT_ASSERT_OK(qat_packed_model_set_int(pm, QAT_PACKED_THREADS, threads));
            QAT_ASSERT_OK(qat_packed_model_forward(pm, ids, mask, NULL, 1, L, one, n1)); /* a clean sequence */
            long long t1, c1, t, c;
            failing_input(pm, ids + SEQ * L, mask + SEQ * L, 1, L, &t1, &c1, "sequence 9 alone");
            ck_assert_msg(t1 == AT && c1 == R, "isa %s: sequence 9 alone fails at [%lld, %lld], not at its word 39",
                          name, t1, c1);
            failing_input(pm, ids, mask, B, L, &t, &c, "the batch");
            ck_assert_msg(t == SEQ * L + t1 && c == c1,
                          "isa %s threads %d: the batch names input [%lld, %lld], sequence 9's token is [%lld, %lld]",
                          name, threads, t, c, SEQ * L + t1, c1);
        }
    }
    free(one);
    free(word);
    free(wi);
    free(wo);
    qat_packed_model_free(pm);
    qat_model_free(m);
    qat_context_free(ctx);
}
END_TEST

START_TEST(test_export_needs_calibration)
{
    qat_context *ctx = NULL;
    QAT_ASSERT_OK(qat_context_create("ref", &ctx));
    qat_model *m = NULL;
    QAT_ASSERT_OK(tiny_model(ctx, QAT_ARCH_ROBERTA, QAT_TASK_MLM, "E8W8A8", &m));
    make_tmp();
    QAT_ASSERT_FAILS(qat_packed_export(m, tmp_path, NULL), QAT_ERR_STATE, "run a forward");
    unlink(tmp_path);
    QAT_ASSERT_FAILS(qat_packed_export(NULL, tmp_path, NULL), QAT_ERR_INVALID_ARGUMENT, "NULL model");
    qat_model_free(m);
    qat_context_free(ctx);
}
END_TEST

START_TEST(test_forward_bad_inputs)
{
    qat_context *ctx = NULL;
    QAT_ASSERT_OK(qat_context_create("ref", &ctx));
    qat_model *m = NULL;
    QAT_ASSERT_OK(tiny_model(ctx, QAT_ARCH_ROBERTA, QAT_TASK_TOKEN_CLASSIFICATION, "E6W1.58A6", &m));
    make_tmp();
    QAT_ASSERT_OK(qat_packed_export(m, tmp_path, NULL));
    qat_packed_model *pm = NULL;
    QAT_ASSERT_OK(qat_packed_model_load(tmp_path, &pm));
    unlink(tmp_path);
    int32_t ids[TINY_B * TINY_L], mask[TINY_B * TINY_L], types[TINY_B * TINY_L];
    tiny_batch(QAT_ARCH_ROBERTA, ids, mask, types);
    float logits[TINY_B * TINY_L * 5];
    QAT_ASSERT_FAILS(qat_packed_model_forward(pm, ids, mask, types, TINY_B, TINY_L, logits, 3),
                     QAT_ERR_INVALID_ARGUMENT, "logits_count");
    ids[3] = 40;
    QAT_ASSERT_FAILS(qat_packed_model_forward(pm, ids, mask, types, TINY_B, TINY_L, logits, TINY_B * TINY_L * 5),
                     QAT_ERR_INVALID_ARGUMENT, "outside the vocabulary");
    ids[3] = 5;
    types[2] = 2;
    QAT_ASSERT_FAILS(qat_packed_model_forward(pm, ids, mask, types, TINY_B, TINY_L, logits, TINY_B * TINY_L * 5),
                     QAT_ERR_INVALID_ARGUMENT, "token type");
    QAT_ASSERT_FAILS(qat_packed_model_set_int(pm, QAT_PACKED_ISA, 9), QAT_ERR_INVALID_ARGUMENT, "ISA");
    QAT_ASSERT_FAILS(qat_packed_model_set_int(pm, QAT_PACKED_THREADS, -1), QAT_ERR_INVALID_ARGUMENT, "threads");
    const char *q = NULL;
    QAT_ASSERT_OK(qat_packed_model_quant(pm, &q));
    ck_assert_str_eq(q, "E6W1.58A6");
    int64_t v = 0;
    QAT_ASSERT_OK(qat_packed_model_info(pm, QAT_PACKED_INFO_INTEGER_LINEARS, &v));
    ck_assert_int_eq(v, 12);
    const qat_tokenizer *tok = NULL;
    QAT_ASSERT_FAILS(qat_packed_model_tokenizer(pm, &tok), QAT_ERR_NOT_FOUND, "no embedded tokenizer");
    qat_packed_model_free(pm);
    qat_model_free(m);
    qat_context_free(ctx);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("export_parity");
    TCase *tc = tcase_create("parity");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_parity, 0, (int)(N_CONFIGS * 6));
    tcase_add_test(tc, test_parity_ternary_1p6);
    tcase_add_loop_test(tc, test_long_batch_equals_each_sequence, 0,
                        (int)(sizeof long_batch_configs / sizeof long_batch_configs[0]));
    tcase_add_test(tc, test_non_finite_is_named_by_its_batch_token);
    tcase_add_test(tc, test_export_needs_calibration);
    tcase_add_test(tc, test_seed_code_profile);
    tcase_add_test(tc, test_forward_bad_inputs);
    suite_add_tcase(s, tc);
    return s;
}
