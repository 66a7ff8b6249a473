/* qat_model_load refuses what would be silently wrong or would exhaust
 * memory (issue #17), checked on directories qat_model_save wrote and then
 * altered: a config.json larger than its weights (vocab_size 2^24-1,
 * hidden 256, next to a tiny model's tensors: 23 GB before the check, now
 * refused under a 1 GiB address-space limit), no tensor name matching,
 * every tensor I32, an encoder tensor missing or misshapen, NaN and
 * infinite weights, the quantizer state missing; QAT_LOAD_PARTIAL accepts
 * what is incomplete and reports it; heads may be new and are reported;
 * version-1 options still work. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/safetensors.h"
#include "formats/tensor_set.h"
#include "memory_limit.h"
#include "qat/qat.h"
#include "test_main.h"

static qat_context *ctx;
static char dir[64];

/* A saved 1-layer RoBERTa MLM (quant: NULL = FP32) in a fresh dir. */
static void save_model(const char *quant)
{
    snprintf(dir, sizeof dir, "/tmp/qat-loadcheck-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    QAT_ASSERT_OK(qat_context_create("ref", &ctx));
    qat_model_options o;
    QAT_ASSERT_OK(qat_model_options_init(&o, QAT_MODEL_OPTIONS_VERSION));
    o.vocab_size = 40;
    o.hidden_size = 16;
    o.num_layers = 1;
    o.num_heads = 4;
    o.intermediate_size = 32;
    o.max_position_embeddings = 24;
    qat_model *m;
    QAT_ASSERT_OK(qat_model_create(ctx, &o, &m));
    if (quant) {
        qat_quant_config *q;
        QAT_ASSERT_OK(qat_quant_config_parse(quant, &q));
        QAT_ASSERT_OK(qat_model_set_quant(m, q));
        qat_quant_config_free(q);
    }
    QAT_ASSERT_OK(qat_model_save(m, dir));
    qat_model_free(m);
}

static void cleanup(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    qat_context_free(ctx);
}

static char *path_of(const char *name)
{
    static char path[160];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

static qat_status load(qat_task task, uint32_t flags, qat_model **m)
{
    qat_load_options o;
    QAT_ASSERT_OK(qat_load_options_init(&o, QAT_LOAD_OPTIONS_VERSION));
    o.task = task;
    o.flags = flags;
    *m = NULL;
    return qat_model_load(ctx, dir, &o, m);
}

/* Rewrites model.safetensors by hand: each tensor of the saved file, with
 * `rename` applied to its name, `dtype` ("F32" or "I32": the bytes kept),
 * and `poison` (a value for element 0 of tensor `poison_name`). */
static void rewrite_weights(const char *(*rename)(const char *), const char *dtype, const char *poison_name,
                            float poison)
{
    qat_tensor_set *set;
    QAT_ASSERT_OK(qat_tensor_set_create(&set));
    QAT_ASSERT_OK(qat_safetensors_read(path_of("model.safetensors"), 0, set));
    size_t n = qat_tensor_set_count(set), header_cap = 64 + 256 * n, at = 0, bytes = 0;
    char *header = malloc(header_cap);
    at += (size_t)snprintf(header + at, header_cap - at, "{");
    for (size_t i = 0; i < n; i++) {
        const qat_tensor *t = qat_tensor_set_at(set, i);
        at += (size_t)snprintf(header + at, header_cap - at, "%s\"%s\": {\"dtype\": \"%s\", \"shape\": [", i ? ", " : "",
                               rename ? rename(t->name) : t->name, dtype);
        for (int d = 0; d < t->ndim; d++)
            at += (size_t)snprintf(header + at, header_cap - at, d ? ", %lld" : "%lld", (long long)t->shape[d]);
        at += (size_t)snprintf(header + at, header_cap - at, "], \"data_offsets\": [%zu, %zu]}", bytes,
                               bytes + (size_t)t->numel * 4);
        bytes += (size_t)t->numel * 4;
    }
    at += (size_t)snprintf(header + at, header_cap - at, "}");
    while (at % 8)
        header[at++] = ' ';
    FILE *f = fopen(path_of("model.safetensors"), "wb");
    uint64_t len = at;
    fwrite(&len, 8, 1, f);
    fwrite(header, 1, at, f);
    for (size_t i = 0; i < n; i++) {
        const qat_tensor *t = qat_tensor_set_at(set, i);
        if (poison_name && strcmp(t->name, poison_name) == 0)
            t->data[0] = poison;
        fwrite(t->data, 4, (size_t)t->numel, f);
    }
    fclose(f);
    free(header);
    qat_tensor_set_free(set);
}

static void edit_config(const char *from, const char *to)
{
    size_t n;
    FILE *f = fopen(path_of("config.json"), "rb");
    char text[8192];
    n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    char *at = strstr(text, from);
    ck_assert_msg(at != NULL, "config.json lacks '%s'", from);
    char out[8400];
    snprintf(out, sizeof out, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    f = fopen(path_of("config.json"), "wb");
    fputs(out, f);
    fclose(f);
}

static size_t report_count(const qat_model *m, qat_load_report kind)
{
    size_t n = 0;
    QAT_ASSERT_OK(qat_model_load_report_count(m, kind, &n));
    return n;
}

static int reported(const qat_model *m, qat_load_report kind, const char *name)
{
    for (size_t i = 0; i < report_count(m, kind); i++) {
        const char *got;
        QAT_ASSERT_OK(qat_model_load_report_name(m, kind, i, &got));
        if (strcmp(got, name) == 0)
            return 1;
    }
    return 0;
}

START_TEST(config_larger_than_its_weights)
{
    save_model(NULL);
    /* each value in range, together 2 x 17 GB of parameters */
    edit_config("\"vocab_size\": 40", "\"vocab_size\": 16777215");
    edit_config("\"hidden_size\": 16", "\"hidden_size\": 256");
    qat_model *m;
    QAT_ASSERT_FAILS(load(QAT_TASK_MLM, 0, &m), QAT_ERR_FORMAT, "config.json makes the model's");
    ck_assert_msg(strstr(qat_last_error(), "[16777215") && strstr(qat_last_error(), "[40"), "%s", qat_last_error());
    /* a partial load does not get past the shapes either */
    QAT_ASSERT_FAILS(load(QAT_TASK_MLM, QAT_LOAD_PARTIAL, &m), QAT_ERR_FORMAT, "[16777215");
    ck_assert_ptr_null(m);
    cleanup();
}
END_TEST

static const char *foreign(const char *name)
{
    static char out[300];
    snprintf(out, sizeof out, "foo.%s", name);
    return out;
}

START_TEST(no_tensor_name_matches)
{
    save_model(NULL);
    rewrite_weights(foreign, "F32", NULL, 0);
    qat_model *m;
    QAT_ASSERT_FAILS(load(QAT_TASK_MLM, 0, &m), QAT_ERR_FORMAT, "holds 0 of the model's 21 encoder tensors");
    ck_assert_msg(strstr(qat_last_error(), "QAT_LOAD_PARTIAL"), "%s", qat_last_error());
    ck_assert_ptr_null(m);
    /* asked for: every parameter reported missing, every tensor unexpected */
    QAT_ASSERT_OK(load(QAT_TASK_MLM, QAT_LOAD_PARTIAL, &m));
    ck_assert(reported(m, QAT_LOAD_MISSING, "roberta.embeddings.word_embeddings.weight"));
    ck_assert(reported(m, QAT_LOAD_UNEXPECTED, "foo.roberta.embeddings.word_embeddings.weight"));
    qat_model_free(m);
    cleanup();
}
END_TEST

START_TEST(every_tensor_i32)
{
    save_model(NULL);
    rewrite_weights(NULL, "I32", NULL, 0);
    qat_model *m;
    QAT_ASSERT_FAILS(load(QAT_TASK_MLM, 0, &m), QAT_ERR_FORMAT, "holds 0 of the model's 21 encoder tensors");
    ck_assert_msg(strstr(qat_last_error(), "26 tensors skipped as not float"), "%s", qat_last_error());
    cleanup();
}
END_TEST

static const char *drop_one(const char *name)
{
    return strcmp(name, "roberta.encoder.layer.0.output.dense.weight") == 0 ? "renamed.output.weight" : name;
}

START_TEST(one_encoder_tensor_missing)
{
    save_model(NULL);
    rewrite_weights(drop_one, "F32", NULL, 0);
    qat_model *m;
    QAT_ASSERT_FAILS(load(QAT_TASK_MLM, 0, &m), QAT_ERR_FORMAT, "roberta.encoder.layer.0.output.dense.weight");
    ck_assert_msg(strstr(qat_last_error(), "holds 20 of the model's 21"), "%s", qat_last_error());
    QAT_ASSERT_OK(load(QAT_TASK_MLM, QAT_LOAD_PARTIAL, &m));
    ck_assert_uint_eq(report_count(m, QAT_LOAD_MISSING), 1);
    ck_assert(reported(m, QAT_LOAD_MISSING, "roberta.encoder.layer.0.output.dense.weight"));
    qat_model_free(m);
    cleanup();
}
END_TEST

START_TEST(misshapen_tensor)
{
    save_model(NULL);
    edit_config("\"intermediate_size\": 32", "\"intermediate_size\": 48");
    qat_model *m;
    QAT_ASSERT_FAILS(load(QAT_TASK_MLM, 0, &m), QAT_ERR_FORMAT,
                     "'roberta.encoder.layer.0.intermediate.dense.bias' is [32], but config.json makes the "
                     "model's roberta.encoder.layer.0.intermediate.dense.bias [48]");
    cleanup();
}
END_TEST

START_TEST(non_finite_weights)
{
    const float bad[2] = {NAN, -INFINITY};
    const char *what[2] = {"NaN", "an infinity"};
    for (int k = 0; k < 2; k++) {
        save_model(NULL);
        rewrite_weights(NULL, "F32", "roberta.encoder.layer.0.attention.self.key.bias", bad[k]);
        qat_model *m;
        QAT_ASSERT_FAILS(load(QAT_TASK_MLM, 0, &m), QAT_ERR_FORMAT,
                         "'roberta.encoder.layer.0.attention.self.key.bias' holds");
        ck_assert_msg(strstr(qat_last_error(), what[k]) && strstr(qat_last_error(), "index 0"), "%s", qat_last_error());
        QAT_ASSERT_FAILS(load(QAT_TASK_MLM, QAT_LOAD_PARTIAL, &m), QAT_ERR_FORMAT, what[k]); /* never accepted */
        cleanup();
    }
}
END_TEST

START_TEST(new_head_is_reported)
{
    save_model(NULL);
    qat_model *m;
    QAT_ASSERT_OK(load(QAT_TASK_TOKEN_CLASSIFICATION, 0, &m));
    ck_assert_uint_eq(report_count(m, QAT_LOAD_MISSING), 2);
    ck_assert(reported(m, QAT_LOAD_MISSING, "classifier.weight") && reported(m, QAT_LOAD_MISSING, "classifier.bias"));
    ck_assert(reported(m, QAT_LOAD_UNEXPECTED, "lm_head.dense.weight"));
    qat_model_free(m);
    cleanup();
}
END_TEST

START_TEST(quantizer_state_missing)
{
    save_model("E6W4A6");
    ck_assert_int_eq(unlink(path_of("qat_quantizers.safetensors")), 0);
    qat_model *m;
    QAT_ASSERT_FAILS(load(QAT_TASK_MLM, 0, &m), QAT_ERR_FORMAT, "qat_quantizers.safetensors is missing");
    QAT_ASSERT_OK(load(QAT_TASK_MLM, QAT_LOAD_PARTIAL, &m));
    qat_model_free(m);
    /* under another config the saved steps are not expected */
    qat_load_options o;
    QAT_ASSERT_OK(qat_load_options_init(&o, QAT_LOAD_OPTIONS_VERSION));
    o.quant = "E8W8A8";
    QAT_ASSERT_OK(qat_model_load(ctx, dir, &o, &m));
    qat_model_free(m);
    cleanup();
}
END_TEST

/* qat_load_options as version 1 had it (no flags). */
typedef struct load_options_v1 {
    uint32_t version;
    qat_task task;
    int64_t num_labels;
    const char *quant;
} load_options_v1;

START_TEST(version_1_options)
{
    save_model(NULL);
    struct {
        load_options_v1 o;
        uint32_t canary;
    } v1;
    v1.canary = 0xdeadbeefu;
    QAT_ASSERT_OK(qat_load_options_init((qat_load_options *)&v1.o, 1));
    ck_assert_uint_eq(v1.canary, 0xdeadbeefu); /* only the version-1 struct written */
    ck_assert_int_eq(v1.o.task, QAT_TASK_MLM);
    qat_model *m;
    QAT_ASSERT_OK(qat_model_load(ctx, dir, (const qat_load_options *)&v1.o, &m));
    qat_model_free(m);
    qat_load_options o;
    QAT_ASSERT_FAILS(qat_load_options_init(&o, 3), QAT_ERR_INVALID_ARGUMENT, "version 3");
    QAT_ASSERT_OK(qat_load_options_init(&o, QAT_LOAD_OPTIONS_VERSION));
    o.flags = 0x80;
    QAT_ASSERT_FAILS(qat_model_load(ctx, dir, &o, &m), QAT_ERR_INVALID_ARGUMENT, "flags");
    cleanup();
}
END_TEST

Suite *make_suite(void)
{
    /* A regression to allocating the model first fails here, not in swap. */
    qat_test_limit_memory((size_t)1 << 30);
    Suite *s = suite_create("load_checks");
    TCase *tc = tcase_create("load");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, config_larger_than_its_weights);
    tcase_add_test(tc, no_tensor_name_matches);
    tcase_add_test(tc, every_tensor_i32);
    tcase_add_test(tc, one_encoder_tensor_missing);
    tcase_add_test(tc, misshapen_tensor);
    tcase_add_test(tc, non_finite_weights);
    tcase_add_test(tc, new_head_is_reported);
    tcase_add_test(tc, quantizer_state_missing);
    tcase_add_test(tc, version_1_options);
    suite_add_tcase(s, tc);
    return s;
}
